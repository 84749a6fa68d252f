"""Synthetic whole-slide images made of synthpath regions, with known ground truth.

A slide is a grid of square **cells**, each one synthpath tile (448 pixels at 0.5 um/px, drawn by
:func:`~pathreason.plugins.datasets.synthpath.generator.make_sample` or
:func:`~pathreason.plugins.datasets.synthpath.tissue.render`), inside an elliptical piece of tissue on
grey glass. It is written as a pyramidal tiled TIFF (256-pixel tiles, deflate, one level per factor 2
down to a 1024-pixel overview) with its resolution in the TIFF tags, which OpenSlide reads as
``openslide.mpp-x``: the slide reader is exercised on CPU with no download. Sizes run from ~2k^2 to
~30k^2 pixels (a 30k slide takes a few minutes and ~1 GB of disk); memory holds one row of cells.

* ``task="subtyping"``: the slide's label is a subtyping class ``L``; a compact **focus** of ``focus``
  cells shows ``L``, the other lesion cells classes less severe than ``L`` (:data:`SEVERITY`), and a
  fraction ``normal`` of the tissue is stroma without a lesion (no label). By the ``most_severe`` rule
  with ``min_tiles <= focus`` the slide is ``L``. Classes keep their synthpath difficulty (a fine
  class is told from its coarse twin at 256 tokens only), recorded per region.
* ``task="detection"``: every tissue cell is a synthpath detection scene (large, small or no glands);
  the gland boxes, shifted to level-0 pixels, are the slide's ground truth.

Beside ``SLIDE.tiff`` the generator writes ``SLIDE.truth.json`` (``label``, ``boxes``, ``regions`` with
each cell's class and difficulty, ``severity``, ``options``), which ``pathreason slide`` reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pathreason.api import ConfigError
from pathreason.plugins.datasets.synthpath.generator import (
    ADENOMA,
    ADENOMA_HIGH_GRADE,
    CLASS_NAMES,
    HIGH_GRADE,
    LOW_GRADE,
    ORGAN,
    make_sample,
    sample_rng,
)
from pathreason.plugins.datasets.synthpath.tissue import REFERENCE_SIZE, Scene, render

__all__ = ["CELL", "SEVERITY", "SlideInfo", "make_slide"]

CELL = REFERENCE_SIZE
"""Pixels of one cell at 0.5 um/px (one synthpath tile: 256 visual tokens)."""
SEVERITY = (ADENOMA.name, LOW_GRADE.name, ADENOMA_HIGH_GRADE.name, HIGH_GRADE.name)
"""The subtyping classes from least to most severe (``slide.severity`` for ``most_severe``)."""
GLASS = 244
"""Grey level of the empty glass around the tissue."""
TILE = 256
OVERVIEW = 1024


@dataclass
class SlideInfo:
    """What :func:`make_slide` wrote."""

    path: Path
    truth_path: Path
    size: tuple[int, int]
    mpp: float
    label: str | None
    cells: int
    tissue_cells: int
    boxes: int
    levels: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Cell:
    col: int
    row: int
    kind: str  # "glass", "stroma", "subtyping" or "detection"
    index: int = -1
    label: str | None = None
    difficulty: str | None = None


def _tissue_cells(cols: int, rows: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    cx, cy = (cols - 1) / 2, (rows - 1) / 2
    rx, ry = max(1.0, cols / 2 - 0.3), max(1.0, rows / 2 - 0.3)
    wobble = rng.uniform(0.85, 1.0, 8)
    cells = []
    for row in range(rows):
        for col in range(cols):
            angle = math.atan2(row - cy, col - cx)
            reach = float(wobble[int((angle + math.pi) / (2 * math.pi) * 8) % 8])
            if ((col - cx) / rx) ** 2 + ((row - cy) / ry) ** 2 <= reach ** 2:
                cells.append((col, row))
    return cells


def _indices(split: str, task: str, seed: int) -> Iterator[tuple[int, Any]]:
    """Sample indices of ``task`` with their samples, in order (a sample is drawn to know its class)."""
    index = 0
    while True:
        yield index, make_sample(split, task, index, seed)
        index += 1


def _plan(task: str, cols: int, rows: int, seed: int, split: str, label: str | None, focus: int,
          normal: float) -> list[_Cell]:
    rng = sample_rng(seed, split, f"slide-{task}", cols * 100_000 + rows)
    tissue = _tissue_cells(cols, rows, rng)
    if not tissue:
        raise ConfigError(f"a {cols}x{rows}-cell slide has no room for tissue; make it larger")
    kinds: dict[tuple[int, int], tuple[str, str | None]] = {}
    if task == "detection":
        kinds = {cell: ("detection", None) for cell in tissue}
    else:
        if label not in SEVERITY:
            raise ConfigError(f"synthpath slide label must be one of {list(SEVERITY)}, got {label!r}")
        centre = tissue[int(rng.integers(len(tissue)))]
        by_distance = sorted(tissue, key=lambda c: ((c[0] - centre[0]) ** 2 + (c[1] - centre[1]) ** 2, c))
        lesser = SEVERITY[:SEVERITY.index(label)] or (label,)
        for i, cell in enumerate(by_distance):
            if i < focus:
                kinds[cell] = ("subtyping", label)
            elif rng.random() < normal:
                kinds[cell] = ("stroma", None)
            else:
                kinds[cell] = ("subtyping", lesser[int(rng.integers(len(lesser)))])
    wanted: dict[str, list[tuple[int, int]]] = {}
    for cell in sorted(kinds, key=lambda c: (c[1], c[0])):
        kind, cls = kinds[cell]
        if kind != "stroma":
            wanted.setdefault(cls or "", []).append(cell)
    chosen: dict[tuple[int, int], tuple[int, str | None, str | None]] = {}
    if wanted:
        for index, sample in _indices(split, "subtyping" if task != "detection" else task, seed):
            key = sample.answer if task != "detection" else ""
            if wanted.get(key):
                chosen[wanted[key].pop(0)] = (index, sample.answer or None, sample.meta.get("difficulty"))
            if not any(wanted.values()):
                break
    plan = []
    for row in range(rows):
        for col in range(cols):
            if (col, row) not in kinds:
                plan.append(_Cell(col, row, "glass"))
            elif kinds[(col, row)][0] == "stroma":
                plan.append(_Cell(col, row, "stroma", index=row * cols + col, difficulty="coarse"))
            else:
                index, cls, difficulty = chosen[(col, row)]
                plan.append(_Cell(col, row, kinds[(col, row)][0], index, cls, difficulty))
    return plan


def _draw(cell: _Cell, split: str, seed: int) -> tuple[np.ndarray, list[list[float]]]:
    """The cell's pixels at 0.5 um/px and its gland boxes (cell pixels)."""
    if cell.kind == "glass":
        return np.full((CELL, CELL, 3), GLASS, np.uint8), []
    if cell.kind == "stroma":
        image, boxes = render(Scene("stroma", []), CELL, sample_rng(seed, split, "slide-stroma", cell.index), None)
        return np.asarray(image.convert("RGB")), boxes
    sample = make_sample(split, cell.kind, cell.index, seed)
    image = sample.load_image()
    if image.size != (CELL, CELL):
        image = image.resize((CELL, CELL))
    return np.asarray(image), [list(b) for b in sample.boxes]


