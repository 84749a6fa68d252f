"""Visual question answering (PathVQA, PathMMU): closed questions scored by exact match, open by BLEU (Eq. 7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import DataError, Task, format_options
from pathreason.api.prompts import LETTERS
from pathreason.tasks.prompts import vqa_prompt

if TYPE_CHECKING:
    from pathreason.api import Sample


class VQATask(Task):
    """``{user_question}?`` (Appendix A); multiple-choice options follow on their own line."""

    name = "vqa"
    reward_names = ("vqa",)
    metric_names = ("accuracy", "bleu")

    def validate(self, sample: Sample) -> None:
        """A multiple-choice answer is its option's letter (``"B"``)."""
        if sample.options and sample.answer:
            letters = LETTERS[:len(sample.options)]
            if len(sample.answer) != 1 or sample.answer not in letters:
                raise DataError(f"sample {sample.id!r}: answer {sample.answer!r} is not an option letter "
                                f"(A-{letters[-1]}) of its {len(sample.options)} options")

    def user_text(self, sample: Sample) -> str:
        text = vqa_prompt(sample.question)
        if sample.options:
            text += "\n" + format_options(sample.options)
        return text

    def default_rationale(self, sample: Sample) -> str:
        return "I look at the tissue to answer the question."

    def score(self, parsed: Any, sample: Sample) -> float:
        from pathreason.rewards.vqa import score_vqa

        return float(score_vqa(parsed, sample.answer, sample.options))

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        from pathreason.tasks.metrics import vqa_scores

        return dict(vqa_scores([p if p is not None else "" for p in parsed], [s.answer for s in samples],
                               [list(s.options) for s in samples]))
