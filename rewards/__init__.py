"""Verifiable rewards (design §5.3) with TRL's contract, and the score functions beneath them.

A reward is ``reward(completions, **columns) -> list[float | None]``: completions as strings or
TRL's chat form, dataset columns as keyword arguments, ``None`` for a sample the reward does not
apply to. Each one can be handed to ``trl.GRPOTrainer`` as is, and is registered as a plugin
(``pathreason.get_reward("detection")``).

======================  =============================================  ======================
reward (``__name__``)   value                                          applies to
======================  =============================================  ======================
``format``              R_format ∈ {0, 1}                              every sample
``vqa``                 Eq. 7: 1[â = a] (closed) or BLEU-4 (open)      ``task == "vqa"``
``subtyping``           Eq. 8: 1[ĉ = c]                                ``task == "subtyping"``
``detection``           Eq. 9: AP@0.5                                  ``task == "detection"``
======================  =============================================  ======================

The total task reward R = R_task + λ_f · R_format (λ_f = 1) is left to TRL, which weighs the
components with ``GRPOConfig.reward_weights`` and logs each one (``rewards/format/mean``...):
:func:`task_rewards` returns the list and the weights.

Importing this package is cheap; each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathreason.rewards.allocation import allocation_reward, clamp_tokens
    from pathreason.rewards.bleu import corpus_bleu, sentence_bleu
    from pathreason.rewards.choices import normalize_answer, resolve_choice
    from pathreason.rewards.combine import task_rewards
    from pathreason.rewards.detection import detection_reward, score_detection
    from pathreason.rewards.format import format_reward, is_well_formed
    from pathreason.rewards.parsing import completion_text, extract_answer, parse_boxes, parse_token_count
    from pathreason.rewards.subtyping import score_subtyping, subtyping_reward
    from pathreason.rewards.vqa import score_vqa, vqa_reward

_LAZY = {
    "allocation_reward": "allocation",
    "clamp_tokens": "allocation",
    "corpus_bleu": "bleu",
    "sentence_bleu": "bleu",
    "normalize_answer": "choices",
    "resolve_choice": "choices",
    "task_rewards": "combine",
    "detection_reward": "detection",
    "score_detection": "detection",
    "format_reward": "format",
    "is_well_formed": "format",
    "completion_text": "parsing",
    "extract_answer": "parsing",
    "parse_boxes": "parsing",
    "parse_token_count": "parsing",
    "score_subtyping": "subtyping",
    "subtyping_reward": "subtyping",
    "score_vqa": "vqa",
    "vqa_reward": "vqa",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "allocation_reward",
    "clamp_tokens",
    "completion_text",
    "corpus_bleu",
    "detection_reward",
    "extract_answer",
    "format_reward",
    "is_well_formed",
    "normalize_answer",
    "parse_boxes",
    "parse_token_count",
    "resolve_choice",
    "score_detection",
    "score_subtyping",
    "score_vqa",
    "sentence_bleu",
    "subtyping_reward",
    "task_rewards",
    "vqa_reward",
]
