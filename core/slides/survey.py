"""What ``slide.survey`` reads again, and in which order (:func:`pathreason.slides.runner.run_slide`).

A survey answers every tissue tile at a few tokens; a class seen there may hide another one that
only a larger look tells apart (a look-alike). Which classes a survey class hides is learnt from the
run's own data (``slide.survey_split``, the validation split by default): every sample of the split
is answered at the survey budget and its true class counted against the class seen
(:class:`LookAlikes`). Then, per tile:

* its **chance** is the share of the validation samples seen as its survey class whose second read
  would change the slide's label: a true class more severe than that class and than the slide's
  **floor** (the most severe class that ``min_tiles`` tiles show for certain: read at full budget,
  or seen at the survey as a class that was always itself), or, when the survey class ranks above
  the floor (its survey answer may be what sets the label), a true class less severe than it;
* a tile whose chance is 0 is not read again: nothing it may be can change the slide's label (normal
  tissue, or a look-alike of a class the slide already has); the label is **settled** when no tile
  with a chance is left;
* the others are read in turns, one survey class after another (the likeliest first; turns carry
  on across rounds), so that under a slide budget every hypothesis that could change the label gets
  its share of second reads instead of the first one taking them all; neighbours of a tile whose
  class rose go before everything (lesions come in foci).

A survey class seen fewer than :data:`MIN_SAMPLES` times on the split is not trusted: it may hide any
class. Learning costs the split's size times the survey budget in visual tokens, once per run and
survey budget; no slide's total counts them.

Without look-alikes (``slide.survey_split: null``; a split that cannot be loaded, has no sample of the
task whose answer is one of the slide's classes, or none whose image can be read) every class may hide
any other: every tile has chance 1 and tiles are read most severe survey class first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["MIN_SAMPLES", "LookAlikes", "floor_rank", "reread_order"]

UNKNOWN = ""
"""The key of a survey answer that matches no class."""
MIN_SAMPLES = 8
"""Samples of the split seen as a class before what they turned out to be is trusted: with fewer,
that class may hide any other (chance 1, never certain)."""


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

    def _row(self, seen: str | None) -> dict[str, int] | None:
        """The split's true classes for ``seen``, or ``None`` when fewer than :data:`MIN_SAMPLES` back it."""
        row = (self.counts or {}).get(seen or UNKNOWN)
        return row if row and sum(row.values()) >= MIN_SAMPLES else None

    def hides(self, seen: str | None) -> list[str] | None:
        """The classes a tile seen as ``seen`` turned out to be (``None``: unknown, any class)."""
        row = self._row(seen)
        return sorted(row) if row else None

    def chance(self, seen: str | None, floor: int, rank: Mapping[str, int]) -> float:
        """How likely a second read of a tile seen as ``seen`` changes the slide's label: the share of
        the split's samples seen so whose true class is more severe than both ``seen`` and the class
        ranked ``floor`` (the read could raise the label), plus, when ``seen`` ranks above the floor
        (its survey answer may be what sets the label), those whose true class is less severe than
        ``seen``. 1.0 when fewer than :data:`MIN_SAMPLES` samples were seen so. A class not in
        ``rank`` counts as less severe than every ranked one.

        >>> look = LookAlikes({"a": {"a": 6, "b": 2}, "n": {"n": 8}, "b": {"b": 6, "a": 2}, "x": {"x": 2}})
        >>> rank = {"n": 0, "a": 1, "b": 2}
        >>> look.chance("a", -1, rank), look.chance("n", -1, rank), look.chance("a", 2, rank)
        (0.25, 0.0, 0.0)
        >>> look.chance("b", -1, rank), look.chance("b", 2, rank), look.chance("x", 0, rank)
        (0.25, 0.0, 1.0)
        """
        row = self._row(seen)
        if row is None:
            return 1.0
        own = rank.get(seen, -1) if seen is not None else -1
        above = max(floor, own)
        changes = sum(n for c, n in row.items() if rank.get(c, -1) > above or (own > floor and rank.get(c, -1) < own))
        return changes / sum(row.values())

    def certain(self, seen: str | None) -> bool:
        """Whether ``seen`` at the survey budget was always its own class on the split (and at least
        :data:`MIN_SAMPLES` samples were seen so)."""
        return seen is not None and self.hides(seen) == [seen]

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
                 rank: Mapping[str, int], first: set[int], turns: bool,
                 taken: Mapping[str | None, int] | None = None) -> list[int]:
    """The tiles to read again, in order, from ``(index, survey class, tissue)`` (module docstring).

    ``chances``: per survey class, the chance that a second read changes the label (0: left out);
    ``first``: tiles that go before all others; ``turns``: survey classes take turns (look-alikes
    learnt), else the most severe survey class first; ``taken``: second reads each survey class has
    had already (turns carry on across rounds: the class with fewest goes next). Within a class:
    most tissue, then index. A tile with no class counts as the most severe, a class not in ``rank``
    as the least.

    >>> tiles = [(0, "a", 1.0), (1, "a", 0.9), (2, "b", 1.0), (3, "b", 0.5), (4, "n", 1.0)]
    >>> reread_order(tiles, {"a": 0.5, "b": 0.5, "n": 0.0}, {"n": 0, "a": 1, "b": 2}, set(), True)
    [2, 0, 3, 1]
    >>> reread_order(tiles, {"a": 0.5, "b": 0.5, "n": 0.0}, {"n": 0, "a": 1, "b": 2}, set(), True, {"b": 1})
    [0, 2, 1, 3]
    >>> reread_order(tiles, {"a": 1.0, "b": 1.0, "n": 1.0}, {"n": 0, "a": 1, "b": 2}, {1}, False)
    [1, 2, 3, 0, 4]
    """
    taken = taken or {}
    live = [t for t in tiles if chances.get(t[1], 1.0) > 0]
    ahead = sorted((t for t in live if t[0] in first), key=lambda t: (-t[2], t[0]))
    rest = [t for t in live if t[0] not in first]

    def severity(seen: str | None) -> int:
        return rank.get(seen, -1) if seen is not None else len(rank)

    if not turns:
        rest.sort(key=lambda t: (-severity(t[1]), -t[2], t[0]))
        return [t[0] for t in ahead + rest]
    pools: dict[str | None, list[tuple[int, str | None, float]]] = {}
    for t in sorted(rest, key=lambda t: (-t[2], t[0])):
        pools.setdefault(t[1], []).append(t)
    keyed = [((taken.get(s, 0) + j, -chances.get(s, 1.0), -severity(s), str(s)), t)
             for s, pool in pools.items() for j, t in enumerate(pool)]
    return [t[0] for t in ahead] + [t[0] for _, t in sorted(keyed, key=lambda kt: kt[0])]
