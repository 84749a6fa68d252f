"""DigestPath 2019, tissue task (Da et al. 2022): colonoscopy slices with lesion masks.

On disk (any sub-folders, e.g. ``tissue-train-pos-v1/`` and ``tissue-train-neg/``)::

    ROOT/**/NAME.jpg            the slice (about 5000x5000)
    ROOT/**/NAME_mask.jpg       its lesion mask, 0/255 with JPEG noise (positives only)

A slice without a mask is a negative: its tiles have no boxes. Masks are thresholded at > 128,
split into 8-connected components, and components under ``min_area`` pixels (JPEG specks) are
dropped; each slice is cut into ``tile x tile`` tiles (default 1024) with the components' boxes.

The public release has no test split, so slices are split deterministically: by a hash of the
case id (the part of the name before the first ``_``, so slices of one case stay together),
``test_fraction`` of them (default 0.2) go to "test".
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from pathreason.api import DataError
from pathreason.api.sample import Sample
from pathreason.plugins.datasets.readers.regions import connected_runs, drop_small
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    LoadedSamples,
    LoadReport,
    detection_label,
    finish,
    probe_image,
    require_dir,
    summarize,
)
from pathreason.plugins.datasets.readers.tiled import DEFAULT_MIN_BOX, DEFAULT_TILE, tile_samples

NAME = "digestpath"
SPLITS = ("train", "test")
LAYOUT = "ROOT/**/NAME.jpg slices, each positive with ROOT/**/NAME_mask.jpg beside it"
MASK_SUFFIX = "_mask"
DEFAULT_MIN_AREA = 64


def case_of(stem: str, pattern: str = r"^[^_]+") -> str:
    """The case id of a slice name (``pattern`` matched at its start; the whole name if none)."""
    match = re.match(pattern, stem)
    return match.group(0) if match else stem


def split_of(stem: str, test_fraction: float, pattern: str = r"^[^_]+") -> str:
    """"test" for about ``test_fraction`` of the cases, chosen by a stable hash of the case id."""
    return "test" if zlib.crc32(case_of(stem, pattern).encode()) % 10_000 < test_fraction * 10_000 else "train"


def find_slices(root: Path) -> list[tuple[Path, Path | None]]:
    """Every slice under ``root`` with its mask (``None`` for negatives), sorted by path."""
    require_dir(root, NAME, LAYOUT)
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    masks = {p.parent / (p.stem[: -len(MASK_SUFFIX)]): p for p in files if p.stem.endswith(MASK_SUFFIX)}
    slices = sorted(p for p in files if not p.stem.endswith(MASK_SUFFIX))
    if not slices:
        raise DataError(f"{NAME}: no slice images found under {root}; expected {LAYOUT}")
    return [(p, masks.get(p.parent / p.stem)) for p in slices]


def lesion_mask(path: Path, threshold: int = 128) -> np.ndarray:
    """The mask as booleans: grey level > ``threshold`` (JPEG noise stays below it)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L")) > threshold


def load(
    root: str | Path,
    split: str = "train",
    tile: int = DEFAULT_TILE,
    overlap: int = 0,
    min_box_size: int = DEFAULT_MIN_BOX,
    min_area: int = DEFAULT_MIN_AREA,
    test_fraction: float = 0.2,
    case_pattern: str = r"^[^_]+",
    decode_images: bool = False,
) -> LoadedSamples:
    """Tiles of DigestPath's ``split`` ("train" or "test", see the module doc) as lesion detection samples."""
    from PIL import Image

    if split not in SPLITS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)}, got {split!r}")
    if not 0.0 <= test_fraction <= 1.0:
        raise DataError(f"{NAME}: test_fraction must be within [0, 1], got {test_fraction}")
    root = Path(root)
    report = LoadReport(NAME, split, str(root))
    samples: list[Sample] = []
    for path, mask_path in find_slices(root):
        if split_of(path.stem, test_fraction, case_pattern) != split:
            continue
        problem = probe_image(path, decode_images)
        if problem is not None:
            report.skip(path.stem, path, problem)
            continue
        with Image.open(path) as image:
            size = image.size
        runs = None
        if mask_path is not None:
            try:
                mask = lesion_mask(mask_path)
            except OSError as err:
                report.skip(path.stem, mask_path, f"unreadable mask: {err}")
                continue
            if mask.shape != (size[1], size[0]):
                report.skip(path.stem, mask_path, f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {size[0]}x{size[1]}")
                continue
            runs = drop_small(connected_runs(mask), min_area)
        meta = {"organ": "colon", "category": "lesion", "positive": mask_path is not None, "case": case_of(path.stem, case_pattern)}
        samples += tile_samples(NAME, split, path, size, runs, tile, overlap, min_box_size, meta)
    return finish(samples, report)


def check(root: str | Path, **options: object) -> DatasetSummary:
    """Tiles and boxes per split of a DigestPath folder, and every problem found."""
    return summarize(NAME, root, SPLITS, load, detection_label, **options)
