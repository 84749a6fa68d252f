"""CRAG (Graham et al. 2019): colorectal adenocarcinoma tiles with gland instance masks.

On disk::

    ROOT/train/Images/train_1.png        ROOT/train/Annotation/train_1.png
    ROOT/valid/Images/test_1.png         ROOT/valid/Annotation/test_1.png   (or test/, Annotations/)

Annotations are label maps (0 background, one id per gland). Each image is cut into
``tile x tile`` tiles (default 1024); each tile's boxes come from the label map's ids found in it
(no connected components are recomputed, so touching glands stay apart). Glands cut by a tile's
edge are kept when their visible part is at least ``min_box_size`` pixels each way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pathreason.api import DataError
from pathreason.api.sample import open_image
from pathreason.plugins.datasets.options import validate_options
from pathreason.plugins.datasets.readers.images import image_size, is_image_name
from pathreason.plugins.datasets.readers.paths import OUTSIDE_ROOT, inside_root, require_dir
from pathreason.plugins.datasets.readers.regions import runs_of_labels
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    Found,
    LoadedSamples,
    detection_label,
    gather,
    summarize,
)
from pathreason.plugins.datasets.readers.tiled import TiledOptions, tile_samples

NAME = "crag"
SPLITS = ("train", "test")
SPLIT_FOLDERS = {"train": ("train",), "test": ("valid", "test")}
LAYOUT = "ROOT/{train,valid or test}/Images/*.png with label maps in ROOT/<split>/Annotation(s)/*.png"


class CragOptions(TiledOptions):
    """CRAG's dataset options: those of every tiled dataset."""


def split_folder(root: Path, split: str) -> Path:
    name = {"valid": "test", "validation": "test"}.get(split, split)
    if name not in SPLIT_FOLDERS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)} ('valid' is the test split), got {split!r}")
    require_dir(root, NAME, LAYOUT)
    for folder in SPLIT_FOLDERS[name]:
        if inside_root(root, root / folder) and (root / folder).is_dir():
            return root / folder
    raise DataError(f"{NAME}: no folder for split {split!r} in {root}: expected one of {list(SPLIT_FOLDERS[name])} "
                    f"inside it; layout {LAYOUT}")


def read_label_map(path: Path) -> np.ndarray:
    """A 2-D integer label map (an RGB file with equal channels is accepted)."""
    with open_image(path) as image:
        labels = np.asarray(image)
    if labels.ndim == 3:
        if not (labels[..., :3] == labels[..., :1]).all():
            raise ValueError(f"label map has {labels.shape[2]} different channels; expected one id per pixel")
        labels = labels[..., 0]
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"label map must be a 2-D integer image, got shape {labels.shape} {labels.dtype}")
    return labels


def _tiles(root: Path, split: str, folder: Path, options: CragOptions) -> Iterator[Found]:
    images = require_dir(folder / "Images", NAME, LAYOUT, root)
    annotations = next((folder / n for n in ("Annotation", "Annotations")
                        if inside_root(root, folder / n) and (folder / n).is_dir()), None)
    if annotations is None:
        raise DataError(f"{NAME}: folder {folder / 'Annotation'} (or Annotations) not found inside {root}; "
                        f"expected {LAYOUT}")
    names = sorted(p for p in images.iterdir() if is_image_name(p))
    files = [p for p in names if not inside_root(root, p) or p.is_file()]
    if not files:
        raise DataError(f"{NAME}: no images in {images}; expected {LAYOUT}")
    for path in files:
        mask = annotations / path.name
        outside = next((p for p in (path, mask) if not inside_root(root, p)), None)
        if outside is not None:
            yield path.stem, outside, OUTSIDE_ROOT
            continue
        size = image_size(path, options.decode_images)
        if isinstance(size, str):
            yield path.stem, path, size
            continue
        if not mask.is_file():
            yield path.stem, path, f"no label map {mask}"
            continue
        try:
            labels = read_label_map(mask)
        except (OSError, ValueError) as err:  # DataError (over the pixel limit) is a ValueError
            yield path.stem, mask, f"unreadable label map: {err}"
            continue
        if labels.shape != (size[1], size[0]):
            yield path.stem, mask, f"label map is {labels.shape[1]}x{labels.shape[0]}, image is {size[0]}x{size[1]}"
            continue
        meta = {"organ": "colon", "category": "gland"}
        yield path.stem, path, tile_samples(NAME, split, path, size, runs_of_labels(labels), options.tile,
                                            options.overlap, options.min_box_size, meta)


def load(root: str | Path, split: str = "train", **options: Any) -> LoadedSamples:
    """Tiles of CRAG's ``split`` ("train" or "test") as detection samples of glands.

    Options (:class:`CragOptions`): ``tile`` (1024), ``overlap`` (0), ``min_box_size`` (16), ``n``
    (the first n tiles), ``decode_images`` (False).
    """
    parsed = validate_options(CragOptions, NAME, options)
    root = Path(root)
    folder = split_folder(root, split)
    return gather(NAME, split, root, _tiles(root, split, folder, parsed), parsed.n)


def check(root: str | Path, **options: Any) -> DatasetSummary:
    """Tiles and boxes per split of a CRAG folder, every image decoded, and every problem found."""
    return summarize(NAME, root, SPLITS, load, detection_label, CragOptions, options)
