"""The token allocator against its peers on ``synthpath``, with the whole cost counted (issue: three
budget levels on every task, a training-free escalation baseline, one allocator for all tasks).

    python benchmarks/allocator.py --output runs/allocator-bench                  # trains the performer too
    python benchmarks/allocator.py --performer runs/mixed --output runs/x         # a trained performer run
    python benchmarks/allocator.py --performer runs/vqa runs/sub runs/det ...     # one performer per task
    python benchmarks/allocator.py --quick --output runs/pilot                    # a reduced pilot run

**The performer.** By default one performer for the three tasks (``Engine(task=[vqa, subtyping,
detection]).train()``, the tiny preset's recipe), or the runs given with ``--performer`` (copied, never
modified). "The same performer" means: every method of a task is measured on the very same performer
weights (each allocator is trained in its own copy of the performer's run folder; the copies share
the weights, and the allocator's fingerprint check proves it).

**The methods**, per task and per level (``meta["difficulty"]``), on the test split (a seed never
trained on): ``static:16 … static:256``, ``native``, the oracle, ``escalate`` (threshold calibrated on
the validation split), and the allocator: one **per task** (trained on that task's images only) and
one **for all tasks** (trained on the mixed data; the task prompt is part of its input), each under
the paper's Eq. 10 (``eq10``, λ = 0.5) and under the tiny preset's ``token_cost`` rule at the λ the
performer run's config names (the preset's 0.25) (``--rules``). The mixed
allocator needs one performer for all tasks; with one performer per task it is left out (said so in
the output); ``--no-per-task`` leaves the per-task ones out.

**The table**: the metric, the performer's TPI, the total visual tokens per image (the allocator's
own look, escalation's re-reads, the final pass), passes, mean budget and wall time per image, per
task and level, then the plot of metric against total tokens (``<output>/ablation/ablation.png``).

**The targets** (PASS/FAIL; the exit status is 1 when one fails), for each task, on the per-task
allocator under the rule the performer run's config names (``allocator.rule``: the tiny preset's
``token_cost``; the first of ``--rules`` when it is not among them):

* its performer TPI <= 1.15 x the oracle's, with the metric within 1 point of ``static:256``;
* its total tokens per image below ``escalate``'s at equal metric (its metric at most 1 point below
  escalate's) -- a failure here is a result, printed with both figures;
* its mean budget ordered by level (level of 16 tokens < 64 < 256, from ``meta["level_tokens"]``);
* its training <= 5 minutes;
* the benchmark is real: at fixed budgets each level's metric rises by >= 20 points from the budget
  just below the level's to the level's own, and moves by <= 5 points above it.

The other allocators' figures are printed under the same checks, marked "info" (they do not set the
exit status). Everything is written to ``<output>/allocator-bench.json``. Timings are wall times on
whatever machine runs it; other jobs running at the same time slow them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TASKS = ("vqa", "subtyping", "detection")
#: The issue's thresholds.
TPI_OVER_ORACLE = 1.15
POINT = 0.01
RISE = 0.20
FLAT = 0.05
TRAIN_SECONDS = 300.0
#: ``--quick``: a reduced setting that runs the whole benchmark in minutes (a pilot, not the targets'
#: measurement). Per task: 36 images per split, 60 SFT steps, no GRPO, a short allocator.
QUICK_PER_TASK = 36
QUICK: dict[str, Any] = {
    "sft": {"max_steps": 60, "per_device_train_batch_size": 8, "logging_steps": 10},
    "grpo": {"enabled": False, "max_completion_length": 48},
    "allocator": {"warmup_steps": 10, "warmup_samples": 36, "max_steps": 2, "per_device_train_batch_size": 8,
                  "num_generations": 4, "logging_steps": 1},
}


@dataclass
class Check:
    name: str
    value: float
    passed: bool
    detail: str = ""
    counts: bool = True  # False: printed for information, does not set the exit status

    def line(self) -> str:
        verdict = ("PASS" if self.passed else "FAIL") if self.counts else ("info pass" if self.passed else "info FAIL")
        return f"{verdict:<9}  {self.name}: {self.value:.3f}" + (f"  ({self.detail})" if self.detail else "")


def copy_run(source: Path, target: Path) -> None:
    """A copy of a performer run without its evaluations, calibrations and allocator. Weights are
    hard links (never rewritten by the allocator phase); every other file is copied."""
    def link_weights(src: str, dst: str) -> None:
        if src.endswith(".safetensors"):
            try:
                os.link(src, dst)
                return
            except OSError:
                pass  # another file system: copy it
        shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_weights,
                    ignore=shutil.ignore_patterns("eval", "allocator", "budgeters", "checkpoint-*"))
    state = json.loads((target / "state.json").read_text())
    state["phases"].pop("allocator", None)
    (target / "state.json").write_text(json.dumps(state, indent=2))


def level_tokens(samples: Sequence[Any]) -> dict[str, int]:
    """Each level's budget (``meta["level_tokens"]``) by level name (``meta["difficulty"]``)."""
    out: dict[str, int] = {}
    for s in samples:
        if s.meta.get("difficulty") is not None and s.meta.get("level_tokens") is not None:
            out[str(s.meta["difficulty"])] = int(s.meta["level_tokens"])
    return out


