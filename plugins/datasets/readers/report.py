"""What the dataset readers share beyond paths and images: gathering a load, summarising a folder.

A reader walks its folder as a generator of :data:`Found` triples ``(record, path, result)``: the
result is the sample (or the tiles) a record makes, or the reason it was skipped. :func:`gather`
turns that into :class:`~pathreason.api.LoadedSamples`: it reports the skipped records, refuses a
second record with an id already taken (evaluation keys predictions by sample id, so two samples
with one id would score each other's answers), and stops reading once ``n`` samples are in.
"""

from __future__ import annotations

import reprlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pathreason.api import DataError, Sample
from pathreason.api.datasets import DatasetSummary, LoadedSamples, LoadReport, Problem
from pathreason.plugins.datasets.options import validate_options
from pathreason.plugins.datasets.readers.images import decode_images, is_image_name, probe_image
from pathreason.plugins.datasets.readers.paths import require_dir

__all__ = ["DatasetSummary", "Found", "LoadReport", "LoadedSamples", "Problem", "brief", "detection_label", "gather",
           "is_image_name", "probe_image", "require_dir", "summarize"]

#: ``(record, path, result)``: a record's name (a row, a file), the file involved, and the sample
#: or tiles it made, or why it was skipped.
Found = tuple[str, "str | Path", "Sample | Sequence[Sample] | str"]

_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother = 3, 160, 160


def brief(value: Any) -> str:
    """A short ``repr`` of a value read from a manifest, for messages: nesting and length are cut,
    so a hostile record (lists nested 100,000 deep) cannot make the message itself fail."""
    return _BRIEF.repr(value)


def gather(dataset: str, split: str, root: str | Path, found: Iterable[Found], n: int | None = None) -> LoadedSamples:
    """The samples of ``found`` with a report of what was skipped; at most ``n`` (reading stops there).

    A record whose sample id (any of its tiles' ids) was already taken is skipped and reported,
    naming both records: the first one wins.
    """
    report = LoadReport(dataset, split, str(root))
    samples: list[Sample] = []
    owners: dict[str, str] = {}
    for record, path, result in found:
        if isinstance(result, str):
            report.skip(record, path, result)
            continue
        batch = [result] if isinstance(result, Sample) else list(result)
        taken = next((s.id for s in batch if s.id in owners), None)
        if taken is not None:
            report.skip(record, path, f"duplicate sample id {taken!r}: record {owners[taken]} has it already")
            continue
        owners.update((s.id, f"{record} ({path})") for s in batch)
        samples += batch
        if n is not None and len(samples) >= n:
            del samples[n:]
            break
    report.loaded = len(samples)
    report.log()
    return LoadedSamples(samples, report)


def summarize(
    dataset: str,
    root: str | Path,
    splits: Sequence[str],
    load: Callable[..., LoadedSamples],
    label: Callable[[Sample], str],
    model: type[BaseModel],
    options: Mapping[str, Any],
    progress: bool = True,
) -> DatasetSummary:
    """Load every split, decode every image (:func:`decode_images`) and count; a split that cannot
    be read and an image that cannot be decoded are problems, not a crash. A wrong option (checked
    against ``model``) is a :class:`DataError`."""
    validate_options(model, dataset, options)
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
        summary.problems += [f"{split}: {p}" for p in decode_images(samples, f"{dataset} {split}", progress)]
    if summary.splits and not any(summary.splits.values()):
        summary.problems.append(f"no samples in any split ({', '.join(summary.splits)}): is {root} the {dataset} "
                                "folder, laid out as its docs page shows?")
    return summary


def detection_label(sample: Sample) -> str:
    return "with objects" if sample.boxes else "empty"
