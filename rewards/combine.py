"""Deprecated: the engine assembles R = R_task + λ_f · R_format itself
(:func:`pathreason.training.reward_functions`); this path works until pathreason 0.3."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from pathreason.api import PathreasonDeprecationWarning

__all__ = ["FORMAT_WEIGHT", "task_rewards"]

FORMAT_WEIGHT = 1.0


def task_rewards(task_kinds: str | Sequence[str], format_weight: float = FORMAT_WEIGHT,
                 task_weight: float = 1.0) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """Deprecated: ``pathreason.training.reward_functions(kinds, "format", format_weight, task_weight)``."""
    warnings.warn("pathreason.rewards.combine.task_rewards moved to pathreason.training.reward_functions "
                  "(which names the format reward); this path works until pathreason 0.3",
                  PathreasonDeprecationWarning, stacklevel=2)
    kinds = [task_kinds] if isinstance(task_kinds, str) else list(task_kinds)
    training: Any = importlib.import_module("pathreason.training")
    result: tuple[list[Callable[..., list[float | None]]], list[float]] = training.reward_functions(
        kinds, "format", format_weight, task_weight)
    return result
