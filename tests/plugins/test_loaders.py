"""The six dataset readers on tiny copies of their real on-disk formats (tests/plugins/_data_fixtures.py)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
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


# -- hostile and unlucky folders (issue 17) ---------------------------------------------------------

OUTSIDE = "outside the dataset root"


def check(name, root, **options):
    return pathreason.registry.dataset_spec(name).check(root, **options)


def reasons(samples):
    return {p.record: p.reason for p in samples.report.skipped}


@pytest.fixture
def outside(tmp_path):
    """A folder beside the dataset root with a readable image and a garbage file in it, and the
    name of a file that does not exist there: the three must be reported alike."""
    folder = tmp_path / "outside"
    fx.write_image(folder / "secret.png")
    fx.write_garbage(folder / "garbage.png")
    return folder


#: The lists of the ``touched`` fixture now recording (one audit hook for the module: hooks stay for good).
_RECORDING: list[list[str]] = []


def _audit(event, args):
    if _RECORDING and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _RECORDING[-1].append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def touched(monkeypatch):
    """Every path opened (audit event ``open``) or stat-ed (``os.stat``) while the test runs."""
    seen: list[str] = []
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if isinstance(path, (str, bytes, os.PathLike)):
            seen.append(os.fsdecode(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    _RECORDING.append(seen)
    yield seen
    _RECORDING.remove(seen)


def assert_untouched(seen, folder):
    inside = [p for p in seen if os.path.abspath(p).startswith(str(folder))]
    assert inside == [], f"files outside the dataset root were opened or stat-ed: {inside}"


def test_pathmmu_never_reads_outside_its_root(tmp_path, outside, touched):
    root = fx.pathmmu(tmp_path / "mmu")
    data = json.loads((root / "data.json").read_text())
    fx.link(root / "images/linked.jpg", outside / "secret.png")  # a symlinked file leading out
    fx.link(root / "images/alias.jpg", root / "images/p1.jpg")  # a symlink inside pointing inside: fine
    data["PubMed"]["val"] += [
        fx._mmu_record(101, "../outside/secret.png"),
        fx._mmu_record(102, str(outside / "garbage.png")),
        fx._mmu_record(103, str(outside / "missing.png")),
        fx._mmu_record(104, "images/linked.jpg"),
        fx._mmu_record(105, "/etc/passwd"),
        fx._mmu_record(106, "images/alias.jpg"),
    ]
    (root / "data.json").write_text(json.dumps(data))
    val = load("pathmmu", root, split="validation")
    skipped = reasons(val)
    assert {k: v for k, v in skipped.items() if v == OUTSIDE} == {f"PubMed-val-{i}": OUTSIDE for i in range(101, 106)}
    assert [s.meta["no"] for s in val if s.meta["subset"] == "PubMed"] == [100, 106]
    assert_untouched(touched, outside)
    summary = check("pathmmu", root)
    assert not summary.ok and sum(OUTSIDE in p for p in summary.problems) == 5


def test_unitopatho_never_reads_outside_its_root(tmp_path, outside, touched):
    root = fx.unitopatho(tmp_path / "unito")
    rows = ["image_id,top_label_name,top_label,type,grade", "img_t1.png,TA.HG,0,x,y",
            "../../../outside/secret.png,HP,0,x,y", f"{outside / 'garbage.png'},HP,0,x,y",
            f"{outside / 'missing.png'},HP,0,x,y", "ok.png,TVA.LG,0,x,y", "leak.png,NORM,0,x,y"]
    (root / "800/test.csv").write_text("\n".join(rows) + "\n")
    fx.link(root / "800/TVA.LG/ok.png", root / "800/TA.HG/img_t1.png")  # inside -> inside
    fx.link(root / "800/NORM/leak.png", outside / "secret.png")
    test = load("unitopatho", root, split="test")
    assert [s.id for s in test] == ["unitopatho-test-img_t1", "unitopatho-test-ok"]
    assert sorted(reasons(test).items()) == [(f"test.csv:{i}", OUTSIDE) for i in (3, 4, 5, 7)]
    # A class folder that is a symlink leading out: every image in it is outside.
    (root / "800/HP").rename(root / "800/HP-real")
    fx.link(root / "800/HP", outside)
    (root / "800/test.csv").write_text("image_id,top_label_name\nsecret.png,HP\n")
    assert reasons(load("unitopatho", root, split="test")) == {"test.csv:2": OUTSIDE}
    assert_untouched(touched, outside)


def test_esca_never_reads_outside_its_root(tmp_path, outside, touched):
    root = fx.esca(tmp_path / "esca")
    fx.link(root / "VALSET4_CHA_FULL/TUMOR/t9.jpg", outside / "secret.png")
    fx.link(root / "VALSET4_CHA_FULL/TUMOR/t8.jpg", outside / "missing.png")
    fx.link(root / "VALSET4_CHA_FULL/TUMOR/t7.jpg", root / "VALSET4_CHA_FULL/TUMOR/t1.jpg")  # inside: fine
    fx.link(root / "VALSET4_CHA_FULL/ULCUS", outside)  # a class folder leading out
    fx.link(root / "VALSET3_TCGA", outside)  # a centre leading out
    train = load("esca", root, split="train")
    assert sorted(s.meta["label"] for s in train) == ["ADVENT", "TUMOR", "TUMOR", "TUMOR"]
    assert {r: why for r, why in reasons(train).items() if why == OUTSIDE} == {
        "VALSET4_CHA_FULL/TUMOR/t9.jpg": OUTSIDE, "VALSET4_CHA_FULL/TUMOR/t8.jpg": OUTSIDE,
        "VALSET4_CHA_FULL/ULCUS": OUTSIDE}
    assert reasons(load("esca", root, split="test")) == {"VALSET3_TCGA": OUTSIDE}
    assert_untouched(touched, outside)


def test_pathvqa_never_reads_outside_its_root(tmp_path, outside, touched):
    import pickle

    root = fx.pathvqa_pickles(tmp_path / "pvqa-root")
    records = [{"image": "../../../../outside/secret", "question": "Q?", "answer": "yes"},
               {"image": str(outside / "garbage"), "question": "Q?", "answer": "yes"},
               {"image": str(outside / "missing"), "question": "Q?", "answer": "yes"},
               {"image": "val_0001", "question": "Is it benign?", "answer": "no"}]
    (root / "pvqa/qas/val/val_qa.pkl").write_bytes(pickle.dumps(records))
    val = load("pathvqa", root, split="validation")
    assert len(val) == 1 and reasons(val) == {"000000": OUTSIDE, "000001": OUTSIDE, "000002": OUTSIDE}
    # The question file itself leading out is refused in one line.
    (root / "pvqa/qas/test/test_qa.pkl").unlink()
    fx.link(root / "pvqa/qas/test/test_qa.pkl", outside / "secret.png")
    with pytest.raises(DataError, match=f"question file .*test_qa.pkl is {OUTSIDE}"):
        load("pathvqa", root, split="test")
    assert_untouched(touched, outside)


def test_pathvqa_parquet_paths_stay_inside(tmp_path, outside, touched):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = fx.pathvqa_parquet(tmp_path / "hf")
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({"image": pa.array([{"bytes": None, "path": "../../outside/secret.png"},
                                         {"bytes": None, "path": str(outside / "missing.png")}], type=image_type),
                      "question": ["Q?", "Q?"], "answer": ["yes", "no"]})
    pq.write_table(table, root / "data/test-00000-of-00001.parquet")
    fx.link(root / "data/test-00001-of-00002.parquet", outside / "secret.png")  # a table leading out
    test = load("pathvqa", root, split="test")
    assert len(test) == 0 and set(reasons(test).values()) == {
        f"image path '../../outside/secret.png' is {OUTSIDE}", f"image path '{outside / 'missing.png'}' is {OUTSIDE}",
        OUTSIDE}
    assert_untouched(touched, outside)


def test_crag_and_digestpath_never_read_outside_their_roots(tmp_path, outside, touched):
    crag = fx.crag(tmp_path / "crag")
    fx.link(crag / "train/Images/train_9.png", outside / "secret.png")
    fx.write_image(crag / "train/Images/train_8.png", *fx.CRAG_SIZE)
    fx.link(crag / "train/Annotation/train_8.png", outside / "secret.png")  # its label map leads out
    train = load("crag", crag, split="train", tile=64)
    assert reasons(train)["train_9"] == OUTSIDE and reasons(train)["train_8"] == OUTSIDE
    assert [p.path for p in train.report.skipped if p.record == "train_8"] == [str(crag / "train/Annotation/train_8.png")]
    digest = fx.digestpath(tmp_path / "digest")
    fx.link(digest / "tissue-train-neg/case9_z.jpg", outside / "secret.png")
    fx.link(digest / "tissue-train-neg/case8_y.jpg", outside / "missing.png")
    fx.link(digest / "linked-folder", outside)  # symlinked folders are not walked into
    train = load("digestpath", digest, split="train", tile=64, test_fraction=0.0)
    assert {r: why for r, why in reasons(train).items() if why == OUTSIDE} == {"case9_z": OUTSIDE, "case8_y": OUTSIDE}
    assert len(train) == 8  # the two good slices, four tiles each
    assert_untouched(touched, outside)


def test_inside_root_resolves_without_opening(tmp_path):
    from pathreason.plugins.datasets.readers.paths import inside_root

    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    fx.link(root / "in", root / "a")
    fx.link(root / "out", tmp_path)
    assert inside_root(root, root / "a/x.png") and inside_root(root, root / "in/x.png")
    assert inside_root(root, root / "a/../a/x.png")
    assert not inside_root(root, root / "../root2/x.png") and not inside_root(root, "/etc/passwd")
    assert inside_root(root, root / "out/root/a/x.png")  # through a link that leads back in: resolved, inside
    assert not inside_root(root, root / "out/x.png") and not inside_root(root, root / "a/x\x00.png")
    assert not inside_root(tmp_path / "roo", root / "a")  # a name prefix is not a parent


# -- decompression bombs (issue 17 item 12) --------------------------------------------------------


def test_a_bomb_is_one_skipped_record_in_every_loader(tmp_path):
    refused = "image refused: an image of 900,000,000 pixels is over the limit of"
    jpeg_refused = "image refused: an image of 3,600,000,000 pixels is over the limit of"
    root = fx.unitopatho(tmp_path / "unito")
    fx.bomb_png(root / "800/TA.HG/img_t1.png")
    test = load("unitopatho", root, split="test")
    assert len(test) == 1 and reasons(test)["test.csv:2"].startswith(refused)
    root = fx.esca(tmp_path / "esca")
    fx.bomb_jpeg(root / "VALSET4_CHA_FULL/TUMOR/t2.jpg")
    assert reasons(load("esca", root))["VALSET4_CHA_FULL/TUMOR/t2.jpg"].startswith(jpeg_refused)
    root = fx.pathmmu(tmp_path / "mmu")
    fx.bomb_png(root / "images/p1.jpg")
    assert reasons(load("pathmmu", root, split="train"))["PubMed-test-1"].startswith(refused)
    root = fx.pathvqa_pickles(tmp_path / "pvqa")
    fx.bomb_jpeg(root / "pvqa/images/train/train_0002.jpg")
    assert reasons(load("pathvqa", root))["000001"].startswith(jpeg_refused)
    root = fx.crag(tmp_path / "crag")
    fx.bomb_png(root / "train/Images/train_2.png")
    fx.write_image(root / "train/Images/train_4.png", *fx.CRAG_SIZE)
    fx.bomb_png(root / "train/Annotation/train_4.png")  # a label-map bomb
    train = reasons(load("crag", root, tile=64))
    assert train["train_2"].startswith(refused) and train["train_4"].startswith("unreadable label map: an image of")
    root = fx.digestpath(tmp_path / "digest")
    fx.bomb_jpeg(root / "tissue-train-neg/case4_d.jpg")
    fx.write_image(root / "tissue-train-pos-v1/case5_e.jpg", 128, 96)
    fx.bomb_png(root / "tissue-train-pos-v1/case5_e_mask.jpg")  # a mask bomb
    train = reasons(load("digestpath", root, tile=64, test_fraction=0.0))
    assert train["case4_d"].startswith(jpeg_refused) and train["case5_e"].startswith("unreadable mask: an image of")


def test_a_parquet_bomb_is_one_skipped_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = fx.pathvqa_parquet(tmp_path)
    bomb = fx.bomb_png(tmp_path / "bomb.png").read_bytes()
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({"image": pa.array([{"bytes": bomb, "path": "b.png"}, {"bytes": fx.encoded(fx.noise_image(8, 8)),
                                                                         "path": "ok.jpg"}], type=image_type),
                      "question": ["Q?", "Q?"], "answer": ["yes", "no"]})
    pq.write_table(table, root / "data/test-00000-of-00001.parquet")
    test = load("pathvqa", root, split="test")
    assert len(test) == 1 and "is over the limit" in reasons(test)["test-00000-of-00001-000000"]


# -- bad options, bad manifests (issue 17 items 7, 14, 15) -----------------------------------------


@pytest.mark.parametrize(("name", "make", "options", "message"), [
    ("crag", fx.crag, {"tile": 0}, r"^crag: dataset option 'tile' \(tile side in pixels, a whole number >= 28\): "
                                   r"Input should be greater than or equal to 28, got 0$"),
    ("crag", fx.crag, {"tile": 64, "overlap": 64}, r"^crag: dataset option 'overlap' .*overlap must be smaller than "
                                                   r"tile \(64\), got 64$"),
    ("digestpath", fx.digestpath, {"test_fraction": "abc"}, r"^digestpath: dataset option 'test_fraction' \(share of "
                                                            r"cases in the test split, 0 to 1\): Input should be a "
                                                            r"valid number.*, got 'abc'$"),
    ("digestpath", fx.digestpath, {"test_fraction": 1.5}, r"less than or equal to 1, got 1.5$"),
    ("digestpath", fx.digestpath, {"case_pattern": "("}, r"^digestpath: dataset option 'case_pattern' .*: not a valid "
                                                         r"regular expression: missing \), unterminated subpattern"),
    ("digestpath", fx.digestpath, {"tiles": 512}, r"^digestpath: unknown dataset option 'tiles'. Did you mean "
                                                  r"'tile'\? Its options: case_pattern, decode_images, min_area, "),
    ("unitopatho", fx.unitopatho, {"class_names": "labels"}, r"^unitopatho: dataset option 'class_names' .*Input "
                                                             r"should be 'names' or 'codes', got 'labels'$"),
    ("unitopatho", fx.unitopatho, {"resolution": "../800"}, r"must be a folder name directly under the root"),
    ("esca", fx.esca, {"train_centers": ["../VALSET1_UKK"]}, r"centres are folder names directly under the root"),
    ("esca", fx.esca, {"test_centres": ["VALSET1_UKK"]}, r"Did you mean 'test_centers'\?"),
    ("pathmmu", fx.pathmmu, {"subsets": ["PubMed", "Pubmed"]}, r"^pathmmu: dataset option 'subsets' .*Input should "
                                                               r"be 'PubMed', 'EduContent', 'Atlas', 'PathCLS' or "
                                                               r"'SocialPath', got 'Pubmed'$"),
    ("pathmmu", fx.pathmmu, {"protocol": "tiny"}, r"Input should be 'paper' or 'raw', got 'tiny'$"),
    ("pathvqa", fx.pathvqa_pickles, {"n": 0}, r"^pathvqa: dataset option 'n' .*greater than or equal to 1, got 0$"),
    ("pathvqa", fx.pathvqa_pickles, {"seed": 1}, r"^pathvqa: unknown dataset option 'seed'\. Its options: "
                                                 r"decode_images, n$"),
])
def test_bad_options_are_one_line_naming_dataset_and_option(tmp_path, name, make, options, message):
    root = make(tmp_path / name)
    with pytest.raises(DataError, match=message) as caught:
        load(name, root, **options)
    assert "\n" not in str(caught.value)
    with pytest.raises(DataError, match=message):  # check refuses it once, not as a problem per split
        check(name, root, **options)


def test_synthpath_options_are_validated_too():
    synthpath = pathreason.get_dataset("synthpath")
    with pytest.raises(DataError, match=r"^synthpath: unknown dataset option 'sed'\. Did you mean 'seed'\?"):
        synthpath(split="train", sed=1)
    with pytest.raises(DataError, match=r"^synthpath: dataset option 'tile' .*greater than or equal to 56, got 0$"):
        synthpath(split="train", tile=0)
    with pytest.raises(DataError, match=r"^synthpath: dataset option 'task' .*got 'segmentation'$"):
        synthpath(split="train", task="segmentation")
    assert [s.task for s in synthpath(split="train", n="2", task="vqa", seed="3")] == ["vqa", "vqa"]


@pytest.mark.parametrize(("name", "make", "options", "first"), [
    ("pathvqa", fx.pathvqa_parquet, {}, 1),
    ("pathmmu", fx.pathmmu, {}, 1),
    ("unitopatho", fx.unitopatho, {}, 1),
    ("esca", fx.esca, {}, 1),
    ("crag", fx.crag, {"tile": 64}, 3),
    ("digestpath", fx.digestpath, {"tile": 64, "test_fraction": 0.0}, 3),
])
def test_n_is_the_first_n_samples_of_the_split(tmp_path, name, make, options, first):
    root = make(tmp_path / name)
    split = "train"
    whole = load(name, root, split=split, **options)
    head = load(name, root, split=split, n=first, **options)
    assert [s.id for s in head] == [s.id for s in whole[:first]] and len(head) == first
    assert head.report.loaded == first


def test_a_nan_record_number_is_one_skipped_record(tmp_path):
    root = fx.pathmmu(tmp_path)
    data = json.loads((root / "data.json").read_text())
    data["PubMed"]["val"].insert(0, fx._mmu_record(float("nan"), "images/v.jpg"))
    data["Atlas"]["test_tiny"].append({**fx._mmu_record(14, "images/a1.jpg"), "No": float("inf")})
    (root / "data.json").write_text(json.dumps(data))  # Python writes NaN and Infinity, as the file had
    validation = load("pathmmu", root, split="validation")
    assert len(validation) == 4 and reasons(validation) == {
        "PubMed-val-#0": "malformed record: 'No' must be a whole number, got nan"}
    test = load("pathmmu", root, split="test")
    assert len(test) == 2 and reasons(test) == {"Atlas-test_tiny-#1": "malformed record: 'No' must be a whole "
                                                                         "number, got inf"}
    summary = check("pathmmu", root)
    assert summary.splits["validation"] == 4 and summary.splits["test"] == 2


def test_non_utf8_csv_and_deep_json_are_one_line_errors(tmp_path):
    root = fx.unitopatho(tmp_path / "unito")
    (root / "800/test.csv").write_bytes("image_id,top_label_name\nimg_\xe9.png,HP\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"test.csv is not UTF-8 text \(byte b'\\xe9' at offset 28\); save it as "
                                        r"UTF-8$"):
        load("unitopatho", root, split="test")
    (root / "800/test.csv").write_bytes(b"image_id,top_label_name\nimg\x00.png,HP\n")
    assert reasons(load("unitopatho", root, split="test")) == {
        "test.csv:2": "bad row: image_id 'img\\x00.png', top_label_name 'HP' (expected one of "
                      "['NORM', 'HP', 'TA.HG', 'TA.LG', 'TVA.HG', 'TVA.LG'])"}
    (root / "800/test.csv").write_text(f"image_id,top_label_name\n{'x' * 200_000}.png,HP\n")
    with pytest.raises(DataError, match=r"test.csv is not a readable CSV file: field larger than field limit"):
        load("unitopatho", root, split="test")
    (root / "800/test.csv").write_text("\ufeffimage_id,top_label_name\nimg_t1.png,TA.HG\n", encoding="utf-8")
    assert len(load("unitopatho", root, split="test")) == 1  # a byte-order mark (Excel) is fine
    mmu = fx.pathmmu(tmp_path / "mmu")
    (mmu / "data.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataError, match=r"data.json is nested too deeply to read"):
        load("pathmmu", mmu)


def test_hostile_pickles_are_refused_in_one_line(tmp_path):
    root = fx.pathvqa_pickles(tmp_path / "pvqa")
    marker = tmp_path / "pwned"
    table = root / "pvqa/qas/train/train_qa.pkl"
    table.write_bytes(fx.code_pickle(marker))
    with pytest.raises(DataError) as caught:
        load("pathvqa", root)
    assert str(caught.value) == (f"pathvqa: refused {table}: it asks for builtins.open, and loading a class can run "
                                 f"code; PathVQA pickles hold only lists, dicts and strings")
    assert not marker.exists()
    table.write_bytes(fx.nested_pickle())
    train = load("pathvqa", root)  # deep nesting in a record: one skipped record, a short message
    assert len(train) == 0 and reasons(train)["000000"].startswith("record 0 is not a dict with a string 'image': [[[")
    table.write_bytes(fx.nested_pickle()[:-1])
    with pytest.raises(DataError, match=r"^pathvqa: cannot read .*train_qa.pkl \(EOFError: Ran out of input\); "
                                        r"expected a pickled list of dicts$"):
        load("pathvqa", root)


# -- duplicate ids (issue 17 item 6) ---------------------------------------------------------------


def test_duplicate_ids_are_refused_naming_both_records(tmp_path):
    root = fx.pathmmu(tmp_path / "mmu")
    data = json.loads((root / "data.json").read_text())
    data["PubMed"]["val"].append(fx._mmu_record(100, "images/p1.jpg", "B) gland"))  # No 100 again
    (root / "data.json").write_text(json.dumps(data))
    validation = load("pathmmu", root, split="validation")
    assert len(validation) == 4 and len({s.id for s in validation}) == 4
    (problem,) = validation.report.skipped
    assert (problem.record, problem.path) == ("PubMed-val-100", str(root / "images/p1.jpg"))
    assert problem.reason == (f"duplicate sample id 'pathmmu-validation-PubMed-val-100': record PubMed-val-100 "
                              f"({root / 'images/v.jpg'}) has it already")
    summary = check("pathmmu", root)
    assert not summary.ok and any("duplicate sample id" in p for p in summary.problems)
    # The same parquet shard under data/ and beside it: every row of the copy is refused.
    hf = fx.pathvqa_parquet(tmp_path / "hf")
    shutil.copy(hf / "data/validation-00000-of-00001.parquet", hf / "validation-00000-of-00001.parquet")
    validation = load("pathvqa", hf, split="validation")
    assert len(validation) == 1 and "duplicate sample id" in validation.report.skipped[0].reason
    # Two slices of one name in two folders of DigestPath: the second's tiles are refused.
    digest = fx.digestpath(tmp_path / "digest")
    fx.noise_image(128, 96, 9).save(digest / "tissue-train-pos-v1/case2_b.jpg")
    train = load("digestpath", digest, split="train", tile=64, test_fraction=0.0)
    assert len(train) == 8 and reasons(train)["case2_b"].startswith("duplicate sample id 'digestpath-train-case2_b-x0-y0'")


def test_the_runtime_refuses_duplicate_ids_from_any_plugin(tmp_path, monkeypatch):
    from pathreason.api import DatasetSpec
    from pathreason.config import DatasetSection
    from pathreason.sources import SampleSource

    image = fx.write_image(tmp_path / "a.png")
    samples = [pathreason.Sample(id=f"s{i % 2}", image=str(image), task="vqa", question="Q?", answer="yes",
                                 meta={"question_type": "yes/no"}) for i in range(3)]
    spec = DatasetSpec(name="dups", factory=lambda split, **_: samples, tasks=("vqa",))
    monkeypatch.setattr("pathreason.sources.dataset_spec", lambda name: spec)
    source = SampleSource(DatasetSection(name="dups"), {"vqa": pathreason.get_task("vqa")})
    with pytest.raises(DataError, match=r"^dataset 'dups' split 'train' gives the sample id 's0' twice \(images "):
        source.samples("train")


# -- check decodes every image ---------------------------------------------------------------------


def test_check_decodes_every_image_and_reports_truncated_ones(tmp_path, capfd):
    root = fx.esca(tmp_path / "esca")
    fx.truncated_jpeg(root / "VALSET1_UKK/SH_OES/o2.jpg")
    test = load("esca", root, split="test")
    assert len(test) == 4  # the header is fine: loading does not see it
    summary = check("esca", root)
    cut = [p for p in summary.problems if "o2.jpg" in p]
    assert not summary.ok and len(cut) == 1
    assert cut[0] == (f"test: cannot decode {root / 'VALSET1_UKK/SH_OES/o2.jpg'} (sample esca-test-VALSET1_UKK-SH_OES-o2): "
                      f"OSError: image file is truncated (145 bytes not processed)")
    assert "esca test: decoding images" in capfd.readouterr().err  # the progress bar, on stderr
    crag = fx.crag(tmp_path / "crag")
    fx.truncated_jpeg(crag / "valid/Images/test_1.png", 50, 40)  # the tiles of one file: one problem
    summary = check("crag", crag, tile=28)
    (cut,) = [p for p in summary.problems if "cannot decode" in p]
    assert cut.startswith(f"test: cannot decode {crag / 'valid/Images/test_1.png'} (sample crag-test-test_1-x0-y0 and 3 more)")


def test_synthpath_options_follow_the_generator_signature():
    import inspect

    from pathreason.plugins.datasets.options import SynthpathOptions
    from pathreason.plugins.datasets.synthpath.generator import generate

    parameters = inspect.signature(generate).parameters
    # n_train is the loader's own (n for the train split only); every other option is generate's
    fields = {k: f for k, f in SynthpathOptions.model_fields.items() if k != "n_train"}
    assert set(fields) == set(parameters) - {"split"} and SynthpathOptions.model_fields["n_train"].default is None
    assert {k: f.default for k, f in fields.items()} == {k: p.default for k, p in parameters.items() if k != "split"}
