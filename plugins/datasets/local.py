"""The one helper behind the six dataset plugins that read a local copy of a public dataset.

Each of them (``pathvqa``, ``pathmmu``, ``unitopatho``, ``esca``, ``crag``, ``digestpath``) is its own
entry point, so that it can be disabled or replaced alone, and is one call of :func:`local_dataset`:
a ``pathreason_datasets`` hook whose :class:`~pathreason.api.DatasetSpec` loads and checks through
the reader module of the same name (:mod:`pathreason.plugins.datasets.readers`), imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pathreason.api import DatasetSpec, hookimpl

__all__ = ["local_dataset"]


def local_dataset(name: str, tasks: tuple[str, ...], description: str,
                  default_split: str = "train") -> Callable[[], list[DatasetSpec]]:
    """The ``pathreason_datasets`` hook of the local dataset ``name``."""

    def reader() -> Any:
        return importlib.import_module(f"pathreason.plugins.datasets.readers.{name}")

    def load(root: str | Path, split: str = default_split, **options: Any) -> Any:
        """The samples of ``split`` (a list with a ``.report`` of skipped records); the reader checks
        ``options`` first (a wrong or unknown one is one :class:`~pathreason.api.DataError` line)."""
        return reader().load(root, split=split, **options)

    def check(root: str | Path, **options: Any) -> Any:
        """A :class:`~pathreason.api.DatasetSummary` of the folder: every split loaded, every image decoded."""
        return reader().check(root, **options)

    @hookimpl
    def pathreason_datasets() -> list[DatasetSpec]:
        return [DatasetSpec(name=name, factory=load, description=description, tasks=tasks, needs_root=True,
                            check=check)]

    return pathreason_datasets
