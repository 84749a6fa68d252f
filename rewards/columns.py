"""Reading what a reward is given: completions, within a size cap, and dataset columns the way TRL
passes them (keyword arguments holding one value per completion, next to others a reward ignores:
``prompts``, ``completion_ids``, ``trainer_state``, ``image``, ``meta``, ``id``...).

**The size cap.** A reward reads a completion only when its text is at most
:data:`MAX_COMPLETION_CHARS` characters (64 Ki, about 16,000 tokens: far beyond any
``max_completion_length`` a GRPO run uses); a longer one scores 0 in every built-in reward without
being parsed, so that no completion costs more than a few milliseconds whatever a model writes
(a 1 MB completion took 0.2 s in BLEU before the cap).

>>> capped_answer("<answer>B</answer>"), capped_answer("<answer>" + "x" * MAX_COMPLETION_CHARS + "</answer>")
('B', None)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pathreason.api.completions import Completion, completion_text, extract_answer

__all__ = ["MAX_COMPLETION_CHARS", "answer_reward", "applies", "capped_answer", "capped_text", "column"]

#: The longest completion (in characters) a reward reads; a longer one scores 0.
MAX_COMPLETION_CHARS = 65_536


def capped_text(completion: Completion) -> str | None:
    """The completion's text, or ``None`` when it is longer than :data:`MAX_COMPLETION_CHARS`."""
    text = completion_text(completion)
    return text if len(text) <= MAX_COMPLETION_CHARS else None


def capped_answer(completion: Completion) -> str | None:
    """:func:`~pathreason.api.extract_answer` of a completion within the cap; ``None`` (which every
    reward scores 0) when it has no answer or is longer than :data:`MAX_COMPLETION_CHARS`."""
    text = capped_text(completion)
    return None if text is None else extract_answer(text)


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
    for the others: the loop the answer-matching rewards (VQA, subtyping) share. The answer of a
    completion over the size cap is ``None``, which scores 0."""
    n = len(completions)
    mask = applies(columns, n, kind)
    if not any(mask):
        return [None] * n
    answers = column(columns, "answer", n, kind)
    options = column(columns, "options", n, kind, required=False)
    return [
        score(capped_answer(c), "" if a is None else str(a), o) if m else None
        for c, a, o, m in zip(completions, answers, options, mask)
    ]
