"""Procedural H&E-like tissue: stroma, spindle, epithelial and inflammatory nuclei, glands, and the
two textures that carry synthpath's finer levels.

Everything is vectorised numpy (plus Pillow's C resampling for smooth fields): nuclei are drawn
from precomputed elliptical stamps scattered with one ``np.maximum.at`` per image. A 448x448 tile
takes a few milliseconds.

Sizes are given for a 448-pixel tile and scaled with the tile size, so the same tissue seen at a
given visual-token budget looks the same whatever ``size`` is.

**Textures that vanish below a budget.** A level's detail is by default a checkerboard of
``g x g``-pixel cells (``g`` = :data:`CLUMP_GRAIN` = 2 for the 64-token level, :data:`SPECKLE_GRAIN`
= 1 for the 256-token level, times ``size / 448``) whose amplitude is constant over every aligned
``2g x 2g`` block. Each block then has zero sum and is antisymmetric about its centre along both
axes, so a symmetric resampling filter whose output pixels are centred on block centres (a bicubic
reduction by ``2g`` or more, as :func:`pathreason.api.resize_to_budget` does from 448 to 224 or 112
pixels) averages it away, up to the amplitude's changes from block to block; a reduction by less
keeps it. The 2-pixel cells (a 4-pixel period) thus show at 224 pixels (64 tokens) and above and
vanish at 112 (16); the 1-pixel cells show at 448 (256) only. Amplitudes are symmetric, capped per
block so that no value is clipped, and never move the expected colour, so colour statistics of a
downsampled image do not move either (design notes: a non-symmetric texture leaked at 4 tokens).
The chromatin textures sit on nuclei (``Scene.clumps``: clumped chromatin, ``Scene.speckle``:
speckled chromatin); a gland with ``grain > 0`` is drawn as nothing but such a texture over its
ellipse, in the stroma's own mean colour.

The 2-pixel checkerboard lines up with the resize only at 224 and 448 pixels: at 9 x 9 to 15 x 15
tokens its cells fall between pixels, and the tiny performer does not read it there. With
``Scene.clump_texture = "band"`` the 64-token level is instead noise of random phase whose
frequencies lie in :data:`CLUMP_BAND` (periods of 4 to 5 pixels at 448): a bicubic reduction to
112 pixels removes it and every grid from 224 pixels keeps over half of it, whatever the phase at
which the resize samples it (``tests/plugins/test_synthpath.py``). Alone it is hard to learn at 64
tokens, where it lies near the resized image's Nyquist frequency: random phase leaves a model only
its energy to read, and the tiny subtyping preset mistook coarse glandular tiles for medium ones
there. ``"checkerboard+band"`` draws both, the checkerboard at :data:`CHECKERBOARD_SHARE` of its
amplitude and the band in the room it leaves: the cells give a clear cue where they line up (64 and
256 tokens), the band one at every grid from 64. On it a subtyping performer (1000 SFT steps) holds
every level from its own budget up at every budget tried; the VQA and detection presets did worse
on it than on the checkerboard, so the checkerboard stays the default (docs: the token allocator's
page).

The clumps and the medium glands take their textures separately (``Scene.clump_texture``,
``Scene.gland_texture``): subtyping and VQA ask whether a tile holds the clumps, which a model can
read from the energy of many tokens, detection asks where a gland is, token by token, and the tiny
model's frozen vision tower tells a band-textured gland's tokens from stroma's far less well than a
checkered one's (``benchmarks/texture_probe.py --task detection``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from PIL import Image

REFERENCE_SIZE = 448

# RGB colours in [0, 1] (tuned so that a mixed benchmark has mean ~(0.84, 0.57, 0.74) and
# std ~(0.18, 0.15, 0.11), the tiny model's processor normalisation).
STROMA = np.array([0.98, 0.63, 0.80], np.float32)
EPITHELIUM = np.array([0.88, 0.53, 0.76], np.float32)
LUMEN = np.array([0.97, 0.93, 0.96], np.float32)
NUCLEUS = np.array([0.20, 0.18, 0.52], np.float32)
CLEFT = 5.0  # how sharply pale clefts open between collagen fibres
SPECKLE = 0.75  # amplitude of the speckled chromatin, relative to the nucleus colour
#: Amplitude of the clumped chromatin: a reduction to 224 pixels keeps about half of a 2-pixel
#: checkerboard's contrast, so twice the speckle's amplitude (before the cap that prevents
#: clipping) shows at 64 tokens about as strongly as the speckle at 256 (mean difference from its
#: lookalike 4.1 and 4.7 grey levels). At the speckle's amplitude the tiny performer called 8 of 48
#: coarse tiles clumped at 64 tokens.
CLUMPS = 1.5
INFLAMMATORY = (120, 160)  # round nuclei between the glands of a glandular tile
SPECKLE_CELL = 8  # blocks per side of a texture's random-magnitude cells (16 pixels at 448 for the speckle)
SPECKLE_GRAIN = 1  # cell side (pixels at 448) of the speckled chromatin: shows at 256 tokens only
CLUMP_GRAIN = 2  # cell side of the clumped chromatin and of medium glands: shows from 64 tokens
#: The colour a textured gland's checkerboard moves (none in red: the stroma's red is near 1, so
#: there would be no room to move it both ways).
GLAND_TEXTURE = np.array([0.0, 0.40, 0.30], np.float32)
GLAND_AMPLITUDE = 0.6  # of GLAND_TEXTURE, before the per-block cap that prevents clipping
#: ``clump_texture="band"`` / ``gland_texture="band"``: the clumps / medium glands as noise of random phase whose frequencies
#: (cycles per pixel at 448, on the larger axis) lie in this band. A bicubic reduction to 112 pixels
#: (16 tokens) keeps under 3 % of a wave in it, to 224 (64 tokens) 40-70 %, to 308 (128) 80-90 %,
#: whatever its phase.
CLUMP_BAND = (0.20, 0.25)
#: Its standard deviation relative to the nucleus colour before it is held within each pixel's room
#: (which, at a nucleus, is the nucleus colour itself): a strong texture, clipped and filtered again.
CLUMP_AMPLITUDE = 2.0
GLAND_BAND_AMPLITUDE = 0.4  # of GLAND_TEXTURE, for a medium gland with ``gland_texture="band"``
CLUMP_TEXTURES = ("checkerboard", "band", "checkerboard+band")
CHECKERBOARD_SHARE = 0.5  # of the checkerboard's amplitude, under ``"checkerboard+band"``
#: synthpath's default medium textures: of the clumped chromatin, of the medium glands.
DEFAULT_CLUMP_TEXTURE = "checkerboard+band"
DEFAULT_GLAND_TEXTURE = "checkerboard"


@dataclass(frozen=True)
class Gland:
    """A gland: an elliptical lumen (centre ``cx, cy``, semi-axes ``ax, ay``, pixels) inside an
    epithelial ring ``ring`` pixels thick, with a nucleus every ~11 pixels along the ring.

    ``grain > 0`` draws it only as a texture over its outer ellipse, in the stroma's mean colour: a
    checkerboard of ``grain``-pixel cells (at 448; scaled with the tile) that shows from the budget
    that keeps that grain (``CLUMP_GRAIN``: 64 tokens, ``SPECKLE_GRAIN``: 256) and not below, or for
    ``CLUMP_GRAIN`` the scene's ``gland_texture``."""

    cx: float
    cy: float
    ax: float
    ay: float
    ring: float
    grain: int = 0


