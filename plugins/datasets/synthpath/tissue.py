"""Procedural H&E-like tissue: stroma, spindle, epithelial and inflammatory nuclei, glands, chromatin speckle.

Everything is vectorised numpy (plus Pillow's C resampling for smooth fields): nuclei are drawn
from precomputed elliptical stamps scattered with one ``np.maximum.at`` per image, and are
composited only at the pixels they cover. A 448x448 tile takes a few milliseconds.

Sizes are given for a 448-pixel tile and scaled with the tile size, so the same tissue seen at a
given visual-token budget looks the same whatever ``size`` is.

The chromatin **speckle** that separates the fine classes is built to vanish under downsampling
without moving any colour statistic (design notes: a non-symmetric texture leaked at 4 tokens):
inside nuclei, each aligned 2x2 pixel block (2g x 2g for a tile g times 448) gets a
checkerboard ``+-w`` of one phase (its size random, constant over 16-pixel cells) times the nucleus
colour. Every block has zero sum and zero first moments, so a smooth reduction
filter averages it away; its distribution is symmetric and never clipped, so the expected colour
and the colour statistics of a downsampled image do not move.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

REFERENCE_SIZE = 448

# RGB colours in [0, 1] (tuned so that a mixed benchmark has mean ~(0.84, 0.57, 0.74) and
# std ~(0.17, 0.12, 0.08), the tiny model's processor normalisation).
STROMA = np.array([0.98, 0.63, 0.80], np.float32)
EPITHELIUM = np.array([0.88, 0.53, 0.76], np.float32)
LUMEN = np.array([0.97, 0.93, 0.96], np.float32)
NUCLEUS = np.array([0.20, 0.18, 0.52], np.float32)
CLEFT = 5.0  # how sharply pale clefts open between collagen fibres
SPECKLE = 0.75  # relative amplitude of the chromatin speckle
INFLAMMATORY = (120, 160)  # round nuclei between the glands of a glandular tile
SPECKLE_CELL = 8  # 2x2-pixel blocks per side of the speckle's size cells (16 pixels at 448)


@dataclass(frozen=True)
class Gland:
    """A gland: an elliptical lumen (centre ``cx, cy``, semi-axes ``ax, ay``, pixels) inside an
    epithelial ring ``ring`` pixels thick, with a nucleus every ~11 pixels along the ring."""

    cx: float
    cy: float
    ax: float
    ay: float
    ring: float


@dataclass
class Scene:
    """What to draw: a ``layout`` (``"stroma"``, ``"glandular"``, ``"epithelium"``), glands, and
    whether nuclei carry the chromatin speckle."""

    layout: str
    glands: list[Gland] = field(default_factory=list)
    speckle: bool = False


@dataclass(frozen=True)
class _StampBank:
    dy: np.ndarray  # concatenated pixel offsets of all stamps
    dx: np.ndarray
    alpha: np.ndarray
    start: np.ndarray  # first offset of each stamp
    length: np.ndarray


def _ellipse_stamp(a: float, b: float, theta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    half = int(np.ceil(max(a, b))) + 1
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    alpha = np.clip((1.0 - r) * min(a, b) + 0.5, 0.0, 1.0)
    keep = alpha > 0.02
    return yy[keep].astype(np.int64), xx[keep].astype(np.int64), alpha[keep].astype(np.float32)


@functools.lru_cache(maxsize=16)
def _stamps(kind: str, scale: float) -> _StampBank:
    """Round epithelial nuclei (``"round"``) or spindle nuclei at 16 angles (``"spindle"``)."""
    rng = np.random.default_rng(7)
    shapes = []
    if kind == "round":
        for _ in range(32):
            a = rng.uniform(5.0, 7.5) * scale
            shapes.append((a, a * rng.uniform(0.7, 0.95), rng.uniform(0, np.pi)))
    else:
        for k in range(16):
            for long_axis in (10.0, 13.0):
                shapes.append((long_axis * scale, 2.6 * scale, k * np.pi / 16))
    parts = [_ellipse_stamp(*s) for s in shapes]
    length = np.array([p[0].size for p in parts])
    return _StampBank(
        dy=np.concatenate([p[0] for p in parts]),
        dx=np.concatenate([p[1] for p in parts]),
        alpha=np.concatenate([p[2] for p in parts]),
        start=np.concatenate([[0], np.cumsum(length)[:-1]]),
        length=length,
    )


def _uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _ground(rng: np.random.Generator, size: int, epithelium: bool, background: Image.Image | None) -> np.ndarray:
    """The tissue under the nuclei, as a uint8 array: pink stroma of horizontal collagen fibres
    (4-pixel bands that vary slowly along their length, with pale clefts) and a slow colour
    drift, or (``epithelium``) a purple-pink sheet of cytoplasm over it. ``background`` is
    blended in 1:1. (:func:`render` transposes half of its images, so fibres run both ways.)
    """
    bands, cells = -(-size // 4), 10
    fibre = rng.random((bands, cells, 1)).astype(np.float32)
    colour = STROMA * (0.88 + 0.12 * fibre)
    drift = rng.uniform(0.95, 1.0, (4, 2, 3)).astype(np.float32)  # slow colour drift
    colour = colour * np.repeat(np.repeat(drift, -(-bands // 4), 0), 5, 1)[:bands]
    cleft = np.clip((fibre - 0.8) * CLEFT, 0.0, 1.0)  # pale clefts between collagen bundles
    colour = colour * (1 - cleft) + LUMEN * cleft
    if epithelium:
        cover = rng.uniform(0.55, 0.65, (bands, cells, 1)).astype(np.float32)
        colour = colour * (1 - cover) + EPITHELIUM * cover
    # Smooth along the fibres (bilinear), sharp 4-pixel bands across them.
    along = Image.fromarray(_uint8(colour)).resize((size, bands), Image.Resampling.BILINEAR)
    image = np.repeat(np.asarray(along), 4, axis=0)[:size]
    if background is not None:
        return np.array(Image.blend(Image.fromarray(image), background, 0.5))
    return image


def _inside_glands(glands: list[Gland], y: np.ndarray, x: np.ndarray, margin: float) -> np.ndarray:
    hit = np.zeros(y.shape, bool)
    for g in glands:
        hit |= ((x - g.cx) / (g.ax + g.ring + margin)) ** 2 + ((y - g.cy) / (g.ay + g.ring + margin)) ** 2 < 1.0
    return hit


def _draw_glands(image: np.ndarray, glands: list[Gland], rng: np.random.Generator, scale: float) -> list[tuple[np.ndarray, list[int]]]:
    """Paint epithelium and lumens into ``image`` (uint8, in place). For each gland return the
    centres of the nuclei in its ring and the box ``[x0, y0, x1, y1]`` of its painted pixels."""
    size = image.shape[0]
    drawn = []
    for g in glands:
        x0, y0 = max(0, int(g.cx - g.ax - g.ring) - 1), max(0, int(g.cy - g.ay - g.ring) - 1)
        x1, y1 = min(size, int(g.cx + g.ax + g.ring) + 2), min(size, int(g.cy + g.ay + g.ring) + 2)
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] - g.cy
        dx = np.arange(x0, x1, dtype=np.float32)[None, :] - g.cx
        inner = np.sqrt((dx / g.ax) ** 2 + (dy / g.ay) ** 2)
        outer = np.sqrt((dx / (g.ax + g.ring)) ** 2 + (dy / (g.ay + g.ring)) ** 2)
        epi = np.clip((1.0 - outer) * (min(g.ax, g.ay) + g.ring) + 0.5, 0, 1)
        lumen = np.clip((1.0 - inner) * min(g.ax, g.ay) + 0.5, 0, 1)
        patch = Image.fromarray(image[y0:y1, x0:x1])
        for colour, weight in ((EPITHELIUM, epi), (LUMEN, lumen)):
            solid = Image.new("RGB", patch.size, tuple(int(v) for v in _uint8(colour)))
            patch = Image.composite(solid, patch, Image.fromarray(_uint8(weight)))
        image[y0:y1, x0:x1] = np.asarray(patch)
        rows, cols = np.flatnonzero((epi >= 0.5).any(1)), np.flatnonzero((epi >= 0.5).any(0))
        box = [x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1]
        # One nucleus per ~11 pixels (at 448) of circumference, in the middle of the epithelium.
        mx, my = g.ax + g.ring / 2, g.ay + g.ring / 2
        perimeter = np.pi * (3 * (mx + my) - np.sqrt((3 * mx + my) * (mx + 3 * my)))
        count = max(6, int(perimeter / (11.0 * scale)))
        angle = np.linspace(0, 2 * np.pi, count, endpoint=False) + rng.uniform(0, 2 * np.pi)
        drawn.append((np.stack([g.cy + my * np.sin(angle), g.cx + mx * np.cos(angle)], 1), box))
    return drawn


@dataclass
class _Canvas:
    """Nucleus alpha (max-composited) and coverage of a ``size`` image, with a ``pad``-pixel margin
    so that stamps never need a bounds check."""

    size: int
    pad: int

    def __post_init__(self) -> None:
        side = self.size + 2 * self.pad
        self.alpha = np.zeros((side, side), np.float32)
        self.hit = np.zeros((side, side), bool)

    def view(self, layer: np.ndarray) -> np.ndarray:
        return layer[self.pad : self.pad + self.size, self.pad : self.pad + self.size]


def _scatter(
    canvas: _Canvas,
    bank: _StampBank,
    cy: np.ndarray,
    cx: np.ndarray,
    which: np.ndarray,
    peak: np.ndarray,
    measure: bool = False,
) -> list[int] | None:
    """Draw stamps ``which`` centred at ``(cy, cx)`` (in [0, size)) into the canvas, all at once.
    With ``measure``, return the box ``[x0, y0, x1, y1]`` of the pixels drawn at alpha >= 0.5
    (``None`` if there are none)."""
    if which.size == 0:
        return None
    side = canvas.alpha.shape[1]
    centre = (np.round(cy).astype(np.int64) + canvas.pad) * side + np.round(cx).astype(np.int64) + canvas.pad
    lengths = bank.length[which]
    owner = np.repeat(np.arange(which.size), lengths)
    offset = np.arange(owner.size) + np.repeat(bank.start[which] - (np.cumsum(lengths) - lengths), lengths)
    index = centre[owner] + bank.dy[offset] * side + bank.dx[offset]
    values = bank.alpha[offset] * peak.astype(np.float32)[owner]
    np.maximum.at(canvas.alpha.reshape(-1), index, values)
    canvas.hit.reshape(-1)[index] = True
    if not measure:
        return None
    strong = index[values >= 0.5]
    if strong.size == 0:
        return None
    y, x = np.divmod(strong, side)
    pad = canvas.pad
    return [int(x.min()) - pad, int(y.min()) - pad, int(x.max()) + 1 - pad, int(y.max()) + 1 - pad]


def _speckle(covered: np.ndarray, alpha: np.ndarray, nucleus: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The zero-mean chromatin speckle to add at the ``covered`` pixels (``len(covered) x 3``).

    The grain ``g`` is ``round(size / 448)`` pixels (one pixel of the 256-token view). Each
    aligned ``2g x 2g`` block gets ``+-w`` on a checkerboard of ``g x g`` cells, ``w`` = the
    block's smallest nucleus alpha (0 at nucleus edges, so no value is pushed past 0 or 1) times
    a random magnitude, times the nucleus colour. The sum and the first moments of
    every block are zero, so a smooth downsampling filter averages it away and no colour
    statistic moves. Blocks with ``w > 0`` lie wholly inside nuclei, so ``covered`` holds all
    their pixels; pixels beyond the last whole block get none.
    """
    size = alpha.shape[0]
    grain = max(1, round(size / REFERENCE_SIZE))
    side = 2 * grain
    blocks = size // side
    if grain == 1:
        a = alpha[: 2 * blocks, : 2 * blocks]
        weight = np.minimum(np.minimum(a[0::2, 0::2], a[0::2, 1::2]), np.minimum(a[1::2, 0::2], a[1::2, 1::2]))
    else:
        weight = alpha[: side * blocks, : side * blocks].reshape(blocks, side, blocks, side).min(axis=(1, 3))
    # One random magnitude per SPECKLE_CELL x SPECKLE_CELL blocks: a field that varied from block to
    # block would move the speckle's energy down from the pixel frequency to where a 0.7x downsample
    # (128 tokens) keeps it; this way the speckle shows at 256 tokens only. One phase everywhere (a
    # random sign per cell cancelled in any average over the tile: a performer had to learn the
    # texture's energy, not its presence, and learnt it far more slowly).
    cells = -(-blocks // SPECKLE_CELL)
    field = rng.uniform(0.4, 1.0, (cells, cells)).astype(np.float32)
    weight = weight * field.repeat(SPECKLE_CELL, 0).repeat(SPECKLE_CELL, 1)[:blocks, :blocks]
    y, x = np.divmod(covered, size)
    whole = (y < side * blocks) & (x < side * blocks)
    y, x = np.where(whole, y, 0), np.where(whole, x, 0)
    checker = 1 - 2 * (((y // grain) ^ (x // grain)) & 1).astype(np.float32)
    value = weight.reshape(-1)[(y // side) * blocks + x // side] * checker * whole
    return (SPECKLE * value)[:, None] * nucleus


def render(
    scene: Scene, size: int, rng: np.random.Generator, background: Image.Image | None = None
) -> tuple[Image.Image, list[list[float]]]:
    """An RGB ``size x size`` image of ``scene`` and the exact box of each of its glands.

    A gland's box ``[x0, y0, x1, y1]`` (pixel edges) spans every pixel painted at alpha >= 0.5 by
    its epithelium or its ring of nuclei. ``background`` (optional, same size) is real tissue
    blended into the stroma (an RGB image of the same size).
    """
    scale = size / REFERENCE_SIZE
    area = scale * scale
    transpose = rng.random() < 0.5
    image = _ground(rng, size, scene.layout == "epithelium", background)
    round_bank, spindle_bank = _stamps("round", round(scale, 3)), _stamps("spindle", round(scale, 3))
    canvas = _Canvas(size, pad=int(np.ceil(14.0 * scale)) + 3)  # > any stamp's half-size
    boxes: list[list[float]] = []

    if scene.layout == "epithelium":
        # Crowded epithelium: the same count, size and colour distribution for every grade.
        n = int(rng.integers(300, 360) * area)
        _scatter(canvas, round_bank, rng.uniform(0, size, n), rng.uniform(0, size, n), rng.integers(0, 32, n), rng.uniform(0.8, 0.95, n))
    else:
        # Stroma with spindle nuclei along one flow direction, none inside glands.
        n = int(rng.integers(70, 110) * area)
        cy, cx = rng.uniform(0, size, n), rng.uniform(0, size, n)
        which = ((rng.integers(0, 16) + rng.integers(-1, 2, n)) % 16) * 2 + rng.integers(0, 2, n)
        peak = rng.uniform(0.75, 0.95, n)
        keep = ~_inside_glands(scene.glands, cy, cx, 15.0 * scale)  # no spindle (13 px half-length) touches a gland
        _scatter(canvas, spindle_bank, cy[keep], cx[keep], which[keep], peak[keep])
        if scene.layout == "glandular":
            # Lamina propria: round inflammatory nuclei between the glands (they carry the speckle
            # of a high-grade tile too, which thin spindle nuclei barely can).
            n = int(rng.integers(INFLAMMATORY[0], INFLAMMATORY[1]) * area)
            cy, cx = rng.uniform(0, size, n), rng.uniform(0, size, n)
            keep = ~_inside_glands(scene.glands, cy, cx, 8.0 * scale)
            _scatter(canvas, round_bank, cy[keep], cx[keep], rng.integers(0, 32, n)[keep], rng.uniform(0.8, 0.95, n)[keep])
        for centres, box in _draw_glands(image, scene.glands, rng, scale):
            m = len(centres)
            ring = _scatter(canvas, round_bank, centres[:, 0], centres[:, 1], rng.integers(0, 32, m), rng.uniform(0.8, 0.95, m), measure=True)
            if ring is not None:
                box = [min(box[0], ring[0]), min(box[1], ring[1]), max(box[2], ring[2]), max(box[3], ring[3])]
            boxes.append([float(v) for v in box])

    # Haematoxylin strength varies from slide to slide (and keeps colour percentiles from being
    # so stable that a 0.2-grey-level trace of the speckle after downsampling would show).
    nucleus = NUCLEUS * rng.uniform(0.92, 1.08, 3).astype(np.float32)
    alpha = canvas.view(canvas.alpha)
    covered = np.flatnonzero(canvas.view(canvas.hit))
    a = alpha.reshape(-1)[covered][:, None]
    flat = image.reshape(-1, 3)
    mixed = flat[covered].astype(np.float32)
    mixed *= (1 - a) / 255.0
    mixed += nucleus * a
    if scene.speckle:
        mixed += _speckle(covered, alpha, nucleus, rng)
    flat[covered] = _uint8(mixed)
    if transpose:  # cheaper than drawing vertical fibres; glands and nuclei are isotropic anyway
        return Image.fromarray(image).transpose(Image.Transpose.TRANSPOSE), [[b[1], b[0], b[3], b[2]] for b in boxes]
    return Image.fromarray(image), boxes
