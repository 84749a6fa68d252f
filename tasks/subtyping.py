"""Cancer subtyping (UniToPatho, ESCA): 1[predicted class = true class] (Eq. 8)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import DataError, Task
from pathreason.tasks.prompts import subtyping_prompt

if TYPE_CHECKING:
    from pathreason.api import Sample


class SubtypingTask(Task):
    """``Classify this pathological image into one of these categories: (A) …, (B) …`` (Appendix A)."""

    name = "subtyping"
    reward_names = ("subtyping",)
    metric_names = ("balanced_accuracy", "weighted_f1")

    def validate(self, sample: Sample) -> None:
        """A labelled sample's answer is one of its options (the class name)."""
        if sample.options and sample.answer and sample.answer not in sample.options:
            raise DataError(f"sample {sample.id!r}: answer {sample.answer!r} is not one of its options {sample.options}")

    def user_text(self, sample: Sample) -> str:
        return subtyping_prompt(sample.options)

    def default_rationale(self, sample: Sample) -> str:
        return "I compare the tissue with each category."

    def score(self, parsed: Any, sample: Sample) -> float:
        from pathreason.rewards.subtyping import score_subtyping

        return float(score_subtyping(parsed, sample.answer, sample.options))

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        from pathreason.tasks.metrics import subtyping_scores

        return dict(subtyping_scores([p if p is not None else "" for p in parsed], [s.answer for s in samples],
                                     [list(s.options) for s in samples]))
