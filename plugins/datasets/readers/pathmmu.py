"""PathMMU (Sun et al. 2024): expert-validated multiple-choice questions on pathology images.

On disk::

    ROOT/data.json      {subset: {split: [ {No, img, question, options: ["A) ...", ...],
                                            answer: "B) ...", explanation}, ... ]}}
    ROOT/images/...     the images that ``img`` names (relative to ROOT or to ROOT/images)

Subsets: PubMed, EduContent, Atlas, PathCLS, SocialPath; splits in the file: val, test, test_tiny.
The paper's protocol (``protocol="paper"``, default) uses the four public subsets (SocialPath is
not public) and maps: "train" = test minus test_tiny, "validation" = val, "test" = test_tiny.
``protocol="raw"`` takes the file's split names as they are.

Options "A) text" become ``options=["text", ...]``; the answer becomes its letter ``"A"``. A record
whose ``No`` is not a whole number (``NaN``, a float, missing) is skipped and reported, as is one
whose ``img`` leads outside ``ROOT`` (``../``, an absolute path elsewhere, a symlink): that file is
never opened.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from pathreason.api import DataError
from pathreason.api.sample import Sample, option_letter
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

NAME = "pathmmu"
SUBSETS = ("PubMed", "EduContent", "Atlas", "PathCLS", "SocialPath")
PAPER_SUBSETS = ("PubMed", "EduContent", "Atlas", "PathCLS")
RAW_SPLITS = ("val", "test", "test_tiny")
SPLITS = ("train", "validation", "test")
LAYOUT = "ROOT/data.json ({subset: {split: [{No, img, question, options, answer, explanation}]}}) and ROOT/images/"
_OPTION = re.compile(r"^\s*\(?([A-Z])\s*[).:]\s*(.*)$", re.DOTALL)


class PathMMUOptions(DatasetOptions):
    """PathMMU's dataset options: which subsets, and which split names."""

    subsets: list[Literal["PubMed", "EduContent", "Atlas", "PathCLS", "SocialPath"]] | None = Field(
        None, description="subsets to read (default: the four public ones)")
    protocol: Literal["paper", "raw"] = Field("paper", description="the paper's splits or the file's own names")


def parse_options(options: Any) -> list[str]:
    """``["A) x", "B) y"]`` -> ``["x", "y"]``; letters must run A, B, C... in order."""
    if not isinstance(options, list) or not options:
        raise ValueError(f"options must be a non-empty list, got {brief(options)}")
    texts = []
    for index, option in enumerate(options):
        match = _OPTION.match(option) if isinstance(option, str) else None
        if match is None or match.group(1) != option_letter(index):
            raise ValueError(f"option {index + 1} {brief(option)} does not start with '{option_letter(index)})'")
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
    raise ValueError(f"answer {brief(answer)} is not one of the {len(options)} options")


def read_data(root: Path) -> dict[str, Any]:
    require_dir(root, NAME, LAYOUT)
    path = require_inside(root, root / "data.json", NAME, "manifest")
    if not path.is_file():
        raise DataError(f"{NAME}: {path} not found; expected {LAYOUT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{NAME}: {path} is not valid JSON: {err}") from None
    except RecursionError:
        raise DataError(f"{NAME}: {path} is nested too deeply to read (a malformed or hostile file); "
                        f"expected {LAYOUT}") from None
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
    """What identifies a question across the file's splits: its image and its text."""
    if not isinstance(record, dict):
        return ("", brief(record))
    image, question = record.get("img") or record.get("source_img"), record.get("question")
    return (image if isinstance(image, str) else brief(image), question if isinstance(question, str) else brief(question))


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


def record_number(record: dict[str, Any]) -> int | str:
    """The record's ``No``: a whole number (or a non-empty string); anything else is a ValueError."""
    number = record.get("No")
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        return int(number)
    if (isinstance(number, int) and not isinstance(number, bool)) or (isinstance(number, str) and number.strip()):
        return number
    raise ValueError(f"'No' must be a whole number, got {brief(number)}")


def image_path(root: Path, name: str) -> Path | None:
    """The file ``img`` names (relative to ``ROOT``, ``ROOT/images``, or its base name in
    ``ROOT/images``); ``None`` when a place it could be leads outside ``ROOT``."""
    candidates = (root / name, root / "images" / name, root / "images" / Path(name).name)
    for candidate in candidates:
        if not inside_root(root, candidate):
            return None
        if candidate.is_file():
            return candidate
    return candidates[1]


def _samples(root: Path, data: dict[str, Any], split: str, options: PathMMUOptions) -> Iterator[Found]:
    checked: dict[Path, str | None] = {}
    manifest = root / "data.json"
    for subset in options.subsets if options.subsets is not None else PAPER_SUBSETS:
        for index, (raw, record) in enumerate(selected(data, subset, split, options.protocol, manifest)):
            record_id = f"{subset}-{raw}-#{index}"
            try:
                if not isinstance(record, dict):
                    raise ValueError(f"not a record: {brief(record)}")
                number = record_number(record)
                record_id = f"{subset}-{raw}-{number}"
                name = record.get("img") or record.get("source_img")
                if not isinstance(name, str) or not name or "\x00" in name:
                    raise ValueError(f"'img' must name a file, got {brief(name)}")
                choices = parse_options(record.get("options"))
                answer = parse_answer(record.get("answer"), choices)
                question = record.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise ValueError(f"question must be a non-empty string, got {brief(question)}")
                explanation = record.get("explanation") or ""
                if not isinstance(explanation, str):
                    raise ValueError(f"explanation must be a string, got {brief(explanation)}")
            except ValueError as err:
                yield record_id, manifest, f"malformed record: {err}"
                continue
            path = image_path(root, name)
            if path is None:
                yield record_id, root / name, OUTSIDE_ROOT
                continue
            if path not in checked:
                checked[path] = probe_image(path, options.decode_images)
            if checked[path] is not None:
                yield record_id, path, str(checked[path])
                continue
            try:
                sample = Sample(
                    id=f"{NAME}-{split}-{record_id}",
                    image=str(path),
                    task="vqa",
                    question=question.strip(),
                    options=choices,
                    answer=answer,
                    meta={
                        "dataset": NAME,
                        "split": split,
                        "subset": subset,
                        "source_split": raw,
                        "no": number,
                        "question_type": "multiple choice",
                        "explanation": explanation,
                    },
                )
            except DataError as err:
                yield record_id, manifest, str(err)
                continue
            yield record_id, path, sample


def load(root: str | Path, split: str = "test", **options: Any) -> LoadedSamples:
    """PathMMU's ``split`` as multiple-choice VQA samples (see the module doc for splits).

    Options (:class:`PathMMUOptions`): ``subsets`` (the four public ones), ``protocol``
    (``"paper"`` or ``"raw"``), ``n``, ``decode_images``.
    """
    parsed = validate_options(PathMMUOptions, NAME, options)
    allowed = SPLITS if parsed.protocol == "paper" else RAW_SPLITS
    if split not in allowed:
        raise DataError(f"{NAME}: with protocol={parsed.protocol!r}, split must be one of {list(allowed)}, got {split!r}")
    root = Path(root)
    data = read_data(root)
    return gather(NAME, split, root, _samples(root, data, split, parsed), parsed.n)


def check(root: str | Path, **options: Any) -> DatasetSummary:
    """Questions per split and subset of a PathMMU folder, every image decoded, and every problem found."""
    splits = RAW_SPLITS if options.get("protocol") == "raw" else SPLITS
    return summarize(NAME, root, splits, load, lambda s: str(s.meta["subset"]), PathMMUOptions, options)
