"""Verifiable rewards with TRL's contract, and the score functions beneath them.

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
``eq10``                Eq. 10: s(N̂) if N̂ < N₀ else λ·s(N̂)             the allocator's samples
``token_cost``          s(N̂) − λ·N̂/N₀                                  the allocator's samples
======================  =============================================  ======================

The total task reward R = R_task + λ_f · R_format (λ_f = 1) is left to TRL, which weighs the
components with ``GRPOConfig.reward_weights`` and logs each one under its registered name
(``rewards/format/mean``...). The completion helpers these rewards use are in :mod:`pathreason.api`.

Importing this package is cheap; each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pathreason.api._moved import moved

if TYPE_CHECKING:
    from pathreason.rewards.allocation import allocation_reward, token_cost_reward
    from pathreason.rewards.bleu import corpus_bleu, sentence_bleu
    from pathreason.rewards.choices import normalize_answer, resolve_choice
    from pathreason.rewards.detection import detection_reward, score_detection
    from pathreason.rewards.format import format_reward
    from pathreason.rewards.subtyping import score_subtyping, subtyping_reward
    from pathreason.rewards.vqa import score_vqa, vqa_reward

_LAZY = {
    "allocation_reward": "allocation",
    "token_cost_reward": "allocation",
    "corpus_bleu": "bleu",
    "sentence_bleu": "bleu",
    "normalize_answer": "choices",
    "resolve_choice": "choices",
    "detection_reward": "detection",
    "score_detection": "detection",
    "format_reward": "format",
    "score_subtyping": "subtyping",
    "subtyping_reward": "subtyping",
    "score_vqa": "vqa",
    "vqa_reward": "vqa",
}

#: Names that moved (this path keeps them until pathreason 0.3, with a deprecation warning).
_MOVED = moved(__name__, {**dict.fromkeys(("completion_text", "extract_answer", "parse_boxes", "parse_token_count",
                                           "is_well_formed", "clamp_tokens"), "pathreason.api"),
                          "task_rewards": "pathreason.rewards.combine"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    return _MOVED(name)


__all__ = [
    "allocation_reward",
    "corpus_bleu",
    "detection_reward",
    "format_reward",
    "normalize_answer",
    "resolve_choice",
    "score_detection",
    "score_subtyping",
    "score_vqa",
    "sentence_bleu",
    "subtyping_reward",
    "token_cost_reward",
    "vqa_reward",
]
