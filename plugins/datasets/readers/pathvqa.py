"""PathVQA (He et al. 2020): open and yes/no questions on pathology images.

Two layouts are read:

* the Hugging Face parquet release: ``ROOT/data/{split}-*.parquet`` (or ``ROOT/{split}.parquet``,
  ``ROOT/{split}-*.parquet``) with columns ``image`` (struct ``{bytes, path}``), ``question``,
  ``answer``; splits train / validation / test;
* the original release: ``ROOT/pvqa/qas/{split}/{split}_qa.pkl`` (a list of dicts with keys
  ``image``, ``question``, ``answer``) and ``ROOT/pvqa/images/{split}/<image>.jpg``; splits
  train / val / test (``ROOT`` may also be the ``pvqa`` folder).

A question is closed (``meta["question_type"] == "yes/no"``) when its answer is yes or no, and
open otherwise. Pickles are read with an unpickler that refuses every class, so a pickle can
only yield plain lists, dicts and strings: one that asks for a class (code it would run) is
refused with a one-line :class:`~pathreason.api.DataError` naming the class. Images held in parquet
stay encoded (one copy per distinct image) until a sample is loaded. An image path that leads
outside ``ROOT`` (``../``, an absolute path elsewhere, a symlink) is skipped and reported, never
opened.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pathreason.api import DataError
from pathreason.api.sample import ImageRef, Sample
from pathreason.plugins.datasets.options import DatasetOptions, validate_options
from pathreason.plugins.datasets.readers.images import probe_image
from pathreason.plugins.datasets.readers.paths import OUTSIDE_ROOT, inside_root, require_dir, require_inside
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    Found,
    LoadedSamples,
    brief,
    gather,
    summarize,
)

NAME = "pathvqa"
SPLITS = ("train", "validation", "test")
SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "val", "valid"), "test": ("test",)}
LAYOUT = (
    "ROOT/data/{split}-*.parquet (columns image{bytes,path}, question, answer) or "
    "ROOT/pvqa/qas/{split}/{split}_qa.pkl with ROOT/pvqa/images/{split}/*.jpg"
)
CLOSED = ("yes", "no")


class PathVQAOptions(DatasetOptions):
    """PathVQA's dataset options: those every local dataset takes."""


