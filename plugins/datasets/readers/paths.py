"""Keeping a reader inside its dataset folder.

A dataset folder is data the user downloaded, and its manifests (a CSV, a JSON file, a pickle)
name files by path. Every path a reader opens, stats or lists is first checked with
:func:`inside_root`: resolved (``..`` and symlinks followed, nothing opened) it must lie inside the
resolved dataset root. A symlink inside the root that points inside it is fine; ``../x``, an
absolute path elsewhere, or a symlinked file or folder that leads out is skipped and reported as
:data:`OUTSIDE_ROOT`, without being opened or stat-ed, so that a report never tells whether a file
outside the root exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pathreason.api import DataError

__all__ = ["OUTSIDE_ROOT", "entries", "inside_root", "require_dir", "require_inside"]

#: The reason given for every path that leads out of the dataset root.
OUTSIDE_ROOT = "outside the dataset root"


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def inside_root(root: str | Path, path: str | Path) -> bool:
    """Whether ``path`` lies inside ``root`` once both are resolved.

    ``path`` is first normalised without touching the disk (``root / "../x"`` and absolute paths
    elsewhere fail here); only then are symlinks resolved (``os.path.realpath``, which reads links
    but opens nothing).

    >>> inside_root("/data/crag", "/data/crag/train/../valid/a.png"), inside_root("/data/crag", "/data/crag/../x")
    (True, False)
    """
    root_abs = os.path.abspath(root)
    if "\x00" in os.fspath(path) or not _within(os.path.abspath(path), root_abs):
        return False  # a NUL byte names no file: never inside
    return _within(os.path.realpath(path), os.path.realpath(root_abs))


def require_inside(root: Path, path: Path, dataset: str, what: str) -> Path:
    """``path`` when it is inside ``root``, else a :class:`DataError` naming ``what`` (a manifest, a
    split folder: something without which the split cannot be read)."""
    if not inside_root(root, path):
        raise DataError(f"{dataset}: {what} {path} is {OUTSIDE_ROOT} {root} (a symlink or path leading out of it); "
                        f"copy the file into the folder instead")
    return path


def require_dir(path: Path, dataset: str, expected: str, root: Path | None = None) -> Path:
    """``path`` if it is a folder (inside ``root`` when given), else a :class:`DataError` saying
    what should be there."""
    if root is not None:
        require_inside(root, path, dataset, "folder")
    if not path.is_dir():
        raise DataError(f"{dataset}: folder {path} not found; expected {expected}")
    return path


def entries(root: Path, folder: Path) -> Iterator[tuple[Path, bool]]:
    """The non-hidden entries of ``folder`` (macOS ``._*`` forks included among the hidden), sorted,
    each with whether it is inside ``root``. Nothing is stat-ed here."""
    for path in sorted(folder.iterdir()):
        if not path.name.startswith("."):
            yield path, inside_root(root, path)
