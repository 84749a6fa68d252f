"""Reading dataset columns the way TRL passes them to a reward: keyword arguments holding one
value per completion, next to others a reward ignores (``prompts``, ``completion_ids``,
``trainer_state``, ``image``, ``meta``, ``id``...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["answer_reward", "applies", "column"]


def column(columns: Mapping[str, Any], name: str, n: int, reward: str, *, required: bool = True) -> Sequence[Any]:
    """The column ``name`` as a sequence of ``n`` values (all ``None`` when absent and not required).

    Raises ``ValueError`` naming the reward and the column when a required column is missing or
    when its length differs from the number of completions: both are dataset bugs, not model
    output, and training on them silently would score garbage.
    """
    values = columns.get(name)
    if values is None:
        if required:
            raise ValueError(
                f"the {reward!r} reward needs a {name!r} dataset column (one value per completion); "
                f"got the columns {sorted(columns)}. Add it to the dataset passed to GRPOTrainer."
            )
        return [None] * n
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise ValueError(f"the {reward!r} reward expects the {name!r} column as a list, got {type(values).__name__}")
    if len(values) != n:
        raise ValueError(f"the {reward!r} reward got a {name!r} column of {len(values)} values for {n} completions")
    return values


def applies(columns: Mapping[str, Any], n: int, kind: str) -> list[bool]:
    """Which samples a reward for task ``kind`` scores: those whose ``task`` is ``kind``
    (case and surrounding space ignored); every sample when there is no ``task`` column, and a
    sample whose ``task`` is ``None``."""
    tasks = column(columns, "task", n, kind, required=False)
    return [t is None or (isinstance(t, str) and t.strip().lower() == kind) for t in tasks]


def answer_reward(kind: str, score: Callable[[Any, str, Any], float], completions: Sequence[Any],
                  columns: Mapping[str, Any]) -> list[float | None]:
    """``score(extracted answer, gold answer, options)`` per completion of task ``kind``, ``None``
    for the others: the loop the answer-matching rewards (VQA, subtyping) share."""
    from pathreason.api.completions import extract_answer

    n = len(completions)
    mask = applies(columns, n, kind)
    if not any(mask):
        return [None] * n
    answers = column(columns, "answer", n, kind)
    options = column(columns, "options", n, kind, required=False)
    return [
        score(extract_answer(c), "" if a is None else str(a), o) if m else None
        for c, a, o, m in zip(completions, answers, options, mask)
    ]
