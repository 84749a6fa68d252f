"""R_format: the completion is a rationale then an answer, and nothing else.

R_format = 1 when the whole completion is ``<think>…</think>`` followed by ``<answer>…</answer>``,
with only whitespace before, between and after the two blocks, exactly one of each of the four
(lower-case) tags and no tag nested inside a block; else 0 (:func:`pathreason.api.is_well_formed`).
Either block may be empty, as in the reference code's pattern
``^<think>.*?</think>\\s*<answer>.*?</answer>(?![\\s\\S])``.

>>> format_reward(["<think>round nuclei</think>\\n<answer>B</answer>", "<answer>B</answer>"])
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pathreason.api import Completion, completion_text, is_well_formed

__all__ = ["format_reward", "is_well_formed"]


def format_reward(completions: Sequence[Completion], **columns: Any) -> list[float | None]:
    """1.0 for a well-formed completion, else 0.0; applies to every sample (any ``task``)."""
    return [1.0 if is_well_formed(completion_text(c)) else 0.0 for c in completions]


format_reward.__name__ = "format"
