"""UniToPatho (Barbano et al. 2021): colorectal polyp subtyping and dysplasia grading, 6 classes.

On disk (the 800-micron release; ``resolution`` picks another folder)::

    ROOT/800/train.csv, ROOT/800/test.csv     columns image_id, top_label_name, top_label, ...
    ROOT/800/<top_label_name>/<image_id>      e.g. 800/TA.LG/149-B3-TALG.ndpi_ROI__..._.png

``ROOT`` may also be the ``800`` folder itself. Options are the class names the paper's
subtyping prompt lists (``class_names="names"``) or the dataset's codes (``"codes"``). An
``image_id`` that leads outside ``ROOT`` (``../``, an absolute path, a symlink) is skipped and
reported, never opened.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from pathreason.api import DataError
from pathreason.api.sample import Sample
from pathreason.plugins.datasets.options import DatasetOptions, validate_options
from pathreason.plugins.datasets.readers.images import probe_image
from pathreason.plugins.datasets.readers.paths import OUTSIDE_ROOT, inside_root, require_dir, require_inside
from pathreason.plugins.datasets.readers.report import DatasetSummary, Found, LoadedSamples, gather, summarize

NAME = "unitopatho"
SPLITS = ("train", "test")
CLASSES = {
    "NORM": "normal tissue",
    "HP": "hyperplastic polyp",
    "TA.HG": "tubular adenoma with high-grade dysplasia",
    "TA.LG": "tubular adenoma with low-grade dysplasia",
    "TVA.HG": "tubulo-villous adenoma with high-grade dysplasia",
    "TVA.LG": "tubulo-villous adenoma with low-grade dysplasia",
}
LAYOUT = "ROOT/800/{train,test}.csv (image_id, top_label_name, ...) and ROOT/800/<top_label_name>/<image_id>"
REQUIRED_COLUMNS = ("image_id", "top_label_name")


class UniToPathoOptions(DatasetOptions):
    """UniToPatho's dataset options: which release folder, and how classes are named."""

    resolution: str = Field("800", description="the release folder under the root, e.g. 800 or 7000_224")
    class_names: Literal["names", "codes"] = Field("names", description="list classes by name or by code")

    @field_validator("resolution", mode="before")
    @classmethod
    def _folder_name(cls, value: Any) -> Any:
        value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(value, str) and (not value or value in (".", "..") or "/" in value or "\\" in value):
            raise ValueError("must be a folder name directly under the root (e.g. 800)")
        return value


def data_folder(root: Path, resolution: str) -> Path:
    require_dir(root, NAME, LAYOUT)
    for folder in (root / resolution, root):
        tables = [folder / "train.csv", folder / "test.csv"]
        if any(inside_root(root, t) and t.is_file() for t in tables):
            return folder
    raise DataError(f"{NAME}: neither {root / resolution / 'train.csv'} nor {root / 'train.csv'} exists; expected {LAYOUT}")


def _rows(table: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The CSV's rows (line numbers from 2); a file that is not UTF-8 text or not CSV is a DataError."""
    try:
        with table.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{NAME}: {table} lacks the columns {missing}; its header is {reader.fieldnames}")
            yield from enumerate(reader, start=2)
    except UnicodeDecodeError as err:
        raise DataError(f"{NAME}: {table} is not UTF-8 text (byte {err.object[err.start:err.start + 1]!r} at "
                        f"offset {err.start}); save it as UTF-8") from None
    except csv.Error as err:
        raise DataError(f"{NAME}: {table} is not a readable CSV file: {err}") from None


def _samples(root: Path, folder: Path, split: str, options: UniToPathoOptions) -> Iterator[Found]:
    table = require_inside(root, folder / f"{split}.csv", NAME, "table")
    if not table.is_file():
        raise DataError(f"{NAME}: {table} not found; expected {LAYOUT}")
    names = dict(CLASSES) if options.class_names == "names" else {code: code for code in CLASSES}
    choices = list(names.values())
    for line, row in _rows(table):
        image_id, code = (row.get("image_id") or "").strip(), (row.get("top_label_name") or "").strip()
        record = f"{table.name}:{line}"
        if not image_id or "\x00" in image_id or code not in CLASSES:
            yield record, table, f"bad row: image_id {image_id!r}, top_label_name {code!r} (expected one of {list(CLASSES)})"
            continue
        path = folder / code / (image_id if Path(image_id).suffix else f"{image_id}.png")
        if not inside_root(root, path):
            yield record, path, OUTSIDE_ROOT
            continue
        problem = probe_image(path, options.decode_images)
        if problem is not None:
            yield record, path, problem
            continue
        try:
            sample = Sample(
                id=f"{NAME}-{split}-{Path(image_id).stem}",
                image=str(path),
                task="subtyping",
                options=choices,
                answer=names[code],
                meta={"dataset": NAME, "split": split, "organ": "colon", "label": code, "category": names[code]},
            )
        except DataError as err:
            yield record, path, str(err)
            continue
        yield record, path, sample


def load(root: str | Path, split: str = "train", **options: Any) -> LoadedSamples:
    """UniToPatho's ``split`` ("train" or "test") as subtyping samples.

    Options (:class:`UniToPathoOptions`): ``resolution`` (``"800"``), ``class_names`` (``"names"``
    or ``"codes"``), ``n``, ``decode_images``.
    """
    parsed = validate_options(UniToPathoOptions, NAME, options)
    if split not in SPLITS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(root)
    folder = data_folder(root, parsed.resolution)
    return gather(NAME, split, root, _samples(root, folder, split, parsed), parsed.n)


def check(root: str | Path, **options: Any) -> DatasetSummary:
    """Images per split and class of a UniToPatho folder, every image decoded, and every problem found."""
    return summarize(NAME, root, SPLITS, load, lambda s: str(s.meta["label"]), UniToPathoOptions, options)
