"""Visual-token budgets (paper Eq. 4-6) and the view of an image under a budget.

Qwen2.5-VL cuts an image into 14-pixel ViT patches and merges them 2x2, so one visual token
covers a ``p x p`` square with ``p = 28``. An image of ``H' x W'`` (multiples of ``p``) costs
``(H'/p) * (W'/p)`` tokens. :func:`smart_resize` picks ``H', W'`` for a budget of ``N`` tokens:

* if ``H*W > N*p^2``: ``s = sqrt(N*p^2 / (H*W))`` and ``H' = max(p, floor(H*s/p)*p)`` (Eq. 5-6);
* else ``H' = max(p, round(H/p)*p)`` (no enlargement beyond rounding), falling back to ``floor``
  when rounding up pushed the count over ``N``;
* the cap is hard: when raising a side to one patch pushes the count over ``N`` (elongated images
  on small budgets) the long side is shortened until the count fits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pathreason.api.errors import BudgetError

if TYPE_CHECKING:
    from PIL import Image

PATCH = 28
TRAIN_BUDGET = 256
MAX_ASPECT_RATIO = 200


def _check(height: int, width: int, max_tokens: int | None, patch: int) -> None:
    for label, value in (("height", height), ("width", width)):
        if not isinstance(value, (int,)) or isinstance(value, bool) or value < 1:
            raise BudgetError(f"image {label} must be a positive integer number of pixels, got {value!r}")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise BudgetError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if not isinstance(patch, int) or patch < 1:
        raise BudgetError(f"patch must be a positive integer, got {patch!r}")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise BudgetError(
            f"image of {height}x{width} pixels has aspect ratio {ratio:.1f}, over the limit of "
            f"{MAX_ASPECT_RATIO} that Qwen2.5-VL accepts; crop or tile it first"
        )


def smart_resize(height: int, width: int, max_tokens: int | None = TRAIN_BUDGET, patch: int = PATCH) -> tuple[int, int]:
    """``(h, w)``: multiples of ``patch``, at least ``patch``, costing at most ``max_tokens`` tokens.

    ``max_tokens=None`` means no cap (the image's native token count).

    >>> smart_resize(448, 448, 256)
    (448, 448)
    >>> smart_resize(1024, 1024, 256)
    (448, 448)
    >>> smart_resize(100, 200, 256)
    (112, 196)
    """
    _check(height, width, max_tokens, patch)
    p = patch
    if max_tokens is not None and height * width > max_tokens * p * p:
        s = math.sqrt(max_tokens * p * p / (height * width))
        # 1e-9 absorbs float error when H*s/p is an exact integer; the hard cap below keeps the bound.
        h = max(p, math.floor(height * s / p + 1e-9) * p)
        w = max(p, math.floor(width * s / p + 1e-9) * p)
    else:
        h = max(p, round(height / p) * p)
        w = max(p, round(width / p) * p)
        if max_tokens is not None and (h // p) * (w // p) > max_tokens:
            h = max(p, math.floor(height / p) * p)
            w = max(p, math.floor(width / p) * p)
    if max_tokens is not None:
        while (h // p) * (w // p) > max_tokens:
            if h >= w:
                h = max(p, min(h - p, (max_tokens // (w // p)) * p))
            else:
                w = max(p, min(w - p, (max_tokens // (h // p)) * p))
    return h, w


def count_tokens(height: int, width: int, max_tokens: int | None = TRAIN_BUDGET, patch: int = PATCH) -> int:
    """Visual tokens of an ``height x width`` image under ``max_tokens`` (``None``: native count).

    >>> count_tokens(1024, 1024, 256)
    256
    >>> count_tokens(1024, 1024, None)
    1369
    """
    h, w = smart_resize(height, width, max_tokens, patch)
    return (h // patch) * (w // patch)


def native_tokens(height: int, width: int, patch: int = PATCH) -> int:
    """The image's own token count, with no cap."""
    return count_tokens(height, width, None, patch)


def original_tokens(height: int, width: int, budget: int = TRAIN_BUDGET, patch: int = PATCH) -> int:
    """``N0`` of the paper: the token count under the training budget, ``min(native, budget)``."""
    return count_tokens(height, width, budget, patch)


def clamp_tokens(n_pred: int, native: int) -> int:
    """An allocated budget N̂ clamped to [1, ``native``], the image's token count at full resolution
    (more tokens than the image has pixels for cannot be given).

    >>> clamp_tokens(5000, native=1200), clamp_tokens(0, native=1200)
    (1200, 1)
    """
    if native < 1:
        raise ValueError(f"clamp_tokens: the native token count must be at least 1, got {native}")
    return max(1, min(int(n_pred), int(native)))


def resize_to_budget(image: Image.Image, max_tokens: int | None, patch: int = PATCH) -> Image.Image:
    """``image`` resized (bicubic) to :func:`smart_resize`'s size; returned unchanged if already there."""
    from PIL import Image as PILImage

    width, height = image.size
    h, w = smart_resize(height, width, max_tokens, patch)
    if (w, h) == (width, height):
        return image
    return image.resize((w, h), PILImage.Resampling.BICUBIC)


Box = Sequence[float]


def rescale_boxes(boxes: Sequence[Box], src_size: tuple[int, int], dst_size: tuple[int, int]) -> list[list[float]]:
    """Map xyxy boxes from an image of ``src_size`` (width, height) to one of ``dst_size``.

    Used both ways: ground truth into the resized frame the model sees, predictions back into
    original pixels for metrics.

    >>> rescale_boxes([[10, 20, 30, 40]], (100, 200), (50, 50))
    [[5.0, 5.0, 15.0, 10.0]]
    """
    sw, sh = src_size
    dw, dh = dst_size
    if sw <= 0 or sh <= 0 or dw <= 0 or dh <= 0:
        raise BudgetError(f"cannot rescale boxes between sizes {src_size} and {dst_size}: sizes must be positive")
    fx, fy = dw / sw, dh / sh
    return [[float(b[0]) * fx, float(b[1]) * fy, float(b[2]) * fx, float(b[3]) * fy] for b in boxes]


@dataclass(frozen=True)
class View:
    """A sample as the model sees it under a budget.

    ``size`` is the resized ``(width, height)``, ``orig_size`` the original one; ``box_frame`` is the
    model family's coordinate convention: ``"absolute"`` (pixels of the resized image, Qwen2.5-VL) or
    ``"norm1000"`` (0-1000 of the image, Qwen2-VL / Qwen3-VL).
    """

    orig_size: tuple[int, int]
    size: tuple[int, int]
    tokens: int
    budget: int | None
    box_frame: str = "absolute"

    def _frame_size(self) -> tuple[int, int]:
        return (1000, 1000) if self.box_frame == "norm1000" else self.size

    def to_model(self, boxes: Sequence[Sequence[float]]) -> list[list[float]]:
        """Original-pixel boxes -> the frame the model reads and writes."""
        return rescale_boxes(boxes, self.orig_size, self._frame_size())

    def to_original(self, boxes: Sequence[Sequence[float]]) -> list[list[float]]:
        """Boxes the model wrote -> original pixels (for metrics)."""
        return rescale_boxes(boxes, self._frame_size(), self.orig_size)


def make_view(orig_size: tuple[int, int], budget: int | None, box_frame: str = "absolute",
              patch: int = PATCH) -> View:
    """The view of an image of ``orig_size`` (width, height) under ``budget`` (None: native)."""
    width, height = orig_size
    h, w = smart_resize(height, width, budget, patch)
    return View(orig_size=(width, height), size=(w, h), tokens=count_tokens(height, width, budget, patch),
                budget=budget, box_frame=box_frame)


def resize_for_view(image: Image.Image, view: View) -> Image.Image:
    """``image`` resized (bicubic) to ``view.size``; returned as is when it already has that size."""
    from PIL import Image as PILImage

    if image.size == view.size:
        return image
    return image.resize(view.size, PILImage.Resampling.BICUBIC)


__all__ = ["MAX_ASPECT_RATIO", "PATCH", "TRAIN_BUDGET", "View", "clamp_tokens", "count_tokens", "make_view", "native_tokens",
           "original_tokens", "rescale_boxes", "resize_for_view", "resize_to_budget", "smart_resize"]