def performer_checks(rows: dict[str, dict[str, Any]], levels: dict[str, int], budgets: Sequence[int],
                     task: str) -> list[Check]:
    """The benchmark is real: per level, the rise into the level's budget and the plateau above it."""
    out = []
    for level, own in sorted(levels.items(), key=lambda kv: kv[1]):
        def value(b: int, level: str = level) -> float:
            return float(rows[f"static:{b}"]["by_difficulty"][level]["value"])

        below = [b for b in budgets if b < own]
        if own not in budgets:
            out.append(Check(f"{task} {level}: static:{own} evaluated", 0.0, False, "add it to the budgets"))
            continue
        if below:
            rise = value(own) - value(below[-1])
            out.append(Check(f"{task} {level}: static:{own} - static:{below[-1]} >= {RISE:.2f}", rise, rise >= RISE))
        above = [b for b in budgets if b > own]
        if above:
            move = max(abs(value(b) - value(own)) for b in above)
            out.append(Check(f"{task} {level}: |static:N - static:{own}| for N > {own} <= {FLAT:.2f}", move, move <= FLAT))
    return out


def allocator_checks(rows: dict[str, dict[str, Any]], label: str, task: str, levels: dict[str, int],
                     escalate: str, train_seconds: float | None, seconds_budget: float, counts: bool) -> list[Check]:
    alloc, oracle, s256 = rows[label], rows["oracle"], rows["static:256"]
    out = [
        Check(f"{task} {label}: TPI / oracle TPI <= {TPI_OVER_ORACLE}", alloc["tpi"] / max(oracle["tpi"], 1e-9),
              alloc["tpi"] <= TPI_OVER_ORACLE * oracle["tpi"], f"TPI {alloc['tpi']:.1f} vs oracle {oracle['tpi']:.1f}",
              counts),
        Check(f"{task} {label}: static:256 metric - allocator metric <= 1 point", s256["value"] - alloc["value"],
              s256["value"] - alloc["value"] <= POINT + 1e-9,
              f"{alloc['metric']} {alloc['value']:.3f} vs {s256['value']:.3f}", counts),
    ]
    if escalate in rows:
        esc = rows[escalate]
        ok = alloc["total_tpi"] < esc["total_tpi"] and alloc["value"] >= esc["value"] - POINT - 1e-9
        out.append(Check(f"{task} {label}: total tokens below {escalate}'s at equal metric",
                         alloc["total_tpi"] - esc["total_tpi"], ok,
                         f"allocator {alloc['total_tpi']:.1f} tokens at {alloc['value']:.3f}, {escalate} "
                         f"{esc['total_tpi']:.1f} tokens at {esc['value']:.3f}", counts))
    ordered = [lv for lv, _ in sorted(levels.items(), key=lambda kv: kv[1]) if lv in alloc["by_difficulty"]]
    if len(ordered) > 1:
        means = [alloc["by_difficulty"][lv]["mean_budget"] for lv in ordered]
        ok = all(a < b for a, b in zip(means, means[1:]))
        out.append(Check(f"{task} {label}: mean budget ordered by level", min(b - a for a, b in zip(means, means[1:])),
                         ok, ", ".join(f"{lv} {m:.1f}" for lv, m in zip(ordered, means)), counts))
    if train_seconds is not None:
        out.append(Check(f"{task} {label}: training seconds <= {seconds_budget:.0f}", train_seconds,
                         train_seconds <= seconds_budget, "", counts))
    return out


