"""Running the task performer over samples and summarising what it did.

One batched generation per chunk of samples (greedy), answers parsed by the task, scored per sample
(the task score ``s`` of Eq. 10) and summarised with the paper's metrics (§4.1) plus TPI, the mean
number of visual tokens per image fed to the performer. When samples carry ``meta["difficulty"]``
the metrics, TPI and budgets are broken down by it.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.tasks.base import Task, View, make_view, resize_for_view

if TYPE_CHECKING:
    from pathreason.sample import Sample

logger = logging.getLogger(__name__)


@dataclass
class Record:
    """One prediction: what was asked, what the model wrote, what it meant, what it scored."""

    id: str
    task: str
    prompt: str
    completion: str
    parsed: Any
    score: float
    tokens: int
    budget: int | None
    difficulty: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "task": self.task, "prompt": self.prompt, "completion": self.completion,
               "parsed": self.parsed, "score": self.score, "tokens": self.tokens, "budget": self.budget,
               "difficulty": self.difficulty}
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

    def table(self) -> str:
        lines = [f"phase {self.phase} | budgeter {self.budgeter} | split {self.split} | {self.n} images"]
        for task, entry in self.tasks.items():
            metrics = entry["metrics"]
            cols = [f"{k} {_fmt(v)}" for k, v in metrics.items()]
            lines.append(f"  {task:<10} " + "  ".join(cols) + _tpi_text(entry))
            for diff, sub in entry.get("by_difficulty", {}).items():
                cols = [f"{k} {_fmt(v)}" for k, v in sub["metrics"].items()]
                lines.append(f"    {diff:<8} " + "  ".join(cols) + _tpi_text(sub) + f"  (n={sub['n']})")
            if "allocator_tpi" in entry:
                lines.append(f"    allocated budgets {entry['budgets']}  fallbacks to the training budget: "
                             f"{entry['fallbacks']}")
        return "\n".join(lines)


def _tpi_text(block: dict[str, Any]) -> str:
    text = f"  TPI {block['tpi']:.1f}"
    if "allocator_tpi" in block:
        text += f" (+ allocator {block['allocator_tpi']:.1f} = {block['total_tpi']:.1f})"
    return text


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def predict_records(
    generate_fn: Callable[[list[list[dict[str, Any]]], list[Any]], list[Any]],
    tasks: dict[str, Task],
    samples: Sequence[Sample],
    budgets: Sequence[int | None],
    box_frame: str = "absolute",
    batch_size: int = 16,
    progress: bool = True,
    decoded: Sequence[Any] | None = None,
) -> list[Record]:
    """Run the performer (``generate_fn(conversations, images) -> [Generation]``) over ``samples``.

    ``decoded`` are the samples' images when the caller already decoded them (else each is read here).
    """
    from tqdm.auto import tqdm

    records: list[Record] = []
    order = list(range(len(samples)))
    bar = tqdm(total=len(samples), desc="evaluating", disable=not progress, unit="img")
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        convs, images, views, kept = [], [], [], []
        for i in chunk:
            sample, task = samples[i], tasks[samples[i].task]
            try:
                image = decoded[i] if decoded is not None else sample.load_image()
            except Exception as exc:  # a corrupt file is reported and skipped, never ends the run
                logger.warning("skipped sample %s (%s): its image cannot be read: %s: %s", sample.id,
                               sample.image_path or "<in memory>", type(exc).__name__, exc)
                continue
            view = make_view(image.size, budgets[i], box_frame)
            images.append(resize_for_view(image, view))
            convs.append(task.messages(sample))
            views.append(view)
            kept.append(i)
        gens = generate_fn(convs, images) if kept else []
        for i, view, gen, conv in zip(kept, views, gens, convs):
            sample, task = samples[i], tasks[samples[i].task]
            parsed = task.parse(gen.text, view)
            records.append(Record(
                id=sample.id, task=task.name, prompt=conv[-1]["content"][-1]["text"], completion=gen.text,
                parsed=parsed, score=task.score(parsed, sample), tokens=gen.visual_tokens, budget=view.budget,
                difficulty=sample.meta.get("difficulty"),
            ))
        bar.update(len(chunk))
    bar.close()
    return records


def summarize(records: Sequence[Record], samples: Sequence[Sample], tasks: dict[str, Task]) -> dict[str, Any]:
    """Per task: paper metrics, TPI, mean score, budget distribution, and the same per difficulty."""
    by_id = {s.id: s for s in samples}
    out: dict[str, Any] = {}
    for name, task in tasks.items():
        recs = [r for r in records if r.task == name]
        if not recs:
            continue
        out[name] = _block(task, recs, by_id)
        diffs = sorted({r.difficulty for r in recs if r.difficulty})
        if diffs:
            out[name]["by_difficulty"] = {d: _block(task, [r for r in recs if r.difficulty == d], by_id)
                                          for d in diffs}
    return out


def _block(task: Task, recs: Sequence[Record], by_id: dict[str, Sample]) -> dict[str, Any]:
    from pathreason.metrics import tpi

    metrics = task.metrics([by_id[r.id] for r in recs], [r.parsed for r in recs])
    budgets = Counter("native" if r.budget is None else str(r.budget) for r in recs)
    block: dict[str, Any] = {
        "n": len(recs),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "mean_score": sum(r.score for r in recs) / len(recs),
        "format_rate": sum(_well_formed(r.completion) for r in recs) / len(recs),
        "tpi": float(tpi([r.tokens for r in recs])),
        "budgets": dict(sorted(budgets.items(), key=lambda kv: (len(kv[0]), kv[0]))),
    }
    if any("allocator_tokens" in r.extra for r in recs):  # two-stage: count the allocator's own look too
        block["allocator_tpi"] = float(tpi([int(r.extra.get("allocator_tokens", 0)) for r in recs]))
        block["total_tpi"] = block["tpi"] + block["allocator_tpi"]
        block["fallbacks"] = sum(bool(r.extra.get("allocator_fallback")) for r in recs)
        block["mean_budget"] = sum(r.budget or 0 for r in recs) / len(recs)
    return block


def _well_formed(text: str) -> bool:
    from pathreason.rewards.format import is_well_formed

    return bool(is_well_formed(text))


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


__all__ = ["EvalReport", "Record", "Timer", "View", "predict_records", "summarize", "write_predictions"]
