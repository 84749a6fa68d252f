"""Public look-ups by name: ``get_task``, ``get_reward``, ``get_budgeter``, ``get_dataset``, ``get_model``.

Each resolves a name (or alias) through the plugin manager and calls the spec's factory.
Unknown names raise :class:`pathreason.api.UnknownNameError` listing the known names with a
"did you mean". The specs returned here are the manager's guarded copies: whatever a plugin's
factory (or a dataset's ``check``) raises, other than pathreason's own errors, arrives as one
:class:`pathreason.api.PluginError` naming the plugin and its distribution, so a broken lazy
import inside a factory is one line, not a traceback (chained, for ``pathreason -v``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pathreason.api import (
    BudgeterSpec,
    DatasetSpec,
    ModelSpec,
    PathreasonError,
    PluginError,
    RewardSpec,
    Sample,
    Spec,
    TaskSpec,
)
from pathreason.manager import PluginInfo, describe_exception, describe_value, get_plugin_manager

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


def where(spec: Spec) -> str:
    """``"dataset 'x' of plugin 'p' (distribution d 1.0)"``: a spec and the plugin that provided it."""
    info = get_plugin_manager().provider(spec)
    return f"{spec.kind} {spec.name!r}" + (f" of {info.where()}" if info is not None else "")


def load_samples(spec: DatasetSpec, split: str, **options: Any) -> list[Sample]:
    """The samples of ``split`` from the dataset plugin ``spec``, as a list, checked.

    The loader must return an iterable of :class:`pathreason.api.Sample`; anything else (``None``,
    a number, a string or mapping, items that are not samples) or an exception while it runs or
    while its result is iterated is one :class:`PluginError` naming the dataset, its plugin and
    distribution, and what came back. pathreason's own errors (a ``DataError`` naming a missing
    folder) pass through unchanged.
    """
    loaded = spec.factory(split=split, **options)  # a spec from the manager: what it raises names the plugin
    expected = "a loader returns a list (or iterable) of pathreason.api.Sample"
    if loaded is None or isinstance(loaded, (str, bytes, Mapping)) or not isinstance(loaded, Iterable):
        raise PluginError(f"{where(spec)}: its loader returned {describe_value(loaded)} for split {split!r}; "
                          f"{expected}")
    samples: list[Sample] = []
    try:
        for i, item in enumerate(loaded):
            if not isinstance(item, Sample):
                raise PluginError(f"{where(spec)}: its loader returned, for split {split!r}, item {i} = "
                                  f"{describe_value(item)}, which is not a pathreason.api.Sample; {expected}")
            samples.append(item)
    except PathreasonError:
        raise
    except (Exception, SystemExit) as exc:  # a generator loader fails while it is iterated
        raise PluginError(f"{where(spec)}: its loader raised {describe_exception(exc)} while producing split "
                          f"{split!r} (`pathreason -v` shows the traceback)") from exc
    return samples


def list_plugins() -> list[PluginInfo]:
    """Every plugin found: name, distribution, version, status and what it provides."""
    return get_plugin_manager().plugin_infos()
