"""What a dataset plugin reports: the samples a load made and what it skipped, and what a folder
check found.

A dataset's ``load`` returns :class:`LoadedSamples` (a list of samples carrying a
:class:`LoadReport`); its ``check(root)`` (``DatasetSpec.check``) returns a :class:`DatasetSummary`,
which ``pathreason datasets check`` prints (``to_text()``), serialises (``as_dict()``) and turns
into the exit status (``ok``)::

    from pathreason.api import DatasetSummary

    def check(root=None, **options):
        summary = DatasetSummary("mytiles", str(root))
        summary.splits["train"] = 12
        return summary
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pathreason.api.sample import Sample

__all__ = ["IMAGE_SUFFIXES", "DatasetSummary", "LoadReport", "LoadedSamples", "Problem"]

logger = logging.getLogger("pathreason.datasets")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class Problem:
    """A record that was skipped: its id (or row), the file involved, and why."""

    record: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.record} ({self.path}): {self.reason}" if self.path else f"{self.record}: {self.reason}"


@dataclass
class LoadReport:
    """What one ``load`` did: how many samples it made and which records it skipped.

    Available as ``samples.report`` on what every reader returns.
    """

    dataset: str
    split: str
    root: str
    loaded: int = 0
    skipped: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped

    def skip(self, record: str, path: str | Path, reason: str) -> None:
        self.skipped.append(Problem(str(record), str(path), reason))

    def to_text(self, limit: int = 20) -> str:
        lines = [f"{self.dataset} {self.split} ({self.root}): {self.loaded} samples, {len(self.skipped)} records skipped"]
        lines += [f"  skipped {p}" for p in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit} more")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def log(self) -> None:
        """Warn (once per load) when records were skipped, naming the first few."""
        if self.skipped:
            shown = "; ".join(str(p) for p in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            logger.warning(
                "%s %s: skipped %d bad records (%d samples loaded): %s%s. See `.report` on the returned samples.",
                self.dataset, self.split, len(self.skipped), self.loaded, shown, more,
            )


class LoadedSamples(list[Sample]):
    """A plain list of samples that also carries the :class:`LoadReport` of the load."""

    def __init__(self, samples: Iterable[Sample], report: LoadReport) -> None:
        super().__init__(samples)
        self.report = report


@dataclass
class DatasetSummary:
    """What ``check(root)`` found: samples per split and per class, and every problem.

    ``classes[split]`` counts the label of each sample (class name, VQA question type, or for
    detection ``"with objects"`` / ``"empty"``); ``objects[split]`` counts boxes (detection).
    """

    dataset: str
    root: str
    splits: dict[str, int] = field(default_factory=dict)
    classes: dict[str, dict[str, int]] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def to_text(self, limit: int = 20) -> str:
        lines = [f"{self.dataset} at {self.root}: {'ok' if self.ok else f'{len(self.problems)} problems'}"]
        for split, count in self.splits.items():
            extra = f", {self.objects[split]} boxes" if split in self.objects else ""
            lines.append(f"  {split}: {count} samples{extra}")
            for label, n in sorted(self.classes.get(split, {}).items()):
                lines.append(f"    {label}: {n}")
        lines += [f"  problem: {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more problems")
        return "\n".join(lines)
