"""The embedded synthpath benchmark: determinism, splits, label conventions, and that each level's
detail shows only from its budget (a harder tile against its lookalike, both resized to each
budget; and a leak check with a linear classifier on colour statistics)."""

from __future__ import annotations

import hashlib
import os
from collections import Counter

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pathreason  # noqa: E402
from pathreason import ConfigError, DataError, Sample  # noqa: E402
from pathreason.api.budget import make_view, resize_to_budget  # noqa: E402
from pathreason.api.sample import dataset_to_samples, samples_to_dataset  # noqa: E402
from pathreason.plugins.datasets.readers.regions import connected_runs  # noqa: E402
from pathreason.plugins.datasets.synthpath.generator import (  # noqa: E402
    CLASS_NAMES,
    LEVEL_TOKENS,
    LEVELS,
    LOOKALIKES,
    SUBTYPES,
    generate,
    make_sample,
)
from pathreason.plugins.models.tiny import HE_MEAN, HE_STD  # noqa: E402

synthpath = pathreason.get_dataset("synthpath")


def digest(sample: Sample) -> str:
    return hashlib.sha1(sample.load_image().tobytes()).hexdigest()


def test_plugin_returns_samples_deterministically():
    samples = synthpath(split="train", n=9, seed=3)
    assert [s.task for s in samples] == ["subtyping", "vqa", "detection"] * 3
    assert all(isinstance(s, Sample) and s.size == (448, 448) for s in samples)
    again = synthpath(split="train", n=9, seed=3)
    assert [digest(s) for s in samples] == [digest(s) for s in again]
    assert [s.to_dict() | {"image": None} for s in samples] == [s.to_dict() | {"image": None} for s in again]
    other_seed = synthpath(split="train", n=9, seed=4)
    assert not {digest(s) for s in samples} & {digest(s) for s in other_seed}


def test_n_train_sizes_the_train_split_only():
    """A small labelled train split is evaluated on the usual test split (``n`` sizes every split)."""
    assert len(synthpath(split="train", task="vqa", n_train=5)) == 5
    assert len(synthpath(split="test", task="vqa", n_train=5)) == 144
    assert len(synthpath(split="validation", task="vqa", n=7, n_train=5)) == 7
    with pytest.raises(DataError, match="n_train"):
        synthpath(split="train", n_train=-1)


def test_prefix_mix_and_splits():
    mixed = generate("validation", n=12, seed=1)
    vqa = generate("val", n=4, seed=1, task="vqa")
    assert [s.id for s in mixed if s.task == "vqa"] == [s.id for s in vqa]
    assert [digest(s) for s in mixed if s.task == "vqa"] == [digest(s) for s in vqa]
    assert [s.id for s in generate("validation", n=2, seed=1, task="vqa")] == [s.id for s in vqa[:2]]
    train, test = generate("train", n=24, seed=0), generate("test", n=24, seed=0)
    assert not {digest(s) for s in train} & {digest(s) for s in test}
    assert not {s.id for s in train} & {s.id for s in test}
    assert len(generate("test", seed=0, task="detection")) == 144


@pytest.mark.parametrize("task", ["subtyping", "vqa", "detection"])
def test_levels_cycle_with_the_index_and_the_test_split_is_balanced(task):
    samples = generate("test", n=48, seed=0, task=task)  # the default test split has 144
    assert [s.meta["difficulty"] for s in samples[:6]] == ["coarse", "medium", "fine"] * 2
    assert Counter(s.meta["difficulty"] for s in samples) == {"coarse": 16, "medium": 16, "fine": 16}
    assert all(s.meta["level_tokens"] == LEVEL_TOKENS[s.meta["difficulty"]] for s in samples)
    assert LEVEL_TOKENS == {"coarse": 16, "medium": 64, "fine": 256} and tuple(LEVEL_TOKENS) == LEVELS
    assert all(s.meta["split"] == "test" and s.meta["organ"] == "colon" for s in samples)


