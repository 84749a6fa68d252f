"""The six dataset readers on tiny copies of their real on-disk formats (tests/plugins/_data_fixtures.py)."""

from __future__ import annotations

import logging
import os
from collections import Counter

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pathreason  # noqa: E402
from pathreason.api import DataError  # noqa: E402
from pathreason.api.sample import ImageRef, dataset_to_samples, samples_to_dataset  # noqa: E402
from pathreason.plugins.datasets.readers import regions  # noqa: E402
from tests.plugins import _data_fixtures as fx  # noqa: E402


def load(name, root, **options):
    return pathreason.get_dataset(name)(root=root, **options)


def assert_round_trip(samples):
    back = dataset_to_samples(samples_to_dataset(samples))
    assert [s.to_dict() | {"image": None} for s in back] == [s.to_dict() | {"image": None} for s in samples]
    for before, after in zip(samples, back):
        assert np.array_equal(np.asarray(before.load_image()), np.asarray(after.load_image()))


# -- PathVQA ---------------------------------------------------------------------------------------


def test_pathvqa_parquet(tmp_path, caplog):
    root = fx.pathvqa_parquet(tmp_path)
    with caplog.at_level(logging.WARNING, logger="pathreason.datasets"):
        train = load("pathvqa", root, split="train")
    assert [s.answer for s in train] == ["yes", "no", "adenocarcinoma", "in the mucosa"]
    assert [s.meta["question_type"] for s in train] == ["yes/no", "yes/no", "open", "open"]
    assert all(s.task == "vqa" and s.options == [] for s in train)
    assert train[0].image is train[2].image  # one encoded copy per distinct image
    assert train[0].size == (20, 16) and train[3].size == (18, 12)
    assert train.report.loaded == 4 and [p.record for p in train.report.skipped] == ["train-00000-of-00001-000004"]
    assert "skipped 1 bad records (4 samples loaded)" in caplog.text and "train-00000-of-00001-000004" in caplog.text
    assert len(load("pathvqa", root, split="validation")) == len(load("pathvqa", root, split="val")) == 1
    assert_round_trip(train)


def test_pathvqa_pickles(tmp_path):
    root = fx.pathvqa_pickles(tmp_path)
    train = load("pathvqa", root, split="train")
    assert [(s.answer, s.meta["question_type"]) for s in train] == [("yes", "yes/no"), ("plasma cells", "open")]
    assert train[0].image == str(tmp_path / "pvqa/images/train/train_0001.jpg")
    reasons = [p.reason for p in train.report.skipped]
    assert len(reasons) == 2 and "image file not found" in reasons[0] and "not a dict" in reasons[1]
    assert load("pathvqa", root / "pvqa", split="validation")[0].answer == "no"  # root may be pvqa/
    summary = pathreason.registry.dataset_spec("pathvqa").check(root)
    assert summary.splits == {"train": 2, "validation": 1, "test": 1}
    assert summary.classes["train"] == {"yes/no": 1, "open": 1} and len(summary.problems) == 2
    assert "train: 2 samples" in summary.to_text() and summary.as_dict()["ok"] is False


def test_pathvqa_missing_layout_names_the_paths(tmp_path):
    with pytest.raises(DataError, match=r"no train split in .*pvqa/qas"):
        load("pathvqa", tmp_path, split="train")
    with pytest.raises(DataError, match="not found"):
        load("pathvqa", tmp_path / "nowhere", split="train")
    with pytest.raises(DataError, match="split must be one of"):
        load("pathvqa", tmp_path, split="dev")


# -- PathMMU ---------------------------------------------------------------------------------------


def test_pathmmu_paper_protocol(tmp_path):
    root = fx.pathmmu(tmp_path)
    train = load("pathmmu", root, split="train")
    assert [s.meta["no"] for s in train] == [1, 3, 11]
    assert [s.answer for s in train] == ["B", "A", "C"]
    assert train[0].options == ["stroma", "gland", "fat"]
    assert train[1].image == str(tmp_path / "images/p3.jpg")  # img relative to images/
    skipped = {p.record: p.reason for p in train.report.skipped}
    assert set(skipped) == {"PubMed-test-4", "Atlas-test-12"}
    assert "does not start with 'A)'" in skipped["PubMed-test-4"] and "not found" in skipped["Atlas-test-12"]
    test = load("pathmmu", root, split="test")
    assert [(s.meta["subset"], s.meta["no"], s.answer) for s in test] == [("PubMed", 2, "C"), ("Atlas", 13, "A")]
    assert len(load("pathmmu", root, split="validation")) == 4
    assert len(load("pathmmu", root, split="test", subsets=["Atlas"])) == 1
    raw = load("pathmmu", root, split="test", protocol="raw", subsets=["PubMed"])
    assert len(raw) == 3 and raw[0].meta["explanation"] == "because 1"
    assert_round_trip(train)


