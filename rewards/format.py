"""R_format: the completion is a rationale then an answer, and nothing else.

R_format = 1 when the whole completion is ``<think>…</think>`` followed by ``<answer>…</answer>``,
with only whitespace before, between and after the two blocks, exactly one of each of the four
(lower-case) tags and no tag nested inside a block; else 0 (:func:`pathreason.api.is_well_formed`).
A completion longer than :data:`~pathreason.rewards.columns.MAX_COMPLETION_CHARS` (64 Ki
characters) scores 0 unread, as in every built-in reward.
Either block may be empty, as in the reference code's pattern
``^<think>.*?</think>\\s*<answer>.*?</answer>(?![\\s\\S])``.

>>> format_reward(["<think>round nuclei</think>\\n<answer>B</answer>", "<answer>B</answer>"])
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pathreason.api import Completion, is_well_formed
from pathreason.rewards.columns import capped_text

__all__ = ["format_reward", "is_well_formed"]


def format_reward(completions: Sequence[Completion], **columns: Any) -> list[float | None]:
    """1.0 for a well-formed completion within the size cap, else 0.0; applies to every sample (any ``task``)."""
    return [1.0 if (text := capped_text(c)) is not None and is_well_formed(text) else 0.0 for c in completions]


format_reward.__name__ = "format"