def test_subtyping_labels():
    samples = generate("train", n=12, seed=0, task="subtyping")
    assert all(s.options == list(CLASS_NAMES) for s in samples)
    assert [s.answer for s in samples[:6]] == list(CLASS_NAMES)
    assert Counter(s.answer for s in samples) == dict.fromkeys(CLASS_NAMES, 2)
    by_level = {lv: {s.answer for s in samples if s.meta["difficulty"] == lv} for lv in LEVELS}
    assert by_level["coarse"] == {"glandular adenoma", "low-grade dysplasia"}
    assert by_level["medium"] == {"adenoma with moderate dysplasia", "moderate dysplasia"}
    assert by_level["fine"] == {"adenoma with high-grade dysplasia", "high-grade dysplasia"}
    assert set(LOOKALIKES) == by_level["medium"] | by_level["fine"]
    assert set(LOOKALIKES.values()) == by_level["coarse"]
    layout = {s.name: s.layout for s in SUBTYPES}
    assert all(layout[hard] == layout[easy] for hard, easy in LOOKALIKES.items())  # a twin shares the layout


def test_vqa_conventions():
    samples = generate("train", n=72, seed=0, task="vqa")
    kinds = Counter(s.meta["question_type"] for s in samples)
    assert set(kinds) == {"yes/no", "multiple choice", "open"}
    for s in samples:
        assert s.question.endswith("?")
        if s.meta["question_type"] == "multiple choice":
            assert len(s.options) >= 2 and s.answer in "ABCD"[: len(s.options)]
        elif s.meta["question_type"] == "yes/no":
            assert s.options == [] and s.answer in ("yes", "no")
        else:
            assert s.options == [] and len(s.answer.split()) >= 2
    counts = [s for s in samples if s.meta["category"] == "gland count"]
    assert counts and all(s.options == ["one", "four"] for s in counts)
    # The chromatin questions are asked at every level and their answer names the level's texture, as a
    # subtyping class does: the coarse level's (none) is the answer a look below any harder level's
    # budget reads, so it is wrong there for every medium and fine question.
    families = {lv: {s.meta["category"] for s in samples if s.meta["difficulty"] == lv} for lv in LEVELS}
    chromatin = {"chromatin clumping", "chromatin speckle", "dysplasia grade", "chromatin distribution"}
    assert families["coarse"] == {"gland presence", "tissue pattern", "tissue type", "gland count"} | chromatin
    assert families["medium"] == {"chromatin clumping", "dysplasia grade", "chromatin distribution"}
    assert families["fine"] == {"chromatin speckle", "dysplasia grade", "chromatin distribution"}
    answers = {}  # (family, level) -> the answers given
    for s in samples:
        if s.meta["category"] in chromatin:
            answers.setdefault((s.meta["category"], s.meta["difficulty"]), set()).add(
                s.options[ord(s.answer) - ord("A")] if s.options else s.answer)
    assert answers == {
        ("chromatin clumping", "coarse"): {"no"}, ("chromatin clumping", "medium"): {"yes"},
        ("chromatin speckle", "coarse"): {"no"}, ("chromatin speckle", "fine"): {"yes"},
        ("dysplasia grade", "coarse"): {"low-grade dysplasia"}, ("dysplasia grade", "medium"): {"moderate dysplasia"},
        ("dysplasia grade", "fine"): {"high-grade dysplasia"},
        ("chromatin distribution", "coarse"): {"smooth and even"},
        ("chromatin distribution", "medium"): {"coarse and clumped"},
        ("chromatin distribution", "fine"): {"finely speckled"}}, answers


