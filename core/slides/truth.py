"""A slide's ground truth, when there is one: ``SLIDE.truth.json`` beside the slide (or any file given).

The JSON object may hold ``label`` (the slide's class), ``boxes`` (``[[x1, y1, x2, y2], ...]`` in level-0
pixels), ``answer`` (for a question about a region) and ``regions`` (``[{"x", "y", "width", "height",
"label"}, ...]``: level-0 rectangles with the class of each, which give every tile a label to score
against). A GeoJSON ``FeatureCollection`` (e.g. QuPath's export) gives ``boxes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathreason.api import DataError
from pathreason.slides.geojson import read_boxes

__all__ = ["SlideTruth", "find_truth", "load_truth"]


@dataclass
class SlideTruth:
    label: str | None = None
    boxes: list[list[float]] = field(default_factory=list)
    answer: str | None = None
    regions: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    def label_at(self, x: float, y: float) -> str | None:
        """The label of the region holding the level-0 point ``(x, y)``."""
        for region in self.regions:
            if region["x"] <= x < region["x"] + region["width"] and region["y"] <= y < region["y"] + region["height"]:
                return str(region["label"]) if region.get("label") is not None else None
        return None

    def boxes_inside(self, rect: tuple[int, int, int, int]) -> list[list[float]]:
        """The boxes lying wholly inside the level-0 rectangle ``(left, top, right, bottom)``."""
        left, top, right, bottom = rect
        return [b for b in self.boxes if b[0] >= left and b[1] >= top and b[2] <= right and b[3] <= bottom]


def find_truth(slide: Path) -> Path | None:
    """``SLIDE.truth.json`` (``SLIDE`` without its extension) beside the slide, if it exists."""
    path = slide.with_name(slide.name.split(".")[0] + ".truth.json")
    return path if path.is_file() else None


def load_truth(path: str | Path) -> SlideTruth:
    """Read a truth file (see the module docstring); errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such ground-truth file")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the ground truth: {exc}") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return SlideTruth(boxes=read_boxes(path), source=str(path))
    if not isinstance(data, dict):
        raise DataError(f"{path}: the ground truth must be a JSON object with label, boxes, answer or regions")
    try:
        boxes = [[float(v) for v in b] for b in data.get("boxes", [])]
    except (TypeError, ValueError):
        raise DataError(f"{path}: field 'boxes' must be a list of [x1, y1, x2, y2]") from None
    if any(len(b) != 4 for b in boxes):
        raise DataError(f"{path}: field 'boxes' must be a list of [x1, y1, x2, y2]")
    regions = data.get("regions", [])
    if not isinstance(regions, list) or not all(isinstance(r, dict) and {"x", "y", "width", "height"} <= set(r)
                                                for r in regions):
        raise DataError(f"{path}: field 'regions' must be a list of {{x, y, width, height, label}}")
    label, answer = data.get("label"), data.get("answer")
    return SlideTruth(label=None if label is None else str(label), boxes=boxes,
                      answer=None if answer is None else str(answer), regions=regions, source=str(path))
