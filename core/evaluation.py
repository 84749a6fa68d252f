"""Running the task performer over samples under a budgeter, and summarising what it did.

One path for every budgeter and for ``evaluate`` and ``predict`` alike: the budgeter is bound to the
run (a :class:`~pathreason.api.Budgeter` answers from the sample, a
:class:`~pathreason.api.TwoStageBudgeter` runs its own models through the run's
:class:`~pathreason.api.BudgetContext`), images are decoded a batch at a time (an unreadable one is
reported and skipped), the budgeter decides and the performer answers, and each answer is parsed and
scored by its task (the task score ``s`` of Eq. 10). :func:`summarize` gives the paper's metrics
(§4.1) per task, TPI (the mean visual tokens per image fed to the performer's final pass), the
budgeter's own tokens per image (the allocator's look, escalation's earlier passes) and their sum,
and the wall time per image, broken down by ``meta["difficulty"]`` when samples carry one.

Wall time: samples are batched within their (task, difficulty) group, so that every batch holds one
kind of image, and each image is charged its batch's wall time (the budgeter's decision and every
performer pass) divided by the batch's size. Binding the budgeter (loading an allocator, calibrating a
threshold) is a one-off cost and is not charged to images.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import (
    BoundBudgeter,
    BudgetContext,
    Budgeter,
    Decision,
    Performer,
    PluginError,
    Sample,
    Task,
    TwoStageBudgeter,
    is_well_formed,
    make_view,
)
from pathreason.console import Phase, console_enabled
from pathreason.metrics import tpi
from pathreason.report import Section, Table, write_page
from pathreason.sources import chunks, decode

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

__all__ = ["EvalReport", "PerSample", "Record", "Timer", "bind", "predict_records", "summarize", "write_predictions"]


@dataclass
class Record:
    """One prediction: what was asked, what the model wrote, what it meant, what it scored and cost."""

    id: str
    task: str
    prompt: str
    completion: str
    parsed: Any
    score: float
    tokens: int
    """Visual tokens of the performer's final pass (what TPI counts)."""
    budget: int | None
    difficulty: str | None = None
    overhead_tokens: int = 0
    """Visual tokens the budgeter spent besides the final pass (the allocator's look, earlier passes)."""
    passes: int = 1
    fallback: bool = False
    seconds: float = 0.0
    """Wall time charged to this image: its batch's time over the batch's size (module docstring)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.tokens + self.overhead_tokens

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "task": self.task, "prompt": self.prompt, "completion": self.completion,
               "parsed": self.parsed, "score": self.score, "tokens": self.tokens, "budget": self.budget,
               "difficulty": self.difficulty, "overhead_tokens": self.overhead_tokens,
               "total_tokens": self.total_tokens, "passes": self.passes, "fallback": self.fallback,
               "seconds": self.seconds}
        out.update(self.extra)
        return out


@dataclass
class EvalReport:
    """Metrics per task (and per difficulty), TPI and timing for one budgeter on one split."""

    budgeter: str
    split: str
    phase: str
    tasks: dict[str, dict[str, Any]]
    seconds_per_image: float
    n: int
    #: The predictions behind the report (not serialised: ``predictions.jsonl`` holds them).
    records: list[Record] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"budgeter": self.budgeter, "split": self.split, "phase": self.phase, "n": self.n,
                "seconds_per_image": self.seconds_per_image, "tasks": self.tasks}

    def metric(self, task: str, name: str) -> float:
        return float(self.tasks[task]["metrics"][name])

    def sections(self) -> list[Section]:
        """The report as page sections (:mod:`pathreason.report`): per task, its metrics, TPI, the
        budgeter's own tokens and the total, for all images and each difficulty."""
        out = []
        for task, entry in self.tasks.items():
            names = list(entry["metrics"])
            rows = [[level, block["n"], *(block["metrics"].get(m) for m in names), block.get("format_rate"),
                     block["tpi"], block.get("overhead_tpi", 0.0), block.get("total_tpi", block["tpi"])]
                    for level, block in [("all", entry), *entry.get("by_difficulty", {}).items()]]
            table = Table(["images", "n", *names, "format rate", "TPI", "budgeter tokens", "total tokens"], rows)
            notes = [f"budgets {entry['budgets']}, fallbacks {entry.get('fallbacks', 0)}, passes per image "
                     f"{entry.get('passes', 1.0):.2f}"] if entry.get("overhead_tpi") or entry.get("fallbacks") else []
            out.append(Section(task, table=table, notes=notes))
        return out

    def write_page(self, path: Path) -> Path:
        """``index.html``: the report on one self-contained page."""
        return write_page(path, f"pathreason eval: {self.budgeter}", self.sections(),
                          f"performer {self.phase} | split {self.split} | {self.n} images | "
                          f"{self.seconds_per_image:.3f} s per image")

    def table(self) -> str:
        lines = [f"phase {self.phase} | budgeter {self.budgeter} | split {self.split} | {self.n} images"]
        for task, entry in self.tasks.items():
            metrics = entry["metrics"]
            cols = [f"{k} {_fmt(v)}" for k, v in metrics.items()]
            lines.append(f"  {task:<10} " + "  ".join(cols) + _tpi_text(entry))
            for diff, sub in entry.get("by_difficulty", {}).items():
                cols = [f"{k} {_fmt(v)}" for k, v in sub["metrics"].items()]
                lines.append(f"    {diff:<8} " + "  ".join(cols) + _tpi_text(sub) + f"  (n={sub['n']})")
            if entry.get("overhead_tpi") or entry.get("fallbacks"):
                lines.append(f"    budgets {entry['budgets']}  fallbacks {entry['fallbacks']}  "
                             f"passes per image {entry['passes']:.2f}")
        return "\n".join(lines)