def test_vqa_untextured_level_is_the_earlier_data():
    """``vqa_untextured="level"``: each level asks its own questions, half of the medium and fine ones
    about a tile without texture (answered "no"). The default draws the same random stream: a medium or
    fine tile drawn textured there is the same image, the untextured ones now carry the level's texture,
    and the option is checked with a one-line error."""
    from pathreason.plugins.datasets.synthpath import load

    earlier = load("test", n=144, task="vqa", vqa_untextured="level")
    families = {lv: {s.meta["category"] for s in earlier if s.meta["difficulty"] == lv} for lv in LEVELS}
    assert families["coarse"] == {"gland presence", "tissue pattern", "tissue type", "gland count"}
    assert families["medium"] == {"chromatin clumping", "dysplasia severity", "chromatin distribution"}
    assert families["fine"] == {"chromatin speckle", "dysplasia grade", "chromatin texture"}
    for lv in ("medium", "fine"):
        yes_no = [s.answer for s in earlier if s.meta["difficulty"] == lv and s.meta["question_type"] == "yes/no"]
        assert 0.25 <= yes_no.count("yes") / len(yes_no) <= 0.75, yes_no
    default = generate("test", n=144, task="vqa")
    same = textured = 0
    for a, b in zip(earlier, default):
        if a.meta["difficulty"] == "coarse" or a.meta["category"] != b.meta["category"]:
            continue
        drawn_textured = a.answer == "yes"
        textured += drawn_textured
        same += drawn_textured and digest(a) == digest(b)
        assert b.answer == "yes" or b.meta["question_type"] != "yes/no"
    assert textured >= 8 and same == textured, (same, textured)
    with pytest.raises(DataError, match="vqa_untextured"):
        load("test", n=3, vqa_untextured="never")
    with pytest.raises(ConfigError, match="vqa_untextured"):
        make_sample("test", "vqa", 1, vqa_untextured="never")



def test_vqa_option_order_fixed_gives_each_family_one_order():
    """Fixed (the default): a family's options come in one order; shuffled: in several, and the
    answer letter still names the right option (the same question, answer text and image)."""
    shuffled = generate("test", n=144, seed=0, task="vqa", vqa_option_order="shuffled")
    fixed = generate("test", n=144, seed=0, task="vqa")

    def orders(samples, family):
        return {tuple(s.options) for s in samples if s.meta["category"] == family}

    for family in ("tissue pattern", "dysplasia grade"):
        assert len(orders(shuffled, family)) > 1, family
        assert len(orders(fixed, family)) == 1, family
    for a, b in zip(shuffled, fixed):
        assert (a.id, a.question, a.meta["category"]) == (b.id, b.question, b.meta["category"])
        if a.options:  # the option each letter names is the same answer
            assert a.options["ABCD".index(a.answer)] == b.options["ABCD".index(b.answer)], a.id
    # Before a family's first multiple-choice draw the random stream is shared: the first tile is the same.
    assert np.array_equal(np.asarray(shuffled[0].image), np.asarray(fixed[0].image))


def test_vqa_coarse_texture_off_draws_coarse_tiles_without_chromatin_texture():
    """Measured on pixels: with the texture, some coarse VQA tiles differ from their texture-free
    lookalike; without it (the default) none does, and the medium and fine tiles are untouched."""
    def differs(index, **options):
        a = make_sample("test", "vqa", index, **options)
        b = make_sample("test", "vqa", index, lookalike=True, **options)
        return not np.array_equal(np.asarray(a.image), np.asarray(b.image))

    coarse = [i for i in range(0, 72) if i % 3 == 0]
    assert sum(differs(i, vqa_coarse_texture=True) for i in coarse) >= 3
    assert not any(differs(i) for i in coarse)
    for i in (1, 2, 4, 5):  # medium and fine
        a = make_sample("test", "vqa", i, vqa_coarse_texture=True)
        b = make_sample("test", "vqa", i)
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image)) and a.answer == b.answer
    with pytest.raises(ConfigError, match="vqa_option_order"):
        make_sample("test", "vqa", 0, vqa_option_order="sorted")


def test_detection_boxes():
    """One gland per tile (or none), 2-3 cells of its level's token grid wide on each axis, its
    box on that grid (a tissue gland's ring nuclei may stick out by a pixel or two)."""
    samples = generate("train", n=48, seed=2, task="detection")
    grid = {"coarse": 112, "medium": 56, "fine": 28}
    for s in samples:
        assert s.meta["category"] == "gland" and len(s.boxes) == s.meta["objects"]
        assert all(0 <= b[0] < b[2] <= 448 and 0 <= b[1] < b[3] <= 448 for b in s.boxes)
        cell = grid[s.meta["difficulty"]]
        if s.meta["object_size"] == "none":
            assert s.meta["difficulty"] == "coarse" and s.boxes == []
            continue
        ((x0, y0, x1, y1),) = s.boxes
        for low, high in ((x0, x1), (y0, y1)):
            assert round((high - low) / cell) in (2, 3)
            assert abs(low - cell * round(low / cell)) <= 2 and abs(high - cell * round(high / cell)) <= 2
        assert s.meta["object_size"] == {"coarse": "large", "medium": "medium", "fine": "small"}[s.meta["difficulty"]]
    assert Counter(s.meta["object_size"] for s in samples if s.meta["difficulty"] == "coarse") == {"large": 12, "none": 4}


