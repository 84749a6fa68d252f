"""ESCA (Tolkach et al. 2023): oesophageal adenocarcinoma tissue classes, 11 classes, 4 centres.

On disk::

    ROOT/<centre>/<CLASS>/*.jpg     centres VALSET1_UKK, VALSET2_WNS, VALSET3_TCGA, VALSET4_CHA_FULL

The split is by centre; the paper's (default): VALSET4_CHA_FULL is "train", the other centres
found are "test". ``train_centers`` / ``test_centers`` change it. macOS ``._*`` files and hidden
files are skipped silently (they are not images); any other unreadable file is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pathreason.api import DataError
from pathreason.api.sample import Sample
from pathreason.plugins.datasets.readers.report import (
    DatasetSummary,
    LoadedSamples,
    LoadReport,
    finish,
    is_visible_image,
    probe_image,
    require_dir,
    summarize,
)

NAME = "esca"
SPLITS = ("train", "test")
CENTERS = ("VALSET1_UKK", "VALSET2_WNS", "VALSET3_TCGA", "VALSET4_CHA_FULL")
TRAIN_CENTERS = ("VALSET4_CHA_FULL",)
CLASSES = {
    "ADVENT": "adventitia",
    "LAM_PROP": "lamina propria mucosae",
    "MUSC_MUC": "muscularis mucosae",
    "MUSC_PROP": "muscularis propria",
    "REGR_TU": "regression tissue",
    "SH_MAG": "gastric mucosa",
    "SH_OES": "esophageal mucosa",
    "SUB_GL": "submucosal glands",
    "SUBMUC": "submucosa",
    "TUMOR": "tumor",
    "ULCUS": "ulceration",
}
LAYOUT = "ROOT/<centre>/<CLASS>/*.jpg with centres " + ", ".join(CENTERS)


def centers_of(root: Path, split: str, train_centers: Sequence[str], test_centers: Sequence[str] | None) -> list[str]:
    """The centre folders of ``split``; a requested centre that is missing is an error."""
    require_dir(root, NAME, LAYOUT)
    present = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if split == "train":
        wanted = list(train_centers)
    else:
        wanted = list(test_centers) if test_centers is not None else [c for c in present if c not in train_centers]
    missing = [c for c in wanted if c not in present]
    if missing or not wanted:
        raise DataError(
            f"{NAME}: split {split!r} needs the centre folders {wanted or '(none left)'} in {root}, "
            f"found {present}; expected {LAYOUT}"
        )
    return wanted


def load(
    root: str | Path,
    split: str = "train",
    train_centers: Sequence[str] = TRAIN_CENTERS,
    test_centers: Sequence[str] | None = None,
    class_names: str = "names",
    decode_images: bool = False,
) -> LoadedSamples:
    """ESCA's ``split`` ("train" or "test", split by centre) as subtyping samples."""
    if split not in SPLITS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)}, got {split!r}")
    if class_names not in ("names", "codes"):
        raise DataError(f"{NAME}: class_names must be 'names' or 'codes', got {class_names!r}")
    names = dict(CLASSES) if class_names == "names" else {code: code for code in CLASSES}
    options = list(names.values())
    root = Path(root)
    report = LoadReport(NAME, split, str(root))
    samples: list[Sample] = []
    for center in centers_of(root, split, train_centers, test_centers):
        folders = sorted(p for p in (root / center).iterdir() if p.is_dir() and not p.name.startswith("."))
        unknown = [p.name for p in folders if p.name not in CLASSES]
        if unknown:
            raise DataError(f"{NAME}: unknown class folders {unknown} in {root / center}; expected some of {list(CLASSES)}")
        if not folders:
            raise DataError(f"{NAME}: no class folders in {root / center}; expected {LAYOUT}")
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.name.startswith("._") or path.name.startswith("."):
                    continue  # macOS resource forks and hidden files are not images
                record = f"{center}/{folder.name}/{path.name}"
                if not is_visible_image(path):
                    report.skip(record, path, f"not an image file (suffix {path.suffix!r})")
                    continue
                problem = probe_image(path, decode_images)
                if problem is not None:
                    report.skip(record, path, problem)
                    continue
                samples.append(
                    Sample(
                        id=f"{NAME}-{split}-{center}-{folder.name}-{path.stem}",
                        image=str(path),
                        task="subtyping",
                        options=options,
                        answer=names[folder.name],
                        meta={
                            "dataset": NAME,
                            "split": split,
                            "organ": "esophagus",
                            "center": center,
                            "label": folder.name,
                            "category": names[folder.name],
                        },
                    )
                )
    return finish(samples, report)


def check(root: str | Path, **options: object) -> DatasetSummary:
    """Images per split and class of an ESCA folder, and every problem found."""
    return summarize(NAME, root, SPLITS, load, lambda s: str(s.meta["label"]), **options)
