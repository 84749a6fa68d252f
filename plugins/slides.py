"""First-party slide budgeters: ``priority`` (the default) and ``random-tiles`` (a baseline).

Both share a slide budget among tissue tiles whose requested budgets add up to more than it (see
:class:`pathreason.api.SlideBudgeter`).

``priority`` ranks tiles by what the per-tile budgeter asked for, then by tissue fraction (a tile the
token allocator wants to see in detail, and a tile full of tissue, come first). It first lowers the
budgets of the lowest-ranked tiles toward ``minimum``, one tile at a time and only as far as needed;
when every tile is at ``minimum`` (or below it by its own request) and the sum still exceeds the
budget, it skips the lowest-ranked tiles. With excess ``E = sum(requested) - budget``:

* tile ``t`` (lowest rank first) gives up ``min(E_left, requested_t - floor_t)`` tokens,
  ``floor_t = min(requested_t, minimum)``, until ``E_left = 0``;
* if ``sum(floor) > budget``, tiles are skipped, lowest rank first, until ``sum <= budget``.

``random-tiles`` is the random-tile baseline: it visits tiles in a seeded random order and gives each
its full request while the budget lasts (``random-tiles:SEED``, default seed 0); the others are skipped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pathreason.api import ConfigError, SlideBudgeterSpec, SlideTile, hookimpl


def _no_argument(name: str, argument: str | None) -> None:
    if argument:
        raise ConfigError(f"slide budgeter {name!r} takes no argument, got '{name}:{argument}'")


class PriorityBudgeter:
    """Lower the least wanted tiles' budgets to the minimum first, then skip the least wanted tiles.

    >>> tiles = [SlideTile(i, 0, 0, 448, 448, tissue, requested) for i, (tissue, requested)
    ...          in enumerate([(0.9, 256), (0.5, 256), (0.9, 16)])]
    >>> PriorityBudgeter().assign(tiles, budget=300, minimum=16)
    [256, 28, 16]
    >>> PriorityBudgeter().assign(tiles, budget=40, minimum=16)
    [16, 16, 0]
    """

    name = "priority"

    def __init__(self, argument: str | None = None) -> None:
        _no_argument(self.name, argument)

    @staticmethod
    def ranking(tiles: Sequence[SlideTile]) -> list[int]:
        """Tile positions from the most to the least wanted: larger request, then more tissue, then
        reading order."""
        return sorted(range(len(tiles)), key=lambda i: (-tiles[i].requested, -tiles[i].tissue, tiles[i].index))

    def assign(self, tiles: Sequence[SlideTile], budget: int, minimum: int) -> list[int]:
        budgets = [t.requested for t in tiles]
        excess = sum(budgets) - budget
        order = self.ranking(tiles)
        for i in reversed(order):
            if excess <= 0:
                break
            cut = min(excess, budgets[i] - min(budgets[i], minimum))
            budgets[i] -= cut
            excess -= cut
        for i in reversed(order):
            if excess <= 0:
                break
            excess -= budgets[i]
            budgets[i] = 0
        return budgets

    def __repr__(self) -> str:
        return self.name


class RandomTilesBudgeter:
    """Tiles in a seeded random order, each at its full request while the budget lasts.

    >>> tiles = [SlideTile(i, 0, 0, 448, 448, 1.0, 256) for i in range(4)]
    >>> budgets = RandomTilesBudgeter("3").assign(tiles, budget=600, minimum=16)
    >>> sorted(budgets), budgets == RandomTilesBudgeter("3").assign(tiles, budget=600, minimum=16)
    ([0, 0, 256, 256], True)
    """

    name = "random-tiles"

    def __init__(self, argument: str | None = None) -> None:
        try:
            self.seed = int(argument) if argument else 0
        except ValueError:
            raise ConfigError(f"slide budgeter 'random-tiles:{argument}': the seed must be an integer, "
                              "e.g. 'random-tiles:1'") from None

    def assign(self, tiles: Sequence[SlideTile], budget: int, minimum: int) -> list[int]:
        order = list(range(len(tiles)))
        random.Random(self.seed).shuffle(order)
        budgets, left = [0] * len(tiles), budget
        for i in order:
            if tiles[i].requested <= left:
                budgets[i] = tiles[i].requested
                left -= budgets[i]
        return budgets

    def __repr__(self) -> str:
        return f"{self.name}:{self.seed}"


@hookimpl
def pathreason_slide_budgeters() -> list[SlideBudgeterSpec]:
    return [
        SlideBudgeterSpec(name="priority", factory=PriorityBudgeter,
                          description="tiles the per-tile budgeter wants most (then most tissue) keep their "
                                      "budget; the others go down to the minimum, then are skipped"),
        SlideBudgeterSpec(name="random-tiles", factory=RandomTilesBudgeter,
                          description="baseline: tiles in a seeded random order at their full request "
                                      "while the slide budget lasts (random-tiles:SEED)"),
    ]
