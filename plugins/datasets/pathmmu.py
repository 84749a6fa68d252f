"""Dataset plugin ``pathmmu``: PathMMU from a local folder (``root=``); never downloads.

The reader is :mod:`pathreason.plugins.datasets.readers.pathmmu` (imported on first use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathreason import DatasetSpec, hookimpl


def load(root: str | Path, split: str = "test", **options: Any) -> Any:
    """The samples of ``split`` (a list with a ``.report`` of skipped records)."""
    from pathreason.plugins.datasets.readers import pathmmu

    return pathmmu.load(root, split=split, **options)


def check(root: str | Path, **options: Any) -> Any:
    """A :class:`~pathreason.plugins.datasets.readers.DatasetSummary` of the folder."""
    from pathreason.plugins.datasets.readers import pathmmu

    return pathmmu.check(root, **options)


@hookimpl
def pathreason_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="pathmmu",
            factory=load,
            description="PathMMU: expert multiple-choice questions on pathology images (data.json + images/).",
            tasks=('vqa',),
            needs_root=True,
            check=check,
        )
    ]
