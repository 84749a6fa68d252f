"""One slide, end to end: read, find tissue, budget the tiles, answer them, make the slide's result.

:func:`run_slide` is what :meth:`pathreason.Engine.predict_slide` calls:

1. open the slide (:class:`~pathreason.slides.reader.SlideFile`), detect tissue on its thumbnail
   (:mod:`pathreason.slides.tissue`) and lay the tile grid over it (or over ``region``)
   (:mod:`pathreason.slides.tiles`); each tissue tile becomes a :class:`~pathreason.api.Sample` whose
   image is a :class:`~pathreason.slides.reader.TileRef`, read only when it is answered;
2. plan, share the slide budget and answer (:mod:`pathreason.slides.budgeting`), tiles streamed by a
   reader thread (:mod:`pathreason.slides.streaming`), each batch through
   :func:`pathreason.evaluation.predict_records`, the one evaluation path of the runtime;
3. turn the tile answers into the slide's result (:mod:`pathreason.slides.aggregate`) and score it
   against the ground truth when there is one (:mod:`pathreason.slides.truth`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import (
    BudgetContext,
    Budgeter,
    BudgetError,
    ConfigError,
    DataError,
    PathreasonError,
    Sample,
    SlideBudgeter,
    SlideTile,
    Task,
    TwoStageBudgeter,
    make_view,
    native_tokens,
    resize_for_view,
)
from pathreason.evaluation import Record, bind, predict_records
from pathreason.manager import get_plugin_manager
from pathreason.slides.aggregate import match_class, merge_boxes, slide_label, to_level0
from pathreason.slides.budgeting import AnsweringContext, PlanningContext, check_assignment
from pathreason.slides.reader import SlideFile, TileRef
from pathreason.slides.report import SlideReport, TileRow
from pathreason.slides.streaming import TileStream
from pathreason.slides.survey import UNKNOWN, LookAlikes, floor_rank, reread_order
from pathreason.slides.tiles import GridTile, Region, tile_grid
from pathreason.slides.tissue import tissue_mask
from pathreason.slides.truth import SlideTruth

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.config import SlideSection

logger = logging.getLogger(__name__)

__all__ = ["SlideJob", "get_slide_budgeter", "run_slide"]


def get_slide_budgeter(name: str) -> SlideBudgeter:
    """A slide budgeter from ``"name"`` or ``"name:argument"`` (an error lists the installed ones)."""
    base, _, arg = name.partition(":")
    budgeter = get_plugin_manager().lookup("slide_budgeter", base).create(arg or None)
    if not isinstance(budgeter, SlideBudgeter):
        raise ConfigError(f"slide budgeter {name!r} ({type(budgeter).__name__}) has no assign(tiles, budget, minimum)")
    return budgeter


@dataclass
class SlideJob:
    """What to do with one slide (everything :func:`run_slide` needs besides the run)."""

    path: Path
    task_name: str
    task: Task
    result: str
    budgeter_name: str
    budgeter: Any
    context: BudgetContext
    phase: str
    section: SlideSection
    slide_budget: int | None = None
    region: Region | None = None
    options: Sequence[str] = ()
    question: str = ""
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    truth: SlideTruth | None = None
    box_frame: str = "absolute"
    patch: int = 28
    batch_size: int = 16
    progress: bool = True


@dataclass
class _Tile:
    grid: GridTile
    sample: Sample
    row: TileRow
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


def _check(job: SlideJob) -> None:
    if job.slide_budget is not None and (isinstance(job.slide_budget, bool) or not isinstance(job.slide_budget, int)
                                         or job.slide_budget < 1):
        raise BudgetError(f"slide budget must be a positive number of visual tokens, got {job.slide_budget!r}")
    if job.result == "answer" and job.region is None:
        raise DataError(f"{job.path}: task {job.task_name!r} answers about a region: give --region x,y,w,h "
                        "(level-0 pixels)")
    if job.section.survey is not None and (job.result != "label" or job.section.rule != "most_severe"):
        raise ConfigError(f"slide.survey reads tiles again until the most severe class is settled: it needs a task "
                          f"whose slide result is a label and slide.rule most_severe (task {job.task_name!r} makes "
                          f"{job.result!r}, rule {job.section.rule!r})")
    if job.result == "label":
        if not job.options:
            raise ConfigError(f"task {job.task_name!r} labels the slide: give the classes (--options a,b,c)")
        if job.section.rule == "most_severe":
            if not job.section.severity:
                raise ConfigError("slide.rule most_severe needs slide.severity: the classes from least to most severe")
            unknown = [c for c in job.section.severity if c not in job.options]
            if unknown:
                raise ConfigError(f"slide.severity names {unknown}, which are not among the classes {list(job.options)}")


def _tiles(job: SlideJob, slide: SlideFile, report: SlideReport) -> list[_Tile]:
    section = job.section
    d = slide.downsample(section.mpp)
    mask = tissue_mask(report.thumbnail, slide.dimensions, section.min_saturation)  # type: ignore[arg-type]
    report.tissue_mask = mask.mask
    if job.result == "answer":
        assert job.region is not None
        region = job.region
        pixels = slide.size_at(region.width, region.height, section.mpp)
        shrink = min(1.0, section.region_max_side / max(pixels))
        pixels = (max(1, round(pixels[0] * shrink)), max(1, round(pixels[1] * shrink)))
        rect = (region.x, region.y, region.x + region.width, region.y + region.height)
        grids = [GridTile(0, 0, 0, region.x, region.y, region.width, region.height,
                          mask.fraction(region.x, region.y, region.width, region.height), rect)]
        report.tiles_in_grid = 1
    else:
        area = job.region or Region(0, 0, *slide.dimensions)
        tile0, stride0 = max(1, round(section.tile * d)), max(1, round((section.tile - section.overlap) * d))
        pixels = (section.tile, section.tile)
        grids = tile_grid(area, tile0, stride0, mask, section.min_tissue)
        cols = 1 if area.width <= tile0 else -(-(area.width - tile0) // stride0) + 1
        rows = 1 if area.height <= tile0 else -(-(area.height - tile0) // stride0) + 1
        report.tiles_in_grid = cols * rows
        if not grids:
            raise DataError(f"{job.path}: no tissue found (saturation threshold {mask.threshold:.3f}, tissue on "
                            f"{mask.coverage:.1%} of the thumbnail, no tile with slide.min_tissue "
                            f"{section.min_tissue} of it); lower --slide.min_tissue or check the slide")
    tiles = []
    stem = job.path.name.split(".")[0]
    for grid in grids:
        answer, boxes = "", []
        if job.truth is not None:
            if job.result == "label":
                label = job.truth.label_at(grid.x + grid.width / 2, grid.y + grid.height / 2)
                answer = label if label is not None and label in job.options else ""
            elif job.result == "boxes":
                sx, sy = pixels[0] / grid.width, pixels[1] / grid.height
                boxes = [[(b[0] - grid.x) * sx, (b[1] - grid.y) * sy, (b[2] - grid.x) * sx, (b[3] - grid.y) * sy]
                         for b in job.truth.boxes_inside(grid.rect)]
            elif job.truth.answer is not None:
                answer = job.truth.answer
        sample = Sample(id=f"{stem}-tile{grid.index:05d}", task=job.task_name, question=job.question,
                        options=list(job.options), answer=answer, boxes=boxes,
                        image=TileRef(path=str(job.path), region=grid.rect, pixels=pixels,
                                      mpp_level0=section.mpp_level0),
                        meta={**job.meta, "slide": str(job.path), "tile": grid.index, "x": grid.x, "y": grid.y})
        row = TileRow(grid.index, grid.x, grid.y, grid.width, grid.height, grid.tissue)
        tiles.append(_Tile(grid, sample, row))
    return tiles


def _lose(tile: _Tile, error: str | None, report: SlideReport) -> None:
    tile.row.status, tile.row.error, tile.row.budget = "lost", error or "", 0
    report.warnings.append(f"tile {tile.grid.index} at ({tile.grid.x}, {tile.grid.y}) could not be read: {error}")


def _plan(job: SlideJob, tiles: list[_Tile], report: SlideReport) -> PlanningContext:
    """Each tile's request and the budgeter's look at it (see :mod:`pathreason.slides.budgeting`)."""
    planning = PlanningContext(job.context, job.box_frame)
    if isinstance(job.budgeter, Budgeter) and not isinstance(job.budgeter, TwoStageBudgeter):
        for tile in tiles:
            width, height = tile.sample.size
            requested = job.budgeter.tokens(tile.sample)
            tile.row.requested = native_tokens(height, width, job.patch) if requested is None else int(requested)
        return planning
    from tqdm.auto import tqdm

    bound = bind(job.budgeter, job.budgeter_name, planning, job.phase)
    stream = TileStream(tiles, lambda t: t.sample.load_image(), job.batch_size, job.section.prefetch)
    bar = tqdm(total=len(tiles), desc=f"{job.path.name}: {job.budgeter_name} looks", unit="tile",
               disable=not job.progress)
    for batch in stream:
        for read in batch:
            if read.error is not None:
                _lose(read.job, read.error, report)
        good = [r for r in batch if r.error is None]
        decisions = bound.decide([r.job.sample for r in good], [r.value for r in good]) if good else []
        for read, decision in zip(good, decisions):
            image: Image.Image = read.value
            budget = decision.answer.budget
            read.job.row.requested = native_tokens(image.height, image.width, job.patch) if budget is None else int(budget)
            read.job.row.overhead_tokens = int(decision.overhead_tokens)
        bar.update(len(batch))
    bar.close()
    report.read_seconds += stream.read_seconds
    report.read_wait_seconds += stream.wait_seconds
    return planning


def _share(job: SlideJob, tiles: list[_Tile], report: SlideReport) -> None:
    """Set every planned tile's budget: its request, or the slide budgeter's share of ``B``."""
    planned = [t for t in tiles if t.row.status != "lost"]
    overhead = sum(t.row.overhead_tokens for t in tiles)
    requests = [int(t.row.requested or 0) for t in planned]
    if job.slide_budget is None or sum(requests) + overhead <= job.slide_budget:
        budgets = requests
    else:
        available = max(0, job.slide_budget - overhead)
        if overhead >= job.slide_budget:
            report.warnings.append(f"the budgeter's own looks cost {overhead} visual tokens, the whole slide budget "
                                   f"{job.slide_budget}: every tile is skipped")
        elif available < len(planned) * job.section.min_tokens:
            report.warnings.append(
                f"slide budget {job.slide_budget} leaves {available} tokens after the budgeter's looks: at most "
                f"{available // job.section.min_tokens} of the {len(planned)} tissue tiles can get the minimum "
                f"{job.section.min_tokens} tokens; the others are skipped")
        slide_tiles = [SlideTile(index=t.grid.index, x=t.grid.x, y=t.grid.y, width=t.grid.width, height=t.grid.height,
                                 tissue=t.grid.tissue, requested=r, overhead_tokens=t.row.overhead_tokens)
                       for t, r in zip(planned, requests)]
        budgets = check_assignment(job.section.budgeter, get_slide_budgeter(job.section.budgeter), slide_tiles,
                                   available, job.section.min_tokens)
    for tile, budget in zip(planned, budgets):
        tile.row.budget = budget
        tile.row.status = "planned" if budget > 0 else "skipped"


def _load_at_budget(job: SlideJob, tile: _Tile) -> tuple[Sample, tuple[float, float]]:
    """The tile read and resized to its budget, as a sample with its pixels (boxes scaled alike),
    and the level-0 pixels per pixel of that image."""
    image = tile.sample.load_image()
    view = make_view(image.size, tile.row.budget, job.box_frame, job.patch)
    small = resize_for_view(image, view)
    fx, fy = small.width / image.width, small.height / image.height
    boxes = [[b[0] * fx, b[1] * fy, b[2] * fx, b[3] * fy] for b in tile.sample.boxes]
    sample = dataclasses.replace(tile.sample, image=small, boxes=boxes)
    return sample, (tile.grid.width / small.width, tile.grid.height / small.height)


def _answer(job: SlideJob, todo: list[_Tile], planning: PlanningContext, report: SlideReport, spent: int,
            desc: str = "") -> dict[int, tuple[Record, tuple[float, float]]]:
    """Answer ``todo`` at each tile's ``row.budget``; a tile's tokens add up over passes."""
    from tqdm.auto import tqdm

    budgets = {t.sample.id: t.row.budget for t in todo}
    bound = bind(job.budgeter, job.budgeter_name, AnsweringContext(job.context, budgets, planning.allocations), job.phase)
    stream = TileStream(todo, lambda t: _load_at_budget(job, t), job.batch_size, job.section.prefetch)
    bar = tqdm(total=len(todo), desc=job.path.name + desc, unit="tile", disable=not job.progress)
    out: dict[int, tuple[Record, tuple[float, float]]] = {}
    for batch in stream:
        for read in batch:
            if read.error is not None:
                _lose(read.job, read.error, report)
        good = [r for r in batch if r.error is None]
        records = predict_records(bound, {job.task_name: job.task}, [r.value[0] for r in good], job.box_frame,
                                  job.patch, job.batch_size, progress=False) if good else []
        by_id = {r.id: r for r in records}
        for read in good:
            tile, record = read.job, by_id.get(read.job.sample.id)
            if record is None:
                _lose(tile, "the performer returned no answer", report)
                continue
            tile.row.status = "answered"
            tile.row.tokens += record.tokens
            tile.row.overhead_tokens = max(tile.row.overhead_tokens, record.overhead_tokens)
            tile.row.score = record.score if job.truth is not None else None
            out[tile.grid.index] = (record, read.value[1])
            spent += record.tokens
        bar.update(len(batch))
        bar.set_postfix(tokens=spent, refresh=False)
    bar.close()
    report.read_seconds += stream.read_seconds
    report.read_wait_seconds += stream.wait_seconds
    return out


def _classifier(job: SlideJob) -> Callable[[Record], str | None]:
    """A tile answer's class: the first of the slide's classes the task scores it right for."""
    of = _class_of(job)
    return lambda record: of(record.parsed)


def _class_of(job: SlideJob) -> Callable[[Any], str | None]:
    """A parsed answer's class among the slide's classes (``None``: it matches none)."""
    probes = {c: Sample(id=f"class-{i}", image=str(job.path), task=job.task_name, options=list(job.options), answer=c)
              for i, c in enumerate(job.options)}
    return lambda parsed: match_class(parsed, list(job.options), lambda a, c: job.task.score(a, probes[c]) >= 1.0)


def _near(a: GridTile, b: GridTile) -> bool:
    """Neighbouring tiles of the grid (diagonals included)."""
    return abs(a.col - b.col) <= 1 and abs(a.row - b.row) <= 1


def _rank(rank: Mapping[str, int], label: str | None, unknown: int = -1) -> int:
    """A class's place in ``slide.severity`` (``unknown`` for no class or one not ranked)."""
    return rank.get(label, unknown) if label is not None else unknown


