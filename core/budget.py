"""Visual-token budgets (paper Eq. 4-6, design §5.1).

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
from typing import TYPE_CHECKING

from pathreason.errors import BudgetError

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
