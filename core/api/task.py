"""What a task is: prompts, the SFT target, answer parsing, the score and the rewards.

A task turns a :class:`pathreason.Sample` into chat messages (the paper's system prompt verbatim and
its task template, Appendix A), writes the SFT target ``<think>…</think> <answer>…</answer>``,
parses a completion into an answer, scores it (the task reward without the format term: ``s(n)`` of
Eq. 10) and names the reward plugins GRPO uses. Tasks see a sample through a :class:`View`: the
image resized to a visual-token budget, with box coordinates mapped between the original pixels and
the frame the model is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api.budget import View
from pathreason.api.completions import extract_answer
from pathreason.api.prompts import SYSTEM_PROMPT

if TYPE_CHECKING:
    from pathreason.api.sample import Sample

__all__ = ["Task"]


class Task:
    """Base class of a task plugin. Subclasses set ``name`` and ``reward_names`` and fill the hooks."""

    name: str = ""
    #: Reward plugins of the task term (the format reward is added by the engine with weight lambda_f).
    reward_names: tuple[str, ...] = ()
    #: Keys of the metrics dict that summarise the task (the first one is the headline).
    metric_names: tuple[str, ...] = ()
    system_prompt: str = SYSTEM_PROMPT

    def __init__(self, **options: Any) -> None:
        if options:
            raise TypeError(f"task {self.name!r} takes no options, got {sorted(options)}")

    # ---- samples ---------------------------------------------------------------------------------
    def validate(self, sample: Sample) -> None:
        """Raise :class:`~pathreason.api.DataError` (naming the sample and the field) when ``sample``
        does not follow this task's answer convention; the engine skips and reports such samples."""

    # ---- prompts ---------------------------------------------------------------------------------
    def user_text(self, sample: Sample) -> str:
        raise NotImplementedError

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        """System prompt, then the user turn: the image and the task prompt."""
        return self.chat(self.user_text(sample))

    def chat(self, text: str) -> list[dict[str, Any]]:
        """The task's system prompt, then a user turn of the image and ``text``."""
        return [
            {"role": "system", "content": [{"type": "text", "text": self.system_prompt}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]},
        ]

    # ---- SFT target ------------------------------------------------------------------------------
    def rationale(self, sample: Sample) -> str:
        """The ``<think>`` text of the SFT target: ``meta["rationale"]`` when the data has one."""
        return str(sample.meta.get("rationale") or self.default_rationale(sample))

    def default_rationale(self, sample: Sample) -> str:
        return "I examine the tissue in the image."

    def answer_text(self, sample: Sample, view: View) -> str:
        """The gold answer as the model should write it (in the model's frame for boxes)."""
        return sample.answer

    def target(self, sample: Sample, view: View) -> str:
        return f"<think> {self.rationale(sample)} </think> <answer> {self.answer_text(sample, view)} </answer>"

    # ---- rewards ---------------------------------------------------------------------------------
    def reward_columns(self, sample: Sample, view: View) -> dict[str, Any]:
        """Dataset columns the reward functions receive as keyword arguments (TRL's contract)."""
        return {"task": self.name, "answer": sample.answer, "options": list(sample.options),
                "boxes": view.to_model(sample.boxes), "question": sample.question}

    # ---- parsing and scoring ---------------------------------------------------------------------
    def parse(self, completion: str, view: View) -> Any:
        """The answer of a completion (boxes in original pixels); never raises."""
        return extract_answer(completion)

    def score(self, parsed: Any, sample: Sample) -> float:
        """The task score of a parsed answer, without the format term (``s`` of Eq. 10)."""
        raise NotImplementedError

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        """Dataset-level metrics of the paper (§4.1) for this task."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<task {self.name}>"