def test_default_sizes_per_task_and_the_default_mix_is_their_union(monkeypatch):
    import pathreason.plugins.datasets.synthpath.generator as B

    assert B.default_size("train", "detection") == 2048 and B.default_size("train", "vqa") == 512
    assert B.default_size("test", "detection") == 144 and B.default_size("val", "subtyping") == 144
    kinds = [s.meta["object_size"] for s in generate("train", n=12, seed=0, task="detection")]
    assert kinds == ["large", "medium", "small"] * 2 + ["none", "medium", "small", "large", "medium", "small"]
    monkeypatch.setitem(B.DEFAULT_SIZES, "train", 2)
    monkeypatch.setitem(B.TRAIN_SIZES, "detection", 4)
    mixed = generate("train", seed=0)
    assert [s.task for s in mixed] == ["subtyping", "vqa", "detection"] * 2 + ["detection"] * 2
    per_task = [s.id for t in B.TASKS for s in generate("train", seed=0, task=t)]
    assert len(per_task) == 8 and sorted(s.id for s in mixed) == sorted(per_task)


def test_gland_boxes_are_exact(monkeypatch):
    """With black stroma, red glands and blue nuclei, a box is exactly the bounding box of its
    gland's ink (pixels painted at alpha >= 0.5)."""
    from pathreason.plugins.datasets.synthpath import tissue

    monkeypatch.setattr(tissue, "STROMA", np.zeros(3, np.float32))
    monkeypatch.setattr(tissue, "CLEFT", 0.0)
    monkeypatch.setattr(tissue, "EPITHELIUM", np.array([1, 0, 0], np.float32))
    monkeypatch.setattr(tissue, "LUMEN", np.array([1, 0, 0], np.float32))
    monkeypatch.setattr(tissue, "NUCLEUS", np.array([0, 0, 1], np.float32))
    glands = [tissue.Gland(120, 140, 60, 45, 16), tissue.Gland(330, 320, 8, 6, 7)]
    transposed = []
    for seed in range(4):  # render transposes about half of its images
        image, boxes = tissue.render(tissue.Scene("stroma", glands), 448, np.random.default_rng(seed))
        ink = connected_runs(np.asarray(image).max(axis=2) >= 128)  # spindle nuclei never touch a gland
        found = {tuple(box) for ident, box in ink.boxes().items() if ink.areas()[ident] > 100}
        assert {tuple(int(v) for v in box) for box in boxes} <= found
        transposed.append(boxes[0][0] != 44)
    assert any(transposed) and not all(transposed)


@pytest.mark.parametrize("clump_texture", ["band", "checkerboard+band"])
def test_band_medium_gland_box_is_its_ellipse(clump_texture):
    """A medium gland drawn with band-limited noise (alone, or over a checkerboard at half its amplitude)
    is boxed by its ellipse; its texture spreads at most 8 pixels beyond it, and over 80 % of what it
    changes lies inside the box."""
    from pathreason.plugins.datasets.synthpath import tissue

    gland = tissue.Gland(224, 144, 56, 40, 0, grain=tissue.CLUMP_GRAIN)  # ellipse x 168-280, y 104-184
    for seed in range(3):
        scene = tissue.Scene("stroma", [gland], gland_texture=clump_texture)
        image, (box,) = tissue.render(scene, 448, np.random.default_rng(seed))
        plain, _ = tissue.render(tissue.Scene("stroma", []), 448, np.random.default_rng(seed))
        change = np.abs(np.asarray(image, np.float32) - np.asarray(plain, np.float32)).sum(axis=2)
        ellipse = (168, 104, 280, 184) if box[2] - box[0] > box[3] - box[1] else (104, 168, 184, 280)  # transposed
        assert all(abs(v - e) <= 1 for v, e in zip(box, ellipse)), (box, ellipse)
        (y0, x0), (y1, x1) = np.argwhere(change > 0).min(0), np.argwhere(change > 0).max(0) + 1
        assert ellipse[0] - 8 <= x0 and ellipse[1] - 8 <= y0 and x1 <= ellipse[2] + 8 and y1 <= ellipse[3] + 8
        bx0, by0, bx1, by1 = (int(v) for v in box)
        assert change[by0:by1, bx0:bx1].sum() > 0.8 * change.sum()


