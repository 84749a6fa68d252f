"""The oracle budget: per image, the smallest budget at which the frozen performer answers it right.

It is the allocator's best possible answer under Eq. 10 on a 0/1 score, the target of the ``oracle``
warm-up, and the reference line of ``ablate-budget``. The ``reward`` warm-up's target is its
generalisation to any score and rule (:func:`best_budget` of the rule's rewards): the budget the
allocation rule itself pays most for, so that an image no budget answers right costs the smallest one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathreason.allocator.reward import PerformerScorer

__all__ = ["CORRECT", "best_budget", "candidate_scores", "oracle_budgets", "oracle_targets"]

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


def best_budget(rewards: Mapping[int, float]) -> int:
    """The budget with the highest reward, the smaller on a tie (rewards compared to 12 decimals, so
    that a mean's rounding noise does not break a tie).

    Under the token cost (lam 0.25, N0 256) an image right at both budgets takes 16, one right at
    neither 16 as well (no budget helps), and a BLEU of 0.2 / 0.9 at 16 / 256 takes 256:

    >>> cost = lambda n, s: s - 0.25 * n / 256
    >>> [best_budget({n: cost(n, s) for n, s in scores.items()})
    ...  for scores in ({16: 1.0, 256: 1.0}, {16: 0.0, 256: 0.0}, {16: 0.2, 256: 0.9})]
    [16, 16, 256]
    """
    return max(sorted(rewards), key=lambda n: (round(float(rewards[n]), 12), -n))


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
