"""Slide budgeters: how a whole-slide image's token budget is shared among its tissue tiles.

A slide is read tile by tile. Each tissue tile first gets the budget the run's per-tile budgeter asks
for (``static:N``, the token allocator, a plugin's), and the budgeter's own look at the tile (the
allocator's view) is counted. When the requests add up to more than what is left of the slide budget
``B`` (``B`` minus those looks), a **slide budgeter** decides what each tile gets: a budget of at least
``minimum`` tokens and at most what the tile asked for, or 0 (the tile is skipped). The runtime checks
the decision: ``sum(budgets) <= budget`` always holds, so the slide never costs more than ``B``.

A slide budgeter is any object with ``assign`` (no base class needed; the protocol is
runtime-checkable)::

    from pathreason.api import SlideTile

    class Smallest:                          # give every tile the minimum while it fits
        def assign(self, tiles, budget, minimum):
            out, left = [], budget
            for tile in tiles:
                give = min(tile.requested, minimum) if left >= min(tile.requested, minimum) else 0
                out.append(give)
                left -= give
            return out

    tiles = [SlideTile(index=i, x=448 * i, y=0, width=448, height=448, tissue=0.9, requested=256)
             for i in range(3)]
    assert Smallest().assign(tiles, budget=40, minimum=16) == [16, 16, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["SlideBudgeter", "SlideTile"]


@dataclass(frozen=True)
class SlideTile:
    """One tissue tile of a slide, as a slide budgeter sees it."""

    index: int
    """Position of the tile in the slide's tile list (row-major over the tile grid)."""
    x: int
    """Left edge, in level-0 pixels of the slide."""
    y: int
    """Top edge, in level-0 pixels."""
    width: int
    """Width in level-0 pixels."""
    height: int
    """Height in level-0 pixels."""
    tissue: float
    """Fraction of the tile covered by tissue (0-1), from the slide's tissue mask."""
    requested: int
    """The budget the run's per-tile budgeter asked for (visual tokens; the tile's native count when
    the budgeter sets no cap)."""
    overhead_tokens: int = 0
    """Visual tokens already spent on the tile before its budget is set (the allocator's look)."""


@runtime_checkable
class SlideBudgeter(Protocol):
    """Shares a slide budget among tiles whose requests exceed it."""

    def assign(self, tiles: Sequence[SlideTile], budget: int, minimum: int) -> list[int]:
        """One budget per tile, in the order of ``tiles``: 0 (skip the tile) or between ``minimum``
        and ``tile.requested``, adding up to at most ``budget``."""
        ...