def test_pathmmu_errors(tmp_path):
    root = fx.pathmmu(tmp_path)
    with pytest.raises(DataError, match="subset 'SocialPath' not in"):
        load("pathmmu", root, split="test", subsets=["SocialPath"])
    with pytest.raises(DataError, match="data.json not found"):
        load("pathmmu", tmp_path / "images")
    (tmp_path / "data.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load("pathmmu", root)


# -- UniToPatho ------------------------------------------------------------------------------------


def test_unitopatho(tmp_path):
    root = fx.unitopatho(tmp_path)
    train = load("unitopatho", root, split="train")
    assert [s.meta["label"] for s in train] == [label for _, label in fx.UNITOPATHO_TRAIN]
    assert train[0].options[0] == "normal tissue" and len(train[0].options) == 6
    assert train[3].answer == "tubulo-villous adenoma with high-grade dysplasia"
    assert train[3].image == str(tmp_path / "800/TVA.HG/img_d.png")
    reasons = sorted(p.reason.split(":")[0] for p in train.report.skipped)
    assert reasons == ["bad row", "image file not found", "unreadable image"]
    codes = load("unitopatho", root / "800", split="test", class_names="codes")
    assert [s.answer for s in codes] == ["TA.HG", "TVA.LG"] and codes[0].options == list(
        pathreason.plugins.datasets.readers.unitopatho.CLASSES
    )
    summary = pathreason.registry.dataset_spec("unitopatho").check(root)
    assert summary.splits == {"train": 4, "test": 2} and summary.classes["test"] == {"TA.HG": 1, "TVA.LG": 1}
    assert_round_trip(train)


def test_unitopatho_missing_csv(tmp_path):
    (tmp_path / "800").mkdir()
    with pytest.raises(DataError, match=r"800/train.csv"):
        load("unitopatho", tmp_path)
    fx.unitopatho(tmp_path)
    (tmp_path / "800/test.csv").write_text("image,label\nx.png,HP\n")
    with pytest.raises(DataError, match=r"lacks the columns \['image_id', 'top_label_name'\]"):
        load("unitopatho", tmp_path, split="test")


# -- ESCA ------------------------------------------------------------------------------------------


def test_esca_split_by_centre(tmp_path):
    root = fx.esca(tmp_path)
    train = load("esca", root, split="train")
    assert sorted(s.meta["label"] for s in train) == ["ADVENT", "TUMOR", "TUMOR"]
    assert len(train[0].options) == 11 and train[0].answer in train[0].options
    assert [p.record for p in train.report.skipped] == ["VALSET4_CHA_FULL/ADVENT/broken.jpg"]  # ._t1.jpg ignored
    test = load("esca", root, split="test")
    assert Counter(s.meta["center"] for s in test) == {"VALSET1_UKK": 1, "VALSET2_WNS": 2}
    swapped = load("esca", root, split="train", train_centers=["VALSET2_WNS"], class_names="codes")
    assert sorted(s.answer for s in swapped) == ["SUB_GL", "ULCUS"]
    with pytest.raises(DataError, match=r"needs the centre folders \['VALSET3_TCGA'\]"):
        load("esca", root, split="test", test_centers=["VALSET3_TCGA"])
    summary = pathreason.registry.dataset_spec("esca").check(root)
    assert summary.splits == {"train": 3, "test": 3} and summary.classes["train"] == {"TUMOR": 2, "ADVENT": 1}
    assert_round_trip(test)


def test_esca_unknown_class_folder(tmp_path):
    fx.write_image(tmp_path / "VALSET4_CHA_FULL/MYSTERY/x.jpg")
    with pytest.raises(DataError, match=r"unknown class folders \['MYSTERY'\]"):
        load("esca", tmp_path, split="train")


# -- CRAG ------------------------------------------------------------------------------------------


def test_crag_tiles_and_boxes(tmp_path):
    root = fx.crag(tmp_path)
    train = load("crag", root, split="train", tile=64)
    assert [s.meta["tile"] for s in train] == [[0, 0, 64, 64], [36, 0, 100, 64], [0, 16, 64, 80], [36, 16, 100, 80]]
    # Touching glands 1 and 2 stay apart; gland 7 is cut (14 px wide) in the left tiles and dropped.
    assert [s.boxes for s in train] == [
        [[5, 5, 21, 16], [21, 5, 31, 16]],
        [[14, 30, 34, 50]],
        [[10, 44, 30, 54]],
        [[14, 14, 34, 34]],
    ]
    assert [s.meta["instances"] for s in train] == [[1, 2], [7], [9], [7]]
    assert isinstance(train[1].image, ImageRef) and train[1].size == (64, 64)
    whole = np.asarray(fx.noise_image(*fx.CRAG_SIZE))
    assert np.array_equal(np.asarray(train[1].load_image()), whole[0:64, 36:100])
    assert sorted(p.record for p in train.report.skipped) == ["train_2", "train_3"]
    small = load("crag", root, split="train", tile=64, min_box_size=4)
    assert small[0].boxes == [[5, 5, 21, 16], [21, 5, 31, 16], [50, 30, 64, 50], [10, 60, 15, 64]]
    (test,) = load("crag", root, split="test")  # image smaller than the tile: one tile
    assert test.meta["tile"] == [0, 0, 50, 40] and test.boxes == [[10, 10, 30, 20]]
    assert test.meta["category"] == "gland" and test.meta["organ"] == "colon"
    summary = pathreason.registry.dataset_spec("crag").check(root, tile=64)
    assert summary.splits == {"train": 4, "test": 1} and summary.objects == {"train": 5, "test": 1}
    assert_round_trip(train)


def test_crag_missing_annotations(tmp_path):
    fx.write_image(tmp_path / "train/Images/a.png")
    with pytest.raises(DataError, match=r"train/Annotation \(or Annotations\) not found"):
        load("crag", tmp_path, split="train")
    with pytest.raises(DataError, match="no folder for split 'test'"):
        load("crag", tmp_path, split="test")


# -- DigestPath ------------------------------------------------------------------------------------


def test_digestpath_masks_to_boxes(tmp_path):
    root = fx.digestpath(tmp_path)
    train = load("digestpath", root, split="train", tile=64, test_fraction=0.0)
    positive = [s for s in train if s.meta["positive"]]
    negative = [s for s in train if not s.meta["positive"]]
    assert [s.meta["tile"] for s in positive] == [[0, 0, 64, 64], [64, 0, 128, 64], [0, 32, 64, 96], [64, 32, 128, 96]]
    # JPEG noise thresholded away, the speck dropped, lesions cut to 8 px by a tile edge dropped.
    assert [s.boxes for s in positive] == [[[16, 8, 48, 40]], [], [], [[24, 24, 56, 56]]]
    assert len(negative) == 4 and all(s.boxes == [] for s in negative)
    assert positive[0].meta["category"] == "lesion" and positive[0].meta["case"] == "case1"
    assert [p.record for p in train.report.skipped] == ["case3_c"]
    assert load("digestpath", root, split="test", tile=64, test_fraction=0.0) == []
    assert len(load("digestpath", root, split="test", tile=64, test_fraction=1.0)) == 8
    specks = load("digestpath", root, split="train", tile=256, min_area=1, test_fraction=0.0)
    (whole,) = [s for s in specks if s.meta["positive"]]
    assert len(whole.boxes) == 3  # with no speck filter the 2x2 speck is a third lesion
    assert_round_trip(positive)


def test_digestpath_split_keeps_cases_together():
    from pathreason.plugins.datasets.readers.digestpath import split_of

    names = [f"{case}_{i}" for case in ("18-01", "18-02", "18-03", "19-77", "20-05") for i in range(4)]
    by_case = {}
    for name in names:
        by_case.setdefault(name.split("_")[0], set()).add(split_of(name, 0.4))
    assert all(len(splits) == 1 for splits in by_case.values())


# -- components --------------------------------------------------------------------------------------


def test_connected_runs_match_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    for density in (0.2, 0.45, 0.6):
        mask = rng.random((40, 50)) < density
        runs = regions.connected_runs(mask)
        labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
        ours = np.zeros(mask.shape, int)
        for row, start, end, ident in zip(runs.rows, runs.starts, runs.ends, runs.ids):
            ours[row, start:end] = ident
        pairs = set(zip(ours[mask].tolist(), labels[mask].tolist()))
        assert len(pairs) == count == len(runs.areas())
        slices = ndimage.find_objects(labels)
        mapping = dict(pairs)
        for ident, box in runs.boxes().items():
            rows, cols = slices[mapping[ident] - 1]
            assert box == [cols.start, rows.start, cols.stop, rows.stop]


def test_tile_grid():
    assert regions.tile_grid(5000, 1024, 1024) == [(x, 0, x + 1024, 1024) for x in (0, 1024, 2048, 3072, 3976)]
    assert regions.tile_grid(300, 200, 1024) == [(0, 0, 300, 200)]
    assert regions.tile_grid(100, 64, 64, overlap=32) == [(0, 0, 64, 64), (32, 0, 96, 64), (36, 0, 100, 64)]
