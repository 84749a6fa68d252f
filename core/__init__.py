"""pathreason: teach vision-language models to reason about pathology images and to spend their
visual tokens wisely.

``import pathreason`` is light (no torch): heavy objects such as :class:`Engine` are imported on
first access. Plugins import their contract from :mod:`pathreason.api`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pathreason._version import __version__
from pathreason.api import (
    BudgetError,
    BudgeterSpec,
    ConfigError,
    DataError,
    DatasetSpec,
    ModelSpec,
    PathreasonError,
    PluginError,
    RewardSpec,
    RunError,
    Sample,
    TaskSpec,
    UnknownNameError,
    hookimpl,
    hookspec,
)
from pathreason.registry import (
    get_budgeter,
    get_dataset,
    get_model,
    get_reward,
    get_task,
    list_plugins,
)

if TYPE_CHECKING:
    from pathreason.config import RunConfig
    from pathreason.engine import Engine

_LAZY = {
    "Engine": "pathreason.engine",
    "RunConfig": "pathreason.config",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pathreason' has no attribute {name!r}")


__all__ = [
    "BudgetError",
    "BudgeterSpec",
    "ConfigError",
    "DataError",
    "DatasetSpec",
    "Engine",
    "ModelSpec",
    "PathreasonError",
    "PluginError",
    "RewardSpec",
    "RunConfig",
    "RunError",
    "Sample",
    "TaskSpec",
    "UnknownNameError",
    "__version__",
    "get_budgeter",
    "get_dataset",
    "get_model",
    "get_reward",
    "get_task",
    "hookimpl",
    "hookspec",
    "list_plugins",
]
