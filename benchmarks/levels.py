"""Is synthpath's three-level benchmark real? Trains the default performer per task and checks that
each level's detail pays off exactly from its own budget.

    python benchmarks/levels.py [--task vqa subtyping detection] [--output runs/levels]
    python benchmarks/levels.py --run runs/levels/subtyping       # evaluate a trained run again
    python benchmarks/levels.py --budgets 16,32,64,128,256        # also the budgets in between

For each task it runs ``Engine(task=TASK).train()`` with nothing overridden (the tiny preset's
recipe; SFT then GRPO), evaluates the test split (144 tiles, 48 per level; a seed training never
saw) at ``static:N`` for each budget, and prints the task's primary metric per level
(``meta["difficulty"]``) and budget, the mean per-sample score by question family
(``meta["category"]``, where a level has several: VQA), then the rules, PASS or FAIL:

* **rise**: a level's metric at its own budget (``meta["level_tokens"]``: coarse 16, medium 64,
  fine 256) is at least 20 points above its metric at the largest budget evaluated below it. The
  coarse level has no budget below 16; there the rule reads "at 16 tokens it is at least 20 points
  above an image-blind answer": the answer each question gets from its text alone, the most common
  one among the test split's tiles of every level (subtyping: one class for every tile; VQA: per
  question; detection: the split's mean box on every tile), scored on the level's tiles. It is taken
  over the whole split, not the level alone: the level is what the image shows, and synthpath's VQA
  asks its chromatin questions at every level, so within the coarse level alone their answer is one
  constant ("no") that only the image's level gives away;
* **flat**: at every budget evaluated above its own, a level's metric is within 5 points of its
  metric at its own budget.

The exit status is 1 when a rule fails. Everything is written to ``<output>/levels.json`` (with
``--run``: ``<run>/levels.json``). Wall times are those of this machine; other jobs running at the
same time slow them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TASKS = ("vqa", "subtyping", "detection")
RISE = 0.20
FLAT = 0.05


def blind_metric(task: Any, samples: Sequence[Any], pool: Sequence[Any] | None = None) -> float:
    """The task's primary metric on ``samples`` when every tile gets the answer its question's text
    alone earns on ``pool`` (default: ``samples``): per question text, the most common answer among
    the pool's samples (by content, so that a multiple-choice answer is the same option wherever
    shuffling put it); for detection, the mean of the pool's boxes on every tile. With the pool the
    split the samples come from, an answer that ignores the image, computed on the very tiles scored."""
    name = task.metric_names[0]
    pool = samples if pool is None else pool
    if task.name == "detection":
        boxes = [b for s in pool for b in s.boxes]
        mean = [sum(b[k] for b in boxes) / len(boxes) for k in range(4)] if boxes else None
        return float(task.metrics(samples, [[mean] if mean else [] for _ in samples])[name])

    def content(s: Any) -> str:
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        return s.options[letters.index(s.answer)] if s.options and s.answer in letters[: len(s.options)] else s.answer

    common: dict[str, Counter[str]] = {}
    for s in pool:
        common.setdefault(s.question, Counter())[content(s)] += 1
    answers = []
    for s in samples:
        best = common[s.question].most_common(1)[0][0]
        answers.append("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[s.options.index(best)] if best in s.options and s.task == "vqa" else best)
    return float(task.metrics(samples, answers)[name])


def category_scores(records: Sequence[Any], samples: Sequence[Any]) -> dict[str, float]:
    """The mean per-sample score by ``"<level> <meta['category']>"`` (VQA: the question family)."""
    by_id = {s.id: s for s in samples}
    groups: dict[str, list[float]] = {}
    for record in records:
        meta = by_id[record.id].meta
        groups.setdefault(f"{meta.get('difficulty')} {meta.get('category')}", []).append(float(record.score))
    return {key: sum(v) / len(v) for key, v in sorted(groups.items())}


def level_table(engine: Any, task: str, budgets: Sequence[int], n: int | None) -> dict[str, Any]:
    """Per budget, the primary metric by level, the mean score by question family, the format rate and
    the wall time."""
    metric = engine.tasks[task].metric_names[0]
    samples = engine.samples("test", n)
    out: dict[str, Any] = {"metric": metric, "budgets": {}}
    for budget in budgets:
        t = time.perf_counter()
        report = engine.evaluate(budgeter=f"static:{budget}", n=n, progress=False)
        entry = report.tasks[task]
        out["budgets"][budget] = {
            "levels": {lv: float(sub["metrics"][metric]) for lv, sub in entry.get("by_difficulty", {}).items()},
            "all": float(entry["metrics"][metric]),
            "categories": category_scores(report.records, samples),
            "format_rate": float(entry["format_rate"]),
            "seconds": time.perf_counter() - t,
        }
    return out


def check(table: dict[str, Any], level_tokens: dict[str, int], blind: dict[str, float]) -> list[tuple[str, float, bool]]:
    """The rise and flat rules for every level: ``(rule, value, passed)``."""
    budgets = sorted(table["budgets"])

    def value(level: str, budget: int) -> float:
        return float(table["budgets"][budget]["levels"][level])

    rules = []
    for level, own in sorted(level_tokens.items(), key=lambda kv: kv[1]):
        if own not in budgets:
            rules.append((f"{level}: static:{own} evaluated", 0.0, False))
            continue
        below = [b for b in budgets if b < own]
        if below:
            rise, what = value(level, own) - value(level, below[-1]), f"static:{below[-1]}"
        else:
            rise, what = value(level, own) - blind[level], "an image-blind answer"
        rules.append((f"{level}: static:{own} is >= {RISE:.2f} above {what}", rise, rise >= RISE - 1e-9))
        for budget in (b for b in budgets if b > own):
            move = value(level, budget) - value(level, own)
            rules.append((f"{level}: |static:{budget} - static:{own}| <= {FLAT:.2f}", move, abs(move) <= FLAT + 1e-9))
    return rules


def run_task(engine: Any, task: str, budgets: Sequence[int], n: int | None, train_seconds: float | None) -> dict[str, Any]:
    samples = engine.samples("test", n)
    level_tokens = {str(s.meta["difficulty"]): int(s.meta["level_tokens"]) for s in samples if "level_tokens" in s.meta}
    if not level_tokens:
        raise SystemExit(f"{task}: the test samples carry no meta['level_tokens']: not a leveled dataset")
    table = level_table(engine, task, budgets, n)
    blind = {lv: blind_metric(engine.tasks[task], [s for s in samples if s.meta.get("difficulty") == lv], samples)
             for lv in level_tokens}
    rules = check(table, level_tokens, blind)
    levels = [lv for lv, _ in sorted(level_tokens.items(), key=lambda kv: kv[1])]
    print(f"\n{task}: {table['metric']} on the test split ({len(samples)} tiles), by level and budget"
          + (f"; trained in {train_seconds:.0f} s" if train_seconds is not None else ""))
    cols = sorted(table["budgets"])
    print("| level | tokens | image-blind | " + " | ".join(f"static:{b}" for b in cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for lv in levels:
        cells = [f"{table['budgets'][b]['levels'].get(lv, float('nan')):.3f}" for b in cols]
        print(f"| {lv} | {level_tokens[lv]} | {blind[lv]:.3f} | " + " | ".join(cells) + " |")
    print("| all | | | " + " | ".join(f"{table['budgets'][b]['all']:.3f}" for b in cols) + " |")
    print("| format rate | | | " + " | ".join(f"{table['budgets'][b]['format_rate']:.2f}" for b in cols) + " |")
    families = sorted({k for b in cols for k in table["budgets"][b]["categories"]})
    if len(families) > len(levels):
        print(f"\n{task}: mean score per sample by level and family (meta['category'])")
        print("| level and family | " + " | ".join(f"static:{b}" for b in cols) + " |")
        print("|---|" + "---|" * len(cols))
        for family in families:
            cells = [f"{table['budgets'][b]['categories'].get(family, float('nan')):.2f}" for b in cols]
            print(f"| {family} | " + " | ".join(cells) + " |")
    print("eval wall time (s): " + ", ".join(f"static:{b} {table['budgets'][b]['seconds']:.0f}" for b in cols))
    for rule, value, ok in rules:
        print(f"{'PASS' if ok else 'FAIL'}  {task} {rule}  ({value:+.3f})")
    return {"task": task, "train_seconds": train_seconds, "level_tokens": level_tokens, "blind": blind,
            "table": table, "rules": [{"rule": r, "value": v, "pass": ok} for r, v, ok in rules]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--output", default="runs/levels")
    parser.add_argument("--run", default=None, help="a trained run folder to evaluate (no training)")
    parser.add_argument("--budgets", default="16,64,256", help="comma-separated static budgets")
    parser.add_argument("--eval-n", type=int, default=None, help="test samples (default: the whole split)")
    args = parser.parse_args()
    budgets = sorted({int(b) for b in args.budgets.split(",")})

    from pathreason import Engine

    results = []
    if args.run:
        engine = Engine.load(args.run)
        results.append(run_task(engine, next(iter(engine.tasks)), budgets, args.eval_n, None))
        out = Path(args.run)
    else:
        out = Path(args.output)
        for task in args.task:
            engine = Engine(task=task, output_dir=str(out / task))
            t = time.perf_counter()
            engine.train(resume=True)
            results.append(run_task(engine, task, budgets, args.eval_n, time.perf_counter() - t))
    out.mkdir(parents=True, exist_ok=True)
    (out / "levels.json").write_text(json.dumps(results, indent=2))
    failed = [f"{r['task']} {rule['rule']}" for r in results for rule in r["rules"] if not rule["pass"]]
    print(f"\n{len(failed)} rule(s) failed" + (": " + "; ".join(failed) if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
