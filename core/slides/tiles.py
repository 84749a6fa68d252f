"""The tile grid of a slide and the tissue tiles on it.

Tiles are ``tile`` pixels square at the target resolution, on a grid of stride ``tile - overlap``
starting at the slide's (or the region's) top-left corner; in level-0 pixels a tile is
``T0 = round(tile * d)`` wide with stride ``S0 = round((tile - overlap) * d)``, ``d = mpp / mpp0``.
The grid covers the area: ``ceil((W - T0) / S0) + 1`` columns (one when the area is narrower than a
tile); the last tiles may reach past the slide's edge, which reads as white. A tile is kept when its
tissue fraction is at least ``min_tissue``.

Each tile owns a **core**: the part of it closer to its own centre than to a kept neighbour's, i.e.
its rectangle less half the overlap on each side that has a kept neighbour. Cores of kept tiles do not
overlap, so an object is reported by the one tile whose core holds its centre
(:func:`pathreason.slides.aggregate.merge_boxes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pathreason.api import DataError
from pathreason.slides.tissue import TissueMask

__all__ = ["GridTile", "Region", "parse_region", "tile_grid"]


@dataclass(frozen=True)
class Region:
    """A level-0 rectangle ``(x, y, width, height)``."""

    x: int
    y: int
    width: int
    height: int

    def check_inside(self, size: tuple[int, int], where: str) -> None:
        """A one-line error when the region is not inside a slide of ``size`` (level-0 pixels)."""
        if self.width < 1 or self.height < 1:
            raise DataError(f"{where}: region {self.as_text()} is empty; give x,y,w,h with w, h >= 1")
        if self.x < 0 or self.y < 0 or self.x + self.width > size[0] or self.y + self.height > size[1]:
            raise DataError(f"{where}: region {self.as_text()} lies outside the slide, which is "
                            f"{size[0]}x{size[1]} level-0 pixels")

    def as_text(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"


def parse_region(text: str) -> Region:
    """``"x,y,w,h"`` (level-0 pixels) -> :class:`Region`.

    >>> parse_region("100, 200, 448, 448")
    Region(x=100, y=200, width=448, height=448)
    """
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise DataError(f"region {text!r}: give four integers x,y,w,h in level-0 pixels, e.g. 1000,2000,896,896") from None
    return Region(x, y, w, h)


@dataclass(frozen=True)
class GridTile:
    """A tissue tile: its grid position, level-0 rectangle, core and tissue fraction."""

    index: int
    col: int
    row: int
    x: int
    y: int
    width: int
    height: int
    tissue: float
    core: tuple[int, int, int, int] = (0, 0, 0, 0)
    """``(left, top, right, bottom)`` in level-0 pixels: the part of the tile it answers for."""

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.width, self.y + self.height


def _count(extent: int, size: int, stride: int) -> int:
    return 1 if extent <= size else math.ceil((extent - size) / stride) + 1


def tile_grid(area: Region, tile0: int, stride0: int, tissue: TissueMask | None, min_tissue: float) -> list[GridTile]:
    """The tiles of ``area`` whose tissue fraction is at least ``min_tissue`` (all tiles, with
    fraction 1, when ``tissue`` is None), in reading order, with their cores."""
    cols, rows = _count(area.width, tile0, stride0), _count(area.height, tile0, stride0)
    kept: dict[tuple[int, int], tuple[int, int, float]] = {}
    for row in range(rows):
        for col in range(cols):
            x, y = area.x + col * stride0, area.y + row * stride0
            fraction = 1.0 if tissue is None else tissue.fraction(x, y, tile0, tile0)
            if fraction >= min_tissue and fraction > 0:
                kept[(col, row)] = (x, y, fraction)
    half = (tile0 - stride0) // 2
    tiles = []
    for index, ((col, row), (x, y, fraction)) in enumerate(sorted(kept.items(), key=lambda kv: (kv[0][1], kv[0][0]))):
        core = (x + (half if (col - 1, row) in kept else 0), y + (half if (col, row - 1) in kept else 0),
                x + tile0 - (tile0 - stride0 - half if (col + 1, row) in kept else 0),
                y + tile0 - (tile0 - stride0 - half if (col, row + 1) in kept else 0))
        tiles.append(GridTile(index, col, row, x, y, tile0, tile0, fraction, core))
    return tiles
