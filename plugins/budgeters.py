"""First-party budgeters: ``static``, ``native`` and the learned ``allocator``.

A budgeter answers, per sample, the visual-token budget the task performer gets; the image is then
resized with :func:`pathreason.budget.smart_resize` under that budget (and boxes rescaled).
``tokens(sample)`` returns the budget as an ``int``, or ``None`` for "no cap" (the native size).
"""

from __future__ import annotations

from typing import Any

from pathreason.budget import TRAIN_BUDGET
from pathreason.errors import ConfigError
from pathreason.hookspecs import hookimpl
from pathreason.specs import BudgeterSpec


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
        if self.max_tokens < 1:
            raise ConfigError(f"budgeter 'static:{argument}': the budget must be a positive integer")

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
    """The trained token allocator of a run (two-stage inference: the allocator, then the performer).

    It needs the run's models, so it works through an engine: ``engine.evaluate(budgeter="allocator")``
    or ``engine.predict(..., budgeter="allocator")`` bind it (``needs_engine``).
    """

    name = "allocator"
    needs_engine = True

    def __init__(self, argument: str | None = None) -> None:
        if argument:
            raise ConfigError(f"budgeter 'allocator' takes no argument, got 'allocator:{argument}'")

    def tokens(self, sample: Any) -> int | None:
        raise ConfigError("the 'allocator' budgeter runs a trained allocator model: use "
                          "engine.evaluate(budgeter='allocator') or engine.predict(..., budgeter='allocator') "
                          "on a run whose allocator is trained")

    def bind(self, engine: Any, phase: str | None = None) -> Any:
        from pathreason.allocator import BoundAllocator

        return BoundAllocator(engine, phase)

    def __repr__(self) -> str:
        return "allocator"


@hookimpl
def pathreason_budgeters() -> list[BudgeterSpec]:
    return [
        BudgeterSpec(name="static", factory=StaticBudgeter,
                     description="a fixed maximum number of visual tokens per image (static:N, default 256)"),
        BudgeterSpec(name="native", factory=NativeBudgeter,
                     description="each image at its own size, no cap"),
        BudgeterSpec(name="allocator", factory=AllocatorBudgeter,
                     description="the run's trained token allocator picks each image's budget (two-stage)"),
    ]
