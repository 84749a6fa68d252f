"""pathreason's built-in rewards, registered through the ``pathreason`` entry-point group like any
third-party plugin. Factories import their module only when called, so listing plugins is fast.

The allocation rules (``eq10``, alias ``allocation``, and ``token_cost``) are registered too: the
allocator's trainer fills in their ``performer_score`` column by running the frozen performer at each
completion's budget (:mod:`pathreason.rewards.allocation`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pathreason.api import RewardSpec, hookimpl


def _lazy(module: str, name: str) -> Callable[[], Any]:
    def factory() -> Any:
        return getattr(importlib.import_module(f"pathreason.rewards.{module}"), name)

    return factory


def _rule(name: str) -> Callable[..., Any]:
    def factory(lam: float = 0.5) -> Any:
        from pathreason.rewards.allocation import RULES, rule_reward

        return rule_reward(RULES[name], name, lam)

    return factory


@hookimpl
def pathreason_rewards() -> list[RewardSpec]:
    return [
        RewardSpec(name="format", factory=_lazy("format", "format_reward"), low=0.0, high=1.0,
                   description="1 if the completion is <think>…</think><answer>…</answer> and nothing else"),
        RewardSpec(name="vqa", factory=_lazy("vqa", "vqa_reward"), low=0.0, high=1.0,
                   description="Eq. 7: exact match on closed questions, smoothed BLEU-4 on open ones"),
        RewardSpec(name="subtyping", factory=_lazy("subtyping", "subtyping_reward"), low=0.0, high=1.0,
                   description="Eq. 8: 1 if the class (letter or name) is right"),
        RewardSpec(name="detection", factory=_lazy("detection", "detection_reward"), low=0.0, high=1.0,
                   description="Eq. 9: all-point AP@0.5 of the boxes, in the order written"),
        RewardSpec(name="detection_mean_ap", factory=_lazy("detection", "detection_mean_ap_reward"), low=0.0, high=1.0,
                   description="the paper's detection metric per image: AP averaged over IoU 0.1, 0.3, 0.5"),
        RewardSpec(name="eq10", factory=_rule("eq10"), aliases=("allocation",), low=0.0, high=1.0,
                   description="Eq. 10, the allocator's: s(N) if N < N0 else lam * s(N) (option lam, 0.5)"),
        RewardSpec(name="token_cost", factory=_rule("token_cost"), low=-1.0, high=1.0,
                   description="the allocator's continuous token cost: s(N) - lam * N / N0 (option lam, 0.5)"),
    ]
