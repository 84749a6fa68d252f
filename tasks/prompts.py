"""The task templates of the paper (Appendix A, Table 7), verbatim. The system prompt and the
token-allocation prompt, which every task shares, are in :mod:`pathreason.api.prompts`."""

from __future__ import annotations

from collections.abc import Sequence

from pathreason.api.prompts import format_options

__all__ = ["DETECTION_PROMPT", "SUBTYPING_PROMPT", "VQA_PROMPT", "detection_prompt", "subtyping_prompt",
           "vqa_prompt"]

VQA_PROMPT = "{user_question}?"
SUBTYPING_PROMPT = "Classify this pathological image into one of these categories: {categories}"
DETECTION_PROMPT = (
    "Detect {pathological_category} in pathology {organ}. "
    "Output bounding boxes in [[x_min, y_min, x_max, y_max],...] format."
)


def vqa_prompt(question: str) -> str:
    """``{user_question}?``: the question with exactly one trailing question mark.

    >>> vqa_prompt("Are glands present??")
    'Are glands present?'
    """
    return VQA_PROMPT.format(user_question=question.strip().rstrip("?").rstrip())


def subtyping_prompt(categories: Sequence[str]) -> str:
    """``Classify this pathological image into one of these categories: (A) …, (B) …``."""
    return SUBTYPING_PROMPT.format(categories=format_options(categories))


def detection_prompt(category: str, organ: str) -> str:
    """``Detect {category} in pathology {organ}. Output bounding boxes in [[x_min, …]] format.``"""
    return DETECTION_PROMPT.format(pathological_category=category, organ=organ)
