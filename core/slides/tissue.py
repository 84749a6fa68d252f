"""Tissue detection on a slide's thumbnail: Otsu's threshold on saturation.

Stained tissue is coloured and glass is grey, so the HSV saturation ``S = (max - min) / max`` of each
thumbnail pixel (``S = 0`` for black) separates them. Otsu's threshold ``t*`` maximises the
between-class variance ``w0(t) * w1(t) * (mu0(t) - mu1(t))^2`` of the saturation histogram (256
bins over [0, 1]); a pixel is tissue when ``S > max(t*, floor)``. The floor (``slide.min_saturation``)
keeps a blank slide blank: its histogram has one mode, and Otsu would split its noise in two.

A tile's tissue fraction is the mean of the mask over the thumbnail pixels its level-0 rectangle
covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["TissueMask", "otsu_threshold", "saturation", "tissue_mask"]


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation in [0, 1] of an ``(H, W, 3)`` uint8 array.

    >>> saturation(np.array([[[255, 0, 0], [200, 200, 200], [0, 0, 0]]], np.uint8)).tolist()
    [[1.0, 0.0, 0.0]]
    """
    arr = rgb.astype(np.float32)
    high, low = arr.max(axis=2), arr.min(axis=2)
    return np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of ``values`` in [0, 1]: the bin edge maximising the between-class variance.

    >>> round(otsu_threshold(np.array([0.1] * 50 + [0.7] * 50)), 2)
    0.1
    """
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    total = hist.sum()
    if total == 0:
        return 0.0
    p = hist / total
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    w1 = 1.0 - w0
    m0 = np.cumsum(p * centres)
    mean = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = (mean * w0 - m0) ** 2 / (w0 * w1)
    variance[~np.isfinite(variance)] = -1.0
    return float(edges[int(np.argmax(variance)) + 1])


@dataclass
class TissueMask:
    """A boolean tissue mask over a thumbnail, and the level-0 pixels each thumbnail pixel covers."""

    mask: np.ndarray
    """``(H, W)`` booleans, True where there is tissue."""
    scale: tuple[float, float]
    """Level-0 pixels per thumbnail pixel along x and y."""
    threshold: float
    """The saturation threshold used: ``max(Otsu, floor)``."""

    def fraction(self, x: int, y: int, width: int, height: int) -> float:
        """Tissue fraction of the level-0 rectangle ``(x, y, width, height)`` (0 outside the slide)."""
        sx, sy = self.scale
        left, top = int(x / sx), int(y / sy)
        right, bottom = max(left + 1, int(np.ceil((x + width) / sx))), max(top + 1, int(np.ceil((y + height) / sy)))
        window = self.mask[max(0, top):bottom, max(0, left):right]
        covered = (bottom - top) * (right - left)
        return float(window.sum()) / covered if covered else 0.0

    @property
    def coverage(self) -> float:
        """Fraction of the whole thumbnail that is tissue."""
        return float(self.mask.mean()) if self.mask.size else 0.0


def tissue_mask(thumbnail: Image.Image, slide_size: tuple[int, int], floor: float) -> TissueMask:
    """The tissue mask of a slide's ``thumbnail`` (see the module docstring); ``slide_size`` is the
    level-0 ``(width, height)``."""
    rgb = np.asarray(thumbnail.convert("RGB"))
    sat = saturation(rgb)
    threshold = max(otsu_threshold(sat.ravel()), floor)
    height, width = sat.shape
    return TissueMask(mask=sat > threshold, scale=(slide_size[0] / width, slide_size[1] / height),
                      threshold=threshold)