@pytest.mark.parametrize("grain", [1, 2])
def test_textured_gland_box_is_its_blocks(grain):
    """A textured gland changes only the pixels of its blocks: the box of what it changes is its
    box, give or take the partly covered blocks at its border (one block, 2 x grain pixels)."""
    from pathreason.plugins.datasets.synthpath import tissue

    gland = tissue.Gland(224, 144, 56, 40, 0, grain=grain)  # its ellipse spans x 168-280, y 104-184
    for seed in range(3):
        image, (box,) = tissue.render(tissue.Scene("stroma", [gland]), 448, np.random.default_rng(seed))
        plain, boxes = tissue.render(tissue.Scene("stroma", []), 448, np.random.default_rng(seed))
        changed = np.argwhere((np.asarray(image) != np.asarray(plain)).any(axis=2))
        (y0, x0), (y1, x1) = changed.min(0), changed.max(0) + 1
        side = 2 * grain
        assert boxes == [] and all(v % side == 0 for v in box)
        assert x0 <= box[0] <= x0 + side and y0 <= box[1] <= y0 + side
        assert x1 - side <= box[2] <= x1 and y1 - side <= box[3] <= y1
        ellipse = (168, 104, 280, 184) if box[2] - box[0] > box[3] - box[1] else (104, 168, 184, 280)  # transposed
        assert all(abs(v - e) <= side for v, e in zip(box, ellipse)), (box, ellipse)


def test_tile_size_and_real_background():
    small = generate("train", n=3, seed=0, tile=224)
    assert all(s.size == (224, 224) for s in small)
    plain, real = generate("train", n=6, seed=5), generate("train", n=6, seed=5, real_background=True)
    assert [s.answer for s in plain] == [s.answer for s in real]
    assert all(digest(a) != digest(b) for a, b in zip(plain, real))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match=r"split must be one of \['train', 'validation', 'test'\]"):
        generate("dev")
    with pytest.raises(ConfigError, match="task must be one of"):
        generate("train", task="segmentation")
    with pytest.raises(ConfigError, match="tile must be"):
        generate("train", tile=10)


def test_round_trip_through_datasets():
    samples = generate("train", n=6, seed=0)
    back = dataset_to_samples(samples_to_dataset(samples))
    assert [s.to_dict() | {"image": None} for s in back] == [s.to_dict() | {"image": None} for s in samples]
    assert [digest(s) for s in back] == [digest(s) for s in samples]


def test_colour_statistics_match_the_tiny_processor():
    pixels = np.concatenate(
        [np.asarray(s.load_image(), np.float64).reshape(-1, 3) / 255 for s in generate("train", n=60, seed=7)]
    )
    assert np.allclose(pixels.mean(0), HE_MEAN, atol=0.03)
    assert np.allclose(pixels.std(0), HE_STD, atol=0.03)


def difference(sample_index: int, task: str, budget: int, clump_texture: str = "checkerboard") -> float:
    """Mean absolute difference (grey levels) between a sample and its lookalike (the same random
    stream, without its level's texture), both resized to ``budget``; for detection, inside the
    gland's box in the resized frame. ``clump_texture`` is the chromatin's and the glands' texture."""
    textures = {"clump_texture": clump_texture, "gland_texture": clump_texture}
    sample = make_sample("test", task, sample_index, **textures)
    images = [s.load_image() for s in (sample, make_sample("test", task, sample_index, lookalike=True, **textures))]
    a, b = (np.asarray(resize_to_budget(image, budget), np.float32) for image in images)
    diff = np.abs(a - b)
    if task == "detection":
        x0, y0, x1, y1 = (int(round(v)) for v in make_view(images[0].size, budget).to_model(sample.boxes)[0])
        diff = diff[y0:y1, x0:x1]
    return float(diff.mean())


