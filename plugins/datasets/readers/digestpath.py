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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from pathreason.api import DataError
from pathreason.api.sample import open_image
from pathreason.plugins.datasets.options import validate_options
from pathreason.plugins.datasets.readers.images import image_size, is_image_name
from pathreason.plugins.datasets.readers.paths import OUTSIDE_ROOT, inside_root, require_dir
from pathreason.plugins.datasets.readers.regions import connected_runs, drop_small
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    Found,
    LoadedSamples,
    detection_label,
    gather,
    summarize,
)
from pathreason.plugins.datasets.readers.tiled import TiledOptions, tile_samples

NAME = "digestpath"
SPLITS = ("train", "test")
LAYOUT = "ROOT/**/NAME.jpg slices, each positive with ROOT/**/NAME_mask.jpg beside it"
MASK_SUFFIX = "_mask"
DEFAULT_MIN_AREA = 64
DEFAULT_CASE_PATTERN = r"^[^_]+"


class DigestPathOptions(TiledOptions):
    """DigestPath's dataset options: those of every tiled dataset, and the mask and split settings."""

    min_area: int = Field(DEFAULT_MIN_AREA, ge=0, description="smallest lesion kept, in pixels (smaller are specks)")
    test_fraction: float = Field(0.2, ge=0.0, le=1.0, description="share of cases in the test split, 0 to 1")
    case_pattern: str = Field(DEFAULT_CASE_PATTERN, description="regular expression matching a slice name's case id")

    @field_validator("case_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        return pattern


def case_of(stem: str, pattern: str = DEFAULT_CASE_PATTERN) -> str:
    """The case id of a slice name (``pattern`` matched at its start; the whole name if none)."""
    match = re.match(pattern, stem)
    return match.group(0) if match else stem


def split_of(stem: str, test_fraction: float, pattern: str = DEFAULT_CASE_PATTERN) -> str:
    """"test" for about ``test_fraction`` of the cases, chosen by a stable hash of the case id."""
    return "test" if zlib.crc32(case_of(stem, pattern).encode()) % 10_000 < test_fraction * 10_000 else "train"


def find_slices(root: Path) -> tuple[list[tuple[Path, Path | None]], list[Path]]:
    """Every slice under ``root`` with its mask (``None`` for negatives), sorted by path, and the
    image files that lead outside ``root`` (symlinks; they are neither opened nor stat-ed).
    Symlinked folders are not walked into."""
    require_dir(root, NAME, LAYOUT)
    named = [p for p in root.rglob("*") if is_image_name(p)]
    outside = sorted(p for p in named if not inside_root(root, p))
    leaving = set(outside)
    files = [p for p in named if p not in leaving and p.is_file()]
    masks = {p.parent / (p.stem[: -len(MASK_SUFFIX)]): p for p in files if p.stem.endswith(MASK_SUFFIX)}
    slices = sorted(p for p in files if not p.stem.endswith(MASK_SUFFIX))
    if not slices and not outside:
        raise DataError(f"{NAME}: no slice images found under {root}; expected {LAYOUT}")
    return [(p, masks.get(p.parent / p.stem)) for p in slices], outside


def lesion_mask(path: Path, threshold: int = 128) -> np.ndarray:
    """The mask as booleans: grey level > ``threshold`` (JPEG noise stays below it)."""
    with open_image(path) as image:
        return np.asarray(image.convert("L")) > threshold


def _tiles(root: Path, split: str, options: DigestPathOptions) -> Iterator[Found]:
    slices, outside = find_slices(root)
    for path in outside:
        if split_of(path.stem, options.test_fraction, options.case_pattern) == split:
            yield path.stem, path, OUTSIDE_ROOT
    for path, mask_path in slices:
        if split_of(path.stem, options.test_fraction, options.case_pattern) != split:
            continue
        size = image_size(path, options.decode_images)
        if isinstance(size, str):
            yield path.stem, path, size
            continue
        runs = None
        if mask_path is not None:
            try:
                mask = lesion_mask(mask_path)
            except (OSError, ValueError) as err:  # DataError (over the pixel limit) is a ValueError
                yield path.stem, mask_path, f"unreadable mask: {err}"
                continue
            if mask.shape != (size[1], size[0]):
                yield path.stem, mask_path, f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {size[0]}x{size[1]}"
                continue
            runs = drop_small(connected_runs(mask), options.min_area)
        meta = {"organ": "colon", "category": "lesion", "positive": mask_path is not None,
                "case": case_of(path.stem, options.case_pattern)}
        yield path.stem, path, tile_samples(NAME, split, path, size, runs, options.tile, options.overlap,
                                            options.min_box_size, meta)


def load(root: str | Path, split: str = "train", **options: Any) -> LoadedSamples:
    """Tiles of DigestPath's ``split`` ("train" or "test", see the module doc) as lesion detection samples.

    Options (:class:`DigestPathOptions`): ``tile`` (1024), ``overlap`` (0), ``min_box_size`` (16),
    ``min_area`` (64), ``test_fraction`` (0.2), ``case_pattern`` (``^[^_]+``), ``n`` (the first n
    tiles), ``decode_images`` (False).
    """
    parsed = validate_options(DigestPathOptions, NAME, options)
    if split not in SPLITS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(root)
    return gather(NAME, split, root, _tiles(root, split, parsed), parsed.n)


def check(root: str | Path, **options: Any) -> DatasetSummary:
    """Tiles and boxes per split of a DigestPath folder, every image decoded, and every problem found."""
    return summarize(NAME, root, SPLITS, load, detection_label, DigestPathOptions, options)
