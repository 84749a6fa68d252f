"""Instances, boxes and tiles for the detection datasets (CRAG, DigestPath).

Masks are reduced to **runs**: maximal horizontal segments of one value, ``(row, start, end,
id)`` with ``end`` exclusive. Boxes of any tile are then computed from the runs without ever
holding a label image per tile, and a 5000x5000 mask with a few lesions is a few thousand runs.

Boxes are ``[x0, y0, x1, y1]`` with pixel-edge convention: an instance covering columns 3..7
has ``x0 = 3, x1 = 8`` (``skimage.measure.regionprops``'s ``bbox``, reordered to xyxy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Runs:
    """Horizontal runs of labelled pixels: ``rows[i]``, columns ``starts[i]:ends[i]``, ``ids[i]``."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    ids: np.ndarray
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.rows.size)

    def areas(self) -> dict[int, int]:
        """Pixel count of every id."""
        uniq, inverse = np.unique(self.ids, return_inverse=True)
        counts = np.bincount(inverse, weights=self.ends - self.starts, minlength=uniq.size)
        return {int(i): int(c) for i, c in zip(uniq, counts)}

    def select(self, keep: np.ndarray) -> Runs:
        return Runs(self.rows[keep], self.starts[keep], self.ends[keep], self.ids[keep], self.width, self.height)

    def boxes(self, region: tuple[int, int, int, int] | None = None) -> dict[int, list[int]]:
        """The box of every id within ``region`` ``(x0, y0, x1, y1)`` (whole image by default), in
        the region's own coordinates; ids absent from the region are left out."""
        x0, y0, x1, y1 = region if region is not None else (0, 0, self.width, self.height)
        sel = (self.rows >= y0) & (self.rows < y1) & (self.starts < x1) & (self.ends > x0)
        if not sel.any():
            return {}
        rows, ids = self.rows[sel], self.ids[sel]
        starts, ends = np.maximum(self.starts[sel], x0), np.minimum(self.ends[sel], x1)
        uniq, inverse = np.unique(ids, return_inverse=True)
        big = np.iinfo(np.int64).max
        left, top = np.full(uniq.size, big), np.full(uniq.size, big)
        right, bottom = np.full(uniq.size, -1), np.full(uniq.size, -1)
        np.minimum.at(left, inverse, starts)
        np.minimum.at(top, inverse, rows)
        np.maximum.at(right, inverse, ends)
        np.maximum.at(bottom, inverse, rows + 1)
        return {
            int(i): [int(left[k] - x0), int(top[k] - y0), int(right[k] - x0), int(bottom[k] - y0)]
            for k, i in enumerate(uniq)
        }


def runs_of_labels(labels: np.ndarray) -> Runs:
    """The runs of every non-zero value of a 2-D label map (one id per instance)."""
    if labels.ndim != 2:
        raise ValueError(f"a label map must be 2-D, got shape {labels.shape}")
    height, width = labels.shape
    change = np.ones((height, width), bool)
    change[:, 1:] = labels[:, 1:] != labels[:, :-1]
    first = np.flatnonzero(change)
    last = np.append(first[1:], height * width)  # a run ends where the next begins (or at its row's end)
    rows = first // width
    values = labels.reshape(-1)[first]
    keep = values != 0
    rows = rows[keep]
    return Runs(
        rows.astype(np.int64),
        (first[keep] - rows * width).astype(np.int64),
        (last[keep] - rows * width).astype(np.int64),
        values[keep].astype(np.int64),
        width,
        height,
    )


def connected_runs(mask: np.ndarray) -> Runs:
    """The runs of the ``True`` pixels of ``mask``, with ids 1..n of their 8-connected components.

    Run-based labelling: runs on adjacent rows that touch (diagonally included) are merged by a
    vectorised union-find (hook to the smaller root, then pointer jumping). Same partition as
    ``scipy.ndimage.label(mask, structure=np.ones((3, 3)))``, ids in raster order of first pixel.
    """
    runs = runs_of_labels(np.asarray(mask, dtype=bool).astype(np.uint8))
    n = len(runs)
    if n == 0:
        return runs
    stride = runs.width + 2  # keys of different rows never interleave
    key_start = runs.rows * stride + runs.starts
    key_end = runs.rows * stride + runs.ends
    # For each run b, the runs a on the row above with a.start <= b.end and a.end >= b.start.
    above = (runs.rows - 1) * stride
    lo = np.searchsorted(key_end, above + runs.starts, side="left")
    hi = np.searchsorted(key_start, above + runs.ends, side="right")
    count = np.maximum(hi - lo, 0)
    b = np.repeat(np.arange(n), count)
    a = np.repeat(lo, count) + np.arange(b.size) - np.repeat(np.cumsum(count) - count, count)
    parent = np.arange(n)
    while a.size:
        root_a, root_b = parent[a], parent[b]
        differ = root_a != root_b
        if not differ.any():
            break
        low = np.minimum(root_a[differ], root_b[differ])
        np.minimum.at(parent, root_a[differ], low)
        np.minimum.at(parent, root_b[differ], low)
        while True:  # compress every path to its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    _, component = np.unique(parent, return_inverse=True)  # roots are each component's first run
    return Runs(runs.rows, runs.starts, runs.ends, component.astype(np.int64) + 1, runs.width, runs.height)


def drop_small(runs: Runs, min_area: int) -> Runs:
    """``runs`` without the instances of fewer than ``min_area`` pixels (JPEG specks)."""
    if min_area <= 1 or len(runs) == 0:
        return runs
    small = [i for i, area in runs.areas().items() if area < min_area]
    return runs.select(~np.isin(runs.ids, small)) if small else runs


def tile_grid(width: int, height: int, tile: int, overlap: int = 0) -> list[tuple[int, int, int, int]]:
    """Tiles ``(x0, y0, x1, y1)`` of ``tile`` pixels covering the image, row by row.

    Steps of ``tile - overlap``; the last tile of a row or column is moved back to end at the
    image's edge (so every tile is full-size); an image smaller than ``tile`` is one tile.
    """
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(f"tile must be positive and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        points = list(range(0, length - tile, tile - overlap))
        return [*points, length - tile]

    return [
        (x, y, min(x + tile, width), min(y + tile, height)) for y in starts(height) for x in starts(width)
    ]


def tile_boxes(
    runs: Runs, region: tuple[int, int, int, int], whole: dict[int, list[int]], min_size: int
) -> list[tuple[int, list[float]]]:
    """``(id, box)`` of the instances in ``region``, in tile coordinates, sorted by id.

    An instance cut by the tile's edge (its ``whole``-image box is not inside the region) is kept
    only when its visible part is at least ``min_size`` pixels wide and high.
    """
    x0, y0, x1, y1 = region
    kept = []
    for ident, box in sorted(runs.boxes(region).items()):
        full = whole[ident]
        cut = full[0] < x0 or full[1] < y0 or full[2] > x1 or full[3] > y1
        if cut and (box[2] - box[0] < min_size or box[3] - box[1] < min_size):
            continue
        kept.append((ident, [float(v) for v in box]))
    return kept
