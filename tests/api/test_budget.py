"""Token budgets (paper Eq. 4-6, docs/concepts/budgets.md): hand-computed values and properties."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathreason.api import BudgetError
from pathreason.api.budget import (
    count_tokens,
    native_tokens,
    original_tokens,
    rescale_boxes,
    resize_to_budget,
    smart_resize,
)

P = 28


@pytest.mark.parametrize(
    ("h", "w", "n", "expected"),
    [
        (448, 448, 256, (448, 448)),  # exactly the budget: H*W == N*p^2, kept
        (1024, 1024, 256, (448, 448)),  # s = sqrt(256*784/1024^2) = 0.4375 -> 448 = 16 patches
        (100, 200, 256, (112, 196)),  # small: round(3.57)=4, round(7.14)=7, not enlarged further
        (1000, 500, 64, (308, 140)),  # s = 0.31678: floor(11.31)=11, floor(5.66)=5 -> 55 tokens
        (42, 42, 3, (28, 28)),  # rounding up gives 2x2 = 4 > 3 tokens, so floor
        (28, 5600, 4, (28, 112)),  # elongated: 1 x 28 patches > 4, long side shortened to 4 patches
        (10, 1000, 256, (28, 1008)),  # short side raised to one patch
        (1, 1, 1, (28, 28)),
    ],
)
def test_smart_resize_hand_values(h: int, w: int, n: int, expected: tuple[int, int]) -> None:
    assert smart_resize(h, w, n) == expected


def test_counts_match_the_paper() -> None:
    # 1024x1024 tiles (CRAG, DigestPath) cost 1369 tokens natively (paper Tables 4-5) and 256 under N.
    assert native_tokens(1024, 1024) == 1369
    assert count_tokens(1024, 1024, None) == 1369
    assert original_tokens(1024, 1024) == 256
    assert original_tokens(224, 224) == 64  # smaller than the budget: N0 = native count
    assert count_tokens(448, 448, 128) == 121  # s = sqrt(1/2): floor(11.31)^2


@pytest.mark.parametrize(("h", "w"), [(0, 10), (10, 0), (-5, 10)])
def test_zero_or_negative_size_is_a_clear_error(h: int, w: int) -> None:
    with pytest.raises(BudgetError, match="positive integer number of pixels"):
        smart_resize(h, w, 256)


def test_extreme_aspect_ratio_is_a_clear_error() -> None:
    with pytest.raises(BudgetError, match=r"aspect ratio 201\.0, over the limit of 200"):
        smart_resize(10, 2010, 256)
    assert smart_resize(10, 2000, 256) == (28, 1988)  # ratio 200 is allowed


def test_bad_budget_is_a_clear_error() -> None:
    with pytest.raises(BudgetError, match="max_tokens must be a positive integer"):
        smart_resize(100, 100, 0)


@settings(max_examples=3000, deadline=None)
@given(
    h=st.integers(1, 20000),
    w=st.integers(1, 20000),
    n=st.integers(1, 16384),
)
def test_budget_guarantees(h: int, w: int, n: int) -> None:
    if max(h, w) / min(h, w) > 200:
        with pytest.raises(BudgetError):
            smart_resize(h, w, n)
        return
    rh, rw = smart_resize(h, w, n)
    assert rh % P == 0 and rw % P == 0
    assert rh >= P and rw >= P
    assert (rh // P) * (rw // P) <= n
    s = min(1.0, math.sqrt(n * P * P / (h * w)))
    if min(h, w) * s >= P:  # the budget allows both sides at least one patch: aspect kept
        assert abs(rh - h * s) < P
        assert abs(rw - w * s) < P
    # never enlarged beyond rounding to whole patches
    assert rh <= max(P, round(h / P) * P) and rw <= max(P, round(w / P) * P)


def test_resize_to_budget_and_boxes() -> None:
    from PIL import Image

    img = Image.new("RGB", (1000, 500), (200, 120, 180))
    out = resize_to_budget(img, 64)
    assert out.size == (308, 140)  # (width, height)
    same = Image.new("RGB", (448, 448))
    assert resize_to_budget(same, 256) is same
    boxes = [[100, 50, 500, 250]]
    there = rescale_boxes(boxes, (1000, 500), out.size)
    assert there[0] == pytest.approx([30.8, 14.0, 154.0, 70.0])
    back = rescale_boxes(there, out.size, (1000, 500))
    assert back[0] == pytest.approx([100, 50, 500, 250])


def test_processor_emits_exactly_count_tokens(tiny_path) -> None:
    """The tiny model's processor must not resize pre-resized images again (one mixed batch)."""
    import numpy as np
    from PIL import Image

    from pathreason.models.loading import load_processor

    processor = load_processor(str(tiny_path))
    rng = random.Random(0)
    images, expected = [], []
    for _ in range(24):
        h, w = rng.randint(20, 1500), rng.randint(20, 1500)
        n = rng.choice([1, 4, 16, 37, 64, 100, 256, 512, 1024])
        arr = np.full((h, w, 3), 200, dtype=np.uint8)
        images.append(resize_to_budget(Image.fromarray(arr), n))
        expected.append(count_tokens(h, w, n))
    texts = ["<|vision_start|><|image_pad|><|vision_end|>describe"] * len(images)
    enc = processor(images=images, text=texts, return_tensors="pt", padding=True)
    grid = [int(t * gh * gw) // 4 for t, gh, gw in enc["image_grid_thw"].tolist()]
    per_row = (enc["input_ids"] == processor.image_token_id).sum(dim=1).tolist()
    assert grid == expected
    assert per_row == expected