@pytest.mark.parametrize("clump_texture", ["checkerboard", "band", "checkerboard+band"])
@pytest.mark.parametrize("task", ["subtyping", "vqa", "detection"])
def test_each_level_shows_from_its_budget_and_not_below(task, clump_texture):
    """The resize-and-compare check: a medium or fine tile and its lookalike, resized to each budget,
    differ by ~0 (under half a grey level: rounding) below the level's budget and clearly (over
    1.5 grey levels, and eight times the value below) at its budget and at every grid above it
    (9 x 9 ... 14 x 14 tokens too: there the checkerboard's energy is present, though aliased).
    Measured on the first tiles of the test split whose texture is drawn (a VQA tile answered "no"
    has none), with each medium texture."""
    below = {"medium": 16, "fine": 64}
    grids = (64, 81, 100, 121, 144, 196, 256)  # 8 x 8 ... 16 x 16 tokens
    checked = Counter()
    for index in range(60):
        level = LEVELS[index % 3]
        if level == "coarse" or difference(index, task, 256, clump_texture) == 0.0:
            continue
        hidden = difference(index, task, below[level], clump_texture)
        for budget in (b for b in grids if b >= LEVEL_TOKENS[level]):
            shown = difference(index, task, budget, clump_texture)
            assert shown > 1.5 and shown > 8 * hidden, (task, index, level, budget, shown, hidden)
        assert hidden < 0.5, (task, index, level, hidden)
        checked[level] += 1
        if min(checked["medium"], checked["fine"]) >= 4:
            break
    assert min(checked["medium"], checked["fine"]) >= 4, checked


def colour_features(image, budget):
    pixels = np.asarray(resize_to_budget(image, budget), np.float32).reshape(-1, 3) / 255
    percentiles = np.percentile(pixels, [1, 5, 25, 50, 75, 95, 99], axis=0).ravel()
    return np.concatenate([pixels.mean(0), pixels.std(0), percentiles])


