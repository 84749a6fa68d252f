"""``benchmarks/levels.py``: the image-blind answer and the rise and flat rules, on hand-computed values."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests._benchmarks import load_benchmark


def _levels() -> Any:
    return load_benchmark("levels")


class _Accuracy:
    name = "vqa"
    metric_names = ["accuracy"]

    def metrics(self, samples, answers):
        return {"accuracy": sum(a == s.answer for s, a in zip(samples, answers)) / len(samples)}


def _q(question: str, answer: str, options: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(question=question, answer=answer, options=list(options), task="vqa")


def test_the_image_blind_answer_comes_from_the_question_over_the_whole_split():
    """Coarse: "clumped?" -> no, "grade?" -> A (x), twice. Medium: "clumped?" -> yes, twice, "grade?" -> B (y).
    Over the split "clumped?" is answered yes (2 of 3) and "grade?" x (2 of 3): coarse 2/3 right, medium
    2/3. Within each level alone every answer is that level's constant: 1.0 on both, which credits the
    answerer with the level the image shows."""
    bench = _levels()
    coarse = [_q("clumped?", "no"), _q("grade?", "A", ("x", "y")), _q("grade?", "A", ("x", "y"))]
    medium = [_q("clumped?", "yes"), _q("clumped?", "yes"), _q("grade?", "B", ("x", "y"))]
    split = coarse + medium
    task = _Accuracy()
    assert bench.blind_metric(task, coarse, split) == pytest.approx(2 / 3)
    assert bench.blind_metric(task, medium, split) == pytest.approx(2 / 3)
    assert bench.blind_metric(task, coarse) == 1.0 and bench.blind_metric(task, medium) == 1.0
    # the option is named by its content: shuffled letters still count as one answer
    shuffled = [_q("grade?", "B", ("y", "x")), _q("grade?", "B", ("y", "x")), _q("grade?", "A", ("y", "x"))]
    assert bench.blind_metric(task, shuffled[2:], coarse[1:] + shuffled) == 0.0  # "x" wins 4 to 1


def test_rise_and_flat_rules():
    """Coarse (16): 0.90 at 16 against a blind 0.60 rises 0.30 (pass); 0.84 at 64 moves -0.06 (fail).
    Medium (64): 0.50 at 16, 0.72 at 64 rises 0.22 (pass); 0.75 at 256 moves +0.03 (pass)."""
    bench = _levels()
    table = {"budgets": {16: {"levels": {"coarse": 0.90, "medium": 0.50}},
                         64: {"levels": {"coarse": 0.84, "medium": 0.72}},
                         256: {"levels": {"coarse": 0.90, "medium": 0.75}}}}
    rules = {rule: (round(value, 3), ok) for rule, value, ok in
             bench.check(table, {"coarse": 16, "medium": 64}, {"coarse": 0.60, "medium": 0.5})}
    assert rules == {
        "coarse: static:16 is >= 0.20 above an image-blind answer": (0.3, True),
        "coarse: |static:64 - static:16| <= 0.05": (-0.06, False),
        "coarse: |static:256 - static:16| <= 0.05": (0.0, True),
        "medium: static:64 is >= 0.20 above static:16": (0.22, True),
        "medium: |static:256 - static:64| <= 0.05": (0.03, True),
    }