def _look_alikes(job: SlideJob) -> LookAlikes:
    """Which classes each survey class hides, learnt on ``slide.survey_split`` and kept with the run
    (:mod:`pathreason.slides.survey`); not learnt (a note says why) when there is nothing to learn on."""
    split, tokens = job.section.survey_split, int(job.section.survey or 0)
    if split is None:
        return LookAlikes()
    key = re.sub(r"[^a-z0-9_.-]", "_", f"slide-survey-{job.phase}-{job.task_name}-{tokens}".lower())
    settings = {"split": split, "options": list(job.options)}
    state = job.context.load_state(key)
    if state is not None and state.get("settings") == settings:
        return LookAlikes(counts=state["counts"], samples=int(state["samples"]), split=split,
                          skipped=int(state.get("skipped", 0)), seconds=float(state.get("seconds", 0.0)))
    try:
        samples = [s for s in job.context.samples(split) if s.task == job.task_name and s.answer in job.options]
    except PathreasonError as exc:
        return LookAlikes(notes=[f"slide.survey_split {split!r}: {exc}; every class may hide any other"])
    if not samples:
        return LookAlikes(notes=[f"slide.survey_split {split!r} has no {job.task_name} sample of the slide's classes "
                                 "to learn look-alikes from; every class may hide any other"])
    performer, of = job.context.performer(job.phase), _class_of(job)
    start = time.perf_counter()
    counts: dict[str, dict[str, int]] = {}
    skipped = 0
    for begin in range(0, len(samples), job.batch_size):
        kept, images = [], []
        for sample in samples[begin:begin + job.batch_size]:
            try:
                images.append(sample.load_image())
            except Exception:  # an unreadable validation image is counted, not fatal
                skipped += 1
                continue
            kept.append(sample)
        if not kept:
            continue
        answers = performer.answer(kept, images, [tokens] * len(kept))
        for sample, image, answer in zip(kept, images, answers):
            seen = of(job.task.parse(answer.text, make_view(image.size, tokens, job.box_frame, job.patch)))
            row = counts.setdefault(seen or UNKNOWN, {})
            row[str(sample.answer)] = row.get(str(sample.answer), 0) + 1
    seconds = time.perf_counter() - start
    if skipped == len(samples):
        return LookAlikes(notes=[f"slide.survey_split {split!r}: none of its {len(samples)} {job.task_name} images "
                                 "could be read; every class may hide any other"])
    job.context.save_state(key, {"settings": settings, "counts": counts, "samples": len(samples) - skipped,
                                 "skipped": skipped, "seconds": seconds})
    if skipped:
        logger.warning("slide.survey: %d %s sample(s) could not be read and were left out of the look-alikes",
                       skipped, split)
    return LookAlikes(counts=counts, samples=len(samples) - skipped, split=split, skipped=skipped, seconds=seconds)


