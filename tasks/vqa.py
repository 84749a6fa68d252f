"""Visual question answering (PathVQA, PathMMU): closed questions scored by exact match, open by BLEU (Eq. 7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.prompts import format_options, vqa_prompt
from pathreason.tasks.base import Task

if TYPE_CHECKING:
    from pathreason.sample import Sample


class VQATask(Task):
    """``{user_question}?`` (Appendix A); multiple-choice options follow on their own line."""

    name = "vqa"
    reward_names = ("vqa",)
    metric_names = ("accuracy", "bleu")

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
        from pathreason.metrics import vqa_scores

        return dict(vqa_scores([p if p is not None else "" for p in parsed], [s.answer for s in samples],
                               [list(s.options) for s in samples]))
