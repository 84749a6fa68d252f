"""Test helpers for pathreason plugins (and for pathreason itself).

Use them from pytest by naming this module in the ``conftest.py`` at the top of the tests::

    pytest_plugins = ["pathreason.testing"]

which gives the :func:`plugin_manager` fixture; the functions are imported as usual::

    from pathreason.testing import check_reward, register_plugin, tiny_engine

- :func:`plugin_manager` (fixture) / :func:`fresh_plugin_manager` (context manager): a new
  plugin manager with the installed entry points loaded, installed as the process-wide one and
  restored afterwards, so a test can register plugins without leaking them.
- :func:`register_plugin`: register a module or object with hook implementations, as an installed
  plugin would be (it then shows in :func:`pathreason.list_plugins`).
- :func:`check_reward`: call a reward exactly the way TRL's ``GRPOTrainer`` does and assert the
  reward contract.
- :func:`tiny_engine`: an :class:`~pathreason.Engine` on the embedded tiny model with a
  few-steps configuration (a full SFT -> GRPO run takes well under a minute on a laptop CPU).

The assertions here carry their own messages, so pytest is told to leave them as written
(PYTEST_DONT_REWRITE): the module behaves the same whether pytest or a plain import loads it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import PluginError
from pathreason.api.specs import RewardSpec
from pathreason.manager import PathreasonPluginManager, PluginInfo, get_plugin_manager, set_plugin_manager

if TYPE_CHECKING:
    from pathreason.engine import Engine

__all__ = [
    "TINY_SETTINGS",
    "check_reward",
    "fresh_plugin_manager",
    "plugin_manager",
    "register_plugin",
    "tiny_engine",
]

#: The few-steps settings of :func:`tiny_engine`: 8 samples, 2 SFT steps, 1 GRPO step with
#: G = 2 generations of at most 12 tokens. Enough to run every part of both phases, not to learn.
TINY_SETTINGS: dict[str, Any] = {
    "dataset__options": {"n": 8},
    "sft": {"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1},
    "grpo": {"max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 2,
             "max_completion_length": 12, "logging_steps": 1},
}


# ------------------------------------------------------------------------------ plugin manager
@contextlib.contextmanager
def fresh_plugin_manager() -> Iterator[PathreasonPluginManager]:
    """A new :class:`~pathreason.manager.PathreasonPluginManager` with the installed entry points
    loaded (``PATHREASON_DISABLE_PLUGINS`` and ``PATHREASON_STRICT_PLUGINS`` are read now), made
    the process-wide manager for the ``with`` block; the previous one is restored on exit.

    >>> from pathreason import get_task
    >>> with fresh_plugin_manager() as pm:
    ...     get_task("det").name
    'detection'
    """
    pm = PathreasonPluginManager()
    pm.load_entrypoints()
    old = set_plugin_manager(pm)
    try:
        yield pm
    finally:
        set_plugin_manager(old)


def register_plugin(obj: Any, name: str | None = None) -> PluginInfo:
    """Register ``obj`` (a module, class or object with ``@hookimpl`` functions) into the current
    plugin manager, as an installed plugin would be, and return its :class:`PluginInfo`.

    ``name`` defaults to the object's ``__name__``. Unlike an installed plugin, a plugin whose hooks
    fail is not skipped quietly: :class:`~pathreason.api.errors.PluginError` is raised with the reason.
    Use it inside the :func:`plugin_manager` fixture (or :func:`fresh_plugin_manager`) so that
    the registration ends with the test.
    """
    pm = get_plugin_manager()
    info = pm.register_plugin(obj, name=name)
    pm.plugin_infos()  # call every hook now, so that a broken hook fails here and not in a look-up
    if info.status == "failed":
        raise PluginError(f"{info.where()} failed: {info.error}")
    return info


# ------------------------------------------------------------------------------ rewards
def _trainer_state(n: int) -> Any:
    from transformers import TrainerState

    return TrainerState(global_step=0, max_steps=1, num_train_epochs=1, train_batch_size=n)


def _call(reward: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    result = reward(**kwargs)
    if inspect.isawaitable(result):  # TRL gathers async reward functions
        result = asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _check_values(name: str, form: str, values: Any, n: int, low: float | None, high: float | None) -> list[float | None]:
    where = f"reward {name!r} ({form} completions)"
    assert isinstance(values, list), f"{where} returned {type(values).__name__}, expected a list of float | None"
    assert len(values) == n, f"{where} returned {len(values)} values for {n} completions (one per completion)"
    for i, value in enumerate(values):
        if value is None:
            continue
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (
            f"{where} value {i} is {value!r} ({type(value).__name__}); a reward returns float or None")
        assert math.isfinite(value), f"{where} value {i} is {value!r}; return None for 'not applicable', not NaN"
        if low is not None and high is not None:
            assert low <= value <= high, f"{where} value {i} = {value!r} lies outside the spec's [{low}, {high}]"
    return values


def check_reward(reward: Callable[..., Any] | RewardSpec | str, completions: Sequence[str],
                 **columns: Any) -> list[float | None]:
    """Call ``reward`` the way TRL's ``GRPOTrainer`` does and assert the reward contract.

    ``reward`` is a callable, a :class:`~pathreason.RewardSpec` or the name of a registered reward;
    with a spec or a name, values must also lie within the spec's ``[low, high]``. ``completions``
    are the completion texts; ``columns`` the dataset columns, one value per completion (as TRL
    passes them). The reward is called twice, as TRL would for a conversational dataset and for a
    plain-text one:

    - completions as ``[{"role": "assistant", "content": text}]`` and as plain strings;
    - every column as a keyword argument, plus what TRL adds: ``prompts``, ``completion_ids``,
      ``trainer_state`` (a ``transformers.TrainerState``), ``log_extra`` and ``log_metric``.

    Asserted: the callable has a ``__name__`` (TRL logs ``rewards/<__name__>/mean``); each call
    returns a list with one ``float`` or ``None`` per completion, finite, within the range; the two
    forms give the same values; ``log_extra`` got one value per completion and ``log_metric`` a
    number. Returns the values.

    >>> check_reward("vqa", ["<think>round nuclei</think><answer>yes</answer>", "<answer>no</answer>"],
    ...              answer=["yes", "yes"], task=["vqa", "vqa"])
    [1.0, 0.0]
    """
    low: float | None = None
    high: float | None = None
    if isinstance(reward, str):
        from pathreason.registry import reward_spec

        reward = reward_spec(reward)
    if isinstance(reward, RewardSpec):
        low, high = reward.low, reward.high
        reward = reward.create()
    assert callable(reward), f"a reward must be callable, got {reward!r}"
    name = getattr(reward, "__name__", None)
    assert isinstance(name, str) and name, (
        f"reward {reward!r} has no __name__; TRL names its logs after it (set reward.__name__ = 'myreward')")

    texts = list(completions)
    assert all(isinstance(t, str) for t in texts), "check_reward takes the completions as strings"
    n = len(texts)
    assert n > 0, "check_reward needs at least one completion"
    for key, value in columns.items():
        assert isinstance(value, list) and len(value) == n, (
            f"column {key!r} must be a list with one value per completion ({n}), as TRL passes it; got {value!r}")

    prompts = columns.pop("prompts", None)
    chat_prompts = prompts or [[{"role": "user", "content": "Describe the image."}] for _ in texts]
    text_prompts = prompts or ["Describe the image." for _ in texts]
    forms = {
        "chat": ([[{"role": "assistant", "content": t}] for t in texts], chat_prompts),
        "string": (texts, text_prompts),
    }
    results: dict[str, list[float | None]] = {}
    for form, (comps, form_prompts) in forms.items():
        extra: dict[str, list[Any]] = {}
        metrics: dict[str, list[Any]] = {}
        kwargs = {
            "prompts": form_prompts,
            "completions": comps,
            "completion_ids": [[ord(ch) % 997 for ch in t] for t in texts],
            **copy.deepcopy(columns),
            "trainer_state": _trainer_state(n),
            "log_extra": lambda column, values, _extra=extra: _extra.setdefault(column, []).extend(values),
            "log_metric": lambda metric, value, _metrics=metrics: _metrics.setdefault(metric, []).append(value),
        }
        results[form] = _check_values(name, form, _call(reward, kwargs), n, low, high)
        for column, values in extra.items():
            assert len(values) == n, f"reward {name!r} logged {len(values)} values of column {column!r} for {n} completions"
        for metric, values in metrics.items():
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values), (
                f"reward {name!r} logged metric {metric!r} = {values!r}; log_metric takes a number")
    assert results["chat"] == results["string"], (
        f"reward {name!r} scores chat-form completions {results['chat']} but the same text as strings "
        f"{results['string']}; read the text with pathreason.rewards.completion_text")
    return results["chat"]


# ------------------------------------------------------------------------------ engine
def tiny_engine(tmp_path: str | Path, task: str | Sequence[str] | None = None, **overrides: Any) -> Engine:
    """An :class:`~pathreason.Engine` on the embedded tiny model writing to ``tmp_path/run``, with
    :data:`TINY_SETTINGS` under ``overrides`` (nested dicts merge: ``sft={"max_steps": 1}`` keeps
    the other SFT settings). ``task`` defaults to the configuration's default task; pass
    ``dataset="myplugin"`` for a plugin's own data.

    >>> engine = tiny_engine(getfixture("tmp_path"), task="det")   # doctest: +SKIP
    >>> engine.train().run.read_log("grpo")[-1]["rewards/detection/mean"]  # doctest: +SKIP
    0.0
    """
    from pathreason.config import deep_merge
    from pathreason.engine import Engine

    settings = deep_merge(copy.deepcopy(TINY_SETTINGS), overrides)  # the default model is the tiny one
    settings.setdefault("output_dir", str(Path(tmp_path) / "run"))
    return Engine(task=task, **settings)


# ------------------------------------------------------------------------------ pytest plugin
try:
    import pytest
except ImportError:  # pathreason.testing works without pytest; only the fixture needs it
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture()
    def plugin_manager() -> Iterator[PathreasonPluginManager]:
        """A fresh plugin manager with the installed entry points, installed as the process-wide
        one for the test and restored afterwards (see :func:`fresh_plugin_manager`)."""
        with fresh_plugin_manager() as pm:
            yield pm
