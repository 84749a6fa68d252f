"""Readers of the paper's six datasets from local folders. They never download.

Each reader module has ``load(root, split=..., **options) -> LoadedSamples`` and
``check(root, **options) -> DatasetSummary``. A missing or malformed folder raises
:class:`pathreason.api.DataError` naming the path and what was expected; a bad record (an
unreadable image, a malformed row) is skipped, counted in ``samples.report`` and logged.

The report types moved to :mod:`pathreason.api` (``from pathreason.api import DatasetSummary``);
their names here keep working until pathreason 0.3, with a deprecation warning.
"""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, dict.fromkeys(("DatasetSummary", "LoadReport", "LoadedSamples", "Problem"),
                                            "pathreason.api.datasets"))
