"""Whole-slide benchmark: static budgets, the allocator under slide budgets, and a random-tile baseline.

On generated synthpath slides (``make_slide``: a focus of the slide's class among less severe lesions
and normal stroma), for the subtyping performer of ``--run``:

* ``static:256`` on every tissue tile, ``static:64``, ``static:16`` (no slide budget);
* ``allocator`` under slide budgets of 100, 50, 40 and 25 % of each slide's ``static:256`` cost
  (the allocator's own looks counted), shared by the ``priority`` slide budgeter;
* the random-tile baseline at the same budgets: ``static:256`` requests shared by ``random-tiles``;
* the slide-level escalation (``slide.survey``) at the same budgets, with ``static:256`` and with the
  allocator's requests: every tile at ``--survey`` tokens, then tiles read again at their request,
  only those whose survey class may hide a class that would raise the label (look-alikes learnt on
  the run's validation split), survey classes in turns, until nothing left could change the label;
  and unbounded.

Reported per method: slide-level label accuracy (``most_severe`` rule), total visual tokens, tokens
per tissue tile, tiles per second, wall time, the share of wall time the model waited for tiles
(reading that did not overlap with compute), and peak RSS of one slide and of a slide with 4x the area
(separate processes). Writes ``slide.md``, ``slide.json`` and ``slide.png`` (accuracy against slide
tokens) under ``--output``. A run folder without a trained performer or allocator gets them trained
first: the engine's defaults on synthpath subtyping with its normal-stroma class (``subtyping_normal``:
a slide is mostly normal tissue, which a performer that never saw it calls some lesion), and the
allocator with the ``low`` view::

    python benchmarks/slide.py --run runs/sub --output slide-bench
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SHARES = (1.0, 0.5, 0.4, 0.25)
"""Slide budgets, as shares of each slide's static:256 cost."""
TARGETS = ("allocator at <= 40 % of static:256's tokens within 1 point of its accuracy; random tiles at the "
           "same cost measurably worse; peak RSS on a 4x larger slide <= 1.2x; model waiting for tiles <= 10 % "
           "of the wall time")


def _engine(run: Path, train: bool) -> Any:
    from pathreason import Engine
    from pathreason.runs import RunDir

    if RunDir(run).is_run():
        engine = Engine.load(run)
    elif train:
        # slides are mostly normal tissue: the performer learns a normal class (synthpath's subtyping_normal)
        engine = Engine(task="subtyping", output_dir=str(run), allocator={"enabled": True, "view": "low"},
                        **{"dataset.options": {"subtyping_normal": True}})
    else:
        raise SystemExit(f"{run} is not a run folder; drop --no-train to train one there")
    state = engine.run.read_state() if RunDir(run).is_run() else None
    phases = dict(getattr(state, "phases", {}) or {})
    if phases.get("sft") != "done" or phases.get("allocator") != "done":
        if not train:
            raise SystemExit(f"{run} lacks a trained performer or allocator; drop --no-train to train them")
        if phases.get("sft") != "done":
            engine.train(resume=True)
        if engine.run.read_state().phases.get("allocator") != "done":
            engine.train_allocator(resume=True)
    return engine


