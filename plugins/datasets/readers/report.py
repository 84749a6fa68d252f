"""Helpers the dataset readers share: finishing a load, summarising a folder, probing image files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pathreason.api import DataError, Sample
from pathreason.api.datasets import IMAGE_SUFFIXES, DatasetSummary, LoadedSamples, LoadReport, Problem

__all__ = ["DatasetSummary", "LoadReport", "LoadedSamples", "Problem", "detection_label", "finish",
           "is_visible_image", "probe_image", "require_dir", "summarize"]


def finish(samples: list[Sample], report: LoadReport) -> LoadedSamples:
    report.loaded = len(samples)
    report.log()
    return LoadedSamples(samples, report)


def summarize(
    dataset: str,
    root: str | Path,
    splits: Sequence[str],
    load: Callable[..., LoadedSamples],
    label: Callable[[Sample], str],
    **options: Any,
) -> DatasetSummary:
    """Load every split and count; a split that cannot be read is a problem, not a crash."""
    summary = DatasetSummary(dataset, str(root))
    for split in splits:
        try:
            samples = load(root, split=split, **options)
        except DataError as err:
            summary.problems.append(f"{split}: {err}")
            continue
        summary.splits[split] = len(samples)
        summary.classes[split] = dict(Counter(label(s) for s in samples))
        if any(s.task == "detection" for s in samples):
            summary.objects[split] = sum(len(s.boxes) for s in samples)
        summary.problems += [f"{split}: skipped {p}" for p in samples.report.skipped]
    return summary


def detection_label(sample: Sample) -> str:
    return "with objects" if sample.boxes else "empty"


def require_dir(path: Path, dataset: str, expected: str) -> Path:
    """``path`` if it is a folder, else a :class:`DataError` saying what should be there."""
    if not path.is_dir():
        raise DataError(f"{dataset}: folder {path} not found; expected {expected}")
    return path


def probe_image(source: Path | bytes, decode: bool = False) -> str | None:
    """``None`` when ``source`` (a file or encoded bytes) opens as an image, else why not.

    Only the header is read unless ``decode`` (which also catches truncated files, slowly).
    """
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            if decode:
                image.load()
    except FileNotFoundError:
        return "image file not found"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        return f"unreadable image: {err}"
    return None


def is_visible_image(path: Path) -> bool:
    """An image file that is not hidden and not a macOS ``._`` resource fork."""
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
