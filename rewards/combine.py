"""R = R_task + λ_f · R_format (design §5.3, λ_f = 1), expressed the way TRL combines rewards.

TRL's ``GRPOTrainer`` takes a list of reward functions and ``GRPOConfig.reward_weights``, sums
the weighted components per completion (``None`` components are skipped) and logs each one as
``rewards/<name>/mean``. So the total reward is not a new function but a list and its weights::

    from trl import GRPOConfig, GRPOTrainer
    from pathreason.rewards import task_rewards

    funcs, weights = task_rewards("detection")            # [detection, format], [1.0, 1.0]
    args = GRPOConfig(..., reward_weights=weights)
    trainer = GRPOTrainer(model=..., reward_funcs=funcs, args=args, train_dataset=...)

For a mixed multi-task dataset pass several kinds: ``task_rewards(["vqa", "detection"])`` gives
``[vqa, detection, format]``; each task reward is ``None`` on the other task's samples, so every
sample gets exactly its own R_task + λ_f · R_format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["FORMAT_WEIGHT", "task_rewards"]

FORMAT_WEIGHT = 1.0


def task_rewards(
    task_kinds: str | Sequence[str], format_weight: float = FORMAT_WEIGHT, task_weight: float = 1.0
) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """The reward functions and weights of R = task_weight · R_task + format_weight · R_format.

    ``task_kinds`` names the rewards of the tasks (``"vqa"``, ``"subtyping"``, ``"detection"``, or
    any reward a plugin registers), looked up through :func:`pathreason.get_reward`; the format
    reward comes last. ``format_weight=0`` keeps the format reward in the logs without training on it.

    >>> funcs, weights = task_rewards("vqa", format_weight=0.5)
    >>> [f.__name__ for f in funcs], weights
    (['vqa', 'format'], [1.0, 0.5])
    """
    from pathreason.registry import get_reward

    kinds = [task_kinds] if isinstance(task_kinds, str) else list(task_kinds)
    if not kinds:
        raise ValueError("task_rewards needs at least one task kind, e.g. task_rewards('vqa')")
    funcs: list[Any] = [get_reward(kind) for kind in kinds] + [get_reward("format")]
    return funcs, [float(task_weight)] * len(kinds) + [float(format_weight)]