def _survey(job: SlideJob, tiles: list[_Tile], planning: PlanningContext,
            report: SlideReport) -> dict[int, tuple[Record, tuple[float, float]]] | None:
    """``slide.survey``: every tile at the survey budget, then tiles read again at their request until
    the slide's label is settled or the slide budget is spent (``None``: the survey does not fit).
    What is read again, and in which order: :mod:`pathreason.slides.survey`.
    """
    section = job.section
    severity = list(section.severity)
    planned = [t for t in tiles if t.row.status != "lost"]
    overhead = sum(t.row.overhead_tokens for t in tiles)
    def survey_budget(tile: _Tile) -> int:
        return min(int(section.survey or 0), int(tile.row.requested or 0))

    for tile in planned:
        tile.row.budget = survey_budget(tile)
    if job.slide_budget is not None and overhead + sum(t.row.budget for t in planned) > job.slide_budget:
        report.warnings.append(f"slide.survey {section.survey} on {len(planned)} tiles does not fit the slide budget "
                               f"{job.slide_budget} after the budgeter's looks ({overhead}): one pass, shared")
        return None
    look = _look_alikes(job)
    report.warnings.extend(look.notes)
    answers = _answer(job, planned, planning, report, overhead, ": survey")
    classify = _classifier(job)
    rank = {c: i for i, c in enumerate(severity)}
    labels = {i: classify(record) for i, (record, _) in answers.items()}
    seen = dict(labels)
    by_index = {t.grid.index: t for t in planned}
    pending = {t.grid.index for t in planned if t.grid.index in answers and int(t.row.requested or 0) > t.row.budget}
    exact = set(answers) - pending  # read at their request already: the survey was their full read
    full: dict[int, str | None] = {}
    first: set[int] = set()
    unread: set[int] = set()  # left out: the slide budget had no room for their second read
    taken: dict[str | None, int] = {}
    rounds, settled = 0, False
    spent = overhead + sum(t.row.tokens for t in planned)
    while True:
        known = [label for i, label in labels.items() if i in full or i in exact or look.certain(label)]
        floor = floor_rank(known, rank, section.min_tiles)
        chances = {s: look.chance(s, floor, rank) if floor < len(rank) - 1 else 0.0
                   for s in {seen[i] for i in pending | unread}}
        order = reread_order([(i, seen[i], by_index[i].grid.tissue) for i in sorted(pending)], chances, rank, first,
                             look.learnt, taken)
        pending = set(order)
        if not order:  # settled unless a tile left out for the budget could still change the label
            settled = not any(chances[seen[i]] > 0 for i in unread)
            break
        batch: list[_Tile] = []
        for index in order:
            if len(batch) == section.survey_batch:
                break
            tile = by_index[index]
            pending.discard(index)
            if job.slide_budget is not None and spent + int(tile.row.requested or 0) > job.slide_budget:
                unread.add(index)
                continue
            tile.row.budget = int(tile.row.requested or 0)
            spent += tile.row.budget
            taken[seen[index]] = taken.get(seen[index], 0) + 1
            batch.append(tile)
        if not batch:
            continue
        got = _answer(job, batch, planning, report, spent, f": reading again ({rounds + 1})")
        rounds += 1
        for tile in batch:
            index = tile.grid.index
            if index not in got:  # lost on the second read: it keeps its survey answer
                tile.row.status, tile.row.budget = "answered", survey_budget(tile)
                report.warnings.append(f"tile {tile.grid.index} keeps its survey answer")
                continue
            answers[index] = got[index]
            label = classify(got[index][0])
            if _rank(rank, label) > _rank(rank, labels[index]):
                first.update(i for i in pending if _near(by_index[i].grid, tile.grid))  # lesions come in foci
            labels[index] = full[index] = label
        spent = overhead + sum(t.row.tokens for t in planned)
    could = {i for i in pending | unread if chances.get(seen[i], 1.0) > 0}
    report.survey = {"tokens": section.survey, "reread": len(full), "rounds": rounds, "settled": settled,
                     "not_reread_for_budget": len(could & unread), "not_reread": len(could),
                     "look_alikes": look.as_dict()}
    return answers


