"""R_format (design §5.3): the completion is a rationale then an answer, and nothing else.

R_format = 1 when the whole completion is ``<think>…</think>`` followed by ``<answer>…</answer>``,
with only whitespace before, between and after the two blocks, exactly one of each of the four
(lower-case) tags and no tag nested inside a block; else 0. Either block may be empty, as in the
reference code's pattern ``^<think>.*?</think>\\s*<answer>.*?</answer>(?![\\s\\S])``.

>>> format_reward(["<think>round nuclei</think>\\n<answer>B</answer>", "<answer>B</answer>"])
[1.0, 0.0]
>>> format_reward.__name__
'format'
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from pathreason.rewards.parsing import Completion, completion_text

__all__ = ["format_reward", "is_well_formed"]

_TAGS = re.compile(r"</?(?:think|answer)>")
_EXPECTED = ("<think>", "</think>", "<answer>", "</answer>")


def is_well_formed(text: str) -> bool:
    """Whether ``text`` is exactly ``<think>…</think>`` then ``<answer>…</answer>`` (see module doc)."""
    tags = list(itertools.islice(_TAGS.finditer(text), len(_EXPECTED) + 1))
    if tuple(tag.group() for tag in tags) != _EXPECTED:
        return False
    think, think_end, answer, answer_end = tags
    outside = (text[:think.start()], text[think_end.end():answer.start()], text[answer_end.end():])
    return not any(part.strip() for part in outside)


def format_reward(completions: Sequence[Completion], **columns: Any) -> list[float | None]:
    """1.0 for a well-formed completion, else 0.0; applies to every sample (any ``task``)."""
    return [1.0 if is_well_formed(completion_text(c)) else 0.0 for c in completions]


format_reward.__name__ = "format"  # TRL logs rewards/<__name__>/mean
