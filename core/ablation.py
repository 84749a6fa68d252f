"""The budget ablation of the paper's Table 6: one performer under several budgeters, plus the oracle.

:func:`ablate` evaluates ``static:N`` for each N (and the trained allocator when there is one), and
derives the **oracle** budget of each sample: the smallest static budget at which the performer
answers it correctly (score ≥ 0.5, which is "right" for the 0/1 scores of closed VQA and
subtyping), the largest budget when none does. The table gives, per budgeter and task, the headline
metric, TPI (and the allocator's own tokens), and per difficulty when samples carry one; the plot
puts each budgeter at (TPI, metric).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathreason.engine import Engine
    from pathreason.evaluation import EvalReport

CORRECT = 0.5


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
        head = ["budgeter", "task", "metric", "value", "TPI", "allocator TPI"]
        head += [f"{d} {c}" for d in diffs for c in ("value", "TPI")]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r["budgeter"], r["task"], r["metric"], f"{r['value']:.3f}", f"{r['tpi']:.1f}",
                     f"{r['allocator_tpi']:.1f}" if r.get("allocator_tpi") is not None else "-"]
            for d in diffs:
                sub = r.get("by_difficulty", {}).get(d)
                cells += [f"{sub['value']:.3f}", f"{sub['tpi']:.1f}"] if sub else ["-", "-"]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _row(report: EvalReport, task: str, metric: str) -> dict[str, Any]:
    entry = report.tasks[task]
    row: dict[str, Any] = {"budgeter": report.budgeter, "task": task, "metric": metric,
                           "value": float(entry["metrics"][metric]), "tpi": float(entry["tpi"]),
                           "allocator_tpi": entry.get("allocator_tpi"), "budgets": entry.get("budgets", {}),
                           "seconds_per_image": report.seconds_per_image}
    row["by_difficulty"] = {d: {"value": float(sub["metrics"][metric]), "tpi": float(sub["tpi"]), "n": sub["n"],
                                "budgets": sub.get("budgets", {})}
                            for d, sub in entry.get("by_difficulty", {}).items()}
    return row


def oracle_budgets(scores: dict[int, dict[str, float]]) -> dict[str, int]:
    """Per sample id: the smallest budget whose score is ≥ 0.5, else the largest budget.

    >>> oracle_budgets({16: {"a": 1.0, "b": 0.0}, 256: {"a": 1.0, "b": 0.0}})
    {'a': 16, 'b': 256}
    """
    budgets = sorted(scores)
    ids = set().union(*(scores[b] for b in budgets))
    return {i: next((b for b in budgets if scores[b].get(i, 0.0) >= CORRECT), budgets[-1]) for i in sorted(ids)}


def ablate(engine: Engine, budgets: Sequence[int] = (16, 32, 64, 128, 256), allocator: bool | None = None,
           split: str | None = None, n: int | None = None, phase: str | None = None, output: Path | None = None,
           progress: bool = True) -> AblationReport:
    """Evaluate ``static:N`` for each budget (and the allocator), compute the oracle, write
    ``ablation.json``, ``ablation.md`` and ``ablation.png`` under ``output`` (default
    ``<run>/eval/ablation``)."""
    if not budgets:
        raise ValueError("ablate: give at least one static budget")
    budgets = sorted(set(int(b) for b in budgets))
    if allocator is None:
        allocator = engine.run.final_dir("allocator").is_dir()
    reports: list[EvalReport] = []
    per_budget: dict[int, dict[str, float]] = {}
    tokens: dict[int, dict[str, int]] = {}
    for b in budgets:
        report = engine.evaluate(split=split, budgeter=f"static:{b}", n=n, phase=phase, progress=progress)
        reports.append(report)
        per_budget[b] = {r.id: float(r.score) for r in report.records}
        tokens[b] = {r.id: int(r.tokens) for r in report.records}
    if allocator:
        reports.append(engine.evaluate(split=split, budgeter="allocator", n=n, phase=phase, progress=progress))
    rows = [_row(rep, task, engine.tasks[task].metric_names[0]) for rep in reports for task in rep.tasks]

    oracle = oracle_budgets(per_budget)
    samples = {s.id: s for s in engine.samples(split or engine.config.dataset.eval_split, n)}
    oracle_out: dict[str, dict[str, Any]] = {}
    for task in engine.tasks:
        ids = [i for i in oracle if samples[i].task == task]
        if not ids:
            continue
        block: dict[str, Any] = {"tpi": sum(tokens[oracle[i]][i] for i in ids) / len(ids),
                                 "mean_score": sum(per_budget[oracle[i]][i] for i in ids) / len(ids)}
        diffs = sorted({str(samples[i].meta.get("difficulty")) for i in ids if samples[i].meta.get("difficulty")})
        block["by_difficulty"] = {d: sum(tokens[oracle[i]][i] for i in ids if samples[i].meta.get("difficulty") == d)
                                  / max(1, sum(samples[i].meta.get("difficulty") == d for i in ids)) for d in diffs}
        oracle_out[task] = block
    result = AblationReport(rows=rows, oracle=oracle_out)
    out = Path(output) if output else engine.run.path / "eval" / "ablation"
    out.mkdir(parents=True, exist_ok=True)
    result.files = {"json": str(out / "ablation.json"), "markdown": str(out / "ablation.md"),
                    "plot": str(out / "ablation.png")}
    (out / "ablation.md").write_text(result.table() + "\n\n" + oracle_text(oracle_out) + "\n")
    (out / "ablation.json").write_text(json.dumps(result.as_dict(), indent=2, default=str))
    plot(rows, oracle_out, out / "ablation.png")
    return result


def oracle_text(oracle: dict[str, dict[str, Any]]) -> str:
    parts = []
    for task, block in oracle.items():
        diffs = ", ".join(f"{d} {v:.1f}" for d, v in block["by_difficulty"].items())
        parts.append(f"oracle {task}: TPI {block['tpi']:.1f}" + (f" ({diffs})" if diffs else "")
                     + f", mean score {block['mean_score']:.3f}")
    return "\n".join(parts)


def plot(rows: Sequence[dict[str, Any]], oracle: dict[str, dict[str, Any]], path: Path) -> Path:
    """Metric against TPI, one point per budgeter (and the oracle's TPI as a dashed line), per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        for i, r in enumerate(mine):
            marker = "*" if r["budgeter"] == "allocator" else "o"
            ax.scatter(r["tpi"], r["value"], marker=marker, s=120 if marker == "*" else 40)
            # labels alternately above and below: neighbouring budgets (16, 32) sit close together
            ax.annotate(r["budgeter"], (r["tpi"], r["value"]), textcoords="offset points",
                        xytext=(4, 4 if i % 2 == 0 else -11), fontsize=8)
        static = sorted((r["tpi"], r["value"]) for r in mine if r["budgeter"].startswith("static"))
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


__all__ = ["AblationReport", "ablate", "oracle_budgets", "oracle_text", "plot"]
