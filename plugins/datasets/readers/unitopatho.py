"""UniToPatho (Barbano et al. 2021): colorectal polyp subtyping and dysplasia grading, 6 classes.

On disk (the 800-micron release; ``resolution`` picks another folder)::

    ROOT/800/train.csv, ROOT/800/test.csv     columns image_id, top_label_name, top_label, ...
    ROOT/800/<top_label_name>/<image_id>      e.g. 800/TA.LG/149-B3-TALG.ndpi_ROI__..._.png

``ROOT`` may also be the ``800`` folder itself. Options are the class names the paper's
subtyping prompt lists (``class_names="names"``) or the dataset's codes (``"codes"``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from pathreason.api import DataError
from pathreason.api.sample import Sample
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    LoadedSamples,
    LoadReport,
    finish,
    probe_image,
    require_dir,
    summarize,
)

NAME = "unitopatho"
SPLITS = ("train", "test")
CLASSES = {
    "NORM": "normal tissue",
    "HP": "hyperplastic polyp",
    "TA.HG": "tubular adenoma with high-grade dysplasia",
    "TA.LG": "tubular adenoma with low-grade dysplasia",
    "TVA.HG": "tubulo-villous adenoma with high-grade dysplasia",
    "TVA.LG": "tubulo-villous adenoma with low-grade dysplasia",
}
LAYOUT = "ROOT/800/{train,test}.csv (image_id, top_label_name, ...) and ROOT/800/<top_label_name>/<image_id>"
REQUIRED_COLUMNS = ("image_id", "top_label_name")


def class_options(class_names: str) -> dict[str, str]:
    if class_names not in ("names", "codes"):
        raise DataError(f"{NAME}: class_names must be 'names' or 'codes', got {class_names!r}")
    return dict(CLASSES) if class_names == "names" else {code: code for code in CLASSES}


def data_folder(root: Path, resolution: str) -> Path:
    require_dir(root, NAME, LAYOUT)
    if (root / resolution / "train.csv").is_file() or (root / resolution / "test.csv").is_file():
        return root / resolution
    if (root / "train.csv").is_file() or (root / "test.csv").is_file():
        return root
    raise DataError(f"{NAME}: neither {root / resolution / 'train.csv'} nor {root / 'train.csv'} exists; expected {LAYOUT}")


def load(
    root: str | Path, split: str = "train", resolution: str = "800", class_names: str = "names", decode_images: bool = False
) -> LoadedSamples:
    """UniToPatho's ``split`` ("train" or "test") as subtyping samples."""
    if split not in SPLITS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(root)
    folder = data_folder(root, resolution)
    table = folder / f"{split}.csv"
    if not table.is_file():
        raise DataError(f"{NAME}: {table} not found; expected {LAYOUT}")
    names = class_options(class_names)
    options = list(names.values())
    report = LoadReport(NAME, split, str(root))
    samples: list[Sample] = []
    with table.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{NAME}: {table} lacks the columns {missing}; its header is {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            image_id, code = (row.get("image_id") or "").strip(), (row.get("top_label_name") or "").strip()
            record = f"{table.name}:{line}"
            if not image_id or code not in CLASSES:
                report.skip(record, table, f"bad row: image_id {image_id!r}, top_label_name {code!r} (expected one of {list(CLASSES)})")
                continue
            path = folder / code / (image_id if Path(image_id).suffix else f"{image_id}.png")
            problem = probe_image(path, decode_images)
            if problem is not None:
                report.skip(record, path, problem)
                continue
            samples.append(
                Sample(
                    id=f"{NAME}-{split}-{Path(image_id).stem}",
                    image=str(path),
                    task="subtyping",
                    options=options,
                    answer=names[code],
                    meta={"dataset": NAME, "split": split, "organ": "colon", "label": code, "category": names[code]},
                )
            )
    return finish(samples, report)


def check(root: str | Path, **options: object) -> DatasetSummary:
    """Images per split and class of a UniToPatho folder, and every problem found."""
    return summarize(NAME, root, SPLITS, load, lambda s: str(s.meta["label"]), **options)
