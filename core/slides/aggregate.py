"""From tile answers to a slide's result: one label, or boxes in slide coordinates.

**Label.** Each tile's answer is matched to a class by the task's own scorer (the class ``c`` with
``task.score(answer, c) = 1``; an answer that matches none is counted as unmatched). Then:

* ``majority``: the class the most tiles give; a tie goes to the more severe class when a severity
  order is given, else to the class listed first;
* ``most_severe``: the most severe class (``severity``, least to most severe) that at least ``k``
  tiles give; when none reaches ``k``, the majority class.

**Boxes.** A tile's boxes (pixels of the image it was answered on) map to level 0 as
``X = x0 + x * w0 / w`` (and ``y`` likewise), ``(x0, y0, w0)`` the tile's level-0 origin and width,
``w`` the width of the image answered. A box is kept by the tile whose core holds its centre
(:mod:`pathreason.slides.tiles`), so an object seen by two overlapping tiles is reported once; then
greedy non-maximum suppression over the whole slide drops any box whose IoU with a kept, higher-ranked
box is at least ``nms_iou``. A box's rank score is ``1 / (i + 1)`` for the ``i``-th box of its tile's
answer (answers carry no confidence; their order is the model's ranking, as in the tile metrics).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SlideBox", "box_iou", "match_class", "merge_boxes", "slide_label"]


def match_class(answer: Any, classes: Sequence[str], matches: Callable[[Any, str], bool]) -> str | None:
    """The first class ``matches(answer, class)`` accepts, or None."""
    if answer is None:
        return None
    return next((c for c in classes if matches(answer, c)), None)


def slide_label(labels: Sequence[str | None], classes: Sequence[str], rule: str, severity: Sequence[str] = (),
                min_tiles: int = 1) -> str | None:
    """The slide's class from its tiles' classes (``None``: a tile whose answer matched no class).

    >>> tiles = ["adenoma"] * 5 + ["carcinoma"] * 2 + [None]
    >>> slide_label(tiles, ["adenoma", "carcinoma"], "majority")
    'adenoma'
    >>> slide_label(tiles, ["adenoma", "carcinoma"], "most_severe", ["adenoma", "carcinoma"], min_tiles=2)
    'carcinoma'
    >>> slide_label(tiles, ["adenoma", "carcinoma"], "most_severe", ["adenoma", "carcinoma"], min_tiles=3)
    'adenoma'
    """
    counts = Counter(label for label in labels if label is not None)
    if not counts:
        return None
    rank = {c: i for i, c in enumerate(severity)}
    if rule == "most_severe":
        for label in sorted(counts, key=lambda c: rank.get(c, -1), reverse=True):
            if label in rank and counts[label] >= min_tiles:
                return label
    order = {c: i for i, c in enumerate(classes)}
    return max(counts, key=lambda c: (counts[c], rank.get(c, -1), -order.get(c, len(order))))


@dataclass(frozen=True)
class SlideBox:
    """A detected object in level-0 slide pixels."""

    box: tuple[float, float, float, float]
    score: float
    tile: int
    rank: int

    def as_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 2) for v in self.box], "score": self.score, "tile": self.tile, "rank": self.rank}


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes.

    >>> box_iou([0, 0, 10, 10], [5, 0, 15, 10])
    0.3333333333333333
    """
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def to_level0(boxes: Sequence[Sequence[float]], origin: tuple[int, int], scale: tuple[float, float]) -> list[list[float]]:
    """Boxes in a tile image's pixels -> level-0 pixels: ``X = x0 + x * sx``.

    >>> to_level0([[10, 20, 30, 40]], (1000, 2000), (2.0, 2.0))
    [[1020.0, 2040.0, 1060.0, 2080.0]]
    """
    (x0, y0), (sx, sy) = origin, scale
    return [[x0 + b[0] * sx, y0 + b[1] * sy, x0 + b[2] * sx, y0 + b[3] * sy] for b in boxes]


def merge_boxes(tile_boxes: Mapping[int, Sequence[Sequence[float]]], cores: Mapping[int, tuple[int, int, int, int]],
                nms_iou: float) -> list[SlideBox]:
    """Boxes of every tile (level-0, in each tile's answer order) -> the slide's boxes, best first.

    >>> merged = merge_boxes({0: [[80, 10, 100, 30]], 1: [[80, 10, 100, 30], [200, 10, 220, 30]]},
    ...                      {0: (0, 0, 100, 448), 1: (100, 0, 448, 448)}, nms_iou=0.5)
    >>> [(b.box, b.tile) for b in merged]
    [((80, 10, 100, 30), 0), ((200, 10, 220, 30), 1)]
    """
    candidates = []
    for tile, boxes in tile_boxes.items():
        left, top, right, bottom = cores[tile]
        for rank, box in enumerate(boxes):
            x1, y1, x2, y2 = box
            if not (x2 > x1 and y2 > y1):
                continue
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            if left <= cx < right and top <= cy < bottom:
                candidates.append(SlideBox((x1, y1, x2, y2), 1.0 / (rank + 1), tile, rank))
    candidates.sort(key=lambda b: (-b.score, b.box[1], b.box[0], b.tile))
    kept: list[SlideBox] = []
    for cand in candidates:
        if all(box_iou(cand.box, k.box) < nms_iou for k in kept):
            kept.append(cand)
    return kept
