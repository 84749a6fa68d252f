"""Readers of the paper's six datasets from local folders (design §8). They never download.

Each reader module has ``load(root, split=..., **options) -> LoadedSamples`` and
``check(root, **options) -> DatasetSummary``. A missing or malformed folder raises
:class:`pathreason.errors.DataError` naming the path and what was expected; a bad record (an
unreadable image, a malformed row) is skipped, counted in ``samples.report`` and logged.
"""

from pathreason.plugins.datasets.readers.report import DatasetSummary, LoadedSamples, LoadReport, Problem

__all__ = ["DatasetSummary", "LoadReport", "LoadedSamples", "Problem"]
