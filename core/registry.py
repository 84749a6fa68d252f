"""Public look-ups by name: ``get_task``, ``get_reward``, ``get_budgeter``, ``get_dataset``, ``get_model``.

Each resolves a name (or alias) through the plugin manager and calls the spec's factory.
Unknown names raise :class:`pathreason.api.UnknownNameError` listing the known names with a
"did you mean".
"""

from __future__ import annotations

from typing import Any, TypeVar

from pathreason.api import BudgeterSpec, DatasetSpec, ModelSpec, RewardSpec, Spec, TaskSpec
from pathreason.manager import PluginInfo, get_plugin_manager

S = TypeVar("S", bound=Spec)


def _spec(kind: str, cls: type[S], name: str) -> S:
    spec = get_plugin_manager().lookup(kind, name)
    if not isinstance(spec, cls):  # a hook returning the wrong record type is caught when collected
        raise TypeError(f"{kind} {name!r} resolved to {type(spec).__name__}, expected {cls.__name__}")
    return spec


def task_spec(name: str) -> TaskSpec:
    return _spec("task", TaskSpec, name)


def reward_spec(name: str) -> RewardSpec:
    return _spec("reward", RewardSpec, name)


def budgeter_spec(name: str) -> BudgeterSpec:
    return _spec("budgeter", BudgeterSpec, name)


def dataset_spec(name: str) -> DatasetSpec:
    return _spec("dataset", DatasetSpec, name)


def model_spec(name: str) -> ModelSpec:
    return _spec("model", ModelSpec, name)


def get_task(name: str, **options: Any) -> Any:
    """The task called ``name`` (or one of its aliases, e.g. ``"det"``), built with ``options``."""
    return task_spec(name).create(**options)


def get_reward(name: str, **options: Any) -> Any:
    """The reward callable called ``name``; usable as is by ``trl.GRPOTrainer``."""
    return reward_spec(name).create(**options)


def get_budgeter(name: str) -> Any:
    """A budgeter from ``"name"`` or ``"name:argument"`` (e.g. ``"static:128"``)."""
    base, _, arg = name.partition(":")
    return budgeter_spec(base).create(arg or None)


def get_dataset(name: str) -> Any:
    """The loader called ``name``: call it as ``get_dataset("synthpath")(split="train", n=100)``."""
    return dataset_spec(name).factory


def get_model(name: str) -> ModelSpec:
    """The model preset called ``name`` (its factory resolves the weights' location lazily)."""
    return model_spec(name)


def list_plugins() -> list[PluginInfo]:
    """Every plugin found: name, distribution, version, status and what it provides."""
    return get_plugin_manager().plugin_infos()
