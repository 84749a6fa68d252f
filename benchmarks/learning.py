"""What the default recipe learns on synthpath: untrained vs SFT vs SFT+GRPO, per task, with TPI
and the wall time of each phase (the table in the engine issue's note).

    python benchmarks/learning.py --task subtyping [--output runs/learning] [--eval-n 128]

Runs ``Engine(task=TASK).train()`` with the defaults (the tiny preset's recipe), then evaluates
the test split (a seed the training never saw) at the training budget after each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="subtyping")
    parser.add_argument("--output", default="runs/learning")
    parser.add_argument("--eval-n", type=int, default=None, help="test samples (default: the whole split)")
    args = parser.parse_args()

    from pathreason import Engine

    out = Path(args.output) / args.task
    engine = Engine(task=args.task, output_dir=str(out))
    timings: dict[str, float] = {}
    rows: dict[str, Any] = {}

    def evaluate(phase: str) -> None:
        t = time.perf_counter()
        report = engine.evaluate(n=args.eval_n, phase=phase, progress=False)
        timings[f"eval {phase}"] = time.perf_counter() - t
        rows[phase] = report.tasks[next(iter(engine.tasks))]
        print(report.table(), flush=True)

    evaluate("base")
    t = time.perf_counter()
    engine.sft()
    timings["sft"] = time.perf_counter() - t
    evaluate("sft")
    t = time.perf_counter()
    engine.grpo(resume=True)
    timings["grpo"] = time.perf_counter() - t
    evaluate("grpo")

    grpo_log = [r for r in engine.run.read_log("grpo") if "rewards/format/mean" in r]
    curve = [(r.get("step"), r["rewards/format/mean"], r.get("reward")) for r in grpo_log]
    summary = {"task": args.task, "timings_s": timings, "phases": rows, "grpo_reward_curve": curve}
    (out / "learning.json").write_text(json.dumps(summary, indent=2, default=str))
    name = next(iter(engine.tasks))
    metric_names = engine.tasks[name].metric_names
    print(f"\n{name}: phase | " + " | ".join(metric_names) + " | format rate | TPI")
    for phase, entry in rows.items():
        vals = " | ".join(f"{entry['metrics'].get(m, float('nan')):.3f}" for m in metric_names)
        print(f"{phase:>5} | {vals} | {entry['format_rate']:.3f} | {entry['tpi']:.1f}")
    print("wall time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print("GRPO format reward (step, format mean, total reward): " + str(curve))


if __name__ == "__main__":
    main()