def _result(job: SlideJob, tiles: list[_Tile], answers: Mapping[int, tuple[Record, tuple[float, float]]],
            report: SlideReport) -> None:
    by_index = {t.grid.index: t for t in tiles}
    if job.result == "label":
        labels = []
        classify = _classifier(job)
        for index, (record, _) in sorted(answers.items()):
            label = classify(record)
            by_index[index].row.answer = label if label is not None else f"(no class) {record.parsed}"
            labels.append(label)
        report.label_counts = {c: labels.count(c) for c in job.options if labels.count(c)}
        report.label = slide_label(labels, list(job.options), job.section.rule, job.section.severity,
                                   job.section.min_tiles)
        if job.truth is not None and job.truth.label is not None:
            report.truth["label"] = job.truth.label
            report.metrics["correct"] = float(report.label == job.truth.label)
    elif job.result == "boxes":
        tile_boxes, cores = {}, {}
        for index, (record, scale) in answers.items():
            grid = by_index[index].grid
            boxes = to_level0(record.parsed or [], (grid.x, grid.y), scale)
            tile_boxes[index], cores[index] = boxes, grid.core
            by_index[index].row.answer = json.dumps([[round(v, 1) for v in b] for b in boxes])
        report.boxes = merge_boxes(tile_boxes, cores, job.section.nms_iou)
        if job.truth is not None and job.truth.boxes:
            report.truth["boxes"] = len(job.truth.boxes)
            truth = Sample(id=job.path.name, image=str(job.path), task=job.task_name, boxes=job.truth.boxes,
                           meta=dict(job.meta))
            report.metrics.update({k: float(v) for k, v in job.task.metrics([truth], [[list(b.box) for b in report.boxes]]).items()})
    else:
        for index, (record, _) in answers.items():
            report.answer = None if record.parsed is None else str(record.parsed)
            by_index[index].row.answer = report.answer or ""
            if job.truth is not None and job.truth.answer is not None:
                report.truth["answer"] = job.truth.answer
                report.metrics["score"] = record.score


