"""Budgeters: how many visual tokens each image gets, as types.

A budgeter plugin's factory returns one of two shapes:

* a :class:`Budgeter` answers ``tokens(sample) -> int | None`` from the sample alone (``static:N``,
  ``native``); the engine resizes the image to that budget and runs the task performer once;
* a :class:`TwoStageBudgeter` runs models itself: ``bind(context, phase)`` gives it a
  :class:`BudgetContext` (the run's performer, its trained allocator, its samples and a place to keep
  a calibration), and the :class:`BoundBudgeter` it returns answers whole batches with
  :meth:`BoundBudgeter.decide`, reporting every visual token it spent (:class:`Decision`). The token
  allocator looks at each image before the performer does; an escalating budgeter re-reads an image
  at larger budgets until the performer is confident.

Both are checked with ``isinstance`` (the protocols are runtime-checkable), so a plugin needs no base
class::

    from pathreason.api import Decision

    class AlwaysTwice:                       # answer at 64 tokens, then again at 256
        def bind(self, context, phase=None):
            performer = context.performer(phase)

            class Bound:
                def decide(self, samples, images):
                    first = performer.answer(samples, images, [64] * len(samples))
                    final = performer.answer(samples, images, [256] * len(samples))
                    return [Decision(answer=b, overhead_tokens=a.tokens, passes=2)
                            for a, b in zip(first, final)]
            return Bound()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.api.sample import Sample
    from pathreason.api.task import Task

__all__ = ["Allocation", "Answer", "BoundBudgeter", "BudgetContext", "Budgeter", "Decision", "Performer",
           "TrainedAllocator", "TwoStageBudgeter"]


@dataclass(frozen=True)
class Answer:
    """What the task performer wrote for one image at one budget."""

    text: str
    """The completion, special tokens stripped (``<think>``/``<answer>`` tags kept)."""
    tokens: int
    """Visual tokens of this pass (the image's size under ``budget``)."""
    budget: int | None
    """The budget the image was resized to (``None``: its native size)."""
    logprob: float | None = None
    """Mean log-probability of the answer's tokens (those inside ``<answer>…</answer>``, else of the
    whole completion), when asked for with ``logprobs=True``; a confidence, higher is surer."""


@dataclass(frozen=True)
class Decision:
    """A two-stage budgeter's result for one image: the answer it settled on and its whole cost."""

    answer: Answer
    """The final pass: its ``tokens`` are what TPI counts."""
    overhead_tokens: int = 0
    """Visual tokens spent before the final pass: the allocator's own look, earlier passes of an
    escalation. The total cost of the image is ``answer.tokens + overhead_tokens``."""
    passes: int = 1
    """How many times the performer read the image."""
    fallback: bool = False
    """True when the budgeter could not decide and fell back to a default budget (counted in reports)."""
    info: Mapping[str, Any] = field(default_factory=dict)
    """JSON values carried into the prediction record (e.g. what the allocator wrote)."""


@dataclass(frozen=True)
class Allocation:
    """The token allocator's decision for one image."""

    answer: str
    """What the allocator wrote."""
    requested: int | None
    """N̂ as parsed (``None``: not a positive integer)."""
    budget: int
    """The budget the performer gets: N̂ clamped to the image's native count, or the fallback."""
    fallback: bool
    """True when the answer was unusable and the fallback budget (the training budget) was used."""
    allocator_tokens: int
    """The allocator's own visual tokens."""

    def as_info(self) -> dict[str, Any]:
        """The fields a prediction record carries for the allocator stage."""
        return {"allocator_answer": self.answer, "allocator_requested": self.requested,
                "allocator_fallback": self.fallback, "allocator_tokens": self.allocator_tokens}


@runtime_checkable
class Performer(Protocol):
    """The task performer of a run, as a budgeter sees it: batched, greedy."""

    def answer(self, samples: Sequence[Sample], images: Sequence[Image.Image], budgets: Sequence[int | None],
               *, logprobs: bool = False) -> list[Answer]:
        """One answer per sample, its (decoded, full-size) image resized to its budget first."""
        ...


@runtime_checkable
class TrainedAllocator(Protocol):
    """A run's trained token allocator and the performer it was trained for (one model in memory)."""

    @property
    def performer(self) -> Performer:
        """The frozen task performer the allocator was trained for."""
        ...

    def allocate(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Allocation]:
        """The allocator's budget for each image (batched, greedy)."""
        ...


@runtime_checkable
class BudgetContext(Protocol):
    """What the engine gives a :class:`TwoStageBudgeter` when it binds it to a run."""

    tasks: Mapping[str, Task]
    """The run's tasks by name."""
    train_tokens: int
    """N, the training budget (N₀ = min(native, N))."""
    patch: int
    """Pixels per visual token along a side (28 for Qwen2.5-VL)."""

    def performer(self, phase: str | None = None) -> Performer:
        """The performer after ``phase`` (``"base"``, ``"sft"``, ``"grpo"``; ``None``: the latest)."""
        ...

    def allocator(self, phase: str | None = None) -> TrainedAllocator:
        """The run's trained token allocator (an error naming the run when it has none)."""
        ...

    def samples(self, split: str, n: int | None = None) -> list[Sample]:
        """Samples of the run's tasks from its dataset (e.g. the validation split, to calibrate on)."""
        ...

    def load_state(self, key: str) -> dict[str, Any] | None:
        """JSON saved with the run under ``key`` by :meth:`save_state` (``None`` when there is none)."""
        ...

    def save_state(self, key: str, value: Mapping[str, Any]) -> None:
        """Keep ``value`` (JSON) with the run, e.g. a calibrated threshold, so that it is reused."""
        ...


@runtime_checkable
class Budgeter(Protocol):
    """A budget from the sample alone."""

    def tokens(self, sample: Sample) -> int | None:
        """The image's visual-token budget (``None``: its native size, no cap)."""
        ...


@runtime_checkable
class BoundBudgeter(Protocol):
    """A :class:`TwoStageBudgeter` bound to a run."""

    def decide(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Decision]:
        """Answer every sample, reporting each image's whole cost."""
        ...


@runtime_checkable
class TwoStageBudgeter(Protocol):
    """A budgeter that runs models through the run it is bound to."""

    def bind(self, context: BudgetContext, phase: str | None = None) -> BoundBudgeter:
        """Bind to a run (``phase``: the performer to use; ``None``: the latest)."""
        ...
