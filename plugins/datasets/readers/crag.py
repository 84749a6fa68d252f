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

from pathlib import Path

import numpy as np

from pathreason.api import DataError
from pathreason.api.sample import Sample
from pathreason.plugins.datasets.readers.regions import runs_of_labels
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    LoadedSamples,
    LoadReport,
    detection_label,
    finish,
    is_visible_image,
    probe_image,
    require_dir,
    summarize,
)
from pathreason.plugins.datasets.readers.tiled import DEFAULT_MIN_BOX, DEFAULT_TILE, tile_samples

NAME = "crag"
SPLITS = ("train", "test")
SPLIT_FOLDERS = {"train": ("train",), "test": ("valid", "test")}
LAYOUT = "ROOT/{train,valid or test}/Images/*.png with label maps in ROOT/<split>/Annotation(s)/*.png"


def split_folder(root: Path, split: str) -> Path:
    name = {"valid": "test", "validation": "test"}.get(split, split)
    if name not in SPLIT_FOLDERS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)} ('valid' is the test split), got {split!r}")
    require_dir(root, NAME, LAYOUT)
    for folder in SPLIT_FOLDERS[name]:
        if (root / folder).is_dir():
            return root / folder
    raise DataError(f"{NAME}: no folder for split {split!r} in {root}: expected one of {list(SPLIT_FOLDERS[name])}; layout {LAYOUT}")


def read_label_map(path: Path) -> np.ndarray:
    """A 2-D integer label map (an RGB file with equal channels is accepted)."""
    from PIL import Image

    with Image.open(path) as image:
        labels = np.asarray(image)
    if labels.ndim == 3:
        if not (labels[..., :3] == labels[..., :1]).all():
            raise ValueError(f"label map has {labels.shape[2]} different channels; expected one id per pixel")
        labels = labels[..., 0]
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"label map must be a 2-D integer image, got shape {labels.shape} {labels.dtype}")
    return labels


def load(
    root: str | Path,
    split: str = "train",
    tile: int = DEFAULT_TILE,
    overlap: int = 0,
    min_box_size: int = DEFAULT_MIN_BOX,
    decode_images: bool = False,
) -> LoadedSamples:
    """Tiles of CRAG's ``split`` ("train" or "test") as detection samples of glands."""
    from PIL import Image

    root = Path(root)
    folder = split_folder(root, split)
    images = require_dir(folder / "Images", NAME, LAYOUT)
    annotations = next((folder / n for n in ("Annotation", "Annotations") if (folder / n).is_dir()), None)
    if annotations is None:
        raise DataError(f"{NAME}: folder {folder / 'Annotation'} (or Annotations) not found; expected {LAYOUT}")
    report = LoadReport(NAME, split, str(root))
    samples: list[Sample] = []
    files = sorted(p for p in images.iterdir() if is_visible_image(p))
    if not files:
        raise DataError(f"{NAME}: no images in {images}; expected {LAYOUT}")
    for path in files:
        problem = probe_image(path, decode_images)
        mask = annotations / path.name
        if problem is None and not mask.is_file():
            problem = f"no label map {mask}"
        if problem is not None:
            report.skip(path.stem, path, problem)
            continue
        try:
            labels = read_label_map(mask)
        except (OSError, ValueError) as err:
            report.skip(path.stem, mask, f"unreadable label map: {err}")
            continue
        with Image.open(path) as image:
            size = image.size
        if labels.shape != (size[1], size[0]):
            report.skip(path.stem, mask, f"label map is {labels.shape[1]}x{labels.shape[0]}, image is {size[0]}x{size[1]}")
            continue
        meta = {"organ": "colon", "category": "gland"}
        samples += tile_samples(NAME, split, path, size, runs_of_labels(labels), tile, overlap, min_box_size, meta)
    return finish(samples, report)


def check(root: str | Path, **options: object) -> DatasetSummary:
    """Tiles and boxes per split of a CRAG folder, and every problem found."""
    return summarize(NAME, root, SPLITS, load, detection_label, **options)
