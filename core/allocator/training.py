"""The token allocator's training phase (paper §3.2.2): optional warm-up, then GRPO.

A second LoRA adapter (``"allocator"``) on the latest trained performer learns, with TRL's
``GRPOTrainer``, to answer each image's visual-token budget; its reward runs the frozen performer at
that budget (:mod:`pathreason.allocator.reward`) under the allocation rule (``allocator.rule``),
plus the format reward. Before GRPO, ``allocator.warmup_steps`` of SFT teach the answer format
(``warmup_target="uniform"``), each image's oracle budget (``"oracle"``), or the budget the rule
rewards most given the performer's scores (``"reward"``; with ``warmup_neighbours: k`` the mean
reward over the image's k nearest warm-up images, :mod:`pathreason.allocator.warmup`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pathreason._version import __version__
from pathreason.allocator.inputs import allocation_target, allocator_rows
from pathreason.allocator.oracle import best_budget, candidate_scores, oracle_budgets
from pathreason.allocator.policy import ALLOCATOR_ADAPTER, performer_fingerprint, save_allocator
from pathreason.allocator.reward import AllocationReward, PerformerScorer
from pathreason.allocator.trained import dual_policy, require_performer
from pathreason.allocator.warmup import input_embeddings, smoothed_budgets, warmup_config, warmup_rows
from pathreason.api import Sample, Task
from pathreason.console import Phase
from pathreason.distributed import barrier, is_main_process
from pathreason.inference import ModelPerformer

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.allocator.policy import DualPolicy
    from pathreason.config import RunConfig
    from pathreason.models.store import ModelStore
    from pathreason.runs import RunDir, RunState
    from pathreason.sources import SampleSource

logger = logging.getLogger(__name__)

__all__ = ["allocation_reward", "rule_budgets", "rule_rewards", "train_allocator"]


def rule_rewards(scores: dict[int, dict[str, float]], rows: list[dict[str, Any]],
                 rule: Callable[..., list[float | None]]) -> dict[str, dict[int, float]]:
    """Per row id and candidate budget: what the allocation ``rule`` pays for that budget, given the
    performer's ``scores`` there (budget -> id -> score), at the row's own N0 and native count."""
    out: dict[str, dict[int, float]] = {}
    budgets = sorted(scores)
    for row in rows:
        got = rule([allocation_target(n, "") for n in budgets], n0=[row["n0"]] * len(budgets),
                   native_tokens=[row["native_tokens"]] * len(budgets),
                   performer_score=[scores[n].get(row["id"], 0.0) for n in budgets])
        out[row["id"]] = {n: float("-inf") if g is None else float(g) for n, g in zip(budgets, got)}
    return out


def rule_budgets(scores: dict[int, dict[str, float]], rows: list[dict[str, Any]],
                 rule: Callable[..., list[float | None]]) -> dict[str, int]:
    """Each row's budget that the allocation ``rule`` rewards most given the performer's ``scores``,
    the smaller on a tie (:func:`rule_rewards`, :func:`~pathreason.allocator.oracle.best_budget`)."""
    return {sid: best_budget(rewards) for sid, rewards in rule_rewards(scores, rows, rule).items()}


def allocation_reward(config: RunConfig, policy: DualPolicy, processor: Any, tasks: Mapping[str, Task],
                      samples: list[Sample], images: list[Image.Image], box_frame: str) -> AllocationReward:
    """The allocator's reward over these decoded samples, scoring the frozen performer of ``policy``
    (one batched generation per call, cached)."""
    from pathreason.registry import get_reward

    performer = ModelPerformer(policy.model, processor, tasks, box_frame, config.budget.patch,
                               config.grpo.max_completion_length, batch_size=None, role=policy.performer)
    scorer = PerformerScorer(performer, tasks, {s.id: (s, img) for s, img in zip(samples, images)}, box_frame,
                             config.budget.patch)
    return AllocationReward(scorer, get_reward(config.allocator.rule, lam=config.allocator.lam))


def train_allocator(config: RunConfig, run: RunDir, models: ModelStore, source: SampleSource,
                    tasks: Mapping[str, Task], state: RunState, phase: str, resume: bool) -> None:
    """Train the allocator against the performer of ``phase`` and record the phase in ``state``."""
    import datasets
    from transformers import set_seed

    from pathreason.registry import get_reward
    from pathreason.training import named_reward, train_grpo, train_sft

    phase = require_performer(phase, run)
    section = config.allocator
    logger.info("allocator phase (performer: %s): %s", phase, run.phase_dir("allocator"))
    set_seed(config.seed)  # the new adapter's initial weights are the run's: a resumed run continues the same one
    policy = dual_policy(config, run, models, phase, trained=False)
    samples, images = source.decoded(config.dataset.train_split)  # decoded once, for rows and reward
    rows = allocator_rows(section, tasks, samples, images, config.budget.train_tokens, config.budget.patch)
    reward = allocation_reward(config, policy, models.processor, tasks, samples, images, models.box_frame)
    history: list[dict[str, Any]] = []
    if section.warmup_steps:
        warm_rows, targets = rows[:section.warmup_samples], None  # None: all of them
        if section.warmup_target in ("oracle", "reward"):
            ids = [r["id"] for r in warm_rows]
            with Phase("allocator oracle", total=len(ids) * len(set(section.candidates)), unit="answers") as bar:
                scores = candidate_scores(reward.scorer, ids, section.candidates, progress=bar.advance)
            if section.warmup_target == "oracle":
                targets = oracle_budgets(scores)
            elif section.warmup_neighbours:
                with policy.performer() as model:
                    embeddings = input_embeddings(model, models.processor, warm_rows, by=section.warmup_neighbours_by)
                targets = smoothed_budgets(rule_rewards(scores, warm_rows, reward.rule), embeddings,
                                           section.warmup_neighbours)
            else:
                targets = rule_budgets(scores, warm_rows, reward.rule)
            counts = Counter(targets.values())
            history.append({"stage": "warmup_targets", "target": section.warmup_target,
                            "neighbours": section.warmup_neighbours,  # 0 unless the reward target (config)
                            "performer_generate_calls": reward.scorer.generate_calls,
                            **{f"budget_{n}": counts[n] for n in sorted(counts)}})
            logger.info("allocator warm-up: %s budgets of %d images: %s", section.warmup_target, len(targets),
                        dict(sorted(counts.items())))
        warm = train_sft(policy.model, models.processor,
                         datasets.Dataset.from_list(warmup_rows(warm_rows, section.candidates, config.seed, targets)),
                         warmup_config(config), run.phase_dir("allocator") / "warmup", None,
                         description="allocator warm-up")
        history += [{**r, "stage": "warmup"} for r in warm.state.log_history]
        policy.model.set_adapter(ALLOCATOR_ADAPTER)
        if is_main_process():  # kept for inspection: what GRPO starts from
            save_allocator(policy.model, run.phase_dir("allocator") / "warmup" / "final",
                           {"stage": "warmup", "performer_phase": phase})
    warm_calls = reward.scorer.generate_calls  # the oracle's; those of GRPO are counted on their own
    data = datasets.Dataset.from_list([{k: v for k, v in r.items() if k not in ("view_tokens", "rationale")}
                                       for r in rows])
    funcs: list[Callable[..., Any]] = [reward, named_reward(get_reward(section.format_reward), section.format_reward)]
    trainer = train_grpo(policy.model, models.processor, data, funcs, [1.0, section.format_weight], section, config,
                         run.phase_dir("allocator"), run.last_checkpoint("allocator") if resume else None,
                         description="allocator GRPO")
    history += trainer.state.log_history
    history.append({"stage": "reward", "performer_generate_calls": reward.scorer.generate_calls - warm_calls,
                    "performer_generations": reward.scorer.generated, "cache_size": len(reward.scorer.cache)})
    if is_main_process():
        save_allocator(policy.model, run.final_dir("allocator"), {
            "performer_phase": phase, "performer_fingerprint": performer_fingerprint(run.final_dir(phase)),
            "base_location": models.location, "rule": section.rule, "lam": section.lam, "view": section.view,
            "version": __version__})
        state.phases["allocator"] = "done"
        run.write_log("allocator", history)
        run.write_state(state)
    barrier()