def parse_rules(text: str) -> dict[str, dict[str, Any]]:
    """``--rules``: ``RULE:LAMBDA`` or ``RULE`` (no ``lam`` key: the performer run's config keeps its
    own), comma-separated, each an ``allocator`` override; a malformed entry stops with one line."""
    rules: dict[str, dict[str, Any]] = {}
    for item in (part.strip() for part in text.split(",")):
        rule, sep, lam = (p.strip() for p in item.partition(":"))
        if not rule or (sep and not lam):
            raise SystemExit(f"--rules: {item!r} is not RULE or RULE:LAMBDA")
        entry: dict[str, Any] = {"rule": rule}
        if lam:
            try:
                entry["lam"] = float(lam)
            except ValueError:
                raise SystemExit(f"--rules: the lambda of {item!r} is not a number") from None
        rules[rule] = entry
    return rules


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="runs/allocator-bench")
    parser.add_argument("--performer", nargs="*", default=[],
                        help="trained performer run folder(s): one for all tasks, or one per task (copied)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="tasks (default: vqa,subtyping,detection)")
    parser.add_argument("--rules", default="eq10:0.5,token_cost",
                        help="allocation rules, each RULE:LAMBDA or RULE (the lambda of the performer run's "
                             "config: the tiny preset's 0.25) (default: eq10:0.5,token_cost)")
    parser.add_argument("--no-mixed", action="store_true", help="leave out the allocator for all tasks")
    parser.add_argument("--no-per-task", action="store_true",
                        help="leave out the per-task allocators (the allocator for all tasks only: its checks are info)")
    parser.add_argument("--escalate", default="escalate", help="the escalation budgeter (default: escalate)")
    parser.add_argument("--n", type=int, default=None, help="test images per task (default: the whole split)")
    parser.add_argument("--quick", action="store_true", help="the reduced pilot setting (see QUICK)")
    parser.add_argument("--set", nargs="*", default=[], help="overrides for every run, e.g. allocator.max_steps=4")
    args = parser.parse_args(argv)

    from pathreason import Engine
    from pathreason.ablation import AblationReport, oracle_text
    from pathreason.config import deep_merge, parse_overrides

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    rules = parse_rules(args.rules)
    overrides: dict[str, Any] = {}
    per_task_n = args.n
    if args.quick:
        deep_merge(overrides, QUICK)
        per_task_n = per_task_n or QUICK_PER_TASK
    deep_merge(overrides, parse_overrides([f"--{kv.split('=', 1)[0]}={kv.split('=', 1)[1]}" for kv in args.set]))
    out = Path(args.output)
    if out.exists():
        raise SystemExit(f"{out} exists; choose another --output")
    out.mkdir(parents=True)
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        timings[name] = time.perf_counter() - start
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {timings[name]:.0f} s", flush=True)
        return result

    def data(options: dict[str, Any], count: int, task: str | None = None) -> dict[str, Any]:
        """Dataset overrides for a run of ``count`` tasks (synthpath's ``n`` counts all of them): the
        quick setting's sizes, and for one ``task`` of a multi-task run, that task's images only."""
        options = dict(options)
        if args.quick:
            options["n"] = QUICK_PER_TASK * count
        if task is not None and count > 1:
            if "n" in options:
                options["n"] //= count
            options["task"] = task
        return {"dataset__options": options}  # not "dataset": Engine's own argument names the dataset

    # ---------------------------------------------------------------- the performers: which run serves which task
    performers: list[Path] = []
    if args.performer:
        for i, folder in enumerate(args.performer):
            target = out / f"performer-{i}"
            copy_run(Path(folder), target)
            performers.append(target)
    else:
        target = out / "performer"
        settings = deep_merge(deep_merge({}, overrides), data({}, len(tasks)))
        engine = Engine(task=tasks, output_dir=str(target), **settings)
        timed("performer training (SFT + GRPO)", engine.train)
        performers.append(target)
    serving: dict[str, Path] = {}
    run_tasks: dict[Path, list[str]] = {}  # the benchmark's tasks each run serves
    run_count: dict[Path, int] = {}        # all the tasks each run was trained on
    for folder in performers:
        engine = Engine.load(folder)
        mine = [t for t in engine.tasks if t in tasks]
        if not mine:  # a run given for a task left out with --tasks: nothing to measure on it
            continue
        run_tasks[folder] = mine
        run_count[folder] = len(engine.tasks)
        for task in run_tasks[folder]:
            if task in serving:
                raise SystemExit(f"task {task!r} has two performers: {serving[task]} and {folder}")
            serving[task] = folder
    missing = [t for t in tasks if t not in serving]
    if missing:
        raise SystemExit(f"no performer run covers task(s) {missing}; give one with --performer")

    # ---------------------------------------------------------------- static, native, oracle, escalate
    report: AblationReport | None = None
    primary_rule: dict[Path, str] = {}
    samples_by_task: dict[str, list[Any]] = {}
    levels: dict[str, dict[str, int]] = {}
    budgets: list[int] = []
    calibration: dict[str, Any] = {}
    for folder, mine in run_tasks.items():
        saved = Engine.load(folder).config.dataset.options
        engine = Engine.load(folder, **deep_merge(deep_merge({}, overrides), data(saved, run_count[folder])))
        primary_rule[folder] = engine.config.allocator.rule
        n = None if per_task_n is None else per_task_n * len(engine.tasks)
        part = timed(f"static, native, oracle, {args.escalate} on {', '.join(mine)}",
                     functools.partial(engine.ablate_budget, n=n, compare=["native", args.escalate], progress=False))
        budgets = sorted(engine.config.allocator.candidates)
        samples = engine.samples(engine.config.dataset.eval_split, n)
        for task in mine:
            samples_by_task[task] = [s for s in samples if s.task == task]
            levels[task] = level_tokens(samples_by_task[task])
            if per_task_n is not None and len(samples_by_task[task]) != per_task_n:
                raise SystemExit(f"{folder}: {len(samples_by_task[task])} test images of {task}, expected {per_task_n}")
        for path in (folder / "budgeters").glob("escalate-*.json"):
            calibration[str(path.relative_to(out))] = json.loads(path.read_text())
        part.rows = [r for r in part.rows if r["task"] in mine]
        if report is None:
            report = part
        else:
            report.rows += part.rows
            report.oracle.update(part.oracle)
    assert report is not None

    # ---------------------------------------------------------------- allocators: per task, and one for all tasks
    labels: dict[tuple[str, str], str] = {}  # (task, rule) -> row label of the per-task allocator
    train_seconds: dict[str, float] = {}
    jobs: list[tuple[Path, str | None, str]] = []  # (performer run, task or None for all, rule)
    for rule in rules:
        for task in ([] if args.no_per_task else tasks):
            jobs.append((serving[task], task, rule))
        mixed_runs = [f for f, mine in run_tasks.items() if set(mine) == set(tasks) and len(tasks) > 1]
        if not args.no_mixed and mixed_runs:
            jobs.append((mixed_runs[0], None, rule))
    if not args.no_mixed and not any(task is None for _, task, _ in jobs):
        print("the allocator for all tasks is left out: no single performer run covers every task", flush=True)
    for folder, only, rule in jobs:
        scope = only or "all tasks"
        copy = out / f"allocator-{only or 'mixed'}-{rule}"
        copy_run(folder, copy)
        count = run_count[folder]
        saved = Engine.load(folder).config.dataset.options
        settings = deep_merge(deep_merge({}, overrides), data(saved, count, only))
        deep_merge(settings, {"allocator": rules[rule]})
        engine = Engine.load(copy, **settings)
        print(f"allocator ({scope}): rule {engine.config.allocator.rule}, lambda {engine.config.allocator.lam}", flush=True)
        label = f"allocator {rule} ({'per task' if only else 'all tasks'})"
        timed(f"allocator training ({scope}, {rule})", engine.train_allocator)
        train_seconds[f"{scope} {rule}"] = timings[f"allocator training ({scope}, {rule})"]
        n = None if per_task_n is None else per_task_n * (1 if only else count)
        evaluation = timed(f"allocator evaluation ({scope}, {rule})",
                           functools.partial(engine.evaluate, budgeter="allocator", n=n, progress=False))
        for t in ([only] if only else run_tasks[folder]):
            ids = {r.id for r in evaluation.records if r.task == t}
            if ids != {s.id for s in samples_by_task[t]}:
                raise SystemExit(f"{copy}: the allocator was evaluated on other {t} images than the other methods")
        report.add(evaluation, engine.tasks, label=label, only=[only] if only else None)
        if only:
            labels[(only, rule)] = label

    # ---------------------------------------------------------------- the table, the plot, the checks
    files = report.write(out / "ablation")
    print()
    print(report.table())
    print()
    print(oracle_text(report.oracle))
    for name, state in calibration.items():
        taus = ", ".join(f"{t} tau {e['tau']} (validation {e['metric_name']} {e['metric']:.3f} vs top rung "
                         f"{e['reference']:.3f}, {e['passes']:.2f} passes, {e['total_tokens']:.1f} tokens)"
                         for t, e in state["tasks"].items())
        print(f"escalate calibration {name}: {taus}; {state['seconds']:.0f} s")
    checks: list[Check] = []
    for task in tasks:
        if not levels[task]:
            print(f"{task}: the samples carry no meta['level_tokens']: the level checks are left out")
        rows = {r["budgeter"]: r for r in report.rows if r["task"] == task}
        checks += performer_checks(rows, levels[task], budgets, task)
        for rule in rules:
            if (task, rule) in labels:
                primary = primary_rule[serving[task]]
                counts = rule == (primary if primary in rules else next(iter(rules)))
                checks += allocator_checks(rows, labels[(task, rule)], task, levels[task], args.escalate,
                                           train_seconds[f"{task} {rule}"], TRAIN_SECONDS, counts)
            mixed = f"allocator {rule} (all tasks)"
            if mixed in rows:
                checks += allocator_checks(rows, mixed, task, levels[task], args.escalate,
                                           train_seconds[f"all tasks {rule}"], TRAIN_SECONDS * len(tasks), False)
    print()
    for check in checks:
        print(check.line())
    print("wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(f"table, JSON and plot: {files}")
    if args.quick:
        print("(--quick: a reduced pilot setting; these figures are not the targets' measurement)")
    summary = {"rows": report.rows, "oracle": report.oracle, "timings_s": timings, "escalate": calibration,
               "levels": levels, "quick": args.quick, "argv": list(argv if argv is not None else sys.argv[1:]),
               "checks": [vars(c) for c in checks]}
    (out / "allocator-bench.json").write_text(json.dumps(summary, indent=2, default=str))
    return 1 if any(c.counts and not c.passed for c in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
