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
only yield plain lists, dicts and strings. Images held in parquet stay encoded (one copy per
distinct image) until a sample is loaded.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

from pathreason.api import DataError
from pathreason.api.sample import ImageRef, Sample
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    LoadedSamples,
    LoadReport,
    finish,
    probe_image,
    require_dir,
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


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: PathVQA pickles hold only lists, dicts and strings")


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
            if table.is_file():
                return table, base / "images" / alias
    return None


def make_sample(split: str, record_id: str, image: str | ImageRef, question: Any, answer: Any, source: str) -> Sample:
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"answer must be a non-empty string, got {answer!r}")
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


def _from_parquet(files: list[Path], split: str, report: LoadReport, decode_images: bool) -> list[Sample]:
    import pyarrow.parquet as pq

    samples: list[Sample] = []
    images: dict[bytes, ImageRef] = {}  # one ImageRef per distinct image
    for file in files:
        try:
            table = pq.read_table(file)
        except Exception as err:  # pyarrow raises its own error types for corrupt files
            raise DataError(f"{NAME}: cannot read parquet file {file}: {err}") from err
        missing = [c for c in ("image", "question", "answer") if c not in table.column_names]
        if missing:
            raise DataError(f"{NAME}: {file} lacks the columns {missing}; it has {table.column_names}; expected {LAYOUT}")
        for row, record in enumerate(table.select(["image", "question", "answer"]).to_pylist()):
            record_id = f"{file.stem}-{row:06d}"
            image = record["image"] if isinstance(record["image"], dict) else {}
            data, name = image.get("bytes"), image.get("path") or ""
            source: str | ImageRef
            if data:
                key = hashlib.blake2b(data, digest_size=16).digest()
                if key not in images:
                    problem = probe_image(data, decode_images)
                    if problem is not None:
                        report.skip(record_id, f"{file} row {row}", problem)
                        continue
                    images[key] = ImageRef(path=name, data=data)
                source = images[key]
            elif name and (file.parent / name).is_file():
                source = str(file.parent / name)
            else:
                report.skip(record_id, f"{file} row {row}", f"image has no bytes and no readable path ({name!r})")
                continue
            try:
                samples.append(make_sample(split, record_id, source, record["question"], record["answer"], name))
            except ValueError as err:
                report.skip(record_id, f"{file} row {row}", str(err))
    return samples


def _from_pickle(table: Path, images: Path, split: str, report: LoadReport, decode_images: bool) -> list[Sample]:
    require_dir(images, NAME, LAYOUT)
    try:
        with table.open("rb") as handle:
            records = _PlainUnpickler(io.BufferedReader(handle)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise DataError(f"{NAME}: cannot read {table}: {err}; expected a pickled list of dicts") from err
    if not isinstance(records, list):
        raise DataError(f"{NAME}: {table} holds a {type(records).__name__}; expected a list of dicts with image, question, answer")
    samples: list[Sample] = []
    checked: dict[str, str | None] = {}
    for index, record in enumerate(records):
        record_id = f"{index:06d}"
        if not isinstance(record, dict) or not isinstance(record.get("image"), str):
            report.skip(record_id, table, f"record {index} is not a dict with a string 'image': {str(record)[:80]}")
            continue
        name = record["image"] if Path(record["image"]).suffix else f"{record['image']}.jpg"
        path = images / name
        if name not in checked:
            checked[name] = probe_image(path, decode_images)
        if checked[name] is not None:
            report.skip(record_id, path, str(checked[name]))
            continue
        try:
            samples.append(make_sample(split, record_id, str(path), record.get("question"), record.get("answer"), name))
        except ValueError as err:
            report.skip(record_id, table, str(err))
    return samples


def load(root: str | Path, split: str = "train", decode_images: bool = False) -> LoadedSamples:
    """PathVQA's ``split`` ("train", "validation" or "test") as VQA samples."""
    split = canonical_split(split)
    root = Path(root)
    require_dir(root, NAME, LAYOUT)
    report = LoadReport(NAME, split, str(root))
    files = parquet_files(root, split)
    if files:
        samples = _from_parquet(files, split, report, decode_images)
    elif (found := pickle_layout(root, split)) is not None:
        samples = _from_pickle(*found, split, report, decode_images)
    else:
        raise DataError(f"{NAME}: no {split} split in {root}: expected {LAYOUT}")
    return finish(samples, report)


def check(root: str | Path, **options: object) -> DatasetSummary:
    """Questions per split and type (yes/no, open) of a PathVQA folder, and every problem found."""
    return summarize(NAME, root, SPLITS, load, lambda s: str(s.meta["question_type"]), **options)
