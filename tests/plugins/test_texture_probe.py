"""benchmarks/texture_probe.py's per-token arithmetic, on inputs whose answers are worked out by hand
(the probe itself runs the vision tower and is a benchmark, not a test)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests._benchmarks import load_benchmark


@pytest.fixture(scope="module")
def probe() -> Any:
    return load_benchmark("texture_probe")


def test_balanced_accuracy_averages_the_recall_of_each_class(probe: Any) -> None:
    # One positive, found; four negatives, three called negative: (1 + 3/4) / 2.
    assert probe.balanced_accuracy([1, 1, 0, 0, 0], [1, 0, 0, 0, 0]) == pytest.approx(0.875)
    # Calling everything positive is chance, however many positives there are.
    assert probe.balanced_accuracy([1, 1, 1, 1], [1, 0, 0, 0]) == pytest.approx(0.5)


def test_cell_labels_mark_the_middle_of_the_box_and_leave_its_rim_out(probe: Any) -> None:
    # A 4 x 4 grid over 100 x 100 pixels: cell centres at 12.5, 37.5, 62.5, 87.5 each way. The box
    # [10, 10, 90, 90] holds all of them; its middle 70 % (22 to 78) holds 37.5 and 62.5 only.
    labels = probe.cell_labels([10, 10, 90, 90], (100, 100), (4, 4))
    expected = np.full((4, 4), -1)
    expected[1:3, 1:3] = 1
    assert (labels == expected).all()
    # A box in the top-left quarter: the cells whose centres are outside it are stroma (0).
    labels = probe.cell_labels([0, 0, 50, 25], (100, 100), (4, 4))
    assert labels[0, 0] == 1 and labels[0, 1] == 1 and labels[1, 0] == 0 and labels[0, 2] == 0 and labels[3, 3] == 0


def test_cell_energy_of_stripes_by_hand(probe: Any) -> None:
    # One 28 x 28 cell of 1-pixel vertical stripes 0.5 +- a in channel 0, flat in channel 1. Inside,
    # a pixel's 3 x 3 mean is 0.5 -+ a/3 (two of its three columns are the other stripe), so its
    # high-pass is 4a/3; on the two edge columns (edges replicated) the mean is 0.5 +- a/3 and the
    # high-pass 2a/3. Mean square: (26 * 16/9 + 2 * 4/9) / 28 * a^2 = 424 / 252 * a^2.
    a = 0.1
    signs = np.where(np.arange(28) % 2 == 0, 1.0, -1.0)
    image = np.full((28, 28, 2), 0.5)
    image[..., 0] += a * signs[None, :]
    energy = probe.cell_energy(image)
    assert energy.shape == (1, 2)
    assert energy[0, 0] == pytest.approx(424 / 252 * a * a)
    assert energy[0, 1] == pytest.approx(0.0)


def test_cell_energy_is_in_the_vision_towers_token_order(probe: Any) -> None:
    # 2 x 2 cells, stripes in the bottom-left one only: raster order puts it third.
    image = np.full((56, 56, 1), 0.5)
    image[28:, :28, 0] += 0.1 * np.where(np.arange(28) % 2 == 0, 1.0, -1.0)[None, :]
    energy = probe.cell_energy(image)[:, 0]
    assert energy.shape == (4,) and int(np.argmax(energy)) == 2
    # The top-right cell sees one stripe pixel (28, 27) = 0.4, in the corner of its pixel (27, 28)'s
    # window only: that pixel's high-pass is 0.1 / 9, the cell's mean square (0.1 / 9)^2 / 784.
    assert energy[1] == pytest.approx((0.1 / 9) ** 2 / 784)
    assert energy[0] < 0.01 * energy[2] and energy[3] < 0.1 * energy[2]  # the neighbours, only a rim of it
