"""What ``slide.survey`` reads again, and in which order (:func:`pathreason.slides.runner.run_slide`).

A survey answers every tissue tile at a few tokens; a class seen there may hide another one that
only a larger look tells apart (a look-alike). Which classes a survey class hides is learnt from the
run's own data (``slide.survey_split``, the validation split by default): every sample of the split
is answered at the survey budget and its true class counted against the class seen
(:class:`LookAlikes`). Then, per tile:

* its **chance** is the share of the validation samples seen as its survey class whose true class is
  more severe than that class and than the slide's **floor**, the most severe class that
  ``min_tiles`` tiles show for certain (read at full budget, or seen at the survey as a class that
  hides nothing);
* a tile whose chance is 0 is not read again: nothing it may be can change the slide's label (normal
  tissue, or a look-alike of a class the slide already has); the label is **settled** when no tile
  with a chance is left;
* the others are read in turns, one survey class after another (the likeliest to raise the label
  first), so that under a slide budget every hypothesis that could change the label gets its share of
  second reads instead of the first one taking them all; neighbours of a tile whose class rose go
  before everything (lesions come in foci).

Without look-alikes (``slide.survey_split: null``, or a split with no sample of the task) every class
may hide any other: every tile has chance 1 and tiles are read most severe survey class first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

__all__ = ["LookAlikes", "floor_rank", "reread_order"]

UNKNOWN = ""
"""The key of a survey answer that matches no class."""


@dataclass
class LookAlikes:
    """True classes counted per survey class (``counts[seen][true]``); ``None``: not learnt."""

    counts: dict[str, dict[str, int]] | None = None
    samples: int = 0
    split: str | None = None
    skipped: int = 0
    seconds: float = 0.0
    """Time spent learning them (once per run: later slides load them)."""
    notes: list[str] = field(default_factory=list)

    @property
    def learnt(self) -> bool:
        return self.counts is not None

    def hides(self, seen: str | None) -> list[str] | None:
        """The classes a tile seen as ``seen`` turned out to be (``None``: unknown, any class)."""
        row = (self.counts or {}).get(seen or UNKNOWN)
        return sorted(row) if row else None

    def chance(self, seen: str | None, floor: int, rank: Mapping[str, int]) -> float:
        """How likely a tile seen as ``seen`` is of a class more severe than both ``seen`` and the class
        ranked ``floor``: a second read that could raise the label (1.0 when ``seen`` was never seen).

        >>> look = LookAlikes({"a": {"a": 3, "b": 1}, "n": {"n": 4}})
        >>> rank = {"n": 0, "a": 1, "b": 2}
        >>> look.chance("a", -1, rank), look.chance("n", -1, rank), look.chance("a", 2, rank), look.chance("x", 0, rank)
        (0.25, 0.0, 0.0, 1.0)
        """
        row = (self.counts or {}).get(seen or UNKNOWN)
        if not row:
            return 1.0
        above = max(floor, rank.get(seen, -1) if seen is not None else -1)
        return sum(n for c, n in row.items() if rank.get(c, -1) > above) / sum(row.values())

    def certain(self, seen: str | None) -> bool:
        """Whether ``seen`` at the survey budget was always its own class on the split."""
        return self.hides(seen) == [seen]

    def as_dict(self) -> dict[str, object]:
        return {"split": self.split, "samples": self.samples, "skipped": self.skipped, "seconds": self.seconds,
                "hides": {k: sorted(v) for k, v in sorted((self.counts or {}).items())} if self.learnt else None}


def floor_rank(known: Sequence[str | None], rank: Mapping[str, int], min_tiles: int) -> int:
    """The rank of the most severe class shown by at least ``min_tiles`` of ``known`` (-1: none).

    >>> floor_rank(["a", "b", "b", None], {"a": 0, "b": 1}, 2)
    1
    >>> floor_rank(["a", "b"], {"a": 0, "b": 1}, 2)
    -1
    """
    counts = Counter(c for c in known if c is not None and c in rank)
    return max((rank[c] for c, n in counts.items() if n >= min_tiles), default=-1)


def reread_order(tiles: Sequence[tuple[int, str | None, float]], chances: Mapping[str | None, float],
                 rank: Mapping[str, int], first: set[int], turns: bool) -> list[int]:
    """The tiles to read again, in order, from ``(index, survey class, tissue)`` (module docstring).

    ``chances``: per survey class, the chance that a second read raises the label (0: left out);
    ``first``: tiles that go before all others; ``turns``: survey classes take turns (look-alikes
    learnt), else the most severe survey class first. Within a class: most tissue, then index.

    >>> tiles = [(0, "a", 1.0), (1, "a", 0.9), (2, "b", 1.0), (3, "b", 0.5), (4, "n", 1.0)]
    >>> reread_order(tiles, {"a": 0.5, "b": 0.5, "n": 0.0}, {"n": 0, "a": 1, "b": 2}, set(), True)
    [2, 0, 3, 1]
    >>> reread_order(tiles, {"a": 1.0, "b": 1.0, "n": 1.0}, {"n": 0, "a": 1, "b": 2}, {1}, False)
    [1, 2, 3, 0, 4]
    """
    live = [t for t in tiles if chances.get(t[1], 1.0) > 0]
    ahead = sorted((t for t in live if t[0] in first), key=lambda t: (-t[2], t[0]))
    rest = [t for t in live if t[0] not in first]

    def severity(seen: str | None) -> int:
        return rank.get(seen, len(rank)) if seen is not None else len(rank)  # no class: could be the worst

    if not turns:
        rest.sort(key=lambda t: (-severity(t[1]), -t[2], t[0]))
        return [t[0] for t in ahead + rest]
    pools: dict[str | None, list[tuple[int, str | None, float]]] = {}
    for t in sorted(rest, key=lambda t: (-t[2], t[0])):
        pools.setdefault(t[1], []).append(t)
    order = sorted(pools, key=lambda s: (-chances.get(s, 1.0), -severity(s)))
    turned = [t for group in zip_longest(*(pools[s] for s in order)) for t in group if t is not None]
    return [t[0] for t in ahead + turned]