def _slides(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    from pathreason.plugins.datasets.synthpath.slides import SEVERITY, make_slide

    paths = []
    for i in range(count):
        path = folder / f"slide{i:02d}.tiff"
        if not path.is_file():
            make_slide(path, size=size, seed=seed + i, label=SEVERITY[i % len(SEVERITY)], focus=4, normal=0.6)
        paths.append(path)
    return paths


def _rss_probe(run: Path, slide: Path) -> float:
    """Peak RSS (MiB) of a fresh process that answers ``slide`` with ``static:256``."""
    code = ("import resource, sys; from pathreason import Engine; e = Engine.load(sys.argv[1]); "
            "e.predict_slide(sys.argv[2], budgeter='static:256', progress=False); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(run), str(slide)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="subtyping performer run folder (trained if missing)")
    parser.add_argument("--output", type=Path, default=Path("slide-bench"))
    parser.add_argument("--slides", type=int, default=8, help="generated slides (the labels cycle through the classes)")
    parser.add_argument("--size", type=int, default=4096, help="slide side in pixels at 0.5 um/px")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-train", action="store_true", help="fail instead of training what the run lacks")
    parser.add_argument("--survey", type=int, default=16, help="survey tokens of the slide-level escalation rows")
    parser.add_argument("--skip-rss", action="store_true", help="leave out the peak-RSS probes (two more processes)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from pathreason.plugins.datasets.synthpath.generator import NORMAL
    from pathreason.plugins.datasets.synthpath.slides import SEVERITY, make_slide

    args.output.mkdir(parents=True, exist_ok=True)
    engine = _engine(args.run, not args.no_train)
    classes = list(engine.samples("test", 1)[0].options)  # with subtyping_normal: normal stroma too
    severity = ([NORMAL.name] if NORMAL.name in classes else []) + list(SEVERITY)
    engine.config.slide.rule, engine.config.slide.severity, engine.config.slide.min_tiles = "most_severe", severity, 2
    slides = _slides(args.output / "slides", args.slides, args.size, args.seed)

    def run(budgeter: str, budgets: dict[Path, int | None], slide_budgeter: str, survey: int | None = None) -> dict[str, Any]:
        engine.config.slide.budgeter, engine.config.slide.survey = slide_budgeter, survey
        reports, start = [], time.perf_counter()
        for path in slides:
            reports.append(engine.predict_slide(path, slide_budget=budgets[path], budgeter=budgeter,
                                                options=classes, progress=False))
        wall = time.perf_counter() - start
        tissue = sum(r.tiles_tissue for r in reports)
        return {"accuracy": sum(r.metrics.get("correct", 0.0) for r in reports) / len(reports),
                "total_tokens": sum(r.total_tokens for r in reports),
                "tokens_per_tissue_tile": sum(r.total_tokens for r in reports) / tissue,
                "tiles_per_second": sum(r.tiles_answered for r in reports) / wall, "wall_seconds": wall,
                "read_wait_fraction": sum(r.read_wait_seconds for r in reports) / wall,
                "skipped": sum(r.tiles_skipped for r in reports),
                "reread": sum(int(r.survey.get("reread", 0)) for r in reports), "reports": reports}

    none = dict.fromkeys(slides)
    rows: dict[str, dict[str, Any]] = {}
    rows["static:256"] = run("static:256", none, "priority")
    cost = {r.slide: r.total_tokens for r in rows["static:256"]["reports"]}
    for name in ("static:64", "static:16"):
        rows[name] = run(name, none, "priority")
    for share in SHARES:
        budgets = {p: max(1, int(share * cost[str(p)])) for p in slides}
        rows[f"allocator @ {share:.0%}"] = run("allocator", budgets, "priority")
        rows[f"random tiles @ {share:.0%}"] = run("static:256", budgets, f"random-tiles:{args.seed}")
        rows[f"survey {args.survey} -> 256 @ {share:.0%}"] = run("static:256", budgets, "priority", args.survey)
        if share < 1:
            rows[f"allocator, survey {args.survey} @ {share:.0%}"] = run("allocator", budgets, "priority", args.survey)
    rows["allocator"] = run("allocator", none, "priority")
    rows[f"allocator, survey {args.survey}"] = run("allocator", none, "priority", args.survey)
    rows[f"survey {args.survey} -> 256"] = run("static:256", none, "priority", args.survey)

    rss: dict[str, float] = {}
    if not args.skip_rss:
        small, large = args.output / "rss-small.tiff", args.output / "rss-large.tiff"
        for path, size in ((small, args.size), (large, 2 * args.size)):
            if not path.is_file():
                make_slide(path, size=size, seed=args.seed, normal=0.6)
        rss = {"small_mib": _rss_probe(args.run, small), "large_mib": _rss_probe(args.run, large)}
        rss["ratio"] = rss["large_mib"] / rss["small_mib"]
    rss["this_process_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    base = rows["static:256"]["total_tokens"]
    lines = [f"{len(slides)} synthetic slides of {args.size}x{args.size} pixels at 0.5 um/px, run {args.run}; "
             f"classes {classes}", "",
             "| method | slide accuracy | total tokens | % of static:256 | tokens per tissue tile | tiles/s | wall s | "
             "model waits for tiles | tiles skipped | tiles read again |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['accuracy']:.3f} | {row['total_tokens']} | {row['total_tokens'] / base:.0%} | "
                     f"{row['tokens_per_tissue_tile']:.1f} | {row['tiles_per_second']:.2f} | {row['wall_seconds']:.1f} | "
                     f"{row['read_wait_fraction']:.1%} | {row['skipped']} | {row['reread']} |")
    lines += [""] + _verdicts(rows, rss)
    lines += ["", "peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" if k != "ratio" else f"{k} {v:.2f}" for k, v in rss.items()),
              "", f"targets: {TARGETS}"]
    (args.output / "slide.md").write_text("\n".join(lines) + "\n")
    (args.output / "slide.json").write_text(json.dumps(
        {"rows": {k: {m: v for m, v in row.items() if m != "reports"} for k, row in rows.items()}, "rss": rss}, indent=2))
    _plot(rows, args.output / "slide.png")
    print("\n".join(lines))
    return 0


def _verdicts(rows: dict[str, dict[str, Any]], rss: dict[str, float]) -> list[str]:
    """PASS/FAIL per target: every method at <= 40 % of static:256's tokens is held to its accuracy."""
    base = rows["static:256"]
    gap = base["accuracy"] - rows["static:16"]["accuracy"]
    lines = [f"{'PASS' if gap >= 0.2 else 'FAIL'}  the slides need full budget: static:256 is {gap:+.3f} above static:16 "
             "(>= 0.20; else no method can be told from static:16)"]
    for name, row in rows.items():
        share = row["total_tokens"] / base["total_tokens"]
        if name.startswith(("static", "random")) or share > 0.40:
            continue
        ok = row["accuracy"] >= base["accuracy"] - 0.01
        lines.append(f"{'PASS' if ok else 'FAIL'}  {name}: {share:.0%} of static:256's tokens, accuracy "
                     f"{row['accuracy']:.3f} against {base['accuracy']:.3f} (within 1 point)")
    for name, row in rows.items():
        if name.startswith("random tiles @"):
            ok = row["accuracy"] < base["accuracy"] - 0.01 or row["total_tokens"] >= 0.99 * base["total_tokens"]
            lines.append(f"{'PASS' if ok else 'FAIL'}  {name}: accuracy {row['accuracy']:.3f} (worse than static:256 "
                         "below its cost)")
    if "ratio" in rss:
        lines.append(f"{'PASS' if rss['ratio'] <= 1.2 else 'FAIL'}  peak RSS on a 4x larger slide: {rss['ratio']:.2f}x (<= 1.2)")
    wait = max(row["read_wait_fraction"] for row in rows.values())
    lines.append(f"{'PASS' if wait <= 0.10 else 'FAIL'}  the model waits for tiles at most {wait:.1%} of the wall time (<= 10 %)")
    return lines


def _plot(rows: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, row in rows.items():
        marker = "o" if name.startswith("static") else ("s" if name.startswith("allocator") else "x")
        ax.scatter(row["total_tokens"], row["accuracy"], marker=marker)
        ax.annotate(name, (row["total_tokens"], row["accuracy"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("visual tokens over all slides (the allocator's looks included)")
    ax.set_ylabel("slide-level accuracy")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
