"""First-party budgeters: ``static``, ``native``, the learned ``allocator`` and the training-free ``escalate``.

``static`` and ``native`` are :class:`pathreason.api.Budgeter` s: ``tokens(sample)`` returns the
budget as an ``int``, or ``None`` for "no cap" (the native size); the image is then resized with
:func:`pathreason.api.smart_resize` under that budget (and boxes rescaled). ``allocator`` is a
:class:`pathreason.api.TwoStageBudgeter`: bound to a run, it asks the run for its trained allocator,
which looks at each image first and picks its budget; then the performer answers. ``escalate``
(:mod:`pathreason.plugins.escalate`) re-reads an image at larger budgets while the performer is unsure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import TRAIN_BUDGET, BudgetContext, BudgeterSpec, ConfigError, Decision, hookimpl

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.api import Sample, TrainedAllocator


#: The largest static budget: Qwen2.5-VL's processor takes at most 16384 * 28 * 28 pixels per image
#: (the runtime's ``pathreason.config.MAX_TOKENS``).
MAX_STATIC_TOKENS = 16384


class StaticBudgeter:
    """A fixed maximum ``N`` for every image (the paper's ``N_max`` ablation: 128 / 256 / 512 / 1024).

    >>> StaticBudgeter("128").tokens(None)
    128
    """

    name = "static"

    def __init__(self, argument: str | None = None) -> None:
        try:
            self.max_tokens = int(argument) if argument not in (None, "") else TRAIN_BUDGET
        except ValueError:
            raise ConfigError(f"budgeter 'static:{argument}': the budget must be a positive integer, "
                              f"e.g. 'static:128'") from None
        if not 1 <= self.max_tokens <= MAX_STATIC_TOKENS:
            raise ConfigError(f"budgeter 'static:{argument}': the budget must be from 1 to {MAX_STATIC_TOKENS} "
                              "visual tokens (Qwen2.5-VL's largest image)")

    def tokens(self, sample: Any) -> int | None:
        return self.max_tokens

    def __repr__(self) -> str:
        return f"static:{self.max_tokens}"


class NativeBudgeter:
    """No cap: every image at its own size (rounded to whole patches), the base model's behaviour."""

    name = "native"

    def __init__(self, argument: str | None = None) -> None:
        if argument:
            raise ConfigError(f"budgeter 'native' takes no argument, got 'native:{argument}'")

    def tokens(self, sample: Any) -> int | None:
        return None

    def __repr__(self) -> str:
        return "native"


class AllocatorBudgeter:
    """The trained token allocator of a run (two-stage: the allocator, then the performer).

    It runs the run's models, so it works through an engine: ``engine.evaluate(budgeter="allocator")``
    or ``engine.predict(..., budgeter="allocator")`` bind it to the run. Each decision counts the
    allocator's own look at the image (``overhead_tokens``); an unusable allocator answer falls back
    to the training budget (``fallback``).
    """

    name = "allocator"

    def __init__(self, argument: str | None = None) -> None:
        if argument:
            raise ConfigError(f"budgeter 'allocator' takes no argument, got 'allocator:{argument}'")

    def bind(self, context: BudgetContext, phase: str | None = None) -> BoundAllocator:
        return BoundAllocator(context.allocator(phase))

    def __repr__(self) -> str:
        return "allocator"


class BoundAllocator:
    """The ``allocator`` budgeter bound to a run's trained allocator."""

    def __init__(self, allocator: TrainedAllocator) -> None:
        self.allocator = allocator

    def decide(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Decision]:
        allocations = self.allocator.allocate(samples, images)
        answers = self.allocator.performer.answer(samples, images, [a.budget for a in allocations])
        return [Decision(answer=answer, overhead_tokens=a.allocator_tokens, fallback=a.fallback, info=a.as_info())
                for a, answer in zip(allocations, answers)]


@hookimpl
def pathreason_budgeters() -> list[BudgeterSpec]:
    return [
        BudgeterSpec(name="static", factory=StaticBudgeter,
                     description="a fixed maximum number of visual tokens per image (static:N, default 256)"),
        BudgeterSpec(name="native", factory=NativeBudgeter,
                     description="each image at its own size, no cap"),
        BudgeterSpec(name="allocator", factory=AllocatorBudgeter,
                     description="the run's trained token allocator picks each image's budget (two-stage)"),
        BudgeterSpec(name="escalate", factory=_escalate,
                     description="answer at 16 tokens, again at 64 and 256 while the performer is unsure "
                                 "(escalate:16,64,256; threshold calibrated on the validation split)"),
    ]


def _escalate(argument: str | None = None) -> Any:
    from pathreason.plugins.escalate import EscalateBudgeter

    return EscalateBudgeter(argument)
