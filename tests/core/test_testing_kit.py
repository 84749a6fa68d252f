"""``pathreason.testing``: the plugin-manager fixture, register_plugin, check_reward, tiny_engine."""

from __future__ import annotations

import functools
import math
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

from pathreason import RewardSpec, get_reward, hookimpl, list_plugins
from pathreason.api import PluginError, UnknownNameError
from pathreason.manager import PathreasonPluginManager, get_plugin_manager
from pathreason.testing import TINY_SETTINGS, check_reward, fresh_plugin_manager, register_plugin, tiny_engine

pytest_plugins = ["pathreason.testing"]


def _plugin(name: str, reward: Any, low: float = 0.0, high: float = 1.0) -> types.ModuleType:
    """A module with one reward hook, as a plugin package would have."""
    module = types.ModuleType(f"tp_{name}")

    @hookimpl
    def pathreason_rewards() -> list[RewardSpec]:
        return [RewardSpec(name=name, factory=lambda: reward, low=low, high=high)]

    module.pathreason_rewards = pathreason_rewards  # type: ignore[attr-defined]
    return module


def brevity(completions: list[Any], **columns: Any) -> list[float | None]:
    return [1.0 if len(str(c)) < 40 else 0.0 for c in completions]


# ------------------------------------------------------------------------------ plugin manager
def test_fresh_plugin_manager_is_installed_and_restored() -> None:
    before = get_plugin_manager()
    with fresh_plugin_manager() as pm:
        assert get_plugin_manager() is pm and pm is not before
        assert {"tasks", "rewards", "synthpath"} <= {i.name for i in pm.plugin_infos()}
    assert get_plugin_manager() is before


def test_register_plugin_acts_like_an_installed_one(plugin_manager: PathreasonPluginManager) -> None:
    info = register_plugin(_plugin("brevity", brevity), name="brevity-plugin")
    assert info.status == "active" and info.distribution == "(registered in code)"
    listed = {i.name: i for i in list_plugins()}["brevity-plugin"]
    assert listed.provides == {"rewards": ["brevity"]}
    assert get_reward("brevity") is brevity
    assert get_plugin_manager() is plugin_manager


def test_registration_ends_with_the_fixture() -> None:
    with fresh_plugin_manager():
        register_plugin(_plugin("brevity", brevity), name="brevity-plugin")
    with pytest.raises(UnknownNameError):
        get_reward("brevity")


def test_register_plugin_raises_when_a_hook_fails(plugin_manager: PathreasonPluginManager) -> None:
    broken = types.ModuleType("tp_broken")

    @hookimpl
    def pathreason_rewards() -> list[Any]:
        return ["not a spec"]

    broken.pathreason_rewards = pathreason_rewards  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match=r"tp_broken.*expected RewardSpec"):
        register_plugin(broken)



def test_register_plugin_raises_on_a_misspelt_hook(plugin_manager: PathreasonPluginManager) -> None:
    typo = types.ModuleType("tp_typo")

    @hookimpl
    def pathreason_reward() -> list[Any]:
        return []

    typo.pathreason_reward = pathreason_reward  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="'pathreason_reward', which is not a pathreason hook. Did you mean 'pathreason_rewards'"):
        register_plugin(typo)

# ------------------------------------------------------------------------------ check_reward
def test_check_reward_by_name_spec_and_callable(plugin_manager: PathreasonPluginManager) -> None:
    completions = ["<think>two glands</think><answer>(B)</answer>", "<answer>A</answer>", "B"]
    columns = {"answer": ["B", "B", "B"], "options": [["fat", "gland"]] * 3, "task": ["vqa"] * 3}
    assert check_reward("vqa", completions, **columns) == [1.0, 0.0, 0.0]
    spec = plugin_manager.lookup("reward", "vqa")
    assert check_reward(spec, completions, **columns) == [1.0, 0.0, 0.0]
    assert check_reward(get_reward("vqa"), completions, **columns) == [1.0, 0.0, 0.0]
    assert check_reward("detection", completions, **columns) == [None, None, None]