class _Refused(pickle.UnpicklingError):
    """A pickle asked for a class (which could run code)."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise _Refused(f"it asks for {module}.{name}, and loading a class can run code; "
                       f"PathVQA pickles hold only lists, dicts and strings")


def canonical_split(split: str) -> str:
    for name, aliases in SPLIT_NAMES.items():
        if split in aliases:
            return name
    raise DataError(f"{NAME}: split must be one of {list(SPLITS)} (or 'val'), got {split!r}")


def parquet_files(root: Path, split: str) -> list[Path]:
    found: list[Path] = []
    for alias in SPLIT_NAMES[split]:
        for folder in (root / "data", root):
            found += sorted(folder.glob(f"{alias}-*.parquet")) + sorted(folder.glob(f"{alias}.parquet"))
    return sorted(set(found))


def pickle_layout(root: Path, split: str) -> tuple[Path, Path] | None:
    for base in (root / "pvqa", root):
        for alias in SPLIT_NAMES[split]:
            table = base / "qas" / alias / f"{alias}_qa.pkl"
            if not inside_root(root, table) or table.is_file():  # one leading out is refused by the reader
                return table, base / "images" / alias
    return None


def make_sample(split: str, record_id: str, image: str | ImageRef, question: Any, answer: Any, source: str) -> Sample:
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {brief(question)}")
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"answer must be a non-empty string, got {brief(answer)}")
    answer = answer.strip()
    closed = answer.lower() in CLOSED
    return Sample(
        id=f"{NAME}-{split}-{record_id}",
        image=image,
        task="vqa",
        question=question.strip(),
        answer=answer.lower() if closed else answer,
        meta={"dataset": NAME, "split": split, "question_type": "yes/no" if closed else "open", "source_image": source},
    )


def _from_parquet(root: Path, files: list[Path], split: str, decode_images: bool) -> Iterator[Found]:
    import pyarrow.parquet as pq

    images: dict[bytes, ImageRef] = {}  # one ImageRef per distinct image
    for file in files:
        if not inside_root(root, file):
            yield file.name, file, OUTSIDE_ROOT
            continue
        try:
            table = pq.read_table(file)
        except Exception as err:  # pyarrow raises its own error types for corrupt files
            raise DataError(f"{NAME}: cannot read parquet file {file}: {err}") from None
        missing = [c for c in ("image", "question", "answer") if c not in table.column_names]
        if missing:
            raise DataError(f"{NAME}: {file} lacks the columns {missing}; it has {table.column_names}; expected {LAYOUT}")
        for row, record in enumerate(table.select(["image", "question", "answer"]).to_pylist()):
            record_id, where = f"{file.stem}-{row:06d}", f"{file} row {row}"
            image = record["image"] if isinstance(record["image"], dict) else {}
            data, name = image.get("bytes"), image.get("path") or ""
            source: str | ImageRef
            if data:
                key = hashlib.blake2b(data, digest_size=16).digest()
                if key not in images:
                    problem = probe_image(data, decode_images)
                    if problem is not None:
                        yield record_id, where, problem
                        continue
                    images[key] = ImageRef(path=name, data=data)
                source = images[key]
            elif name and not inside_root(root, file.parent / name):
                yield record_id, where, f"image path {name!r} is {OUTSIDE_ROOT}"
                continue
            elif name and (file.parent / name).is_file():
                source = str(file.parent / name)
            else:
                yield record_id, where, f"image has no bytes and no readable path ({name!r})"
                continue
            try:
                yield record_id, where, make_sample(split, record_id, source, record["question"], record["answer"], name)
            except ValueError as err:  # DataError included
                yield record_id, where, str(err)


def read_pickle(table: Path) -> list[Any]:
    """The pickled list of records, read with an unpickler that refuses every class."""
    try:
        with table.open("rb") as handle:
            records = _PlainUnpickler(io.BufferedReader(handle)).load()
    except _Refused as err:
        raise DataError(f"{NAME}: refused {table}: {err}") from None
    except RecursionError:
        raise DataError(f"{NAME}: refused {table}: it is nested too deeply (a malformed or hostile pickle)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError) as err:
        raise DataError(f"{NAME}: cannot read {table} ({type(err).__name__}: {err}); "
                        f"expected a pickled list of dicts") from None
    if not isinstance(records, list):
        raise DataError(f"{NAME}: {table} holds a {type(records).__name__}; expected a list of dicts with image, question, answer")
    return records


def _from_pickle(root: Path, table: Path, images: Path, split: str, decode_images: bool) -> Iterator[Found]:
    require_inside(root, table, NAME, "question file")
    require_dir(images, NAME, LAYOUT, root)
    checked: dict[str, str | None] = {}
    for index, record in enumerate(read_pickle(table)):
        record_id = f"{index:06d}"
        if not isinstance(record, dict) or not isinstance(record.get("image"), str):
            yield record_id, table, f"record {index} is not a dict with a string 'image': {brief(record)}"
            continue
        if "\x00" in record["image"]:
            yield record_id, table, f"record {index}: its image name {brief(record['image'])} holds a NUL byte"
            continue
        name = record["image"] if Path(record["image"]).suffix else f"{record['image']}.jpg"
        path = images / name
        if not inside_root(root, path):
            yield record_id, path, OUTSIDE_ROOT
            continue
        if name not in checked:
            checked[name] = probe_image(path, decode_images)
        if checked[name] is not None:
            yield record_id, path, str(checked[name])
            continue
        try:
            yield record_id, path, make_sample(split, record_id, str(path), record.get("question"), record.get("answer"), name)
        except ValueError as err:  # DataError included
            yield record_id, table, str(err)


def load(root: str | Path, split: str = "train", **options: Any) -> LoadedSamples:
    """PathVQA's ``split`` ("train", "validation" or "test") as VQA samples.

    Options (:class:`PathVQAOptions`): ``n`` (the first n questions), ``decode_images``.
    """
    parsed = validate_options(PathVQAOptions, NAME, options)
    split = canonical_split(split)
    root = Path(root)
    require_dir(root, NAME, LAYOUT)
    files = parquet_files(root, split)
    found: Iterator[Found]
    if files:
        found = _from_parquet(root, files, split, parsed.decode_images)
    elif (layout := pickle_layout(root, split)) is not None:
        found = _from_pickle(root, *layout, split, parsed.decode_images)
    else:
        raise DataError(f"{NAME}: no {split} split in {root}: expected {LAYOUT}")
    return gather(NAME, split, root, found, parsed.n)


def check(root: str | Path, **options: Any) -> DatasetSummary:
    """Questions per split and type (yes/no, open) of a PathVQA folder, every image decoded, and every
    problem found."""
    return summarize(NAME, root, SPLITS, load, lambda s: str(s.meta["question_type"]), PathVQAOptions, options)
