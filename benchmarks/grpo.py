"""What GRPO adds beyond SFT on the embedded default, measured where it can show.

    python benchmarks/grpo.py label-scarce [--task subtyping] [--output runs/grpo-bench] [--small 16] [--grpo-steps 60] [--grpo-lr 1e-4]
                                           [--full-run runs/learning/subtyping]
    python benchmarks/grpo.py detection-reward --sft-run runs/det [--output runs/grpo-bench] [--grpo-steps 30]

``label-scarce`` (``--task``, default subtyping): SFT on a small part of the training split (the part that would carry
rationales), then GRPO on all of it with labels only (the reward), against SFT on the small part
alone and SFT on everything (``--full-run``: an existing run of the task instead). The test split
is the whole default one (144 tiles) in every row. ``detection-reward``: from one detection SFT model, GRPO with the paper's
reward (``detection``: AP@0.5 per image) against the metric-aligned ``detection_mean_ap`` (AP averaged
over IoU 0.1/0.3/0.5 per image, the metric the paper reports). Each row: the test metric at the training budget,
the format rate, GRPO's reward spread (``frac_reward_zero_std``: the share of prompt groups whose
completions all scored alike, which give no gradient) and wall time. Writes ``<output>/<regime>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _evaluate(engine: Any, phase: str) -> dict[str, Any]:
    report = engine.evaluate(phase=phase, progress=False)
    task = next(iter(engine.tasks))
    entry = report.tasks[task]
    headline = engine.tasks[task].metric_names[0]
    return {"metric": headline, "value": entry["metrics"][headline], "format_rate": entry["format_rate"],
            "by_difficulty": {d: sub["metrics"][headline] for d, sub in entry.get("by_difficulty", {}).items()}}


def _spread(engine: Any) -> dict[str, Any]:
    """GRPO's reward spread over the run: mean frac_reward_zero_std and the mean reward per logged step."""
    log = [r for r in engine.run.read_log("grpo") if "frac_reward_zero_std" in r]
    zero = [float(r["frac_reward_zero_std"]) for r in log]
    return {"frac_reward_zero_std": statistics.fmean(zero) if zero else None,
            "reward_curve": [(r.get("step"), round(float(r.get("reward", 0.0)), 3)) for r in log]}


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _name(args: argparse.Namespace) -> str:
    """The regime's name in ``--output`` (its folder and JSON): label-scarce runs of another task than
    subtyping carry the task's name."""
    return args.regime if args.regime != "label-scarce" or args.task == "subtyping" else f"{args.regime}-{args.task}"


def label_scarce(args: argparse.Namespace) -> list[dict[str, Any]]:
    from pathreason import Engine

    out = Path(args.output) / _name(args)
    grpo = {"max_steps": args.grpo_steps, "learning_rate": args.grpo_lr, "num_generations": args.generations,
            "per_device_train_batch_size": args.generations * 2}
    rows = []
    small = Engine(task=args.task, output_dir=str(out / "small"), dataset__options={"n_train": args.small}, grpo=grpo)
    seconds = _timed(small.sft)
    rows.append({"regime": f"SFT on {args.small} samples", **_evaluate(small, "sft"), "wall_s": seconds})
    scarce = Engine.load(small.run.path, dataset__options={"n_train": args.full}, grpo=grpo)
    seconds = _timed(scarce.grpo)
    rows.append({"regime": f"SFT on {args.small}, then GRPO on {args.full} (labels only)",
                 **_evaluate(scarce, "grpo"), **_spread(scarce), "wall_s": seconds})
    if args.full_run:  # a default run of the task: its SFT saw the whole train split
        full = Engine.load(args.full_run)
        rows.append({"regime": f"SFT on all (the run {args.full_run})", **_evaluate(full, "sft"), "wall_s": None})
    else:
        full = Engine(task=args.task, output_dir=str(out / "full"), dataset__options={"n_train": args.full})
        seconds = _timed(full.sft)
        rows.append({"regime": f"SFT on all {args.full}", **_evaluate(full, "sft"), "wall_s": seconds})
    return rows


def detection_reward(args: argparse.Namespace) -> list[dict[str, Any]]:
    from pathreason import Engine

    if not args.sft_run:
        raise SystemExit("detection-reward needs --sft-run: a detection run folder whose SFT phase is done")
    out = Path(args.output) / "detection-reward"
    base = Engine.load(args.sft_run)
    rows = [{"regime": "SFT", **_evaluate(base, "sft"), "wall_s": None}]
    for reward in ("detection", "detection_mean_ap"):
        run = out / reward
        if run.exists():
            shutil.rmtree(run)
        shutil.copytree(Path(args.sft_run), run, ignore=shutil.ignore_patterns("grpo", "allocator", "eval"))
        state = json.loads((run / "state.json").read_text())
        state["phases"] = {"sft": "done"}
        (run / "state.json").write_text(json.dumps(state))
        engine = Engine.load(run, grpo={"max_steps": args.grpo_steps, "rewards": [reward]})
        seconds = _timed(engine.grpo)
        rows.append({"regime": f"SFT + GRPO, reward {reward}", **_evaluate(engine, "grpo"), **_spread(engine),
                     "wall_s": seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("regime", choices=["label-scarce", "detection-reward"])
    parser.add_argument("--output", default="runs/grpo-bench")
    parser.add_argument("--task", default="subtyping", choices=["vqa", "subtyping"], help="label-scarce: the task")
    parser.add_argument("--small", type=int, default=16, help="label-scarce: SFT samples")
    parser.add_argument("--full", type=int, default=512, help="label-scarce: GRPO samples (the whole split)")
    parser.add_argument("--full-run", default=None,
                        help="label-scarce: a run of the task whose SFT saw the whole train split (not trained again)")
    parser.add_argument("--grpo-steps", type=int, default=60)
    parser.add_argument("--grpo-lr", type=float, default=1e-4)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--sft-run", default=None, help="detection-reward: a detection run with SFT done")
    args = parser.parse_args()
    rows = label_scarce(args) if args.regime == "label-scarce" else detection_reward(args)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    (Path(args.output) / f"{_name(args)}.json").write_text(json.dumps(rows, indent=2, default=str))
    print(f"\n{args.regime}: regime | {rows[0]['metric']} | by level | format rate | frac_reward_zero_std | wall s")
    for r in rows:
        zero, wall = r.get("frac_reward_zero_std"), r.get("wall_s")
        levels = ", ".join(f"{d} {v:.2f}" for d, v in r["by_difficulty"].items())
        spread = "-" if zero is None else f"{zero:.2f}"
        seconds = "-" if wall is None else f"{wall:.0f}"
        print(f"{r['regime']} | {r['value']:.3f} | {levels} | {r['format_rate']:.2f} | {spread} | {seconds}")


if __name__ == "__main__":
    main()