def test_labels_need_the_resolution_they_claim():
    """A medium or fine class against the coarse twin it looks like, from colour statistics: near
    chance below its level's budget (fine: up to 128 tokens), separable at it. Coarse classes:
    separable at 16 already (a leak would show as a harder class > chance too early)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    samples = generate("train", n=240, seed=11, task="subtyping")
    labels = np.array([s.answer for s in samples])
    level = {s.answer: s.meta["difficulty"] for s in samples}
    coarse = np.array([s.meta["difficulty"] == "coarse" for s in samples])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    features = {b: np.stack([colour_features(s.load_image(), b) for s in samples]) for b in (4, 16, 64, 128, 256)}

    def accuracy(budget, subset):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return cross_val_score(model, features[budget][subset], labels[subset], cv=folds, scoring="balanced_accuracy").mean()

    for hard, twin in LOOKALIKES.items():
        twins = np.isin(labels, [hard, twin])
        hidden = (4, 16) if level[hard] == "medium" else (4, 16, 64, 128)
        for budget in hidden:
            assert accuracy(budget, twins) < 0.7, (hard, budget)
        assert accuracy(LEVEL_TOKENS[level[hard]], twins) > 0.95, hard
    assert accuracy(16, coarse) > 0.95


def test_subtyping_normal_adds_a_coarse_normal_class_and_keeps_the_levels():
    from pathreason.plugins.datasets.synthpath.generator import (
        CLASS_NAMES,
        NORMAL,
        NORMAL_CLASS_NAMES,
        generate,
    )

    plain = generate("test", n=18, task="subtyping")
    normal = generate("test", n=18, task="subtyping", subtyping_normal=True)
    assert [s.meta["difficulty"] for s in normal] == [s.meta["difficulty"] for s in plain]   # levels still cycle
    assert all(s.options == list(NORMAL_CLASS_NAMES) for s in normal) and plain[0].options == list(CLASS_NAMES)
    coarse = [s.answer for s in normal if s.meta["difficulty"] == "coarse"]
    assert coarse == [CLASS_NAMES[0], CLASS_NAMES[3], NORMAL.name] * 2
    # medium and fine samples are the same tiles as without the option
    for a, b in zip(plain, normal):
        if a.meta["difficulty"] != "coarse":
            assert a.answer == b.answer and np.array_equal(np.asarray(a.load_image()), np.asarray(b.load_image()))
    # a normal tile is what a synthetic slide's stroma is: no glands, its layout "stroma"
    tile = next(s for s in normal if s.answer == NORMAL.name)
    assert tile.meta["layout"] == "stroma" and tile.meta["level_tokens"] == 16


def grid_shifted_differences(index: int, offset: int, clump_texture: str) -> dict[int, float]:
    """:func:`difference` at 16, 64 and 128 tokens of subtyping tile ``index`` and its lookalike,
    both cropped by ``offset`` pixels (to 440 x 440: the resize then samples the texture at another
    phase)."""
    samples = (make_sample("test", "subtyping", index, clump_texture=clump_texture),
               make_sample("test", "subtyping", index, lookalike=True, clump_texture=clump_texture))
    images = [s.load_image().crop((offset, offset, offset + 440, offset + 440)) for s in samples]
    diff = {}
    for budget in (16, 64, 128):
        a, b = (np.asarray(resize_to_budget(image, budget), np.float32) for image in images)
        diff[budget] = float(np.abs(a - b).mean())
    return diff


MEDIUM_TEST_TILES = [i for i in range(12) if LEVELS[i % 3] == "medium"]


@pytest.mark.parametrize("clump_texture", ["band", "checkerboard+band"])
@pytest.mark.parametrize("offset", [1, 2, 3])
def test_the_band_texture_does_not_depend_on_where_the_pixel_grid_falls(offset, clump_texture):
    """With the band-limited texture (alone or over the checkerboard) the clumps hide at 16 tokens and
    show from 64 whatever the phase of the image's pixel grid: a medium tile and its lookalike
    cropped by ``offset`` pixels keep the resize-and-compare margins, and the texture's strength at
    64 tokens stays within a quarter of the whole tile's."""
    for index in MEDIUM_TEST_TILES:
        whole = difference(index, "subtyping", 64, clump_texture)
        diff = grid_shifted_differences(index, offset, clump_texture)
        assert diff[16] < 0.5 and min(diff[64], diff[128]) > max(1.5, 8 * diff[16]), (index, offset, diff)
        assert abs(diff[64] - whole) < 0.25 * whole, (index, offset, diff, whole)


def test_the_checkerboard_depends_on_where_the_pixel_grid_falls():
    """The default 2-pixel checkerboard shows fully at 64 tokens only when its cells line up with
    the reduction (the whole 448-pixel tile): cropped by a pixel, a medium tile loses over a quarter
    of its texture at 64 tokens and shows more of it at 16 (what the ``band`` texture is for)."""
    for index in MEDIUM_TEST_TILES:
        aligned = {budget: difference(index, "subtyping", budget) for budget in (16, 64)}
        shifted = grid_shifted_differences(index, 1, "checkerboard")
        assert shifted[64] < 0.75 * aligned[64] and shifted[16] > aligned[16], (index, aligned, shifted)


@pytest.mark.parametrize("clump_texture", ["checkerboard", "band"])
def test_clump_texture_option_changes_only_the_medium_level(clump_texture):
    """Another ``clump_texture`` than the default ``checkerboard+band`` redraws medium tiles only
    (coarse and fine ones are the same pixels), reaches the generator through the dataset's options,
    and a wrong value is a one-line error."""
    from pathreason.plugins.datasets.synthpath import load

    default, other = (generate("test", n=9, task="subtyping", clump_texture=t) for t in ("checkerboard+band", clump_texture))
    for a, b in zip(default, other):
        assert a.answer == b.answer
        assert (digest(a) != digest(b)) == (a.meta["difficulty"] == "medium"), a.meta
    assert [digest(s) for s in load("test", n=9, task="subtyping", clump_texture=clump_texture)] == [digest(s) for s in other]
    assert [digest(s) for s in generate("test", n=9, task="subtyping")] == [
        digest(s) for s in generate("test", n=9, task="subtyping", clump_texture="checkerboard+band")]  # the default
    with pytest.raises(DataError, match="clump_texture"):
        load("test", n=3, clump_texture="blobs")
    with pytest.raises(ConfigError, match="clump_texture"):
        make_sample("test", "vqa", 0, clump_texture="blobs")


