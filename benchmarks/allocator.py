"""What the token allocator reaches on ``synthpath`` subtyping with the tiny model (the allocator issue's targets).

    python benchmarks/allocator.py --output runs/alloc-bench            # trains the performer too
    python benchmarks/allocator.py --performer runs/sub --output runs/x  # reuse a trained performer run

Steps: ``Engine(task="subtyping").train()`` (SFT -> GRPO, the tiny preset's recipe) unless
``--performer`` names a finished run (copied, never modified); ``train_allocator()`` timed; then
``ablate_budget()`` on the test split (a seed not used in training): ``static:16..256`` and the
allocator, with the oracle. Prints the ablation table and each target with PASS/FAIL:

* fine accuracy at static:256 at least 20 points above static:16; coarse within 5 points;
* allocator TPI <= 1.25 x oracle TPI and <= 65 % of static:256's, metric within 1 point of static:256;
* mean allocated budget lower on coarse than on fine samples; allocator training under 5 minutes.

It also writes ``<output>/allocator-bench.json`` and exits with status 1 when a target fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any


def _accuracy(row: dict[str, Any], difficulty: str) -> float:
    return float(row["by_difficulty"][difficulty]["value"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="runs/allocator-bench")
    parser.add_argument("--performer", default=None, help="a finished performer run folder to copy")
    parser.add_argument("--n", type=int, default=None, help="test samples (default: the whole split)")
    parser.add_argument("--set", nargs="*", default=[], help="overrides, e.g. allocator.rule=token_cost")
    args = parser.parse_args()

    from pathreason import Engine
    from pathreason.config import parse_overrides

    overrides = parse_overrides([f"--{kv.split('=', 1)[0]}={kv.split('=', 1)[1]}" for kv in args.set])
    out = Path(args.output)
    timings: dict[str, float] = {}
    if args.performer:
        if out.exists():
            raise SystemExit(f"{out} exists; choose another --output")
        shutil.copytree(args.performer, out, ignore=shutil.ignore_patterns("eval", "allocator", "checkpoint-*"))
        state = json.loads((out / "state.json").read_text())
        state["phases"].pop("allocator", None)
        (out / "state.json").write_text(json.dumps(state, indent=2))
        engine = Engine.load(out, **overrides)
    else:
        engine = Engine(task="subtyping", output_dir=str(out), **overrides)
        t = time.perf_counter()
        engine.train()
        timings["performer (SFT + GRPO)"] = time.perf_counter() - t
    t = time.perf_counter()
    engine.train_allocator()
    timings["allocator"] = time.perf_counter() - t
    t = time.perf_counter()
    report = engine.ablate_budget(n=args.n, progress=False)
    timings["ablation"] = time.perf_counter() - t
    print(report.table())
    from pathreason.ablation import oracle_text

    print(oracle_text(report.oracle))

    rows = {r["budgeter"]: r for r in report.rows if r["task"] == "subtyping"}
    s16, s256, alloc = rows["static:16"], rows["static:256"], rows["allocator"]
    oracle = report.oracle["subtyping"]["tpi"]
    budgets = {d: alloc["by_difficulty"][d]["tpi"] for d in ("coarse", "fine")}
    checks = [
        ("fine: static:256 - static:16 >= 20 points",
         _accuracy(s256, "fine") - _accuracy(s16, "fine"), lambda v: v >= 0.20),
        ("coarse: |static:256 - static:16| <= 5 points",
         abs(_accuracy(s256, "coarse") - _accuracy(s16, "coarse")), lambda v: v <= 0.05),
        ("allocator TPI / oracle TPI <= 1.25", alloc["tpi"] / oracle, lambda v: v <= 1.25),
        ("allocator TPI / static:256 TPI <= 0.65", alloc["tpi"] / s256["tpi"], lambda v: v <= 0.65),
        ("metric: static:256 - allocator <= 1 point", s256["value"] - alloc["value"], lambda v: v <= 0.01),
        ("coarse TPI < fine TPI under the allocator", budgets["coarse"] - budgets["fine"], lambda v: v < 0),
        ("allocator training seconds < 300", timings["allocator"], lambda v: v < 300),
    ]
    print()
    for name, value, ok in checks:
        print(f"{'PASS' if ok(value) else 'FAIL'}  {name}: {value:.3f}")
    print("wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(f"table, JSON and plot: {report.files}")
    summary = {"rows": report.rows, "oracle": report.oracle, "timings_s": timings,
               "checks": {name: {"value": value, "pass": bool(ok(value))} for name, value, ok in checks}}
    (out / "allocator-bench.json").write_text(json.dumps(summary, indent=2, default=str))
    if not all(ok(value) for _, value, ok in checks):
        raise SystemExit(1)  # a failed target fails the command, so scripts can rely on it


if __name__ == "__main__":
    main()
