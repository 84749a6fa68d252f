"""Detections as GeoJSON that QuPath imports as annotations.

A ``FeatureCollection`` with one ``Feature`` per box: a closed ``Polygon`` ring of the box's corners
in level-0 pixels (x to the right, y down: QuPath's image coordinates), and ``properties`` with
``objectType: "annotation"``, a ``classification`` ``{"name", "color"}`` (QuPath 0.3+), the box's rank
score and the tile that found it. QuPath: *File > Import objects from file*, or drag the file onto the
open slide.

Ground truth may come back the same way: :func:`read_boxes` takes the bounding box of each polygon
feature of such a file (QuPath's *Export objects as GeoJSON* writes it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pathreason.api import DataError
from pathreason.slides.aggregate import SlideBox

__all__ = ["feature_collection", "read_boxes"]

#: The colour QuPath shows the detections in (RGB).
COLOR = [220, 40, 40]


def _ring(box: Sequence[float]) -> list[list[float]]:
    x1, y1, x2, y2 = (round(float(v), 2) for v in box)
    return [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]


def feature_collection(boxes: Sequence[SlideBox], classification: str) -> dict[str, Any]:
    """The GeoJSON ``FeatureCollection`` of ``boxes``, each classified as ``classification``.

    >>> fc = feature_collection([SlideBox((10, 20, 30, 40), 1.0, 3, 0)], "gland")
    >>> fc["features"][0]["geometry"]["coordinates"]
    [[[10.0, 20.0], [30.0, 20.0], [30.0, 40.0], [10.0, 40.0], [10.0, 20.0]]]
    >>> fc["features"][0]["properties"]["classification"]["name"]
    'gland'
    """
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f"detection-{i}",
                "geometry": {"type": "Polygon", "coordinates": [_ring(b.box)]},
                "properties": {"objectType": "annotation", "classification": {"name": classification, "color": COLOR},
                               "score": b.score, "tile": b.tile, "rank": b.rank},
            }
            for i, b in enumerate(boxes)
        ],
    }


def read_boxes(path: str | Path) -> list[list[float]]:
    """The bounding boxes ``[x1, y1, x2, y2]`` of the polygon features of a GeoJSON file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read GeoJSON: {exc}") from None
    features = data.get("features") if isinstance(data, dict) and data.get("type") == "FeatureCollection" else None
    if not isinstance(features, list):
        raise DataError(f"{path}: not a GeoJSON FeatureCollection")
    boxes = []
    for i, feature in enumerate(features):
        geometry = (feature or {}).get("geometry") or {}
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise DataError(f"{path}: feature {i} is a {geometry.get('type')!r}, expected a Polygon")
        rings = geometry["coordinates"] if geometry["type"] == "Polygon" else [r for p in geometry["coordinates"] for r in p]
        points = [pt for ring in rings for pt in ring]
        try:
            xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
        except (TypeError, ValueError, IndexError):
            raise DataError(f"{path}: feature {i} has malformed coordinates") from None
        if not xs:
            raise DataError(f"{path}: feature {i} has no coordinates")
        boxes.append([min(xs), min(ys), max(xs), max(ys)])
    return boxes
