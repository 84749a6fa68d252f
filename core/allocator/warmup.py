"""The allocator's warm-up: a few SFT steps on budget answers before GRPO, so that a model that never
wrote a token count gets a GRPO signal (``allocator.warmup_steps``, ``allocator.warmup_target``)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.allocator.inputs import allocation_target

if TYPE_CHECKING:
    from pathreason.config import RunConfig

__all__ = ["warmup_config", "warmup_rows"]


def warmup_rows(rows: Sequence[dict[str, Any]], candidates: Sequence[int], seed: int,
                targets: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Warm-up rows: each allocation prompt with a budget answer.

    Without ``targets`` the budget is drawn uniformly from ``candidates``: the answers carry no
    information about the image, so the warm-up teaches the answer format only and GRPO then learns
    which budget each image needs. With ``targets`` (sample id -> budget, e.g. :func:`oracle_targets`)
    each row answers its own target. The ``<think>`` text is the row's ``rationale`` (the task's own,
    which the performer already writes), so the warm-up only has to teach the model the number.
    """
    rng = random.Random(seed)
    out = []
    for row in rows:
        n = targets[row["id"]] if targets is not None else rng.choice(list(candidates))
        target = allocation_target(n, row["rationale"])
        out.append({"prompt": row["prompt"], "images": [row["image"]], "length": row["view_tokens"],
                    "completion": [{"role": "assistant", "content": [{"type": "text", "text": target}]}]})
    return out


def warmup_config(config: RunConfig) -> RunConfig:
    """The run config with an ``sft`` section for the warm-up, taken from the allocator's settings."""
    section = config.allocator
    return config.model_copy(update={"sft": config.sft.model_copy(update={
        "max_steps": section.warmup_steps, "budget_mix": None, "lr_scheduler_type": section.lr_scheduler_type,
        "learning_rate": section.warmup_learning_rate or section.learning_rate,
        "per_device_train_batch_size": section.per_device_train_batch_size, "warmup_ratio": 0.1,
        "save_steps": max(section.warmup_steps, 1), "logging_steps": section.logging_steps})})