def test_check_reward_passes_what_trl_passes() -> None:
    from transformers import TrainerState

    seen: list[dict[str, Any]] = []

    def spy(completions: list[Any], **kwargs: Any) -> list[float | None]:
        seen.append({"completions": completions, **kwargs})
        kwargs["log_extra"]("length", [len(str(c)) for c in completions])
        kwargs["log_metric"]("calls", 1.0)
        return [0.5 for _ in completions]

    assert check_reward(spy, ["a", "bb"], answer=["x", "y"]) == [0.5, 0.5]
    chat, text = seen
    assert chat["completions"] == [[{"role": "assistant", "content": "a"}], [{"role": "assistant", "content": "bb"}]]
    assert text["completions"] == ["a", "bb"]
    for call in seen:
        assert call["answer"] == ["x", "y"]
        assert {"prompts", "completion_ids", "trainer_state", "log_extra", "log_metric"} <= set(call)
        assert len(call["prompts"]) == 2 and [len(ids) for ids in call["completion_ids"]] == [1, 2]
        assert isinstance(call["trainer_state"], TrainerState)
    assert isinstance(chat["prompts"][0], list) and isinstance(text["prompts"][0], str)


def test_check_reward_runs_async_rewards() -> None:
    async def later(completions: list[Any], **kwargs: Any) -> list[float | None]:
        return [1.0] * len(completions)

    assert check_reward(later, ["x"]) == [1.0]


def _tuple(completions: list[Any], **kw: Any) -> Any:
    return tuple(1.0 for _ in completions)


def _short(completions: list[Any], **kw: Any) -> Any:
    return [1.0]


def _nan(completions: list[Any], **kw: Any) -> Any:
    return [math.nan for _ in completions]


def _boolean(completions: list[Any], **kw: Any) -> Any:
    return [True for _ in completions]


def _reads_str(completions: list[Any], **kw: Any) -> Any:  # str() of a chat message is not its text
    return [float(len(str(c)) < 5) for c in completions]


def _logs_short_column(completions: list[Any], **kw: Any) -> Any:
    kw["log_extra"]("length", [1])
    return [0.0 for _ in completions]


@pytest.mark.parametrize(("reward", "message"), [
    (_tuple, "returned tuple, expected a list"),
    (_short, "returned 1 values for 2 completions"),
    (_nan, "not NaN"),
    (_boolean, "a reward returns float or None"),
    (_reads_str, "completion_text"),
    (_logs_short_column, "logged 1 values of column 'length'"),
    (functools.partial(brevity), "has no __name__"),
])
def test_check_reward_reports_broken_contracts(reward: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_reward(reward, ["yes", "no"])


def test_check_reward_checks_the_spec_range_and_the_columns() -> None:
    spec = RewardSpec(name="too-high", factory=lambda: brevity, low=0.0, high=0.5)
    with pytest.raises(AssertionError, match=r"outside the spec's \[0.0, 0.5\]"):
        check_reward(spec, ["short"])
    with pytest.raises(AssertionError, match="column 'answer' must be a list with one value per completion"):
        check_reward(brevity, ["a", "b"], answer="yes")


# ------------------------------------------------------------------------------ tiny_engine
def test_tiny_engine_merges_overrides_into_the_few_steps_settings(tmp_path: Path) -> None:
    engine = tiny_engine(tmp_path, task="det", sft={"max_steps": 1}, grpo__beta=0.0)
    config = engine.config
    assert config.model == "tiny" and config.tasks == ["det"]
    assert config.output_dir == str(tmp_path / "run")
    assert config.sft.max_steps == 1 and config.sft.per_device_train_batch_size == 4
    assert config.grpo.num_generations == 2 and config.grpo.max_steps == 1 and config.grpo.beta == 0.0
    assert config.dataset.options == TINY_SETTINGS["dataset__options"]
    assert TINY_SETTINGS["sft"]["max_steps"] == 2  # the shared settings are not mutated


# ------------------------------------------------------------------------------ as a pytest plugin
def test_conftest_line_gives_the_fixture(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["pathreason.testing"]\n')
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        import types
        from pathreason import RewardSpec, get_reward, hookimpl
        from pathreason.manager import get_plugin_manager
        from pathreason.testing import register_plugin

        def short(completions, **columns):
            return [1.0 if len(c[0]["content"] if isinstance(c, list) else c) < 5 else 0.0 for c in completions]

        @hookimpl
        def pathreason_rewards():
            return [RewardSpec(name="short", factory=lambda: short)]

        def test_uses_the_fixture(plugin_manager):
            assert get_plugin_manager() is plugin_manager
            register_plugin(types.SimpleNamespace(pathreason_rewards=pathreason_rewards), name="short")
            assert get_reward("short")(["yes", "a long answer"]) == [1.0, 0.0]

        def test_nothing_leaks():
            assert "short" not in {i.name for i in get_plugin_manager().plugin_infos()}
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