def _tpi_text(block: Mapping[str, Any]) -> str:
    text = f"  TPI {block['tpi']:.1f}"
    if block.get("overhead_tpi"):
        text += f" (+ budgeter {block['overhead_tpi']:.1f} = {block['total_tpi']:.1f})"
    return text


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class PerSample:
    """A :class:`~pathreason.api.Budgeter` bound to a performer: one pass at the sample's budget."""

    def __init__(self, budgeter: Budgeter, performer: Performer) -> None:
        self.budgeter = budgeter
        self.performer = performer

    def decide(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Decision]:
        answers = self.performer.answer(samples, images, [self.budgeter.tokens(s) for s in samples])
        return [Decision(answer=a) for a in answers]


def bind(budgeter: Any, name: str, context: BudgetContext, phase: str | None) -> BoundBudgeter:
    """The budgeter called ``name`` bound to a run (see the module docstring)."""
    if isinstance(budgeter, TwoStageBudgeter):
        return budgeter.bind(context, phase)
    if isinstance(budgeter, Budgeter):
        return PerSample(budgeter, context.performer(phase))
    raise PluginError(f"budgeter {name!r} ({type(budgeter).__name__}) has neither tokens(sample) nor "
                      "bind(context, phase); see pathreason.api.Budgeter and TwoStageBudgeter")


