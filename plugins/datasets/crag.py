"""Dataset plugin ``crag``: CRAG from a local folder (``root=``); never downloads.

The reader is :mod:`pathreason.plugins.datasets.readers.crag` (imported on first use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathreason import DatasetSpec, hookimpl


def load(root: str | Path, split: str = "train", **options: Any) -> Any:
    """The samples of ``split`` (a list with a ``.report`` of skipped records)."""
    from pathreason.plugins.datasets.readers import crag

    return crag.load(root, split=split, **options)


def check(root: str | Path, **options: Any) -> Any:
    """A :class:`~pathreason.plugins.datasets.readers.DatasetSummary` of the folder."""
    from pathreason.plugins.datasets.readers import crag

    return crag.check(root, **options)


@hookimpl
def pathreason_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="crag",
            factory=load,
            description="CRAG: colorectal gland detection, label maps cut into 1024-pixel tiles.",
            tasks=('detection',),
            needs_root=True,
            check=check,
        )
    ]
