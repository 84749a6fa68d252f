"""The budget ablation of the paper's Table 6, with the whole cost counted: one performer under several
budgeters, plus the oracle.

:func:`ablate` evaluates one fixed budget per candidate N (``evaluation.fixed_budgeter``) and the
budgeters of ``evaluation.compare`` (``native``, ``escalate`` and the trained allocator by default)
when the run has what they need, and derives the **oracle** budget of each sample: the smallest fixed
budget at which the performer answers it correctly (score >= 0.5, which is "right" for the 0/1
scores of closed VQA and subtyping), the largest budget when none does. The oracle's row scores each
sample's answer at its oracle budget; it is a bound, not a method (finding the budget took every
fixed pass), so its total is its TPI and it has no wall time.

Each row (one per method and task, and the same per ``meta["difficulty"]`` level) gives the task's
headline metric, the performer's TPI (its final pass), the **total visual tokens per image**
(the budgeter's own: the allocator's look, escalation's earlier passes; plus the final pass), the
passes per image, the mean budget and the wall time per image (see :mod:`pathreason.evaluation`).
The plot puts each method at (total tokens, metric).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.allocator.oracle import oracle_budgets
from pathreason.api import RunError, Sample, Task
from pathreason.report import Section, Table, write_page
from pathreason.runs import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from pathreason.evaluation import EvalReport, Record

logger = logging.getLogger(__name__)

__all__ = ["AblationReport", "ablate", "oracle_text", "plot"]

#: The per-level quantities of a row, and the columns of the Markdown table that show them.
COLUMNS = (("n", "n", "{}"), ("value", None, "{:.3f}"), ("tpi", "TPI", "{:.1f}"),
           ("total_tpi", "total tokens", "{:.1f}"), ("passes", "passes", "{:.2f}"),
           ("mean_budget", "mean budget", "{:.1f}"), ("seconds_per_image", "s / image", "{:.3f}"))


@dataclass
class AblationReport:
    """Rows (one per method and task) with the whole cost, the oracle, and where files were written."""

    rows: list[dict[str, Any]]
    oracle: dict[str, dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "oracle": self.oracle, "files": self.files}

    def add(self, report: EvalReport, tasks: Mapping[str, Task], label: str | None = None,
            only: Sequence[str] | None = None) -> None:
        """Add the rows of one more evaluation (e.g. an allocator trained in another copy of the run,
        on the same performer), named ``label`` (default: its budgeter), for the tasks in ``only``."""
        for task in report.tasks:
            if only is None or task in only:
                self.rows.append(_row(report, task, tasks[task].metric_names[0], "compare", label))

    def row(self, method: str, task: str) -> dict[str, Any]:
        """The row of ``method`` on ``task`` (a ``KeyError`` naming what exists otherwise)."""
        for r in self.rows:
            if r["budgeter"] == method and r["task"] == task:
                return r
        raise KeyError(f"no row for {method!r} on {task!r}; rows: {sorted({(r['budgeter'], r['task']) for r in self.rows})}")

    def tables(self) -> dict[str, Table]:
        """One table per task: each method, then each of its levels."""
        out: dict[str, Table] = {}
        for task in dict.fromkeys(r["task"] for r in self.rows):
            mine = [r for r in self.rows if r["task"] == task]
            metric = mine[0]["metric"]
            rows = []
            for r in mine:
                for level, block in [("all", r), *r.get("by_difficulty", {}).items()]:
                    rows.append([r["budgeter"] if level == "all" else "", level,
                                 *(_cell(block.get(key), fmt) for key, _, fmt in COLUMNS)])
            out[task] = Table(["method", "level"] + [title or metric for _, title, _ in COLUMNS], rows)
        return out

    def setup_note(self, task: str) -> str:
        """The one-off set-up time of the methods of ``task`` (not charged to images), or ``""``."""
        setup = [f"{r['budgeter']} {r['setup_seconds']:.0f} s" for r in self.rows
                 if r["task"] == task and r.get("setup_seconds", 0) >= 0.5]
        return ("one-off set-up, not charged to images (loading an allocator, calibrating a threshold): "
                + ", ".join(setup)) if setup else ""

    def table(self) -> str:
        """Markdown, one table per task: each method, then each of its levels."""
        parts = []
        for task, table in self.tables().items():
            lines = [f"### {task}", "", "| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table.rows]
            note = self.setup_note(task)
            if note:
                lines += ["", note]
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def write(self, output: Path) -> dict[str, str]:
        """Write ``ablation.md``, ``ablation.json``, ``ablation.png`` and ``index.html`` (the tables and
        the plot on one self-contained page) under ``output``, each whole or not at all."""
        output.mkdir(parents=True, exist_ok=True)
        self.files = {"json": str(output / "ablation.json"), "markdown": str(output / "ablation.md"),
                      "plot": str(output / "ablation.png"), "page": str(output / "index.html")}
        atomic_write_text(output / "ablation.md", self.table() + "\n\n" + oracle_text(self.oracle) + "\n")
        atomic_write_text(output / "ablation.json", json.dumps(self.as_dict(), indent=2, default=str))
        with atomic_path(output / "ablation.png") as tmp:
            plot(self.rows, self.oracle, tmp)
        sections = [Section(task, table=table, notes=[n for n in (self.setup_note(task),) if n],
                            paragraphs=[oracle_text({task: self.oracle[task]})] if task in self.oracle else [])
                    for task, table in self.tables().items()]
        sections.append(Section("metric against the whole cost", images=[(output / "ablation.png", "each method's "
                                "metric against its total visual tokens per image (its own look and re-reads "
                                "included)")]))
        write_page(output / "index.html", "pathreason ablate-budget", sections,
                   "fixed budgets, the compared budgeters and the oracle, on one performer")
        return self.files


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _level(entry: Mapping[str, Any], metric: str) -> dict[str, Any]:
    return {"n": entry["n"], "value": float(entry["metrics"][metric]), "tpi": float(entry["tpi"]),
            "overhead_tpi": float(entry.get("overhead_tpi", 0.0)), "total_tpi": float(entry.get("total_tpi", entry["tpi"])),
            "passes": float(entry.get("passes", 1.0)), "mean_budget": float(entry["mean_budget"]),
            "seconds_per_image": entry.get("seconds_per_image"), "fallbacks": int(entry.get("fallbacks", 0)),
            "budgets": entry.get("budgets", {})}


def _row(report: EvalReport, task: str, metric: str, kind: str, label: str | None = None) -> dict[str, Any]:
    entry = report.tasks[task]
    row: dict[str, Any] = {"budgeter": label or report.budgeter, "task": task, "metric": metric, "kind": kind,
                           **_level(entry, metric)}
    row["by_difficulty"] = {d: _level(sub, metric) for d, sub in entry.get("by_difficulty", {}).items()}
    charged = math.fsum(r.seconds for r in report.records)
    row["setup_seconds"] = max(0.0, report.seconds_per_image * report.n - charged)
    return row


def _oracle_row(records: Sequence[Record], samples: Sequence[Sample], tasks: Mapping[str, Task],
                task: str) -> dict[str, Any]:
    from pathreason.evaluation import summarize

    entry = summarize(records, samples, {task: tasks[task]})[task]
    metric = tasks[task].metric_names[0]

    def level(block: Mapping[str, Any]) -> dict[str, Any]:
        return {**_level(block, metric), "seconds_per_image": None}  # a bound: no method ran it

    return {"budgeter": "oracle", "task": task, "metric": metric, "kind": "oracle", **level(entry),
            "by_difficulty": {d: level(sub) for d, sub in entry.get("by_difficulty", {}).items()},
            "setup_seconds": 0.0}


def ablate(evaluate: Callable[..., EvalReport], samples: Sequence[Sample], tasks: Mapping[str, Task],
           budgets: Sequence[int], fixed: Callable[[int], str], compare: Sequence[str] = (),
           require: bool = False, output: Path | None = None) -> AblationReport:
    """Evaluate a fixed budget per candidate and the ``compare`` budgeters, compute the oracle, and
    write ``ablation.json``, ``ablation.md`` and ``ablation.png`` under ``output``.

    ``evaluate(budgeter=name)`` evaluates the run's performer (the same split and samples every
    time); ``samples`` are those samples; ``tasks`` the run's tasks (their first metric is the
    headline); ``fixed(N)`` names the fixed-budget budgeter of budget N. A ``compare`` budgeter that
    the run cannot use (e.g. the allocator of a run without one) is skipped with a note, or fatal
    with ``require``.
    """
    if not budgets:
        raise ValueError("ablate: give at least one fixed budget")
    budgets = sorted(set(int(b) for b in budgets))
    rows: list[dict[str, Any]] = []
    per_budget: dict[int, dict[str, float]] = {}
    records: dict[int, dict[str, Record]] = {}
    for b in budgets:
        report = evaluate(budgeter=fixed(b))
        rows += [_row(report, task, tasks[task].metric_names[0], "fixed") for task in report.tasks]
        per_budget[b] = {r.id: float(r.score) for r in report.records}
        records[b] = {r.id: r for r in report.records}
    compared = []
    for name in compare:
        try:
            compared.append(evaluate(budgeter=name))
        except RunError as exc:
            if require:
                raise
            logger.info("ablate-budget: %s is left out: %s", name, exc)

    oracle = oracle_budgets(per_budget)
    chosen = [records[oracle[i]][i] for i in oracle]
    oracle_out: dict[str, dict[str, Any]] = {}
    for task in tasks:
        mine = [r for r in chosen if r.task == task]
        if not mine:
            continue
        rows.append(_oracle_row(mine, samples, tasks, task))
        block: dict[str, Any] = {"tpi": sum(r.tokens for r in mine) / len(mine),
                                 "mean_score": sum(r.score for r in mine) / len(mine)}
        diffs = sorted({r.difficulty for r in mine if r.difficulty})
        block["by_difficulty"] = {d: sum(r.tokens for r in mine if r.difficulty == d)
                                  / sum(r.difficulty == d for r in mine) for d in diffs}
        oracle_out[task] = block
    result = AblationReport(rows=rows, oracle=oracle_out)
    for report in compared:
        result.add(report, tasks)
    if output is not None:
        result.write(output)
    return result


def oracle_text(oracle: dict[str, dict[str, Any]]) -> str:
    parts = []
    for task, block in oracle.items():
        diffs = ", ".join(f"{d} {v:.1f}" for d, v in block["by_difficulty"].items())
        parts.append(f"oracle {task}: TPI {block['tpi']:.1f}" + (f" ({diffs})" if diffs else "")
                     + f", mean score {block['mean_score']:.3f}")
    return "\n".join(parts)


def plot(rows: Sequence[dict[str, Any]], oracle: dict[str, dict[str, Any]], path: Path) -> Path:
    """The metric against the total visual tokens per image (``total_tpi``; TPI for rows without
    it), one point per method, one panel per task: the fixed budgets are grey dots joined by a line
    and labelled with their budget, the oracle a black diamond (or, when the rows hold no oracle
    row, its TPI from ``oracle`` as a dashed line), every other method a star of its own colour,
    named in one legend under the panels (points of equal cost and metric coincide)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    others = list(dict.fromkeys(r["budgeter"] for r in rows if r.get("kind") not in ("fixed", "oracle")))
    palette = plt.get_cmap("tab10" if len(others) <= 10 else "tab20")
    colours = {name: palette(i) for i, name in enumerate(others)}
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.5), squeeze=False)
    handles: dict[str, Any] = {}
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        static = sorted((r.get("total_tpi", r["tpi"]), r["value"], r["budgeter"]) for r in mine if r.get("kind") == "fixed")
        if static:
            ax.plot([s[0] for s in static], [s[1] for s in static], lw=0.8, color="grey", marker="o", ms=4)
            for i, (x, y, name) in enumerate(static):  # labels alternately above and below: 16 and 32 sit close
                ax.annotate(name.rpartition(":")[2] or name, (x, y), textcoords="offset points",
                            xytext=(3, 4 if i % 2 == 0 else -10), fontsize=7, color="grey")
        for r in mine:
            x = r.get("total_tpi", r["tpi"])
            if r.get("kind") == "oracle":
                handles["oracle"] = ax.scatter(x, r["value"], marker="D", s=45, color="black", zorder=3)
            elif r.get("kind") != "fixed":
                handles[r["budgeter"]] = ax.scatter(x, r["value"], marker="*", s=140, color=colours[r["budgeter"]],
                                                    edgecolors="black", linewidths=0.4, zorder=4)
        if task in oracle and not any(r.get("kind") == "oracle" for r in mine):
            ax.axvline(oracle[task]["tpi"], ls="--", lw=0.8, color="black", label="oracle TPI")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("total visual tokens per image (budgeter's own + performer's)")
        ax.set_ylabel(mine[0]["metric"] if mine else "metric")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    if handles:
        columns = min(len(handles), 2 * len(tasks), 4)  # two legend columns fit under one panel
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=columns, fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.06 * -(-len(handles) // columns), 1, 1))
    else:
        fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, format="png")  # written through a temporary name
    plt.close(fig)
    return path
