"""Where a run's samples come from: the configured dataset plugin, filtered to the run's tasks.

:class:`SampleSource` calls the dataset plugin's loader with the run's options (``root``, ``n``, the
one task of a multi-task dataset), keeps the samples of the configured tasks (aliases resolved to
task names), caches each split, and decodes images with every unreadable one reported and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import DataError, Sample, Task, UnknownNameError
from pathreason.registry import dataset_spec, load_samples, task_spec

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.config import DatasetSection

logger = logging.getLogger(__name__)


def canonical_task(name: str) -> str:
    """A task's registered name for ``name`` or one of its aliases (``name`` itself when unknown)."""
    try:
        return task_spec(name).name
    except UnknownNameError:
        return name


def decode(samples: Iterable[Sample]) -> tuple[list[Sample], list[Image.Image]]:
    """The samples whose image can be read, and their decoded images; the others are reported
    (sample id, file, why) and skipped, so that one corrupt file never ends a run."""
    kept: list[Sample] = []
    images: list[Image.Image] = []
    bad = []
    for sample in samples:
        try:
            images.append(sample.load_image())
        except Exception as exc:  # a corrupt or hostile file must not end a run
            bad.append(f"{sample.id} ({sample.image_path or '<in memory>'}): {type(exc).__name__}: {exc}")
            continue
        kept.append(sample)
    if bad:
        logger.warning("skipped %d sample(s) whose image cannot be read: %s", len(bad), "; ".join(bad[:20]))
    return kept, images


def require_unique_ids(samples: Sequence[Sample], dataset: str, split: str) -> None:
    """A :class:`DataError` naming the first id two samples share: evaluation keys predictions by
    sample id, so duplicates would score each other's answers (a perfect model at 1/3)."""
    seen: dict[str, Sample] = {}
    for sample in samples:
        first = seen.setdefault(sample.id, sample)
        if first is not sample:
            raise DataError(f"dataset {dataset!r} split {split!r} gives the sample id {sample.id!r} twice "
                            f"(images {first.image_path or '<in memory>'} and {sample.image_path or '<in memory>'}); "
                            f"sample ids must be unique: fix the dataset plugin or its folder")


class SampleSource:
    """The samples of a run's tasks from its dataset plugin (see the module docstring)."""

    def __init__(self, section: DatasetSection, tasks: Mapping[str, Task]) -> None:
        self.section = section
        self.tasks = tasks
        self.spec = dataset_spec(section.name)
        self._cache: dict[tuple[str, int | None], list[Sample]] = {}

    def samples(self, split: str, n: int | None = None) -> list[Sample]:
        """Samples of the configured tasks in ``split`` (the first ``n`` the loader gives)."""
        key = (split, n)
        if key not in self._cache:
            self._cache[key] = self._load(split, n)
        return self._cache[key]

    def _load(self, split: str, n: int | None) -> list[Sample]:
        options: dict[str, Any] = dict(self.section.options)
        if n is not None:
            options["n"] = n
        if self.section.root is not None:
            options["root"] = self.section.root
        elif self.spec.needs_root:
            raise DataError(f"dataset {self.spec.name!r} reads a local copy: set dataset.root "
                            f"(e.g. --dataset.root /data/{self.spec.name})")
        if len(self.spec.tasks) > 1 and len(self.tasks) == 1 and "task" not in options:
            options["task"] = next(iter(self.tasks))  # one task of a multi-task dataset: load only that
        loaded = load_samples(self.spec, split, **options)  # a bad loader: one error naming its plugin
        require_unique_ids(loaded, self.spec.name, split)
        names = {canonical_task(s.task) for s in loaded}
        kept, bad = [], []
        for s in loaded:
            s.task = canonical_task(s.task)
            if s.task not in self.tasks:
                continue
            try:
                self.tasks[s.task].validate(s)
            except DataError as exc:
                bad.append(str(exc))
                continue
            kept.append(s)
        if bad:
            logger.warning("dataset %r split %r: skipped %d sample(s) that break their task's answer convention: %s",
                           self.spec.name, split, len(bad), "; ".join(bad[:10]))
        if not kept:
            raise DataError(f"dataset {self.spec.name!r} split {split!r} has no samples of task(s) "
                            f"{sorted(self.tasks)} (it has {sorted(names)})")
        return kept

    def decoded(self, split: str, n: int | None = None) -> tuple[list[Sample], list[Image.Image]]:
        """:meth:`samples` with their decoded images (unreadable ones reported and skipped)."""
        return decode(self.samples(split, n))


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in consecutive slices of ``size`` (the last may be shorter)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = ["SampleSource", "canonical_task", "chunks", "decode", "require_unique_ids"]
