"""The subtyping reward (paper Eq. 8; docs/concepts/rewards.md): R = 1[ĉ = c].

The predicted class matches by option letter (``"B"``, ``"(B)"``, ``"B) HP"``: the prompt lists
the classes as ``(A) x, (B) y, ...``) or by class name, case-insensitively and with punctuation
folded (:mod:`pathreason.rewards.choices`). A completion without an ``<answer>`` block scores 0, and
so does one longer than :data:`~pathreason.rewards.columns.MAX_COMPLETION_CHARS` (64 Ki characters)
or an answer longer than :data:`~pathreason.rewards.choices.MAX_CLOSED_ANSWER_CHARS` (1,024): caps
that keep every completion to a few milliseconds.

>>> subtyping_reward(["<answer>(B)</answer>", "<answer>ta.hg</answer>", "no tags"],
...                  answer=["HP", "TA.HG", "HP"], options=[["NORM", "HP", "TA.HG"]] * 3)
[1.0, 1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pathreason.api.completions import Completion
from pathreason.rewards.choices import matches_choice
from pathreason.rewards.columns import answer_reward

__all__ = ["score_subtyping", "subtyping_reward"]


def score_subtyping(pred: str | None, answer: str, options: Sequence[str] | None = None) -> float:
    """Eq. 8 for an already-extracted answer ``pred`` (``None`` scores 0): 1.0 or 0.0.

    >>> score_subtyping("c", "TA.HG", ["NORM", "HP", "TA.HG"]), score_subtyping("Norm", "NORM")
    (1.0, 1.0)
    """
    return 1.0 if matches_choice(pred, answer, options) else 0.0


def subtyping_reward(completions: Sequence[Completion], **columns: Any) -> list[float | None]:
    """TRL reward: :func:`score_subtyping` of each completion's answer; ``None`` where ``task`` is
    not ``subtyping``. Columns: ``answer`` (required), ``options`` (optional), ``task`` (optional)."""
    return answer_reward("subtyping", score_subtyping, completions, columns)


subtyping_reward.__name__ = "subtyping"  # TRL logs rewards/<__name__>/mean
