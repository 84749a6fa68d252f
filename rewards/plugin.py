"""pathreason's built-in rewards, registered through the ``pathreason`` entry-point group like any
third-party plugin. Factories import their module only when called, so listing plugins is fast.

The allocation reward is not registered here: it needs a task performer to score each budget
and is built by the allocator (its pure parts are in :mod:`pathreason.rewards.allocation`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pathreason.hookspecs import hookimpl
from pathreason.specs import RewardSpec


def _lazy(module: str, name: str) -> Callable[[], Any]:
    def factory() -> Any:
        return getattr(importlib.import_module(f"pathreason.rewards.{module}"), name)

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
    ]