def predict_records(bound: BoundBudgeter, tasks: Mapping[str, Task], samples: Sequence[Sample],
                    box_frame: str = "absolute", patch: int = 28, batch_size: int = 16,
                    progress: bool = True, description: str = "evaluating") -> list[Record]:
    """Decide and answer ``samples`` a batch at a time, each batch within one (task, difficulty) group,
    and score each answer with its task; the records come back in the order of ``samples``. With
    ``progress``, one console line shows the images done, the ETA and the mean score so far."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, sample in enumerate(samples):
        groups.setdefault((sample.task, str(sample.meta.get("difficulty"))), []).append(i)
    records: dict[int, Record] = {}
    with Phase(description, total=len(samples), enabled=progress and console_enabled(), unit="images") as bar:
        _answer_groups(bound, tasks, samples, groups, records, box_frame, patch, batch_size, bar)
    return [records[i] for i in sorted(records)]


def _answer_groups(bound: BoundBudgeter, tasks: Mapping[str, Task], samples: Sequence[Sample],
                   groups: Mapping[tuple[str, str], list[int]], records: dict[int, Record], box_frame: str,
                   patch: int, batch_size: int, bar: Phase) -> None:
    for members in groups.values():
        for chunk in chunks(members, batch_size):
            start = time.perf_counter()
            kept, images = decode([samples[i] for i in chunk])
            decisions = bound.decide(kept, images) if kept else []
            if len(decisions) != len(kept):
                raise PluginError(f"the budgeter returned {len(decisions)} decisions for {len(kept)} images")
            batch = [_record(tasks[sample.task], sample, image, decision, box_frame, patch)
                     for sample, image, decision in zip(kept, images, decisions)]
            seconds = (time.perf_counter() - start) / max(1, len(batch))
            position = {id(samples[i]): i for i in chunk}
            for sample, record in zip(kept, batch):
                record.seconds = seconds
                records[position[id(sample)]] = record
            bar.advance(len(chunk), note=f"mean score {statistics.fmean(r.score for r in records.values()):.2f}"
                        if records else None)


def _record(task: Task, sample: Sample, image: Image.Image, decision: Decision, box_frame: str, patch: int) -> Record:
    answer = decision.answer
    view = make_view(image.size, answer.budget, box_frame, patch)
    parsed = task.parse(answer.text, view)
    return Record(id=sample.id, task=task.name, prompt=task.messages(sample)[-1]["content"][-1]["text"],
                  completion=answer.text, parsed=parsed, score=float(task.score(parsed, sample)), tokens=answer.tokens,
                  budget=answer.budget, difficulty=sample.meta.get("difficulty"),
                  overhead_tokens=int(decision.overhead_tokens), passes=int(decision.passes),
                  fallback=bool(decision.fallback), extra=dict(decision.info))


def summarize(records: Sequence[Record], samples: Sequence[Sample], tasks: Mapping[str, Task]) -> dict[str, Any]:
    """Per task: paper metrics, TPI, overhead and total tokens per image, mean score, format rate,
    budget distribution, and the same per difficulty, in the order the samples first show them (a
    dataset's own order, e.g. synthpath's coarse, medium, fine)."""
    by_id = {s.id: s for s in samples}
    out: dict[str, Any] = {}
    for name, task in tasks.items():
        recs = [r for r in records if r.task == name]
        if not recs:
            continue
        out[name] = _block(task, recs, by_id)
        present = {r.difficulty for r in recs if r.difficulty}
        order = [s.meta.get("difficulty") for s in samples if s.task == name]
        diffs = [d for d in dict.fromkeys(order) if d in present] + sorted(present - set(order))
        if diffs:
            out[name]["by_difficulty"] = {d: _block(task, [r for r in recs if r.difficulty == d], by_id)
                                          for d in diffs}
    return out


def _block(task: Task, recs: Sequence[Record], by_id: Mapping[str, Sample]) -> dict[str, Any]:
    metrics = task.metrics([by_id[r.id] for r in recs], [r.parsed for r in recs])
    budgets = Counter("uncapped" if r.budget is None else str(r.budget) for r in recs)
    performer_tpi = float(tpi([r.tokens for r in recs]))
    overhead = float(tpi([r.overhead_tokens for r in recs]))
    return {
        "n": len(recs),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "mean_score": math.fsum(r.score for r in recs) / len(recs),
        "format_rate": sum(is_well_formed(r.completion) for r in recs) / len(recs),
        "tpi": performer_tpi,
        "overhead_tpi": overhead,
        "total_tpi": performer_tpi + overhead,
        "passes": sum(r.passes for r in recs) / len(recs),
        "seconds_per_image": math.fsum(r.seconds for r in recs) / len(recs),
        "fallbacks": sum(r.fallback for r in recs),
        "mean_budget": sum(r.tokens if r.budget is None else r.budget for r in recs) / len(recs),
        "budgets": dict(sorted(budgets.items(), key=lambda kv: (len(kv[0]), kv[0]))),
    }


def write_predictions(records: Sequence[Record], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for r in records:
            fh.write(json.dumps(r.as_dict(), default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return str(value)


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start
