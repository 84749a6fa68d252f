"""The small typed records that plugins return from their hooks, and the one table of plugin kinds.

Each spec is a frozen dataclass with a normalised ``name`` and a lazy ``factory``: heavy
imports (torch, transformers...) happen inside the factory, never when the plugin module is
imported, so ``pathreason plugins`` stays fast. :data:`KINDS` is the only list of plugin kinds:
the hook specifications, the plugin manager and the look-ups all read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


def normalize_name(name: str) -> str:
    """Lower-case and strip a plugin-provided name; reject names that cannot be typed on a CLI.

    >>> normalize_name("  Detection ")
    'detection'
    """
    if not isinstance(name, str):
        raise TypeError(f"a plugin name must be a string, got {type(name).__name__}: {name!r}")
    norm = name.strip().lower()
    if not _NAME.match(norm):
        raise ValueError(
            f"invalid plugin name {name!r}: use lower-case letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return norm


@dataclass(frozen=True)
class Spec:
    """What every spec has: ``name`` (normalised: lower case, no spaces), ``factory`` (called lazily),
    ``description`` (one line for listings) and ``aliases`` (other names that resolve to it)."""

    kind: ClassVar[str] = "spec"

    name: str
    factory: Callable[..., Any]
    description: str = ""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalize_name(self.name))
        object.__setattr__(self, "aliases", tuple(normalize_name(a) for a in self.aliases))
        if not callable(self.factory):
            raise TypeError(f"{type(self).__name__} {self.name!r}: factory must be callable, got {self.factory!r}")

    def create(self, *args: Any, **kwargs: Any) -> Any:
        """Call the factory (this is where heavy imports happen)."""
        return self.factory(*args, **kwargs)


@dataclass(frozen=True)
class TaskSpec(Spec):
    """A task: prompt building, answer parsing, rewards and metrics.

    ``factory(**options)`` returns an object following :class:`pathreason.tasks.base.Task`.
    """

    kind: ClassVar[str] = "task"


@dataclass(frozen=True)
class RewardSpec(Spec):
    """A reward function with TRL's contract: ``f(completions, **columns) -> list[float | None]``.

    ``factory(**options)`` returns the callable. The engine logs it under its registered name
    (``rewards/<name>/mean``), whatever the callable's ``__name__``. ``low``/``high`` document the
    range of a non-``None`` value.
    """

    kind: ClassVar[str] = "reward"
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class BudgeterSpec(Spec):
    """How many visual tokens an image gets.

    ``factory(argument)`` receives what follows the colon in ``"static:128"`` (or ``None``) and
    returns a :class:`pathreason.api.Budgeter` (``tokens(sample) -> int | None``) or a
    :class:`pathreason.api.TwoStageBudgeter` (``bind(context, phase)``: budgeters that run a model,
    such as the token allocator).
    """

    kind: ClassVar[str] = "budgeter"


@dataclass(frozen=True)
class DatasetSpec(Spec):
    """A loader of canonical :class:`pathreason.Sample` records.

    ``factory(split=..., **options)`` returns a list of samples. ``tasks`` names the task kinds
    the dataset provides (a dataset with several accepts ``task=`` to load only one);
    ``needs_root`` says whether a local folder (``root=``) is required. ``check(root=None, **options)``
    (optional) inspects a folder without training on it and returns a
    :class:`pathreason.api.DatasetSummary`; ``pathreason datasets check NAME --root DIR`` calls it.
    """

    kind: ClassVar[str] = "dataset"
    tasks: tuple[str, ...] = ()
    needs_root: bool = False
    check: Callable[..., Any] | None = None


@dataclass(frozen=True)
class ModelSpec(Spec):
    """A named model preset.

    ``factory()`` returns a local folder or a hub id that ``from_pretrained`` can load (a
    preset built locally, like ``tiny``, is built and cached on the first call).
    ``box_frame`` is ``"absolute"`` (pixels of the image the model sees, Qwen2.5-VL) or
    ``"norm1000"`` (0-1000 coordinates, Qwen2-VL / Qwen3-VL). ``recipe`` holds the preset's own
    training hyper-parameters, merged under the user's config; its optional ``by_task`` maps a
    task name to settings applied on top of the recipe when a run trains that task alone (e.g.
    ``{"detection": {"sft": {"max_steps": 400}}}``).
    """

    kind: ClassVar[str] = "model"
    family: str = "qwen2.5-vl"
    box_frame: str = "absolute"
    recipe: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.kind, self.name))


@dataclass(frozen=True)
class SlideBudgeterSpec(Spec):
    """How a whole-slide image's token budget is shared among its tissue tiles.

    ``factory(argument)`` receives what follows the colon in ``"priority:16"`` (or ``None``) and
    returns a :class:`pathreason.api.SlideBudgeter` (``assign(tiles, budget, minimum) -> list[int]``).
    """

    kind: ClassVar[str] = "slide_budgeter"


@dataclass(frozen=True)
class Kind:
    """One kind of plugin: its name, plural, hook and spec record."""

    name: str
    plural: str
    hook: str
    spec: type[Spec]


#: Every plugin kind, in the order ``pathreason plugins`` lists them.
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("task", "tasks", "pathreason_tasks", TaskSpec),
    Kind("reward", "rewards", "pathreason_rewards", RewardSpec),
    Kind("budgeter", "budgeters", "pathreason_budgeters", BudgeterSpec),
    Kind("dataset", "datasets", "pathreason_datasets", DatasetSpec),
    Kind("model", "models", "pathreason_models", ModelSpec),
    Kind("slide_budgeter", "slide_budgeters", "pathreason_slide_budgeters", SlideBudgeterSpec),
)}

__all__ = ["KINDS", "BudgeterSpec", "DatasetSpec", "Kind", "ModelSpec", "RewardSpec", "SlideBudgeterSpec", "Spec",
           "TaskSpec", "normalize_name"]
