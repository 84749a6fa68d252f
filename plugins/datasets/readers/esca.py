"""ESCA (Tolkach et al. 2023): oesophageal adenocarcinoma tissue classes, 11 classes, 4 centres.

On disk::

    ROOT/<centre>/<CLASS>/*.jpg     centres VALSET1_UKK, VALSET2_WNS, VALSET3_TCGA, VALSET4_CHA_FULL

The split is by centre; the paper's (default): VALSET4_CHA_FULL is "train", the other centres
found are "test". ``train_centers`` / ``test_centers`` change it. macOS ``._*`` files and hidden
files are skipped silently (they are not images); any other unreadable file is reported, and so is a
centre folder, class folder or file that leads outside ``ROOT`` (a symlink), which is not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from pathreason.api import DataError
from pathreason.api.sample import Sample
from pathreason.plugins.datasets.options import DatasetOptions, validate_options
from pathreason.plugins.datasets.readers.images import is_image_name, probe_image
from pathreason.plugins.datasets.readers.paths import OUTSIDE_ROOT, entries, inside_root, require_dir
from pathreason.plugins.datasets.readers.report import DatasetSummary, Found, LoadedSamples, gather, summarize

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


class EscaOptions(DatasetOptions):
    """ESCA's dataset options: which centres make each split, and how classes are named."""

    train_centers: list[str] = Field(list(TRAIN_CENTERS), min_length=1,
                                     description="the centre folders of the train split, a list of names")
    test_centers: list[str] | None = Field(None, description="the centre folders of the test split "
                                           "(default: every other centre found)")
    class_names: Literal["names", "codes"] = Field("names", description="list classes by name or by code")

    @field_validator("train_centers", "test_centers", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("train_centers", "test_centers")
    @classmethod
    def _folder_names(cls, value: list[str] | None) -> list[str] | None:
        bad = [v for v in value or [] if not v or v in (".", "..") or "/" in v or "\\" in v]
        if bad:
            raise ValueError(f"centres are folder names directly under the root (e.g. {CENTERS[0]}), got {bad}")
        return value


def centers_of(root: Path, split: str, options: EscaOptions) -> list[str]:
    """The centre folders of ``split``; a requested centre that is missing is an error."""
    require_dir(root, NAME, LAYOUT)
    present = sorted(p.name for p, inside in entries(root, root) if not inside or p.is_dir())
    if split == "train":
        wanted = list(options.train_centers)
    else:
        train = options.train_centers
        wanted = list(options.test_centers) if options.test_centers is not None else [c for c in present if c not in train]
    missing = [c for c in wanted if c not in present]
    if missing or not wanted:
        raise DataError(
            f"{NAME}: split {split!r} needs the centre folders {wanted or '(none left)'} in {root}, "
            f"found {present}; expected {LAYOUT}"
        )
    return wanted


def _samples(root: Path, split: str, options: EscaOptions) -> Iterator[Found]:
    names = dict(CLASSES) if options.class_names == "names" else {code: code for code in CLASSES}
    choices = list(names.values())
    for center in centers_of(root, split, options):
        if not inside_root(root, root / center):
            yield center, root / center, OUTSIDE_ROOT
            continue
        folders = [(p, inside) for p, inside in entries(root, root / center) if not inside or p.is_dir()]
        unknown = [p.name for p, _ in folders if p.name not in CLASSES]
        if unknown:
            raise DataError(f"{NAME}: unknown class folders {unknown} in {root / center}; expected some of {list(CLASSES)}")
        if not folders:
            raise DataError(f"{NAME}: no class folders in {root / center}; expected {LAYOUT}")
        for folder, inside in folders:
            if not inside:
                yield f"{center}/{folder.name}", folder, OUTSIDE_ROOT
                continue
            for path, inside in entries(root, folder):
                record = f"{center}/{folder.name}/{path.name}"
                if not inside:
                    yield record, path, OUTSIDE_ROOT
                    continue
                if not is_image_name(path) or not path.is_file():
                    yield record, path, f"not an image file (suffix {path.suffix!r})"
                    continue
                problem = probe_image(path, options.decode_images)
                if problem is not None:
                    yield record, path, problem
                    continue
                label = folder.name
                try:
                    sample = Sample(
                        id=f"{NAME}-{split}-{center}-{label}-{path.stem}",
                        image=str(path),
                        task="subtyping",
                        options=choices,
                        answer=names[label],
                        meta={"dataset": NAME, "split": split, "organ": "esophagus", "center": center, "label": label,
                              "category": names[label]},
                    )
                except DataError as err:
                    yield record, path, str(err)
                    continue
                yield record, path, sample


def load(root: str | Path, split: str = "train", **options: Any) -> LoadedSamples:
    """ESCA's ``split`` ("train" or "test", split by centre) as subtyping samples.

    Options (:class:`EscaOptions`): ``train_centers`` (``["VALSET4_CHA_FULL"]``), ``test_centers``
    (every other centre), ``class_names`` (``"names"`` or ``"codes"``), ``n``, ``decode_images``.
    """
    parsed = validate_options(EscaOptions, NAME, options)
    if split not in SPLITS:
        raise DataError(f"{NAME}: split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(root)
    return gather(NAME, split, root, _samples(root, split, parsed), parsed.n)


def check(root: str | Path, **options: Any) -> DatasetSummary:
    """Images per split and class of an ESCA folder, every image decoded, and every problem found."""
    return summarize(NAME, root, SPLITS, load, lambda s: str(s.meta["label"]), EscaOptions, options)
