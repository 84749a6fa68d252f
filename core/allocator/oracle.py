"""The oracle budget: per image, the smallest budget at which the frozen performer answers it right.

It is the allocator's best possible answer under Eq. 10 on a 0/1 score, the target of the ``oracle``
warm-up, and the reference line of ``ablate-budget``. The ``reward`` warm-up's target is its
generalisation to any score and rule (:func:`reward_budgets`): the budget the allocation rule itself
rewards most, so that an image no budget answers right costs the smallest one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathreason.allocator.reward import PerformerScorer

__all__ = ["CORRECT", "candidate_scores", "oracle_budgets", "oracle_targets", "reward_budgets"]

#: A score at or above this is "right" (the 0/1 scores of closed VQA and subtyping).
CORRECT = 0.5


def oracle_budgets(scores: dict[int, dict[str, float]]) -> dict[str, int]:
    """Per sample id: the smallest budget whose score is ≥ :data:`CORRECT`, else the largest budget.

    >>> oracle_budgets({16: {"a": 1.0, "b": 0.0}, 256: {"a": 1.0, "b": 0.0}})
    {'a': 16, 'b': 256}
    """
    budgets = sorted(scores)
    ids = set().union(*(scores[b] for b in budgets))
    return {i: next((b for b in budgets if scores[b].get(i, 0.0) >= CORRECT), budgets[-1]) for i in sorted(ids)}


def reward_budgets(scores: dict[int, dict[str, float]], reward: Callable[[int, float], float]) -> dict[str, int]:
    """Per sample id: the budget whose ``reward(budget, score)`` is highest, the smaller on a tie.

    ``reward`` is the allocation rule at that image (e.g. ``score - lam * budget / n0``). Unlike
    :func:`oracle_budgets`, an image that no budget answers right gets the cheapest budget, and a
    graded score (BLEU, mAP) is weighed against the price of the tokens that raise it.

    >>> cost = lambda n, s: s - 0.25 * n / 256
    >>> reward_budgets({16: {"a": 1.0, "b": 0.0, "c": 0.2}, 256: {"a": 1.0, "b": 0.0, "c": 0.9}}, cost)
    {'a': 16, 'b': 16, 'c': 256}
    """
    budgets = sorted(scores)
    ids = set().union(*(scores[b] for b in budgets))
    return {i: max(budgets, key=lambda b: (reward(b, scores[b].get(i, 0.0)), -b)) for i in sorted(ids)}


def candidate_scores(scorer: PerformerScorer, ids: Sequence[str], candidates: Sequence[int], chunk: int = 64,
                     progress: Callable[[int], None] | None = None) -> dict[int, dict[str, float]]:
    """The frozen performer's score of each sample at each candidate budget (budget -> id -> score),
    scored with ``scorer`` (batched ``chunk`` generations at a time, cached, so GRPO later reuses
    these scores); ``progress(k)`` is told of every ``k`` answers scored."""
    requests = [(sid, n) for n in sorted(set(candidates)) for sid in ids]
    values: list[float] = []
    for start in range(0, len(requests), chunk):
        values += scorer.scores(requests[start:start + chunk])
        if progress is not None:
            progress(len(requests[start:start + chunk]))
    scores: dict[int, dict[str, float]] = {}
    for (sid, n), value in zip(requests, values):
        scores.setdefault(n, {})[sid] = value
    return scores


def oracle_targets(scorer: PerformerScorer, ids: Sequence[str], candidates: Sequence[int],
                   chunk: int = 64, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Each sample's oracle budget: the smallest of ``candidates`` at which the frozen performer
    answers it correctly (score >= 0.5), else the largest (:func:`candidate_scores`, :func:`oracle_budgets`)."""
    return oracle_budgets(candidate_scores(scorer, ids, candidates, chunk, progress))
