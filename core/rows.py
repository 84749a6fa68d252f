"""The rows TRL trains on: SFT conversations and GRPO prompts, each image resized to its budget.

Every row is built from a sample, its decoded image, its task and a :class:`~pathreason.api.View`
(the image under a budget, with boxes mapped into the frame the model reads). Training budgets come
from ``budget.budgeter``, which must answer from the sample alone.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import Budgeter, ConfigError, Sample, Task, make_view, resize_for_view
from pathreason.registry import get_budgeter

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.config import RunConfig


def training_budgeter(config: RunConfig) -> Budgeter:
    """The budgeter of training images (``budget.budgeter``)."""
    name = config.budgeter_name(config.budget.budgeter)
    budgeter = get_budgeter(name)
    if not isinstance(budgeter, Budgeter):
        raise ConfigError(f"budget.budgeter {name!r} cannot budget training images: it has no tokens(sample) "
                          "(a two-stage budgeter, such as the allocator, runs only at inference)")
    return budgeter


def sft_rows(config: RunConfig, tasks: Mapping[str, Task], samples: Sequence[Sample],
             images: Sequence[Image.Image], box_frame: str) -> list[dict[str, Any]]:
    """Prompt/completion conversations with the image resized to its budget, shuffled (seeded).

    With ``sft.budget_mix`` each sample also appears at a budget drawn from the mix, or at each of
    them (``sft.budget_mix_draws: all``), so the performer learns to answer at every budget the
    allocator may choose, except samples whose difficulty or task is in ``sft.budget_mix_exclude``.
    """
    rng = random.Random(config.seed)
    sft = config.sft
    budgeter = training_budgeter(config)
    rows = []
    for sample, image in zip(samples, images):
        task = tasks[sample.task]
        budgets = [budgeter.tokens(sample)]
        mix = mixed_budgets(config, sample)
        if sft.budget_mix_draws == "balanced":
            budgets = balanced_budgets([*mix, *budgets], 1 + len(sft.budget_mix or []))
        elif mix:
            budgets += mix if sft.budget_mix_draws == "all" else [rng.choice(mix)]
        for budget in budgets:
            view = make_view(image.size, budget, box_frame, config.budget.patch)
            rows.append({
                "prompt": task.messages(sample),
                "completion": [{"role": "assistant", "content": [{"type": "text", "text": task.target(sample, view)}]}],
                "images": [resize_for_view(image, view)],
                "length": view.tokens,  # lets the sampler batch images of one budget together
            })
    rng.shuffle(rows)
    return rows


def balanced_budgets(budgets: Sequence[int | None], rows: int) -> list[int | None]:
    """``budgets`` in turn until there are ``rows`` of them (``sft.budget_mix_draws: balanced``: a
    sample's visible mixed budgets, lowest first, then the training budget; ``None`` is the training
    budget of a budgeter that leaves an image at its native size).

    >>> balanced_budgets([16, 64, 256], 3), balanced_budgets([64, 256], 3), balanced_budgets([256], 3)
    ([16, 64, 256], [64, 256, 64], [256, 256, 256])
    """
    return [budgets[i % len(budgets)] for i in range(max(rows, len(budgets)))]


def mixed_budgets(config: RunConfig, sample: Sample) -> list[int]:
    """The ``sft.budget_mix`` budgets ``sample`` is also trained at: none when its difficulty or task
    is in ``sft.budget_mix_exclude``, else those where its evidence shows."""
    sft = config.sft
    if sample.meta.get("difficulty") in sft.budget_mix_exclude or sample.task in sft.budget_mix_exclude:
        return []
    return _visible_mix(sft.budget_mix or [], sample, sft.budget_mix_level_key)


def _visible_mix(mix: Sequence[int], sample: Sample, level_key: str | None) -> list[int]:
    """The mixed budgets at which ``sample``'s evidence shows (all of them without ``level_key``).

    >>> s = Sample(id="a", image="t.png", task="vqa", meta={"level_tokens": 64})
    >>> _visible_mix([16, 32, 64, 128], s, "level_tokens"), _visible_mix([16, 32], s, None)
    ([64, 128], [16, 32])
    """
    level = sample.meta.get(level_key) if level_key else None
    if level is None:
        return list(mix)
    try:
        floor = int(level)
    except (TypeError, ValueError):
        raise ConfigError(f"sft.budget_mix_level_key {level_key!r}: sample {sample.id!r} has "
                          f"meta[{level_key!r}] = {level!r}, not a number of tokens") from None
    return [b for b in mix if b >= floor]


def grpo_rows(config: RunConfig, tasks: Mapping[str, Task], samples: Sequence[Sample],
              images: Sequence[Image.Image], box_frame: str) -> list[dict[str, Any]]:
    """Prompts with the image at its training budget, or with ``grpo.budget_mix`` at one drawn from
    it and the sample's mixed budgets (seeded), and the reward columns of each task."""
    rng = random.Random(config.seed + 1)
    budgeter = training_budgeter(config)
    rows = []
    for sample, image in zip(samples, images):
        task = tasks[sample.task]
        budget = budgeter.tokens(sample)
        mix = mixed_budgets(config, sample) if config.grpo.budget_mix else []
        if mix:
            budget = rng.choice([budget, *mix])
        view = make_view(image.size, budget, box_frame, config.budget.patch)
        rows.append({"prompt": task.messages(sample), "image": resize_for_view(image, view), "id": sample.id,
                     **task.reward_columns(sample, view)})
    return rows


__all__ = ["grpo_rows", "mixed_budgets", "sft_rows", "training_budgeter"]
