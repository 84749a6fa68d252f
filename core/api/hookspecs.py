# mypy: disable-error-code="empty-body"
"""Hook specifications: what a pathreason plugin can provide.

A plugin is a module (or any object) with functions named like the hooks below, decorated with
:data:`pathreason.hookimpl`, and registered under the ``pathreason`` entry-point group::

    [project.entry-points.pathreason]
    myplugin = "pathreason_plugin_myplugin"

Discovery order: entry points are read from every installed distribution, sorted by name and
de-duplicated; names blocked by ``PATHREASON_DISABLE_PLUGINS`` are skipped; each module is
imported (a module that fails to import is reported and skipped, or fatal with
``PATHREASON_STRICT_PLUGINS=1``); then every hook is called once and the specs are collected by
name. pathreason's own tasks, rewards, budgeters, datasets and models come through the same path.

Every hook returns an iterable of frozen spec records (:mod:`pathreason.api.specs`); a hook
whose name is not one of these (``pathreason_task``) makes its plugin fail to load with a
"did you mean", rather than being registered and never called.
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from pathreason.api.specs import (
    KINDS,
    BudgeterSpec,
    DatasetSpec,
    ModelSpec,
    RewardSpec,
    SlideBudgeterSpec,
    TaskSpec,
)

PROJECT_NAME = "pathreason"
ENTRY_POINT_GROUP = "pathreason"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def pathreason_tasks() -> Iterable[TaskSpec]:
    """Return the tasks this plugin provides.

    A task turns a :class:`pathreason.Sample` into chat messages, parses a completion into an
    answer, names its rewards and metrics and defines the SFT target. The factory is called with
    the task options and returns the task object::

        from pathreason.api import TaskSpec, hookimpl

        @hookimpl
        def pathreason_tasks():
            def make(**options):
                from pathreason_plugin_mitosis.task import MitosisTask  # heavy imports here
                return MitosisTask(**options)
            yield TaskSpec(name="mitosis", factory=make, aliases=("mit",),
                           description="count mitotic figures")
    """


@hookspec
def pathreason_rewards() -> Iterable[RewardSpec]:
    """Return reward functions with TRL's contract.

    The factory returns a callable ``reward(completions, **columns) -> list[float | None]``;
    dataset columns arrive as keyword arguments (lists), ``None`` means "not applicable to this
    sample". Any such callable can be handed to ``trl.GRPOTrainer`` unchanged. The engine logs it
    under its registered name (``rewards/brevity/mean``)::

        from pathreason.api import RewardSpec, hookimpl

        def brevity(completions, **columns):
            return [1.0 if len(str(c)) < 200 else 0.0 for c in completions]

        @hookimpl
        def pathreason_rewards():
            return [RewardSpec(name="brevity", factory=lambda: brevity, low=0.0, high=1.0)]
    """


@hookspec
def pathreason_budgeters() -> Iterable[BudgeterSpec]:
    """Return budgeters: policies that give each image a number of visual tokens.

    The factory receives the text after the colon of ``"name:arg"`` (or ``None``) and returns a
    :class:`~pathreason.api.Budgeter` (``tokens(sample) -> int | None``, ``None`` meaning the
    image's own size) or a :class:`~pathreason.api.TwoStageBudgeter`, which runs models through the
    :class:`~pathreason.api.BudgetContext` the engine binds it to (the token allocator does)::

        from pathreason.api import BudgeterSpec, hookimpl

        class Half:
            def __init__(self, arg=None):
                self.cap = int(arg or 256)
            def tokens(self, sample):
                return max(1, self.cap // 2)

        @hookimpl
        def pathreason_budgeters():
            return [BudgeterSpec(name="half", factory=Half)]
    """


@hookspec
def pathreason_datasets() -> Iterable[DatasetSpec]:
    """Return dataset loaders that yield canonical :class:`pathreason.Sample` records.

    The factory is called as ``factory(split="train", **options)`` (``root=`` for local copies)
    and returns a list of samples::

        from pathreason.api import DatasetSpec, Sample, hookimpl

        def load(split="train", root=None, **options):
            return [Sample(id="a1", image=f"{root}/a1.png", task="subtyping",
                           question="", options=["benign", "malignant"], answer="benign")]

        @hookimpl
        def pathreason_datasets():
            return [DatasetSpec(name="mytiles", factory=load, tasks=("subtyping",), needs_root=True)]
    """


@hookspec
def pathreason_models() -> Iterable[ModelSpec]:
    """Return named model presets (optional hook).

    The factory returns a hub id or a local folder for ``from_pretrained``; ``recipe`` holds the
    preset's own training hyper-parameters::

        from pathreason.api import ModelSpec, hookimpl

        @hookimpl
        def pathreason_models():
            return [ModelSpec(name="qwen2.5-vl-32b",
                              factory=lambda: "Qwen/Qwen2.5-VL-32B-Instruct",
                              recipe={"lora": {"r": 16, "lora_alpha": 64}})]
    """


@hookspec
def pathreason_slide_budgeters() -> Iterable[SlideBudgeterSpec]:
    """Return slide budgeters: policies that share a whole-slide image's token budget among its tiles.

    The factory receives the text after the colon of ``"name:arg"`` (or ``None``) and returns a
    :class:`~pathreason.api.SlideBudgeter`. When the budgets the per-tile budgeter asked for add up to
    more than the slide budget left, ``assign(tiles, budget, minimum)`` returns one budget per
    :class:`~pathreason.api.SlideTile`: 0 (skipped) or between ``minimum`` and the tile's request, adding
    up to at most ``budget`` (the runtime checks all three)::

        from pathreason.api import SlideBudgeterSpec, hookimpl

        class MostTissueFirst:
            def __init__(self, arg=None):
                pass
            def assign(self, tiles, budget, minimum):
                out, left = [0] * len(tiles), budget
                for tile in sorted(tiles, key=lambda t: -t.tissue):
                    give = min(tile.requested, left)
                    if give >= min(minimum, tile.requested):
                        out[tiles.index(tile)] = give
                        left -= give
                return out

        @hookimpl
        def pathreason_slide_budgeters():
            return [SlideBudgeterSpec(name="most-tissue", factory=MostTissueFirst)]
    """


#: Hook name by plugin kind (read from :data:`pathreason.api.specs.KINDS`).
HOOKS: dict[str, str] = {kind.name: kind.hook for kind in KINDS.values()}

__all__ = ["ENTRY_POINT_GROUP", "HOOKS", "PROJECT_NAME", "hookimpl", "hookspec", *HOOKS.values()]