@dataclass
class Scene:
    """What to draw: a ``layout`` (``"stroma"``, ``"glandular"``, ``"epithelium"``), glands, and
    whether nuclei carry the speckled chromatin (1-pixel cells, seen at 256 tokens) or the clumped
    chromatin (seen from 64 tokens), drawn as ``clump_texture`` (:data:`CLUMP_TEXTURES`): 2-pixel
    cells, band-limited noise or both; medium glands (``grain == CLUMP_GRAIN``) as ``gland_texture``
    (the same choices)."""

    layout: str
    glands: list[Gland] = field(default_factory=list)
    speckle: bool = False
    clumps: bool = False
    clump_texture: str = DEFAULT_CLUMP_TEXTURE
    gland_texture: str = DEFAULT_GLAND_TEXTURE


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


def _checkerboard(
    weight: np.ndarray, base: np.ndarray, colour: np.ndarray, grain: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A zero-mean checkerboard of ``grain``-pixel cells to add to ``base`` (``rows x cols x 3`` in
    [0, 1], a block-aligned region of a tile), and its amplitude per ``2 grain x 2 grain`` block.

    Each aligned block gets ``+-w`` on the checkerboard times ``colour``, with ``w`` = the block's
    mean ``weight`` (``rows x cols``, e.g. nucleus alpha), times one random magnitude in [0.4, 1]
    per ``SPECKLE_CELL x SPECKLE_CELL`` blocks, capped so that no pixel of the block leaves [0, 1]
    (so none is clipped and the block's sum stays exactly zero). Pixels beyond the last whole block
    get nothing.

    Why blocks and cells: a magnitude that varied from block to block would move the texture's
    energy down from its own frequency to where a smaller reduction keeps it (the speckle showed at
    128 tokens); one phase everywhere (a random sign per cell cancelled in any average over the
    tile: a performer had to learn the texture's energy, not its presence, and learnt it far more
    slowly).
    """
    side = 2 * grain
    by, bx = weight.shape[0] // side, weight.shape[1] // side
    h, w_ = side * by, side * bx
    w = _per_block(weight[:h, :w_], side, np.add) / (side * side)
    cells_y, cells_x = -(-by // SPECKLE_CELL), -(-bx // SPECKLE_CELL)
    magnitude = rng.uniform(0.4, 1.0, (cells_y, cells_x)).astype(np.float32)
    w *= magnitude.repeat(SPECKLE_CELL, 0).repeat(SPECKLE_CELL, 1)[:by, :bx]
    w = np.minimum(w, _per_block(_room(base[:h, :w_], colour), side, np.minimum))
    sign = 1 - 2 * ((np.arange(side) // grain) & 1).astype(np.float32)
    checker = np.outer(sign, sign)  # every aligned block holds the same +- pattern
    texture = np.zeros(base.shape, np.float32)
    texture[:h, :w_] = (w[:, None, :, None, None] * (checker[None, :, None, :, None] * colour)).reshape(h, w_, 3)
    return texture, w


def _band_gain(rows: int, cols: int, band: tuple[float, float]) -> np.ndarray:
    """The band-pass filter of :func:`_band_texture` on a ``rows x cols`` rfft2 grid: a raised-cosine
    bump over ``band`` (cycles per pixel) of the larger of the two axes' frequencies."""
    fy, fx = np.abs(np.fft.fftfreq(rows))[:, None], np.abs(np.fft.rfftfreq(cols))[None, :]
    low, high = band
    position = (np.maximum(fy, fx) - low) / (high - low)
    return np.where((position > 0) & (position < 1), 0.5 - 0.5 * np.cos(2 * np.pi * position), 0.0)


def _band_texture(weight: np.ndarray, band: tuple[float, float], rng: np.random.Generator,
                  room: np.ndarray | None = None, rounds: int = 3) -> np.ndarray:
    """Zero-mean noise of random phase whose spectrum lies in ``band`` (cycles per pixel, on the
    larger of the two axes' frequencies), with ``weight`` (``rows x cols``) as its local amplitude.

    White noise times ``weight`` is filtered through :func:`_band_gain` (one FFT), then scaled so
    that where ``weight`` is 1 over a wide area the texture's standard deviation is 1. The filter
    comes after the weighting, so the texture's spectrum stays inside the band whatever the weight's
    shape (it spreads a few pixels beyond the weight instead). With ``room``, the texture is held
    within ``[-room, room]`` by ``rounds`` of clipping and filtering again (alternating projections:
    a clip alone would put some of the texture's energy outside its band, where a smaller resize
    keeps it), then clipped once more; every clip is symmetric, so none moves a mean.
    """
    rows, cols = weight.shape
    gain = _band_gain(rows, cols, band)
    # Mean power gain over the full spectrum (the rfft's inner columns stand for two frequencies).
    twice = np.ones(gain.shape[1])
    twice[1 : (cols + 1) // 2] = 2.0
    power = float((gain**2 * twice).sum() / (rows * cols))
    if power == 0.0:
        return np.zeros((rows, cols), np.float32)
    noise = rng.standard_normal((rows, cols)).astype(np.float32) * weight
    texture = np.fft.irfft2(np.fft.rfft2(noise) * gain, s=(rows, cols)) / np.sqrt(power)
    if room is not None:
        for _ in range(rounds):
            texture = np.fft.irfft2(np.fft.rfft2(np.clip(texture, -room, room)) * gain, s=(rows, cols))
        texture = np.clip(texture, -room, room)
    return texture.astype(np.float32)


def _add_band(image: np.ndarray, weight: np.ndarray, top: int, left: int, colour: np.ndarray,
              band: tuple[float, float], rng: np.random.Generator) -> None:
    """Add :func:`_band_texture` of ``weight`` (a region of ``image`` at ``top, left``) along
    ``colour`` to ``image`` (uint8, in place), within the room each pixel has both ways."""
    rows, cols = weight.shape
    region = image[top : top + rows, left : left + cols]
    base = region.astype(np.float32) / 255.0
    region[...] = _uint8(base + _band_texture(weight, band, rng, _room(base, colour))[..., None] * colour)


_Coordinate = TypeVar("_Coordinate", int, float)


def _union(a: list[_Coordinate], b: list[_Coordinate]) -> list[_Coordinate]:
    """The smallest box ``[x0, y0, x1, y1]`` holding boxes ``a`` and ``b``."""
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


def _room(base: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """How far each pixel of ``base`` (``rows x cols x 3`` in [0, 1]) can move along ``colour``
    both ways without leaving [0, 1] in any channel ``colour`` moves."""
    room = np.full(base.shape[:2], np.inf, np.float32)
    for channel in np.flatnonzero(colour > 0):
        values = base[..., channel]
        np.minimum(room, np.minimum(values, 1.0 - values) / colour[channel], out=room)
    return room


def _per_block(values: np.ndarray, side: int, op: np.ufunc) -> np.ndarray:
    """``op`` reduced over each aligned ``side x side`` block, as ``side`` strided slices per axis
    (far faster than a reduction over a short axis)."""
    rows = functools.reduce(op, (values[k::side] for k in range(side)))
    return functools.reduce(op, (rows[:, k::side] for k in range(side)))


def _gland_mask(gland: Gland, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] of ``gland``'s outer ellipse (lumen and ring) at pixel rows ``y`` and
    columns ``x``, antialiased over a pixel."""
    a, b = gland.ax + gland.ring, gland.ay + gland.ring
    r = np.sqrt(((x[None, :] + 0.5 - gland.cx) / a) ** 2 + ((y[:, None] + 0.5 - gland.cy) / b) ** 2)
    return np.clip((1.0 - r) * min(a, b) + 0.5, 0.0, 1.0).astype(np.float32)


def _add_texture(image: np.ndarray, weight: np.ndarray, top: int, left: int, colour: np.ndarray, grain: int,
                 rng: np.random.Generator) -> None:
    """Add :func:`_checkerboard` of ``weight`` (a block-aligned region of ``image`` at ``top, left``)
    to ``image`` (uint8, in place)."""
    rows, cols = weight.shape
    region = image[top : top + rows, left : left + cols]
    base = region.astype(np.float32) / 255.0
    region[...] = _uint8(base + _checkerboard(weight, base, colour, grain, rng)[0])


def _block_box(mask: np.ndarray, top: int, left: int, side: int) -> list[float]:
    """The box ``[x0, y0, x1, y1]`` of the ``side x side`` blocks of a region at ``top, left`` that
    ``mask`` covers at least half (a textured gland's drawn extent)."""
    inside = _per_block(mask, side, np.add) >= 0.5 * side * side
    ys, xs = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    return [float(left + side * xs[0]), float(top + side * ys[0]), float(left + side * (xs[-1] + 1)), float(top + side * (ys[-1] + 1))]


def _texture_parts(texture: str) -> tuple[bool, bool, float]:
    """Whether ``texture`` (:data:`CLUMP_TEXTURES`) draws the checkerboard, the band, and the
    checkerboard's share of its amplitude (with both, :data:`CHECKERBOARD_SHARE`: the band takes the
    room it leaves)."""
    parts = texture.split("+")
    checkered, banded = "checkerboard" in parts, "band" in parts
    return checkered, banded, CHECKERBOARD_SHARE if checkered and banded else 1.0


def render(
    scene: Scene, size: int, rng: np.random.Generator, background: Image.Image | None = None
) -> tuple[Image.Image, list[list[float]]]:
    """An RGB ``size x size`` image of ``scene`` and the exact box of each of its glands.

    A gland's box ``[x0, y0, x1, y1]`` (pixel edges) spans every pixel painted at alpha >= 0.5 by
    its epithelium or its ring of nuclei; a textured gland's (``grain > 0``), the blocks of its
    checkerboard at half its peak amplitude or more (a band-limited medium gland's: the pixels its
    ellipse covers half or more, its texture fading out over a few pixels beyond; under
    ``gland_texture="checkerboard+band"``, the union of the two). ``background`` (optional, same size) is real
    tissue blended into the stroma (an RGB image of the same size).

    Textures come last, each from the same random stream, so a scene and its lookalike without a
    texture (or without a textured gland) render to the same pixels except for that texture.
    """
    scale = size / REFERENCE_SIZE
    area = scale * scale
    transpose = rng.random() < 0.5
    image = _ground(rng, size, scene.layout == "epithelium", background)
    round_bank, spindle_bank = _stamps("round", round(scale, 3)), _stamps("spindle", round(scale, 3))
    canvas = _Canvas(size, pad=int(np.ceil(14.0 * scale)) + 3)  # > any stamp's half-size
    tissue_glands = [g for g in scene.glands if g.grain == 0]
    boxes: dict[int, list[float]] = {}

    if scene.layout == "epithelium":
        # Crowded epithelium: the same count, size and colour distribution for every grade.
        n = int(rng.integers(300, 360) * area)
        _scatter(canvas, round_bank, rng.uniform(0, size, n), rng.uniform(0, size, n), rng.integers(0, 32, n), rng.uniform(0.8, 0.95, n))
    else:
        # Stroma with spindle nuclei along one flow direction, none inside glands (textured glands
        # have none of their own tissue: the stroma runs through them).
        n = int(rng.integers(70, 110) * area)
        cy, cx = rng.uniform(0, size, n), rng.uniform(0, size, n)
        which = ((rng.integers(0, 16) + rng.integers(-1, 2, n)) % 16) * 2 + rng.integers(0, 2, n)
        peak = rng.uniform(0.75, 0.95, n)
        keep = ~_inside_glands(tissue_glands, cy, cx, 15.0 * scale)  # no spindle (13 px half-length) touches a gland
        _scatter(canvas, spindle_bank, cy[keep], cx[keep], which[keep], peak[keep])
        if scene.layout == "glandular":
            # Lamina propria: round inflammatory nuclei between the glands (they carry the chromatin
            # textures of a tile too, which thin spindle nuclei barely can).
            n = int(rng.integers(INFLAMMATORY[0], INFLAMMATORY[1]) * area)
            cy, cx = rng.uniform(0, size, n), rng.uniform(0, size, n)
            keep = ~_inside_glands(tissue_glands, cy, cx, 8.0 * scale)
            _scatter(canvas, round_bank, cy[keep], cx[keep], rng.integers(0, 32, n)[keep], rng.uniform(0.8, 0.95, n)[keep])
        drawn = _draw_glands(image, tissue_glands, rng, scale)
        for gland, (centres, box) in zip(tissue_glands, drawn):
            m = len(centres)
            ring = _scatter(canvas, round_bank, centres[:, 0], centres[:, 1], rng.integers(0, 32, m), rng.uniform(0.8, 0.95, m), measure=True)
            if ring is not None:
                box = _union(box, ring)
            boxes[id(gland)] = [float(v) for v in box]

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
    flat[covered] = _uint8(mixed)
    unit = max(1, round(scale))  # pixels per cell of grain 1 at this size
    band = (CLUMP_BAND[0] / scale, min(0.5, CLUMP_BAND[1] / scale))  # in cycles per pixel of this tile
    checkered, banded, share = _texture_parts(scene.clump_texture)
    if scene.clumps and checkered:
        _add_texture(image, share * CLUMPS * alpha, 0, 0, nucleus, CLUMP_GRAIN * unit, rng)
    if scene.clumps and banded:
        _add_band(image, CLUMP_AMPLITUDE * alpha, 0, 0, nucleus, band, rng)
    if scene.speckle:
        _add_texture(image, SPECKLE * alpha, 0, 0, nucleus, SPECKLE_GRAIN * unit, rng)
    checkered, banded, share = _texture_parts(scene.gland_texture)
    for gland in scene.glands:
        if gland.grain <= 0:
            continue
        clumped = gland.grain == CLUMP_GRAIN
        a_, b_ = gland.ax + gland.ring, gland.ay + gland.ring
        extent: list[float] | None = None
        if checkered or not clumped:
            side = 2 * gland.grain * unit
            top, left = (max(0, int(c - r) // side * side) for c, r in ((gland.cy, b_), (gland.cx, a_)))
            bottom, right = (min(size // side * side, -(-int(np.ceil(c + r)) // side) * side) for c, r in ((gland.cy, b_), (gland.cx, a_)))
            mask = _gland_mask(gland, np.arange(top, bottom), np.arange(left, right))
            amplitude = share * GLAND_AMPLITUDE if clumped else GLAND_AMPLITUDE
            _add_texture(image, amplitude * mask, top, left, GLAND_TEXTURE, gland.grain * unit, rng)
            extent = _block_box(mask, top, left, side)
        if clumped and banded:
            margin = int(np.ceil(8 * scale))  # the band-limited texture spreads a few pixels
            top, left = (max(0, int(c - r) - margin) for c, r in ((gland.cy, b_), (gland.cx, a_)))
            bottom, right = (min(size, int(np.ceil(c + r)) + margin) for c, r in ((gland.cy, b_), (gland.cx, a_)))
            mask = _gland_mask(gland, np.arange(top, bottom), np.arange(left, right))
            _add_band(image, GLAND_BAND_AMPLITUDE * mask, top, left, GLAND_TEXTURE, band, rng)
            pixels = _block_box(mask, top, left, 1)
            extent = pixels if extent is None else _union(extent, pixels)
        assert extent is not None  # a textured gland is drawn as the checkerboard, the band or both
        boxes[id(gland)] = extent
    ordered = [boxes[id(g)] for g in scene.glands]
    if transpose:  # cheaper than drawing vertical fibres; glands and nuclei are isotropic anyway
        return Image.fromarray(image).transpose(Image.Transpose.TRANSPOSE), [[b[1], b[0], b[3], b[2]] for b in ordered]
    return Image.fromarray(image), ordered
