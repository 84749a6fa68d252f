"""The paper's prompts that every task shares (Appendix A, Table 7), verbatim: the system prompt and
the token-allocation prompt, which wraps any task's own prompt. Each task keeps its own template."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ALLOCATION_PROMPT", "LETTERS", "SYSTEM_PROMPT", "allocation_prompt", "format_options"]

SYSTEM_PROMPT = (
    "A conversation between User and Assistant. The user asks a question, and the assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
    "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>."
)

ALLOCATION_PROMPT = (
    "Allocate the optimal token number for the image based on the pathological task. Generally, simple "
    "images and tasks receive fewer tokens and complex ones receive more tokens. The current input token "
    "number is {current_token} and a maximum limit is {max_token}. The pathological task is: {task_prompt}. "
    "The answer should be a positive integer of the image token number."
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def format_options(options: Sequence[str]) -> str:
    """``(A) x, (B) y, ...``: options with their letters, as the paper's templates write them.

    >>> format_options(["stroma", "gland"])
    '(A) stroma, (B) gland'
    """
    return ", ".join(f"({LETTERS[i]}) {opt}" for i, opt in enumerate(options))


def allocation_prompt(current_token: int, max_token: int, task_prompt: str) -> str:
    """The token-allocation prompt around a task's own prompt (its trailing full stop dropped)."""
    return ALLOCATION_PROMPT.format(current_token=current_token, max_token=max_token,
                                    task_prompt=task_prompt.strip().rstrip("."))
