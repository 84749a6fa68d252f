"""The budget ablation of the paper's Table 6: one performer under several budgeters, plus the oracle.

:func:`ablate` evaluates one fixed budget per candidate N (``evaluation.fixed_budgeter``) and the
budgeters of ``evaluation.compare`` (the trained allocator by default) when the run has what they
need, and derives the **oracle** budget of each sample: the smallest fixed budget at which the
performer answers it correctly (score ≥ 0.5, which is "right" for the 0/1 scores of closed VQA and
subtyping), the largest budget when none does. The table gives, per budgeter and task, the headline
metric, TPI (and the budgeter's own tokens), and per difficulty when samples carry one; the plot
puts each budgeter at (TPI, metric).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.allocator.oracle import oracle_budgets
from pathreason.api import RunError, Sample

if TYPE_CHECKING:
    from pathreason.evaluation import EvalReport

logger = logging.getLogger(__name__)


@dataclass
class AblationReport:
    """Rows (one per budgeter) of metrics and TPI per task, the oracle, and where files were written."""

    rows: list[dict[str, Any]]
    oracle: dict[str, dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "oracle": self.oracle, "files": self.files}

    def table(self) -> str:
        """Markdown: budgeter | task | metric | TPI (| per difficulty)."""
        diffs = sorted({d for r in self.rows for d in r.get("by_difficulty", {})})
        head = ["budgeter", "task", "metric", "value", "TPI", "budgeter TPI"]
        head += [f"{d} {c}" for d in diffs for c in ("value", "TPI")]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r["budgeter"], r["task"], r["metric"], f"{r['value']:.3f}", f"{r['tpi']:.1f}",
                     f"{r['overhead_tpi']:.1f}" if r.get("overhead_tpi") else "-"]
            for d in diffs:
                sub = r.get("by_difficulty", {}).get(d)
                cells += [f"{sub['value']:.3f}", f"{sub['tpi']:.1f}"] if sub else ["-", "-"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _row(report: EvalReport, task: str, metric: str) -> dict[str, Any]:
    entry = report.tasks[task]
    row: dict[str, Any] = {"budgeter": report.budgeter, "task": task, "metric": metric,
                           "value": float(entry["metrics"][metric]), "tpi": float(entry["tpi"]),
                           "overhead_tpi": entry.get("overhead_tpi", 0.0), "total_tpi": entry.get("total_tpi", entry["tpi"]),
                           "budgets": entry.get("budgets", {}),
                           "seconds_per_image": report.seconds_per_image}
    row["by_difficulty"] = {d: {"value": float(sub["metrics"][metric]), "tpi": float(sub["tpi"]), "n": sub["n"],
                                "budgets": sub.get("budgets", {})}
                            for d, sub in entry.get("by_difficulty", {}).items()}
    return row


def ablate(evaluate: Callable[..., EvalReport], samples: Sequence[Sample], metric_names: Mapping[str, str],
           budgets: Sequence[int], fixed: Callable[[int], str], compare: Sequence[str] = (),
           require: bool = False, output: Path | None = None) -> AblationReport:
    """Evaluate a fixed budget per candidate and the ``compare`` budgeters, compute the oracle, and
    write ``ablation.json``, ``ablation.md`` and ``ablation.png`` under ``output``.

    ``evaluate(budgeter=name)`` evaluates the run's performer (the same split and samples every
    time); ``samples`` are those samples; ``metric_names`` gives each task's headline metric;
    ``fixed(N)`` names the fixed-budget budgeter of budget N. A ``compare`` budgeter that the run
    cannot use (e.g. the allocator of a run without one) is skipped with a note, or fatal with
    ``require``.
    """
    if not budgets:
        raise ValueError("ablate: give at least one fixed budget")
    budgets = sorted(set(int(b) for b in budgets))
    reports: list[EvalReport] = []
    per_budget: dict[int, dict[str, float]] = {}
    tokens: dict[int, dict[str, int]] = {}
    for b in budgets:
        report = evaluate(budgeter=fixed(b))
        reports.append(report)
        per_budget[b] = {r.id: float(r.score) for r in report.records}
        tokens[b] = {r.id: int(r.tokens) for r in report.records}
    for name in compare:
        try:
            reports.append(evaluate(budgeter=name))
        except RunError as exc:
            if require:
                raise
            logger.info("ablate-budget: %s is left out: %s", name, exc)
    fixed_names = {fixed(b) for b in budgets}
    rows = [{**_row(rep, task, metric_names[task]), "fixed": rep.budgeter in fixed_names}
            for rep in reports for task in rep.tasks]

    oracle = oracle_budgets(per_budget)
    by_id = {s.id: s for s in samples}
    oracle_out: dict[str, dict[str, Any]] = {}
    for task in metric_names:
        ids = [i for i in oracle if by_id[i].task == task]
        if not ids:
            continue
        block: dict[str, Any] = {"tpi": sum(tokens[oracle[i]][i] for i in ids) / len(ids),
                                 "mean_score": sum(per_budget[oracle[i]][i] for i in ids) / len(ids)}
        diffs = sorted({str(by_id[i].meta.get("difficulty")) for i in ids if by_id[i].meta.get("difficulty")})
        block["by_difficulty"] = {d: sum(tokens[oracle[i]][i] for i in ids if by_id[i].meta.get("difficulty") == d)
                                  / max(1, sum(by_id[i].meta.get("difficulty") == d for i in ids)) for d in diffs}
        oracle_out[task] = block
    result = AblationReport(rows=rows, oracle=oracle_out)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        result.files = {"json": str(output / "ablation.json"), "markdown": str(output / "ablation.md"),
                        "plot": str(output / "ablation.png")}
        (output / "ablation.md").write_text(result.table() + "\n\n" + oracle_text(oracle_out) + "\n")
        (output / "ablation.json").write_text(json.dumps(result.as_dict(), indent=2, default=str))
        plot(rows, oracle_out, output / "ablation.png")
    return result


def oracle_text(oracle: dict[str, dict[str, Any]]) -> str:
    parts = []
    for task, block in oracle.items():
        diffs = ", ".join(f"{d} {v:.1f}" for d, v in block["by_difficulty"].items())
        parts.append(f"oracle {task}: TPI {block['tpi']:.1f}" + (f" ({diffs})" if diffs else "")
                     + f", mean score {block['mean_score']:.3f}")
    return "\n".join(parts)


def plot(rows: Sequence[dict[str, Any]], oracle: dict[str, dict[str, Any]], path: Path) -> Path:
    """Metric against TPI, one point per budgeter (and the oracle's TPI as a dashed line), per task;
    the fixed-budget rows (``row["fixed"]``) are dots joined by a line, the others stars."""
    fixed_names = {r["budgeter"] for r in rows if r.get("fixed")}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        for i, r in enumerate(mine):
            marker = "o" if r["budgeter"] in fixed_names else "*"
            ax.scatter(r["tpi"], r["value"], marker=marker, s=120 if marker == "*" else 40)
            # labels alternately above and below: neighbouring budgets (16, 32) sit close together
            ax.annotate(r["budgeter"], (r["tpi"], r["value"]), textcoords="offset points",
                        xytext=(4, 4 if i % 2 == 0 else -11), fontsize=8)
        static = sorted((r["tpi"], r["value"]) for r in mine if r["budgeter"] in fixed_names)
        if static:
            ax.plot(*zip(*static), lw=0.8, color="grey")
        if task in oracle:
            ax.axvline(oracle[task]["tpi"], ls="--", lw=0.8, color="black", label="oracle TPI")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("visual tokens per image (TPI)")
        ax.set_ylabel(mine[0]["metric"] if mine else "metric")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


__all__ = ["AblationReport", "ablate", "oracle_text", "plot"]
