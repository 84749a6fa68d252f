"""Readers of the paper's six datasets from local folders. They never download.

Each reader module has ``load(root, split=..., **options) -> LoadedSamples`` and
``check(root, **options) -> DatasetSummary``, and a pydantic model of its options
(:mod:`pathreason.plugins.datasets.options`). A missing or malformed folder raises
:class:`pathreason.api.DataError` naming the path and what was expected; a bad record (an
unreadable image, a malformed row, a path leading outside the root, an image over the pixel limit,
a sample id already taken) is skipped, counted in ``samples.report`` and logged.

What the readers share: :mod:`.paths` (staying inside the root), :mod:`.images` (opening images
under the pixel limit; decoding them all for ``check``), :mod:`.report` (gathering a load,
summarising a folder), :mod:`.regions` and :mod:`.tiled` (instances, boxes and tiles).

The report types moved to :mod:`pathreason.api` (``from pathreason.api import DatasetSummary``);
their names here keep working until pathreason 0.3, with a deprecation warning.
"""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, dict.fromkeys(("DatasetSummary", "LoadReport", "LoadedSamples", "Problem"),
                                            "pathreason.api.datasets"))
