"""PathMMU (Sun et al. 2024): expert-validated multiple-choice questions on pathology images.

On disk::

    ROOT/data.json      {subset: {split: [ {No, img, question, options: ["A) ...", ...],
                                            answer: "B) ...", explanation}, ... ]}}
    ROOT/images/...     the images that ``img`` names (relative to ROOT or to ROOT/images)

Subsets: PubMed, EduContent, Atlas, PathCLS, SocialPath; splits in the file: val, test, test_tiny.
The paper's protocol (``protocol="paper"``, default) uses the four public subsets (SocialPath is
not public) and maps: "train" = test minus test_tiny, "validation" = val, "test" = test_tiny.
``protocol="raw"`` takes the file's split names as they are.

Options "A) text" become ``options=["text", ...]``; the answer becomes its letter ``"A"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pathreason.api import DataError
from pathreason.api.sample import Sample, option_letter
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    LoadedSamples,
    LoadReport,
    finish,
    probe_image,
    require_dir,
    summarize,
)

NAME = "pathmmu"
SUBSETS = ("PubMed", "EduContent", "Atlas", "PathCLS", "SocialPath")
PAPER_SUBSETS = ("PubMed", "EduContent", "Atlas", "PathCLS")
RAW_SPLITS = ("val", "test", "test_tiny")
SPLITS = ("train", "validation", "test")
LAYOUT = "ROOT/data.json ({subset: {split: [{No, img, question, options, answer, explanation}]}}) and ROOT/images/"
_OPTION = re.compile(r"^\s*\(?([A-Z])\s*[).:]\s*(.*)$", re.DOTALL)


def parse_options(options: Any) -> list[str]:
    """``["A) x", "B) y"]`` -> ``["x", "y"]``; letters must run A, B, C... in order."""
    if not isinstance(options, list) or not options:
        raise ValueError(f"options must be a non-empty list, got {options!r}")
    texts = []
    for index, option in enumerate(options):
        match = _OPTION.match(option) if isinstance(option, str) else None
        if match is None or match.group(1) != option_letter(index):
            raise ValueError(f"option {index + 1} {option!r} does not start with '{option_letter(index)})'")
        texts.append(match.group(2).strip())
    return texts


def parse_answer(answer: Any, options: list[str]) -> str:
    """The letter of ``answer`` ("B) text", "B", or the option's text)."""
    letters = [option_letter(i) for i in range(len(options))]
    if isinstance(answer, str):
        match = _OPTION.match(answer)
        letter = match.group(1) if match else answer.strip()
        if letter in letters:
            return letter
        if answer.strip() in options:
            return option_letter(options.index(answer.strip()))
    raise ValueError(f"answer {answer!r} is not one of the {len(options)} options")


def read_data(root: Path) -> dict[str, Any]:
    require_dir(root, NAME, LAYOUT)
    path = root / "data.json"
    if not path.is_file():
        raise DataError(f"{NAME}: {path} not found; expected {LAYOUT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{NAME}: {path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise DataError(f"{NAME}: {path} holds a {type(data).__name__}; expected {{subset: {{split: [records]}}}}")
    return data


def _records(data: dict[str, Any], subset: str, split: str, path: Path) -> list[Any]:
    if subset not in data or not isinstance(data[subset], dict):
        raise DataError(f"{NAME}: subset {subset!r} not in {path}; it has {sorted(data)}")
    if split not in data[subset]:
        raise DataError(f"{NAME}: split {split!r} of subset {subset!r} not in {path}; it has {sorted(data[subset])}")
    records = data[subset][split]
    if not isinstance(records, list):
        raise DataError(f"{NAME}: {path} [{subset}][{split}] is a {type(records).__name__}; expected a list of records")
    return records


def _key(record: Any) -> tuple[str, str]:
    if not isinstance(record, dict):
        return ("", repr(record))
    return (str(record.get("img") or record.get("source_img")), str(record.get("question")))


def selected(data: dict[str, Any], subset: str, split: str, protocol: str, path: Path) -> list[tuple[str, Any]]:
    """``(raw split, record)`` pairs of ``split`` under ``protocol``."""
    if protocol == "raw":
        return [(split, r) for r in _records(data, subset, split, path)]
    if split == "validation":
        return [("val", r) for r in _records(data, subset, "val", path)]
    if split == "test":
        return [("test_tiny", r) for r in _records(data, subset, "test_tiny", path)]
    tiny = {_key(r) for r in _records(data, subset, "test_tiny", path)}
    return [("test", r) for r in _records(data, subset, "test", path) if _key(r) not in tiny]


def image_path(root: Path, name: str) -> Path:
    for candidate in (root / name, root / "images" / name, root / "images" / Path(name).name):
        if candidate.is_file():
            return candidate
    return root / "images" / name


def load(
    root: str | Path,
    split: str = "test",
    subsets: Sequence[str] | None = None,
    protocol: str = "paper",
    decode_images: bool = False,
) -> LoadedSamples:
    """PathMMU's ``split`` as multiple-choice VQA samples (see the module doc for splits)."""
    if protocol not in ("paper", "raw"):
        raise DataError(f"{NAME}: protocol must be 'paper' or 'raw', got {protocol!r}")
    allowed = SPLITS if protocol == "paper" else RAW_SPLITS
    if split not in allowed:
        raise DataError(f"{NAME}: with protocol={protocol!r}, split must be one of {list(allowed)}, got {split!r}")
    subsets = tuple(subsets) if subsets is not None else PAPER_SUBSETS
    unknown = [s for s in subsets if s not in SUBSETS]
    if unknown:
        raise DataError(f"{NAME}: unknown subsets {unknown}; expected some of {list(SUBSETS)}")
    root = Path(root)
    data = read_data(root)
    report = LoadReport(NAME, split, str(root))
    samples: list[Sample] = []
    checked: dict[Path, str | None] = {}
    for subset in subsets:
        for raw, record in selected(data, subset, split, protocol, root / "data.json"):
            number = record.get("No") if isinstance(record, dict) else None
            record_id = f"{subset}-{raw}-{number}"
            try:
                if not isinstance(record, dict):
                    raise ValueError(f"not a record: {str(record)[:80]}")
                name = record.get("img") or record.get("source_img")
                if not isinstance(name, str) or not name:
                    raise ValueError("no 'img'")
                options = parse_options(record.get("options"))
                answer = parse_answer(record.get("answer"), options)
                question = record.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise ValueError(f"question must be a non-empty string, got {question!r}")
            except ValueError as err:
                report.skip(record_id, root / "data.json", f"malformed record: {err}")
                continue
            path = image_path(root, name)
            if path not in checked:
                checked[path] = probe_image(path, decode_images)
            if checked[path] is not None:
                report.skip(record_id, path, str(checked[path]))
                continue
            samples.append(
                Sample(
                    id=f"{NAME}-{split}-{record_id}",
                    image=str(path),
                    task="vqa",
                    question=question.strip(),
                    options=options,
                    answer=answer,
                    meta={
                        "dataset": NAME,
                        "split": split,
                        "subset": subset,
                        "source_split": raw,
                        "no": number,
                        "question_type": "multiple choice",
                        "explanation": str(record.get("explanation") or ""),
                    },
                )
            )
    return finish(samples, report)


def check(root: str | Path, **options: object) -> DatasetSummary:
    """Questions per split and subset of a PathMMU folder, and every problem found."""
    protocol = options.get("protocol", "paper")
    splits = SPLITS if protocol == "paper" else RAW_SPLITS
    return summarize(NAME, root, splits, load, lambda s: str(s.meta["subset"]), **options)