def _strips(plan: list[_Cell], cols: int, rows: int, factor: int, ds: int, split: str,
            seed: int) -> Iterator[np.ndarray]:
    """Each row of cells at downsample ``ds`` of level 0 (level 0 = cells enlarged ``factor`` times)."""
    side = CELL * factor // ds
    for row in range(rows):
        strip = np.empty((side, cols * side, 3), np.uint8)
        for cell in plan[row * cols:(row + 1) * cols]:
            pixels, _ = _draw(cell, split, seed)
            if factor > 1:
                pixels = pixels.repeat(factor, 0).repeat(factor, 1)
            if ds > 1:
                pixels = pixels.reshape(side, ds, side, ds, 3).mean((1, 3)).round().astype(np.uint8)
            strip[:, cell.col * side:(cell.col + 1) * side] = pixels
        yield strip


def _tiles(strips: Iterator[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]:
    """256-pixel tiles, row-major, padded with glass at the right and bottom edges."""
    buffer = np.empty((0, width, 3), np.uint8)
    emitted = 0
    for strip in strips:
        buffer = np.concatenate([buffer, strip])
        while buffer.shape[0] >= TILE or (emitted + buffer.shape[0] >= height and buffer.shape[0] > 0):
            band, buffer = buffer[:TILE], buffer[TILE:]
            emitted += band.shape[0]
            for x in range(0, width, TILE):
                tile = np.full((TILE, TILE, 3), GLASS, np.uint8)
                part = band[:, x:x + TILE]
                tile[:part.shape[0], :part.shape[1]] = part
                yield tile


def make_slide(path: str | Path, size: int = 2048, task: str = "subtyping", seed: int = 0, split: str = "test",
               mpp: float = 0.5, label: str | None = None, focus: int = 4, normal: float = 0.5) -> SlideInfo:
    """Write a synthetic slide of about ``size x size`` pixels at ``mpp`` um/px to ``path`` (a ``.tiff``)
    and its ground truth beside it (see the module docstring).

    ``mpp`` is 0.5 or 0.5 / k for a whole k (level 0 then holds every 0.5 um/px pixel k x k times, so
    that reading it at 0.5 um/px gives the synthpath cells back). ``label`` (subtyping; default: the
    most severe class) is what the slide is, ``focus`` how many cells show it, ``normal`` the share of
    the other tissue that is stroma without a lesion.
    """
    import tifffile

    if task not in ("subtyping", "detection"):
        raise ConfigError(f"synthpath slides are made for subtyping or detection, got {task!r}")
    factor = 0.5 / mpp
    if mpp <= 0 or abs(factor - round(factor)) > 1e-6 or round(factor) < 1:
        raise ConfigError(f"synthpath slide mpp must be 0.5 / k for a whole k >= 1 (0.5, 0.25, ...), got {mpp}")
    factor = round(factor)
    if focus < 1 or not 0 <= normal < 1:
        raise ConfigError(f"synthpath slide: focus must be >= 1 and 0 <= normal < 1, got {focus}, {normal}")
    label = label or (SEVERITY[-1] if task == "subtyping" else None)
    side = CELL * factor
    cols = rows = max(2, round(size / side))
    plan = _plan(task, cols, rows, seed, split, label, focus, normal)
    width, height = cols * side, rows * side

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    levels = []
    ds = 1
    with tifffile.TiffWriter(path, bigtiff=width * height * 3 > 2**31) as tiff:
        while True:
            w, h = width // ds, height // ds
            tiff.write(_tiles(_strips(plan, cols, rows, factor, ds, split, seed), w, h), shape=(h, w, 3),
                       dtype=np.uint8, tile=(TILE, TILE), photometric="rgb", compression="zlib",
                       resolution=(1e4 / (mpp * ds), 1e4 / (mpp * ds)), resolutionunit="CENTIMETER",
                       subfiletype=1 if ds > 1 else 0, metadata=None)
            levels.append(float(ds))
            if max(w, h) <= OVERVIEW or (side // (ds * 2)) * ds * 2 != side:
                break
            ds *= 2

    boxes, regions = [], []
    for cell in plan:
        if cell.kind == "glass":
            continue
        x0, y0 = cell.col * side, cell.row * side
        regions.append({"x": x0, "y": y0, "width": side, "height": side, "label": cell.label,
                        "kind": cell.kind, "difficulty": cell.difficulty})
        if cell.kind == "detection":
            _, cell_boxes = _draw(cell, split, seed)
            boxes += [[x0 + v * factor if i % 2 == 0 else y0 + v * factor for i, v in enumerate(b)] for b in cell_boxes]
    truth = {"label": label, "boxes": boxes, "regions": regions, "severity": list(SEVERITY) if task == "subtyping" else [],
             "options": list(CLASS_NAMES) if task == "subtyping" else [], "task": task, "mpp": mpp, "seed": seed,
             "category": "gland" if task == "detection" else None, "organ": ORGAN}
    truth_path = path.with_name(path.name.split(".")[0] + ".truth.json")
    truth_path.write_text(json.dumps(truth))
    return SlideInfo(path=path, truth_path=truth_path, size=(width, height), mpp=mpp, label=label, cells=cols * rows,
                     tissue_cells=len(regions), boxes=len(boxes), levels=levels)