@pytest.mark.parametrize("texture", ["band", "checkerboard+band"])
def test_the_chromatin_and_the_glands_take_their_textures_separately(texture):
    """``gland_texture`` redraws medium detection tiles only; ``clump_texture`` leaves detection
    tiles alone and ``gland_texture`` subtyping and VQA tiles; both reach the generator through the
    dataset's options, and a wrong value is a one-line error naming the option."""
    from pathreason.plugins.datasets.synthpath import load

    default = generate("test", n=9, task="detection")
    glands = generate("test", n=9, task="detection", gland_texture=texture)
    for a, b in zip(default, glands):
        assert (digest(a) != digest(b)) == (a.meta["difficulty"] == "medium"), a.meta
    for clump in ("checkerboard", "band"):  # the chromatin's default is checkerboard+band
        assert [digest(s) for s in generate("test", n=9, task="detection", clump_texture=clump)] == [
            digest(s) for s in default]
    for task in ("subtyping", "vqa"):
        assert [digest(s) for s in generate("test", n=9, task=task, gland_texture=texture)] == [
            digest(s) for s in generate("test", n=9, task=task)]
    assert [digest(s) for s in load("test", n=9, task="detection", gland_texture=texture)] == [digest(s) for s in glands]
    with pytest.raises(DataError, match="gland_texture"):
        load("test", n=3, gland_texture="blobs")
    with pytest.raises(ConfigError, match="gland_texture"):
        make_sample("test", "detection", 1, gland_texture="blobs")


def test_vqa_gland_count_one_or_four_redraws_only_the_count_tiles():
    """``vqa_gland_count="one-or-four"`` (the default): the gland-count question offers one and four
    where ``"one-to-four"`` offers one to four, from the same random stream; every other VQA sample is
    the same pixel for pixel; the option reaches the generator through the dataset's options and a
    wrong value is a one-line error."""
    from pathreason.plugins.datasets.synthpath import load

    default = load("test", n=144, task="vqa", vqa_gland_count="one-to-four")
    binary = generate("test", n=144, task="vqa")
    counts = 0
    for a, b in zip(default, binary):
        if a.meta["category"] != "gland count":
            assert digest(a) == digest(b) and a.answer == b.answer
            continue
        counts += 1
        assert a.options == ["one", "two", "three", "four"] and b.options == ["one", "four"]
        assert b.answer in ("A", "B")
        # 1-2 glands in the default stream become one, 3-4 become four
        assert b.answer == ("A" if a.answer in ("A", "B") else "B"), (a.answer, b.answer)
    assert counts == 6
    answers = Counter(s.answer for s in generate("train", n=600, task="vqa", vqa_gland_count="one-or-four")
                      if s.meta["category"] == "gland count")
    assert set(answers) == {"A", "B"} and 0.35 <= answers["A"] / sum(answers.values()) <= 0.65, answers
    with pytest.raises(DataError, match="vqa_gland_count"):
        load("test", n=3, vqa_gland_count="many")
    with pytest.raises(ConfigError, match="vqa_gland_count"):
        make_sample("test", "vqa", 9, vqa_gland_count="many")


def test_the_gland_count_shows_at_16_tokens():
    """Resize and compare: at 16 tokens (112 pixels) every quadrant of a default gland-count tile
    either holds a lumen (a fifth or more of its pixels pale in every channel) or none (under a
    twentieth), and the quadrants holding one are the answer's count."""
    samples = [s for s in generate("test", n=576, task="vqa") if s.meta["category"] == "gland count"]
    assert len(samples) == 24
    for s in samples:
        small = np.asarray(resize_to_budget(s.load_image(), 16))
        assert small.shape[:2] == (112, 112)
        pale = small.min(axis=2) > 215
        shares = [pale[r:r + 56, c:c + 56].mean() for r in (0, 56) for c in (0, 56)]
        assert all(v >= 0.2 or v < 0.05 for v in shares), (s.id, shares)
        glands = sum(v >= 0.2 for v in shares)
        assert s.options[ord(s.answer) - ord("A")] == {1: "one", 4: "four"}[glands], (s.id, shares)
