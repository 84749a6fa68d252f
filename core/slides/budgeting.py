"""The run's budgeter on a slide: ask every tile's budget, share the slide budget, answer at it.

A slide is budgeted in two passes, both through :func:`pathreason.evaluation.bind`, so any budgeter
(``static:N``, the token allocator, a plugin's) works on slides with no special case:

1. **Plan.** The budgeter is bound to a :class:`PlanningContext`: its performer writes nothing and
   records the budget each tile was asked to be answered at (a :class:`~pathreason.api.Budgeter`
   answers from the sample alone, so its tiles are not even read); a trained allocator really looks
   at each tile, and that look is the tile's ``overhead_tokens``.
2. **Share.** When the requests add up to more than ``B - sum(overhead)``, the slide budgeter
   (:class:`pathreason.api.SlideBudgeter`) assigns each tile 0 or a budget between the minimum and
   its request; :func:`check_assignment` holds it to that and to the sum.
3. **Answer.** The budgeter is bound again, to an :class:`AnsweringContext`: its performer answers
   each tile at the assigned budget, and its allocator's looks are replayed from the plan (counted
   once). The decisions it returns carry the whole cost of each tile.

A two-stage budgeter that reads the performer's answers to decide (escalation) sees empty answers
while planning, and is held to the assigned budget for every pass when answering; its extra passes
are counted in the slide's cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import (
    Allocation,
    Answer,
    BudgetContext,
    Performer,
    PluginError,
    Sample,
    SlideBudgeter,
    SlideTile,
    Task,
    TrainedAllocator,
    make_view,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["AnsweringContext", "PlanningContext", "check_assignment"]


class _Delegate:
    """A :class:`~pathreason.api.BudgetContext` that passes everything but the models to ``inner``."""

    def __init__(self, inner: BudgetContext) -> None:
        self.inner = inner
        self.tasks: Mapping[str, Task] = inner.tasks
        self.train_tokens = inner.train_tokens
        self.patch = inner.patch

    def samples(self, split: str, n: int | None = None) -> list[Sample]:
        return self.inner.samples(split, n)

    def load_state(self, key: str) -> dict[str, Any] | None:
        return self.inner.load_state(key)

    def save_state(self, key: str, value: Mapping[str, Any]) -> None:
        self.inner.save_state(key, value)


class _RecordingPerformer:
    """A performer that writes nothing: each answer only records the budget it was asked for."""

    def __init__(self, box_frame: str, patch: int) -> None:
        self.box_frame = box_frame
        self.patch = patch

    def answer(self, samples: Sequence[Sample], images: Sequence[Image.Image], budgets: Sequence[int | None],
               *, logprobs: bool = False) -> list[Answer]:
        return [Answer(text="", tokens=make_view(image.size, budget, self.box_frame, self.patch).tokens, budget=budget)
                for image, budget in zip(images, budgets)]


class _PlannedAllocator:
    """The run's allocator, its allocations kept by sample id, its performer replaced."""

    def __init__(self, allocator: TrainedAllocator, performer: Performer, replay: Mapping[str, Allocation] | None,
                 kept: dict[str, Allocation]) -> None:
        self.inner = allocator
        self._performer = performer
        self.replay = replay
        self.kept = kept

    @property
    def performer(self) -> Performer:
        return self._performer

    def allocate(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Allocation]:
        if self.replay is not None:
            missing = [s.id for s in samples if s.id not in self.replay]
            if missing:
                raise PluginError(f"the budgeter asked the allocator about tiles it did not plan: {missing[:3]}")
            return [self.replay[s.id] for s in samples]
        allocations = self.inner.allocate(samples, images)
        self.kept.update({s.id: a for s, a in zip(samples, allocations)})
        return allocations


class PlanningContext(_Delegate):
    """Bound to a budgeter to learn what each tile asks for (see the module docstring)."""

    def __init__(self, inner: BudgetContext, box_frame: str) -> None:
        super().__init__(inner)
        self.recorder = _RecordingPerformer(box_frame, inner.patch)
        self.allocations: dict[str, Allocation] = {}

    def performer(self, phase: str | None = None) -> Performer:
        return self.recorder

    def allocator(self, phase: str | None = None) -> TrainedAllocator:
        return _PlannedAllocator(self.inner.allocator(phase), self.recorder, None, self.allocations)


class _AssignedPerformer:
    """The real performer, answering each tile at the budget the slide budgeter assigned it."""

    def __init__(self, inner: Performer, budgets: Mapping[str, int]) -> None:
        self.inner = inner
        self.budgets = budgets

    def answer(self, samples: Sequence[Sample], images: Sequence[Image.Image], budgets: Sequence[int | None],
               *, logprobs: bool = False) -> list[Answer]:
        return self.inner.answer(samples, images, [self.budgets[s.id] for s in samples], logprobs=logprobs)


class AnsweringContext(_Delegate):
    """Bound to a budgeter to answer each tile at its assigned budget (see the module docstring)."""

    def __init__(self, inner: BudgetContext, budgets: Mapping[str, int], allocations: Mapping[str, Allocation]) -> None:
        super().__init__(inner)
        self.budgets = budgets
        self.allocations = allocations

    def performer(self, phase: str | None = None) -> Performer:
        return _AssignedPerformer(self.inner.performer(phase), self.budgets)

    def allocator(self, phase: str | None = None) -> TrainedAllocator:
        real = self.inner.allocator(phase)
        return _PlannedAllocator(real, _AssignedPerformer(real.performer, self.budgets), self.allocations, {})


def check_assignment(name: str, slide_budgeter: SlideBudgeter, tiles: Sequence[SlideTile], budget: int,
                     minimum: int) -> list[int]:
    """``slide_budgeter.assign(...)``, held to its contract: one integer per tile, each 0 or between
    ``min(minimum, requested)`` and ``requested``, adding up to at most ``budget``."""
    budgets = slide_budgeter.assign(list(tiles), budget, minimum)
    if not isinstance(budgets, list | tuple) or len(budgets) != len(tiles):
        raise PluginError(f"slide budgeter {name!r} returned {len(budgets) if isinstance(budgets, list | tuple) else budgets!r}"
                          f" budgets for {len(tiles)} tiles")
    out = []
    for tile, value in zip(tiles, budgets):
        if isinstance(value, bool) or not isinstance(value, int):
            raise PluginError(f"slide budgeter {name!r} gave tile {tile.index} the budget {value!r}; budgets are integers")
        if value != 0 and not min(minimum, tile.requested) <= value <= tile.requested:
            raise PluginError(f"slide budgeter {name!r} gave tile {tile.index} {value} tokens; it must get 0 or between "
                              f"{min(minimum, tile.requested)} and its request {tile.requested}")
        out.append(int(value))
    if sum(out) > budget:
        raise PluginError(f"slide budgeter {name!r} assigned {sum(out)} tokens, more than the {budget} left of the "
                          "slide budget")
    return out