def run_slide(job: SlideJob) -> SlideReport:
    """Read, budget and answer one slide (see the module docstring)."""
    start = time.perf_counter()
    _check(job)
    section = job.section
    with SlideFile(job.path, section.mpp_level0) as slide:
        if job.region is not None:
            job.region.check_inside(slide.dimensions, str(job.path))
        report = SlideReport(slide=str(job.path), task=job.task_name, result=job.result, budgeter=job.budgeter_name,
                             slide_budgeter=section.budgeter, slide_budget=job.slide_budget, phase=job.phase,
                             dimensions=slide.dimensions, mpp_level0=slide.mpp_level0, mpp=section.mpp,
                             tile=section.tile, overlap=section.overlap,
                             classification=str(job.meta.get("category") or "object"))
        report.thumbnail = slide.thumbnail(section.thumbnail)
        tiles = _tiles(job, slide, report)
    report.tiles = [t.row for t in tiles]
    planning = _plan(job, tiles, report)
    answers = _survey(job, tiles, planning, report) if section.survey is not None else None
    if answers is None:
        _share(job, tiles, report)
        answers = _answer(job, [t for t in tiles if t.row.status == "planned"], planning, report,
                          sum(t.row.overhead_tokens for t in tiles))
    _result(job, tiles, answers, report)
    report.wall_seconds = time.perf_counter() - start
    for warning in report.warnings[:20]:
        logger.warning("%s: %s", job.path.name, warning)
    if len(report.warnings) > 20:
        logger.warning("%s: %d more warnings in slide.json", job.path.name, len(report.warnings) - 20)
    return report
