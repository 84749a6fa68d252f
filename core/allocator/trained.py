"""A run's token allocator at inference: load the performer with its allocator, and allocate.

:func:`dual_policy` builds the performer of a phase plus the allocator adapter (new for training,
or the trained one, checked against the performer's fingerprint); :class:`RunAllocator` is the
:class:`pathreason.api.TrainedAllocator` a two-stage budgeter receives: ``allocate`` (batched,
greedy; an unusable answer falls back to the training budget) and the frozen ``performer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pathreason.allocator.inputs import allocation_messages, allocator_input
from pathreason.allocator.policy import DualPolicy, build_policy, check_allocator, performer_fingerprint
from pathreason.api import Allocation, RunError, Sample, Task, clamp_tokens, parse_token_count
from pathreason.inference import ModelPerformer, generate

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.config import AllocatorSection, RunConfig
    from pathreason.models.store import ModelStore
    from pathreason.runs import RunDir

__all__ = ["RunAllocator", "allocate", "dual_policy", "require_performer"]


def require_performer(phase: str, run: RunDir) -> str:
    """``phase`` if it is a trained performer phase; the allocator is rewarded by a trained performer."""
    if phase in (None, "base"):
        raise RunError(f"{run.path}: the allocator is rewarded by a trained task performer; train one "
                       "first (engine.train() / pathreason train)")
    return phase


def dual_policy(config: RunConfig, run: RunDir, models: ModelStore, phase: str, trained: bool,
                trainable: bool = False) -> DualPolicy:
    """The performer of ``phase`` plus the allocator adapter: a new one, or the run's trained one."""
    performer_dir = run.final_dir(phase)
    if (performer_dir / "adapter_config.json").is_file():
        models.check_adapter(performer_dir)
    allocator_dir = None
    if trained:
        allocator_dir = run.final_dir("allocator")
        if not allocator_dir.is_dir():
            raise RunError(f"{run.path}: no trained allocator at {allocator_dir}; run "
                           "engine.train_allocator() (pathreason train-allocator) first")
        check_allocator(allocator_dir, phase, performer_fingerprint(performer_dir), models.location)
    return build_policy(performer_dir, models.base, models.load_full, config.allocator, allocator_dir, trainable)


def allocate(policy: DualPolicy, processor: Any, tasks: Mapping[str, Task], samples: Sequence[Sample],
             images: Sequence[Image.Image], section: AllocatorSection, train_tokens: int, patch: int = 28,
             batch_size: int = 16) -> list[Allocation]:
    """Run the allocator over ``samples`` (batched, greedy); unusable answers fall back to ``train_tokens``."""
    inputs = [allocator_input(img, section, train_tokens, patch) for img in images]
    convs = [allocation_messages(tasks[s.task], s, a.n0, a.native) for s, a in zip(samples, inputs)]
    with policy.allocator() as model:
        gens = generate(model, processor, convs, [a.image for a in inputs],
                        max_new_tokens=section.max_completion_length, batch_size=batch_size)
    out = []
    for gen, a in zip(gens, inputs):
        n = parse_token_count(gen.text)
        budget = train_tokens if n is None else clamp_tokens(n, a.native)
        out.append(Allocation(answer=gen.text, requested=n, budget=budget, fallback=n is None,
                              allocator_tokens=a.view_tokens))
    return out


class RunAllocator:
    """The trained allocator of a run and its frozen performer (see the module docstring)."""

    def __init__(self, policy: DualPolicy, processor: Any, tasks: Mapping[str, Task], config: RunConfig,
                 box_frame: str, max_new_tokens: int, batch_size: int = 16) -> None:
        self.policy = policy
        self.processor = processor
        self.tasks = tasks
        self.config = config
        self.batch_size = batch_size
        self.performer = ModelPerformer(policy.model, processor, tasks, box_frame, config.budget.patch,
                                        max_new_tokens, batch_size, role=policy.performer)

    def allocate(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Allocation]:
        return allocate(self.policy, self.processor, self.tasks, samples, images, self.config.allocator,
                        self.config.budget.train_tokens, self.config.budget.patch, self.batch_size)
