"""The budget ablation's whole-cost columns, on fake evaluations whose numbers are counted by hand: the
metric, the performer's TPI, the total visual tokens per image (the budgeter's own plus the final
pass), passes, mean budget and wall time, per task and per level; the oracle's row; the table, JSON
and plot; compare budgeters the run cannot use."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pathreason.ablation import AblationReport, ablate
from pathreason.api import RunError, Sample, Task
from pathreason.evaluation import EvalReport, Record, summarize


class ToyTask(Task):
    name = "toy"
    metric_names = ("accuracy",)

    def score(self, parsed: Any, sample: Sample) -> float:
        return float(parsed == sample.answer)

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        return {"accuracy": sum(self.score(p, s) for p, s in zip(parsed, samples)) / len(samples)}


TASKS = {"toy": ToyTask()}
SAMPLES = [Sample(id=f"s{i}", image=Image.new("RGB", (448, 448)), task="toy", answer="right",
                  meta={"difficulty": "low" if i < 2 else "high"}) for i in range(4)]
# which samples each fixed budget answers right
RIGHT = {16: {"s0", "s3"}, 64: {"s0", "s1", "s3"}, 256: {"s0", "s1", "s2", "s3"}}
# the compare budgeter "look": (final tokens, own tokens, passes, right?) per sample
LOOK = {"s0": (16, 4, 1, True), "s1": (64, 4, 1, True), "s2": (256, 4, 1, True), "s3": (16, 4, 1, False)}


def _record(sample: Sample, right: bool, tokens: int, overhead: int = 0, passes: int = 1,
            seconds: float = 0.0) -> Record:
    answer = "right" if right else "wrong"
    return Record(id=sample.id, task="toy", prompt="", completion=answer, parsed=answer, score=float(right),
                  tokens=tokens, budget=tokens, difficulty=sample.meta["difficulty"], overhead_tokens=overhead,
                  passes=passes, seconds=seconds)


def fake_evaluate(budgeter: str) -> EvalReport:
    if budgeter.startswith("static:"):
        b = int(budgeter.split(":")[1])
        records = [_record(s, s.id in RIGHT[b], b, seconds=b / 1000) for s in SAMPLES]
        per_image = 0.5 * b / 1000  # less than the records' own: no set-up left over
    elif budgeter == "look":
        records = [_record(s, right, t, o, p, seconds=0.1) for s in SAMPLES for t, o, p, right in [LOOK[s.id]]]
        per_image = 0.5  # 2 s in all, 0.4 s of it charged to the images: 1.6 s of set-up
    else:
        raise RunError(f"{budgeter}: this run has none")
    return EvalReport(budgeter=budgeter, split="test", phase="sft", tasks=summarize(records, SAMPLES, TASKS),
                      seconds_per_image=per_image, n=len(records), records=records)


def test_every_column_by_hand(tmp_path: Path) -> None:
    report = ablate(fake_evaluate, SAMPLES, TASKS, [256, 16, 64], lambda b: f"static:{b}",
                    compare=["look", "missing"], output=tmp_path)
    assert [r["budgeter"] for r in report.rows] == ["static:16", "static:64", "static:256", "oracle", "look"]

    s64 = report.row("static:64", "toy")
    assert (s64["value"], s64["tpi"], s64["total_tpi"], s64["passes"], s64["kind"]) == (0.75, 64.0, 64.0, 1.0, "fixed")
    assert s64["seconds_per_image"] == pytest.approx(0.064)
    assert s64["by_difficulty"]["high"]["value"] == 0.5 and s64["by_difficulty"]["low"]["value"] == 1.0

    # the oracle: s0 16, s1 64, s2 256, s3 16 tokens; every answer right; a bound, with no wall time
    oracle = report.row("oracle", "toy")
    assert oracle["value"] == 1.0 and oracle["tpi"] == (16 + 64 + 256 + 16) / 4 == oracle["total_tpi"]
    assert oracle["by_difficulty"]["low"]["tpi"] == (16 + 64) / 2 and oracle["by_difficulty"]["high"]["tpi"] == (256 + 16) / 2
    assert oracle["seconds_per_image"] is None and oracle["mean_budget"] == 88.0
    assert report.oracle["toy"] == {"tpi": 88.0, "mean_score": 1.0, "by_difficulty": {"high": 136.0, "low": 40.0}}

    # the two-stage budgeter: its own 4 tokens per image on top of the final pass
    look = report.row("look", "toy")
    assert (look["value"], look["tpi"], look["overhead_tpi"], look["total_tpi"]) == (0.75, 88.0, 4.0, 92.0)
    assert list(look["by_difficulty"]) == ["low", "high"]  # the levels in the order the samples show them
    assert look["by_difficulty"]["low"]["total_tpi"] == (20 + 68) / 2
    assert look["by_difficulty"]["high"]["total_tpi"] == (260 + 20) / 2
    assert look["seconds_per_image"] == pytest.approx(0.1) and look["setup_seconds"] == pytest.approx(1.6)
    assert report.row("static:16", "toy")["setup_seconds"] == 0.0

    table = report.table()
    assert "| method | level | n | accuracy | TPI | total tokens | passes | mean budget | s / image |" in table
    assert "| look | all | 4 | 0.750 | 88.0 | 92.0 | 1.00 | 88.0 | 0.100 |" in table
    assert "|  | high | 2 | 0.500 | 136.0 | 140.0 | 1.00 | 136.0 | 0.100 |" in table
    assert "| oracle | all | 4 | 1.000 | 88.0 | 88.0 | 1.00 | 88.0 | - |" in table
    assert "one-off set-up, not charged to images (loading an allocator, calibrating a threshold): look 2 s" in table
    saved = json.loads((tmp_path / "ablation.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(report.rows))
    assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "oracle toy: TPI 88.0 (high 136.0, low 40.0), mean score 1.000" in (tmp_path / "ablation.md").read_text()


def test_a_budgeter_the_run_cannot_use_is_left_out_or_required() -> None:
    report = ablate(fake_evaluate, SAMPLES, TASKS, [16], lambda b: f"static:{b}", compare=["missing"])
    assert [r["budgeter"] for r in report.rows] == ["static:16", "oracle"]
    with pytest.raises(RunError, match="this run has none"):
        ablate(fake_evaluate, SAMPLES, TASKS, [16], lambda b: f"static:{b}", compare=["missing"], require=True)
    with pytest.raises(ValueError, match="at least one fixed budget"):
        ablate(fake_evaluate, SAMPLES, TASKS, [], lambda b: f"static:{b}")


def test_rows_from_another_run_of_the_same_performer_are_added_under_their_label(tmp_path: Path) -> None:
    report = ablate(fake_evaluate, SAMPLES, TASKS, [16, 256], lambda b: f"static:{b}")
    report.add(fake_evaluate("look"), TASKS, label="look [other rule]")
    row = report.row("look [other rule]", "toy")
    assert row["total_tpi"] == 92.0 and row["kind"] == "compare"
    report.add(fake_evaluate("look"), TASKS, label="nothing", only=["vqa"])
    with pytest.raises(KeyError, match="no row for 'nothing'"):
        report.row("nothing", "toy")
    files = report.write(tmp_path / "out")
    assert Path(files["plot"]).is_file() and "look [other rule]" in Path(files["markdown"]).read_text()
    assert isinstance(report, AblationReport)


def _benchmark() -> Any:
    from tests._benchmarks import load_benchmark

    return load_benchmark("allocator")


def _levels(**values: tuple[float, float]) -> dict[str, dict[str, float]]:
    return {level: {"value": v, "mean_budget": b} for level, (v, b) in values.items()}


def test_the_benchmarks_targets_by_hand() -> None:
    """benchmarks/allocator.py's PASS/FAIL arithmetic on rows whose numbers are set by hand."""
    bench = _benchmark()
    levels = {"coarse": 16, "medium": 64, "fine": 256}
    static = {b: _levels(coarse=(1.0, b), medium=(1.0 if b >= 64 else 0.1, b), fine=(1.0 if b >= 256 else 0.2, b))
              for b in (16, 32, 64, 128, 256)}
    rows: dict[str, dict[str, Any]] = {f"static:{b}": {"by_difficulty": d, "value": 1.0, "tpi": float(b)}
                                       for b, d in static.items()}
    checks = bench.performer_checks(rows, levels, [16, 32, 64, 128, 256], "toy")
    # medium: 1.0 - 0.1 at 32 -> 64; fine: 1.0 - 0.2 at 128 -> 256; nothing moves above a level's budget
    assert [(c.name.split(": ")[1], round(c.value, 3), c.passed) for c in checks] == [
        ("|static:N - static:16| for N > 16 <= 0.05", 0.0, True),
        ("static:64 - static:32 >= 0.20", 0.9, True),
        ("|static:N - static:64| for N > 64 <= 0.05", 0.0, True),
        ("static:256 - static:128 >= 0.20", 0.8, True)]
    rows.update({
        "oracle": {"tpi": 100.0, "value": 1.0},
        "escalate": {"tpi": 150.0, "total_tpi": 300.0, "value": 0.99},
        "alloc": {"tpi": 114.0, "total_tpi": 370.0, "value": 0.995, "metric": "accuracy",
                  "by_difficulty": _levels(coarse=(1.0, 16.0), medium=(1.0, 64.0), fine=(0.98, 200.0))},
    })
    got = {c.name.split(": ")[1]: (round(c.value, 3), c.passed)
           for c in bench.allocator_checks(rows, "alloc", "toy", levels, "escalate", 250.0, 300.0, True)}
    assert got == {
        "TPI / oracle TPI <= 1.15": (1.14, True),                               # 114 / 100
        "static:256 metric - allocator metric <= 1 point": (0.005, True),       # 1.0 - 0.995
        "total tokens below escalate's at equal metric": (70.0, False),         # 370 vs 300: a result, printed
        "mean budget ordered by level": (48.0, True),                           # 16 < 64 < 200
        "training seconds <= 300": (250.0, True)}
    rows["alloc"]["value"] = 0.98  # 2 points under static:256; and escalate now cheaper at a better metric
    worse = bench.allocator_checks(rows, "alloc", "toy", levels, "escalate", 301.0, 300.0, False)
    assert [c.passed for c in worse] == [True, False, False, True, False]
    assert worse[1].line().startswith("info FAIL")


def test_the_benchmarks_rules_keep_the_runs_own_lambda_unless_given() -> None:
    """``--rules``: ``RULE:LAMBDA`` sets lambda for every task; a bare ``RULE`` leaves ``lam`` to the
    performer run's config (the tiny preset's VQA run names 0.1, the others 0.25)."""
    bench = _benchmark()
    assert bench.parse_rules("eq10:0.5, token_cost") == {"eq10": {"rule": "eq10", "lam": 0.5},
                                                        "token_cost": {"rule": "token_cost"}}
    for bad, why in (("eq10:", "not RULE or RULE:LAMBDA"), ("eq10:half", "not a number"), (",eq10", "not RULE")):
        with pytest.raises(SystemExit, match=why):
            bench.parse_rules(bad)
