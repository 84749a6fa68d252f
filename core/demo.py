"""``pathreason demo``: the whole method on the embedded defaults, on a CPU, in minutes.

One task performer for VQA, subtyping and detection (a mixed-task run of the ``tiny`` model on
``synthpath`` with real H&E backgrounds): SFT, then GRPO, then the token allocator; evaluated
untrained, after SFT, after GRPO (``static:256`` and ``native``) and with the allocator. The report
folder holds the paper-style tables (Markdown + JSON), the accuracy-vs-TPI plot, the training reward
curves and example predictions drawn on their images.

The demo trains far less than ``pathreason train`` does (it must finish in minutes on two cores), so
its numbers show the method working end to end, not what the defaults reach; ``benchmarks/`` has those.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DemoProfile:
    """How much the demo trains and evaluates."""

    n_train: int  # training samples per task
    n_test: int  # test samples per task
    sft_steps: int
    sft_batch: int
    grpo_steps: int
    grpo_batch: int
    generations: int
    allocator_warmup: int
    allocator_steps: int
    max_new_tokens: int
    examples: int  # example predictions drawn per task


FULL = DemoProfile(n_train=96, n_test=16, sft_steps=150, sft_batch=16, grpo_steps=6, grpo_batch=8, generations=4,
                   allocator_warmup=20, allocator_steps=8, max_new_tokens=96, examples=2)
QUICK = DemoProfile(n_train=4, n_test=2, sft_steps=2, sft_batch=4, grpo_steps=1, grpo_batch=2, generations=2,
                    allocator_warmup=1, allocator_steps=1, max_new_tokens=16, examples=1)

#: The table's rows: (label, performer phase, budgeter: None for ``evaluation.budgeter``).
ROWS = (("untrained", "base", None), ("SFT", "sft", None), ("+Performer", "grpo", None),
        ("+Performer+Allocator", "grpo", "allocator"))

#: The allocator's goal on the demo's tiles: at most this share of ``static:256``'s TPI ...
TPI_SHARE = 0.6
#: ... with the task's primary metric at most this far below the performer's.
METRIC_SLACK = 0.01


def _settings(tasks: Sequence[str] | None, p: DemoProfile, output: Path) -> dict[str, Any]:
    if tasks is None:  # every task of the default dataset
        from pathreason.config import RunConfig
        from pathreason.registry import dataset_spec

        tasks = dataset_spec(RunConfig().dataset.name).tasks
    return {
        "task": list(tasks),
        "output_dir": str(output / "run"),
        "dataset__options": {"n": p.n_train * len(list(tasks)), "real_background": True},
        # One performer for all tasks: every sample weighs the same, or the long box lists of
        # detection drown the short answers of VQA and subtyping.
        "sft": {"max_steps": p.sft_steps, "per_device_train_batch_size": p.sft_batch, "logging_steps": 5,
                "save_steps": 10_000, "loss_per_sample": True},
        "grpo": {"max_steps": p.grpo_steps, "per_device_train_batch_size": p.grpo_batch,
                 "num_generations": p.generations, "max_completion_length": p.max_new_tokens, "logging_steps": 1,
                 "save_steps": 10_000},
        "allocator": {"warmup_steps": p.allocator_warmup, "max_steps": p.allocator_steps,
                      "per_device_train_batch_size": p.grpo_batch, "num_generations": p.generations,
                      "max_completion_length": 24, "logging_steps": 1, "save_steps": 10_000},
    }


def run_demo(tasks: Sequence[str] | None = None, quick: bool = False, output: str | Path = "pathreason-demo",
             progress: bool = True, say: Any = print) -> dict[str, Any]:
    """Train and evaluate; write the report folder (tables, plots, examples, ``index.html``); return
    the tables as a dict."""
    from pathreason.console import log_to
    from pathreason.engine import Engine

    profile = QUICK if quick else FULL
    out = Path(output)
    if (out / "run").exists():
        raise FileExistsError(f"{out} already holds a demo; choose another --output or remove it")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log_to(out / "run" / "log.txt")
    engine = Engine(**_settings(tasks, profile, out))
    tasks = list(engine.tasks)
    say(f"pathreason demo: tasks {', '.join(tasks)} | tiny model | synthpath with real H&E backgrounds | "
        f"{'quick' if quick else 'full'} profile -> {out}  (library output: {out / 'run' / 'log.txt'})")
    timings: dict[str, float] = {}
    reports: dict[str, Any] = {}

    def evaluate(label: str, phase: str, budgeter: str | None) -> None:
        t = time.perf_counter()
        report = engine.evaluate(budgeter=budgeter, n=profile.n_test * len(tasks), phase=phase, progress=progress,
                                 max_new_tokens=profile.max_new_tokens)
        timings[f"eval {label}"] = time.perf_counter() - t
        reports[label] = report
        say(f"[{time.perf_counter() - started:5.0f}s] evaluated {label}")

    def step(name: str, fn: Any) -> None:
        t = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - t
        say(f"[{time.perf_counter() - started:5.0f}s] trained {name}")

    rows = ROWS
    evaluate(*rows[0])
    step("SFT", lambda: engine.sft())
    evaluate(*rows[1])
    step("GRPO", lambda: engine.grpo())
    evaluate(*rows[2])
    step("allocator", lambda: engine.train_allocator())
    evaluate(*rows[3])

    tables = {task: _table(engine, task, reports, rows) for task in tasks}
    grpo_log = [r for r in engine.run.read_log("grpo") if r.get("frac_reward_zero_std") is not None]
    spread = (sum(float(r["frac_reward_zero_std"]) for r in grpo_log) / len(grpo_log)) if grpo_log else None
    notes = {task: stage_notes(task, engine.tasks[task].metric_names[0], tables[task], spread) for task in tasks}
    result = {"profile": asdict(profile), "tasks": tables, "notes": notes, "grpo_frac_reward_zero_std": spread,
              "timings_s": timings, "total_s": time.perf_counter() - started, "run": str(engine.run.path)}
    markdown = _markdown(tables, notes)
    (out / "tables.md").write_text(markdown + "\n")
    files = {"tables": str(out / "tables.md"), "json": str(out / "tables.json")}
    files["accuracy_vs_tpi"] = str(_plot_tradeoff(tables, out / "accuracy_vs_tpi.png"))
    files["reward_curves"] = str(_plot_rewards(engine, out / "reward_curves.png"))
    files["examples"] = str(_draw_examples(engine, reports[rows[-1][0]], profile.n_test * len(tasks),
                                           out / "examples", profile.examples))
    result["total_s"] = time.perf_counter() - started
    files["page"] = str(_write_page(out, tables, notes, files, result))
    result["files"] = files
    (out / "tables.json").write_text(json.dumps(result, indent=2, default=str))
    say("")
    say(markdown)
    say("")
    say(f"done in {result['total_s']:.0f} s. Report: {files['page']}")
    return result


def stage_notes(task: str, metric: str, rows: Sequence[dict[str, Any]], grpo_zero_spread: float | None,
                figures: dict[str, Any] | None = None) -> list[str]:
    """One plain sentence for each stage whose effect the demo's own tiles do not show.

    >>> rows = [{"row": "untrained", "m": 0.0, "format_rate": 0.0, "tpi": 256.0, "allocator_tpi": None},
    ...         {"row": "SFT", "m": 0.5, "format_rate": 1.0, "tpi": 256.0, "allocator_tpi": None},
    ...          {"row": "+Performer", "m": 0.5, "format_rate": 1.0, "tpi": 256.0, "allocator_tpi": None},
    ...          {"row": "+Performer+Allocator", "m": 0.5, "format_rate": 1.0, "tpi": 100.0, "allocator_tpi": 256.0}]
    >>> stage_notes("t", "m", rows, None, {})
    ["GRPO left m unchanged (0.500 -> 0.500) in the demo's few steps."]
    >>> stage_notes("t", "m", rows, None, {"grpo": {"t": "at this scale it does not help (0.50 -> 0.50)"}})[0]
    "GRPO left m unchanged (0.500 -> 0.500) in the demo's few steps; at this scale it does not help (0.50 -> 0.50)."

    ``figures`` (default: ``demo`` in the runtime's defaults) holds what the longer runs measured:
    ``default_runs`` (each task's default run), ``grpo`` (per task, a clause on what GRPO adds in
    ``benchmarks/grpo.py``) and ``allocator`` (per task, its allocator in ``benchmarks/allocator.py``).
    """
    if figures is None:
        from pathreason.config import DEFAULTS

        figures = DEFAULTS.get("demo", {})
    by = {r["row"]: r for r in rows}
    notes: list[str] = []
    figure = figures.get("default_runs", {}).get(task)
    longer = f"; the default {task} run (`pathreason train --task {task}`) reaches {figure}" if figure else ""
    base, sft, grpo, alloc = (by.get(k) for k in ("untrained", "SFT", "+Performer", "+Performer+Allocator"))
    if base and sft and ((sft[metric] or 0.0) <= (base[metric] or 0.0) or sft["format_rate"] < 1.0):
        notes.append(f"SFT did not lift {metric} clearly above the untrained model with format rate 1.00 "
                     f"within the demo's steps ({_fmt(base[metric])} -> {_fmt(sft[metric])}, format "
                     f"{sft['format_rate']:.2f}){longer}.")
    if grpo and not notes and not (grpo.get(metric) or 0.0) > 0:  # trained, well-formed, and still 0
        notes.append(f"The trained performer scored 0 on these tiles ({metric} {_fmt(grpo[metric])}){longer}.")
    grpo_figure, alloc_figure = (figures.get(stage, {}).get(task) for stage in ("grpo", "allocator"))
    at_scale = f"; {grpo_figure}" if grpo_figure else ""
    if sft and grpo:
        before, after = sft[metric] or 0.0, grpo[metric] or 0.0
        if abs(after - before) < 1e-9:
            spread = ("" if grpo_zero_spread is None else
                      f"; in {grpo_zero_spread:.0%} of its prompt groups every completion had the same reward")
            notes.append(f"GRPO left {metric} unchanged ({_fmt(before)} -> {_fmt(after)}) in the demo's few "
                         f"steps{spread}{at_scale}.")
        elif after < before:
            notes.append(f"GRPO lowered {metric} ({_fmt(before)} -> {_fmt(after)}) in the demo's few steps{at_scale}.")
    if grpo and alloc:
        share = alloc["tpi"] / grpo["tpi"] if grpo["tpi"] else 1.0
        change = (alloc[metric] or 0.0) - (grpo[metric] or 0.0)
        if share > TPI_SHARE or -change > METRIC_SLACK:
            notes.append(f"The allocator kept {share:.0%} of static:{grpo['tpi']:.0f}'s tokens per image "
                         f"(goal: at most {TPI_SHARE:.0%}) and changed {metric} by {change:+.3f} (goal: within "
                         f"{METRIC_SLACK:.2f}); `python benchmarks/allocator.py` trains and measures it at length"
                         + (f": {alloc_figure}." if alloc_figure else "."))
    return notes


def _table(engine: Any, task: str, reports: dict[str, Any], labels: Sequence[tuple[str, str, str | None]]
           ) -> list[dict[str, Any]]:
    names = engine.tasks[task].metric_names
    rows = []
    for label, _, _ in labels:
        entry = reports[label].tasks.get(task)
        if entry is None:
            continue
        overhead = entry.get("overhead_tpi")
        rows.append({"row": label, "budgeter": reports[label].budgeter, **{m: entry["metrics"].get(m) for m in names},
                     "format_rate": entry["format_rate"], "tpi": entry["tpi"], "allocator_tpi": overhead or None,
                     "total_tpi": entry["tpi"] + (overhead or 0.0), "budgets": entry.get("budgets"),
                     "by_difficulty": {d: {"tpi": sub["tpi"], names[0]: sub["metrics"].get(names[0])}
                                       for d, sub in entry.get("by_difficulty", {}).items()}})
    return rows


_NOT_METRICS = ("row", "budgeter", "format_rate", "tpi", "allocator_tpi", "total_tpi", "budgets", "by_difficulty")


def _cells(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    metrics = [k for k in rows[0] if k not in _NOT_METRICS]
    head = ["", *metrics, "format rate", "TPI", "allocator's own TPI"]
    body = [[r["row"], *(r[m] for m in metrics), r["format_rate"], r["tpi"], r["allocator_tpi"]] for r in rows]
    return head, body


def _write_page(out: Path, tables: dict[str, list[dict[str, Any]]], notes: dict[str, list[str]],
                files: dict[str, str], result: dict[str, Any]) -> Path:
    from pathreason.report import Section, Table, write_page

    sections = []
    for task, rows in tables.items():
        if rows:
            head, body = _cells(rows)
            sections.append(Section(task, notes=notes.get(task, []), table=Table(head, body)))
    sections.append(Section("accuracy against tokens per image", images=[
        (files["accuracy_vs_tpi"], "each task's primary metric against TPI, static:256 and the allocator")]))
    sections.append(Section("training reward curves", images=[
        (files["reward_curves"], "mean reward per GRPO step: the performer and the allocator")]))
    examples = sorted(Path(files["examples"]).glob("*.png"))
    sections.append(Section("example predictions", paragraphs=[
        "Allocator-run answers on test tiles: gold boxes green, predicted boxes red."],
        images=[(p, p.stem) for p in examples]))
    subtitle = (f"{result['profile']['sft_steps']} SFT steps, {result['profile']['grpo_steps']} GRPO steps, "
                f"{result['profile']['allocator_steps']} allocator steps; {result['total_s']:.0f} s in all")
    return write_page(out / "index.html", "pathreason demo", sections, subtitle)


def _markdown(tables: dict[str, list[dict[str, Any]]], notes: dict[str, list[str]] | None = None) -> str:
    parts = []
    for task, rows in tables.items():
        if not rows:
            continue
        head, body = _cells(rows)
        lines = [f"### {task}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        tpi = {i for i, h in enumerate(head) if "TPI" in h}
        for cells in body:
            lines.append("| " + " | ".join(f"{c:.1f}" if i in tpi and isinstance(c, float) else _fmt(c)
                                           for i, c in enumerate(cells)) + " |")
        task_notes = (notes or {}).get(task, [])
        lines += ["", *(f"- {n}" for n in task_notes)] if task_notes else []
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):  # nan: nothing to score (no open question)
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _plot_tradeoff(tables: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    from pathreason.ablation import plot

    rows = []
    for task, entries in tables.items():
        metric = next(k for k in entries[0] if k not in ("row", "budgeter"))
        for r in entries:
            if r["row"].startswith("+Performer"):
                rows.append({"task": task, "budgeter": r["budgeter"], "tpi": r["total_tpi"], "value": r[metric] or 0.0,
                             "metric": metric})
    return plot(rows, {}, path)


def _plot_rewards(engine: Any, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, phase in zip(axes, ("grpo", "allocator")):
        log = [r for r in engine.run.read_log(phase) if "step" in r and r.get("stage") != "warmup"]
        keys = sorted({k for r in log for k in r if k.startswith("rewards/") and k.endswith("/mean")})
        for key in keys:
            pts = [(r["step"], float(r[key])) for r in log if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, label=key.split("/")[1])
        ax.set_title("performer GRPO" if phase == "grpo" else "allocator GRPO")
        ax.set_xlabel("step")
        ax.set_ylabel("mean reward")
        ax.grid(alpha=0.3)
        if keys:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _draw_examples(engine: Any, report: Any, n: int, folder: Path, per_task: int) -> Path:
    """Allocator-run predictions drawn on their images: rationale, answer, budget; boxes for detection."""
    import textwrap

    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    samples = {s.id: s for s in engine.samples(report.split, n)}  # the evaluated samples (cached)
    shown: dict[str, int] = {}
    for r in report.records:
        if shown.get(r.task, 0) >= per_task or r.id not in samples:
            continue
        shown[r.task] = shown.get(r.task, 0) + 1
        sample = samples[r.id]
        image = sample.load_image().convert("RGB")
        canvas = image.resize((448, round(448 * image.height / image.width)))
        sx = canvas.width / image.width
        draw = ImageDraw.Draw(canvas)
        for box in sample.boxes or []:
            draw.rectangle([v * sx for v in box], outline=(0, 160, 0), width=2)
        if isinstance(r.parsed, list):  # a task that answers with boxes
            for box in r.parsed:
                if isinstance(box, list) and len(box) == 4:  # as the model wrote it: corners in any order
                    x0, y0, x1, y1 = (float(v) * sx for v in box)
                    draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], outline=(220, 0, 0),
                                   width=2)
        text = (f"{r.task} | {r.difficulty or ''} | allocator gave {r.budget} -> {r.tokens} tokens\n"
                f"Q: {r.prompt[:120]}\n{r.completion[:300]}\ngold: {sample.answer or sample.boxes}")
        lines = [ln for part in text.split("\n") for ln in (textwrap.wrap(part, 70) or [""])]
        panel = Image.new("RGB", (canvas.width, canvas.height + 14 * len(lines) + 8), "white")
        panel.paste(canvas, (0, 0))
        ImageDraw.Draw(panel).multiline_text((4, canvas.height + 4), "\n".join(lines), fill=(0, 0, 0), spacing=2)
        panel.save(folder / f"{r.task}-{shown[r.task]}.png")
    return folder


__all__ = ["FULL", "QUICK", "DemoProfile", "run_demo"]
