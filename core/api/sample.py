"""The canonical sample: one record type for every task and dataset.

A :class:`Sample` is what a dataset plugin yields and what tasks, budgeters and trainers read.
Because VQA, subtyping and detection share it, a multi-task run is one mixed list (or one mixed
``datasets.Dataset``, see :func:`samples_to_dataset`).

Answer conventions of the first-party tasks (each task checks its own with ``Task.validate``; a
sample with options must in any case answer with an option's letter or text):

=========================  ===============================  =========================================
kind                       ``options``                      ``answer``
=========================  ===============================  =========================================
VQA, multiple choice       plain option texts, in order     the option letter: ``"B"``
VQA, yes/no                empty                            ``"yes"`` or ``"no"`` (lower case)
VQA, open                  empty                            short free text: ``"glandular tissue"``
subtyping                  the class names                  the class name: ``"glandular adenoma"``
detection                  empty                            ``""``; the truth is ``boxes``
=========================  ===============================  =========================================

``meta["question_type"]`` names the VQA kind (``"multiple choice"``, ``"yes/no"``, ``"open"``).
Boxes are ``[x1, y1, x2, y2]`` in pixels of the original image, pixel-edge convention: a box that
covers pixel columns 3..7 is ``[3, y1, 8, y2]``.

Images are read on demand: ``image`` is a path, a PIL image, or an :class:`ImageRef` (a region
of a file, or encoded bytes). :meth:`Sample.load_image` decodes on every call and caches nothing,
so a list of 100,000 samples holds no pixels.

Every file is opened through :func:`open_image`, which refuses an image of more pixels than
:func:`max_image_pixels` (a decompression bomb: a 100 KB PNG can claim 30000x30000 pixels) with a
:class:`~pathreason.api.errors.DataError` instead of Pillow's ``DecompressionBombError``. The
limit is Pillow's (89,478,485 pixels, about 9459x9459) unless the environment variable
``PATHREASON_MAX_IMAGE_PIXELS`` raises it. Whole-slide images do not go through Pillow at all but
through the slide reader, tile by tile.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pathreason.api.errors import DataError

if TYPE_CHECKING:
    import datasets
    from PIL import Image

__all__ = ["MAX_IMAGE_PIXELS_ENV", "ImageRef", "Sample", "dataset_to_samples", "max_image_pixels", "open_image",
           "samples_to_dataset"]

LETTERS = string.ascii_uppercase
QUESTION_TYPES = ("multiple choice", "yes/no", "open")

#: The environment variable that raises (or lowers) the pixel limit of :func:`open_image`.
MAX_IMAGE_PIXELS_ENV = "PATHREASON_MAX_IMAGE_PIXELS"
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


def max_image_pixels() -> int:
    """The most pixels (width x height) an image file may have: ``PATHREASON_MAX_IMAGE_PIXELS`` when
    set, else Pillow's ``Image.MAX_IMAGE_PIXELS`` (89,478,485 unless the program changed it). A
    variable above Pillow's limit raises Pillow's to it (for the whole process), since Pillow would
    otherwise refuse the file first.

    Raises :class:`~pathreason.api.errors.DataError` when the variable is not a positive integer.
    """
    from PIL import Image as PILImage

    raw = os.environ.get(MAX_IMAGE_PIXELS_ENV, "").strip().replace("_", "").replace(",", "")
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise DataError(f"{MAX_IMAGE_PIXELS_ENV} must be a positive whole number of pixels (e.g. 400000000), "
                            f"got {os.environ[MAX_IMAGE_PIXELS_ENV]!r}")
        limit = int(raw)
        if PILImage.MAX_IMAGE_PIXELS is not None and limit > PILImage.MAX_IMAGE_PIXELS:
            # Pillow refuses on its own beyond twice its limit, before we see the size: raise it to ours.
            PILImage.MAX_IMAGE_PIXELS = limit
        return limit
    return PILImage.MAX_IMAGE_PIXELS or 2**63 - 1


def _too_large(pixels: str, limit: int) -> str:
    return (f"{pixels} pixels is over the limit of {limit:,} (a decompression bomb?); for genuine large images "
            f"set {MAX_IMAGE_PIXELS_ENV} higher (whole-slide images go through the slide reader, not Pillow)")


def open_image(source: str | Path | io.BytesIO) -> Image.Image:
    """``PIL.Image.open(source)`` (the header only; pixels are decoded on ``load()``) that refuses an
    image of more than :func:`max_image_pixels` pixels with a
    :class:`~pathreason.api.errors.DataError` saying so. Other failures raise as Pillow raises them
    (``OSError``, ``ValueError``, ``SyntaxError``).
    """
    from PIL import Image as PILImage

    limit = max_image_pixels()
    try:
        image = PILImage.open(source)
    except PILImage.DecompressionBombError as err:
        found = _BOMB_PIXELS.search(str(err))
        raise DataError(_too_large(f"an image of {int(found.group(1)):,}" if found else "an image of more than "
                                   f"{2 * limit:,}", limit)) from None
    width, height = image.size
    if width * height > limit:
        image.close()
        raise DataError(_too_large(f"an image of {width}x{height} = {width * height:,}", limit))
    return image


@dataclass(frozen=True)
class ImageRef:
    """An image that is read only when needed: a file (``path``), optionally one ``region`` of it,
    or encoded file bytes (``data``, e.g. a PNG or JPEG held in a parquet file).

    ``region`` is ``(left, top, right, bottom)`` in pixels of the file; tiles of a large slide are
    regions, so no tile is cut until it is used. With ``data`` set, ``path`` is only a name.
    """

    path: str = ""
    region: tuple[int, int, int, int] | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", str(self.path))
        if not self.path and self.data is None:
            raise ValueError("ImageRef needs a path or encoded data")
        if self.region is not None:
            region = tuple(int(v) for v in self.region)
            if len(region) != 4 or region[0] < 0 or region[1] < 0 or region[2] <= region[0] or region[3] <= region[1]:
                raise ValueError(f"ImageRef region must be (left, top, right, bottom) with positive size, got {self.region}")
            object.__setattr__(self, "region", region)

    @property
    def where(self) -> str:
        where = self.path or "<encoded bytes>"
        return f"{where} region {list(self.region)}" if self.region else where

    def open(self) -> Image.Image:
        """The (lazily decoded) PIL image of the whole file, through :func:`open_image`."""
        return open_image(io.BytesIO(self.data) if self.data is not None else self.path)

    def load(self) -> Image.Image:
        """Decode, crop to ``region``, convert to RGB."""
        with self.open() as image:
            if self.region is not None:
                width, height = image.size
                if self.region[2] > width or self.region[3] > height:
                    raise ValueError(f"region {list(self.region)} lies outside the {width}x{height} image")
                image = image.crop(self.region)
            return image.convert("RGB")

    def size(self) -> tuple[int, int]:
        """``(width, height)``; reads only the header."""
        if self.region is not None:
            return self.region[2] - self.region[0], self.region[3] - self.region[1]
        with self.open() as image:
            return image.size


def _is_pil(value: Any) -> bool:
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(value, PILImage.Image)


@dataclass
class Sample:
    """One image with its question and label, for any task.

    Fields are validated at construction; an error names the field and the sample id. ``meta`` is
    normalised to JSON types (tuples become lists) so that it survives :func:`samples_to_dataset`.

    >>> s = Sample(id="s1", image="tile.png", task="vqa", question="Gland?", answer="yes", boxes=[(1, 2, 30, 40)])
    >>> s.boxes
    [[1.0, 2.0, 30.0, 40.0]]
    >>> Sample(id="s2", image="t.png", task="vqa", options=["stroma", "gland"], answer="C")
    Traceback (most recent call last):
    ...
    pathreason.api.errors.DataError: sample 's2': answer 'C' is neither an option letter (A-B) nor one of its options ['stroma', 'gland']
    """

    id: str
    image: str | Path | ImageRef | Image.Image
    task: str
    question: str = ""
    options: list[str] = field(default_factory=list)
    answer: str = ""
    boxes: list[list[float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise DataError(f"sample id must be a non-empty string, got {self.id!r}")
        if isinstance(self.image, Path):
            self.image = str(self.image)
        if isinstance(self.image, str):
            if not self.image:
                self._fail("image", "is an empty path")
        elif not isinstance(self.image, ImageRef) and not _is_pil(self.image):
            self._fail("image", f"must be a path, a PIL image or an ImageRef, got {type(self.image).__name__}")
        if not isinstance(self.task, str) or not self.task.strip():
            self._fail("task", f"must be a non-empty string such as 'vqa', got {self.task!r}")
        self.task = self.task.strip().lower()
        for name in ("question", "answer"):
            if not isinstance(getattr(self, name), str):
                self._fail(name, f"must be a string, got {type(getattr(self, name)).__name__}")
        if isinstance(self.options, str) or not all(isinstance(o, str) for o in self.options):
            self._fail("options", f"must be a list of strings, got {self.options!r}")
        self.options = list(self.options)
        self.boxes = [self._box(i, b) for i, b in enumerate(self.boxes)]
        self.meta = self._json_meta(self.meta)
        # An empty answer is an unlabelled sample (e.g. a prediction request): nothing to check.
        if self.options and self.answer:
            letters = LETTERS[: len(self.options)]
            if self.answer not in self.options and not (len(self.answer) == 1 and self.answer in letters):
                self._fail_answer(f"is neither an option letter (A-{letters[-1]}) nor one of its options "
                                  f"{self.options}")

    def _fail(self, name: str, problem: str) -> None:
        raise DataError(f"sample {self.id!r}: field {name!r} {problem}")

    def _fail_answer(self, problem: str) -> None:
        raise DataError(f"sample {self.id!r}: answer {self.answer!r} {problem}")

    def _box(self, index: int, box: Any) -> list[float]:
        try:
            values = [float(v) for v in box]
        except (TypeError, ValueError):
            values = []
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            self._fail("boxes", f"item {index} must be 4 finite numbers [x1, y1, x2, y2], got {box!r}")
        x1, y1, x2, y2 = values
        if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
            self._fail("boxes", f"item {index} {values} must have 0 <= x1 < x2 and 0 <= y1 < y2")
        return values

    def _json_meta(self, meta: Any) -> dict[str, Any]:
        if not isinstance(meta, Mapping):
            self._fail("meta", f"must be a dict, got {type(meta).__name__}")
        try:
            text = json.dumps(dict(meta), allow_nan=False)
        except (TypeError, ValueError) as err:
            self._fail("meta", f"must hold JSON values (str, number, bool, None, list, dict): {err}")
        normalised: dict[str, Any] = json.loads(text)
        if set(normalised) != set(meta):
            self._fail("meta", f"keys must be strings, got {sorted(map(repr, meta))}")
        return normalised

    @property
    def image_path(self) -> str | None:
        """The file the image comes from, if any (for messages and reports)."""
        if isinstance(self.image, str):
            return self.image
        if isinstance(self.image, ImageRef):
            return self.image.path or None
        return getattr(self.image, "filename", None) or None

    def _where(self) -> str:
        if isinstance(self.image, ImageRef):
            return self.image.where
        return self.image_path or "<in-memory image>"

    def load_image(self) -> Image.Image:
        """The image as an RGB PIL image, decoded now (nothing is cached; an in-memory RGB image
        is returned as is, not copied).

        Raises :class:`~pathreason.api.errors.DataError` naming the sample and the file when the image
        is missing, cannot be decoded, or has more pixels than :func:`max_image_pixels`.
        """
        try:
            if isinstance(self.image, str):
                with open_image(self.image) as image:
                    return image.convert("RGB")
            if isinstance(self.image, ImageRef):
                return self.image.load()
            image = cast("Image.Image", self.image)
            return image if image.mode == "RGB" else image.convert("RGB")
        except (OSError, ValueError, SyntaxError) as err:  # PIL raises all three on bad files
            raise DataError(f"sample {self.id!r}: cannot read image {self._where()}: {err}") from err

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the image; for a file only its header is read."""
        try:
            if isinstance(self.image, str):
                with open_image(self.image) as image:
                    return image.size
            if isinstance(self.image, ImageRef):
                return self.image.size()
            return cast("Image.Image", self.image).size
        except (OSError, ValueError, SyntaxError) as err:
            raise DataError(f"sample {self.id!r}: cannot read image {self._where()}: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the fields (``image`` as is: path, PIL image or :class:`ImageRef`)."""
        return {
            "id": self.id,
            "image": self.image,
            "task": self.task,
            "question": self.question,
            "options": list(self.options),
            "answer": self.answer,
            "boxes": [list(b) for b in self.boxes],
            "meta": json.loads(json.dumps(self.meta)),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Sample:
        """The inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = set(record) - known
        if unknown:
            raise DataError(f"sample {record.get('id')!r}: unknown fields {sorted(unknown)}; expected {sorted(known)}")
        return cls(**dict(record))


# -- datasets.Dataset conversion ------------------------------------------------------------------


def dataset_features() -> datasets.Features:
    """The columns of a sample dataset.

    ``image`` is an ``Image`` feature (decoded on access); ``meta`` is a JSON string so that
    samples of different datasets and tasks, with different meta keys, share one schema;
    ``image_region`` is a JSON ``{"path", "region"}`` for samples whose image is a region of a
    file (the ``image`` column then holds the cropped pixels), otherwise ``""``.
    """
    from datasets import Features, Image, List, Value

    return Features(
        {
            "id": Value("string"),
            "image": Image(),
            "task": Value("string"),
            "question": Value("string"),
            "options": List(Value("string")),
            "answer": Value("string"),
            "boxes": List(List(Value("float64"))),
            "meta": Value("string"),
            "image_region": Value("string"),
        }
    )


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _encode_image(sample: Sample) -> tuple[dict[str, Any], str]:
    image = sample.image
    if isinstance(image, str):
        return {"bytes": None, "path": image}, ""
    if isinstance(image, ImageRef):
        if image.region is not None:
            region = json.dumps({"path": image.path, "region": list(image.region)})
            return {"bytes": _png(sample.load_image()), "path": None}, region
        if image.data is not None:
            return {"bytes": image.data, "path": image.path or None}, ""
        return {"bytes": None, "path": image.path}, ""
    return {"bytes": _png(cast("Image.Image", image)), "path": None}, ""


def samples_to_dataset(samples: Iterable[Sample]) -> datasets.Dataset:
    """A ``datasets.Dataset`` with one row per sample (columns: :func:`dataset_features`).

    Path images stay paths (decoded when a row is read); in-memory images are stored as lossless
    PNG; regions are cut now and stored as PNG, with the region kept in ``image_region``.
    A list of samples of several tasks gives one mixed dataset.
    """
    from datasets import Dataset

    columns: dict[str, list[Any]] = {name: [] for name in dataset_features()}
    for sample in samples:
        if not isinstance(sample, Sample):
            raise TypeError(f"samples_to_dataset expects Sample objects, got {type(sample).__name__}")
        encoded, region = _encode_image(sample)
        columns["id"].append(sample.id)
        columns["image"].append(encoded)
        columns["task"].append(sample.task)
        columns["question"].append(sample.question)
        columns["options"].append(list(sample.options))
        columns["answer"].append(sample.answer)
        columns["boxes"].append([list(b) for b in sample.boxes])
        columns["meta"].append(json.dumps(sample.meta, sort_keys=True))
        columns["image_region"].append(region)
    return Dataset.from_dict(columns, features=dataset_features())


def dataset_to_samples(dataset: datasets.Dataset) -> list[Sample]:
    """The samples of a dataset made by :func:`samples_to_dataset` (images are not decoded).

    A path image comes back as the same path, a region as the same :class:`ImageRef` region of
    its file, and an in-memory image as an :class:`ImageRef` holding its PNG bytes (same pixels).
    """
    from datasets import Image

    missing = [name for name in dataset_features() if name not in dataset.column_names]
    if missing:
        raise DataError(f"dataset lacks the sample columns {missing}; expected {list(dataset_features())}")
    raw = dataset.cast_column("image", Image(decode=False))
    samples = []
    for row in raw:
        image: Any
        if row["image_region"]:
            region = json.loads(row["image_region"])
            image = ImageRef(path=region["path"], region=tuple(region["region"]))
        elif row["image"]["bytes"] is not None:
            image = ImageRef(path=row["image"]["path"] or "", data=row["image"]["bytes"])
        else:
            image = row["image"]["path"]
        samples.append(
            Sample(
                id=row["id"],
                image=image,
                task=row["task"],
                question=row["question"],
                options=list(row["options"]),
                answer=row["answer"],
                boxes=[list(b) for b in row["boxes"]],
                meta=json.loads(row["meta"]),
            )
        )
    return samples


def option_letter(index: int) -> str:
    """``0 -> "A"``; the letter of the ``index``-th option."""
    if not 0 <= index < len(LETTERS):
        raise ValueError(f"option index {index} out of range: at most {len(LETTERS)} options")
    return LETTERS[index]

