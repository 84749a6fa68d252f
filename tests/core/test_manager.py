"""The plugin system: discovery through entry points, failures, conflicts, disabling, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pathreason
from pathreason.api import PluginError, UnknownNameError
from pathreason.manager import PathreasonPluginManager, set_plugin_manager


def make_distribution(root: Path, dist: str, version: str, entry_points: dict[str, str],
                      modules: dict[str, str]) -> None:
    """Write an installed distribution (``*.dist-info`` + modules) under ``root``."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "[pathreason]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(eps)
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


TASK_PLUGIN = """
from pathreason import TaskSpec, hookimpl

class CountTask:
    name = "{name}"
    def __init__(self, scale=1):
        self.scale = scale

@hookimpl
def pathreason_tasks():
    yield TaskSpec(name="{name}", factory=CountTask, aliases=("{alias}",), description="a third-party task")
"""


@pytest.fixture()
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A temporary site directory on sys.path and a fresh plugin manager reading it."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("PATHREASON_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("PATHREASON_DISABLE_PLUGINS", raising=False)
    old = set_plugin_manager(None)
    yield root
    for mod in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[mod]
    set_plugin_manager(old)


def test_third_party_task_works_through_get_task(site: Path) -> None:
    make_distribution(site, "pathreason-plugin-count", "0.3", {"count": "tp_count"},
                      {"tp_count": TASK_PLUGIN.format(name="cellcount", alias="cc")})
    task = pathreason.get_task("cellcount", scale=3)
    assert type(task).__name__ == "CountTask" and task.scale == 3
    assert type(pathreason.get_task("CC")).__name__ == "CountTask"  # alias, case folded
    info = {i.name: i for i in pathreason.list_plugins()}["count"]
    assert (info.distribution, info.version, info.status) == ("pathreason-plugin-count", "0.3", "active")
    assert info.provides == {"tasks": ["cellcount"]}


def test_broken_plugin_is_reported_and_others_keep_working(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_distribution(site, "pathreason-plugin-broken", "1.0", {"mitosis": "tp_broken"},
                      {"tp_broken": "raise ImportError('needs libopenslide')\n"})
    make_distribution(site, "pathreason-plugin-count", "0.3", {"count": "tp_count"},
                      {"tp_count": TASK_PLUGIN.format(name="cellcount", alias="cc")})
    infos = {i.name: i for i in pathreason.list_plugins()}
    assert infos["mitosis"].status == "failed"
    assert "needs libopenslide" in (infos["mitosis"].error or "")
    assert "pathreason-plugin-broken" in caplog.text
    assert infos["count"].status == "active"
    assert infos["budgeters"].status == "active"
    assert pathreason.get_budgeter("static:128").tokens(None) == 128
    with pytest.raises(UnknownNameError, match=r"pathreason-plugin-broken.*needs libopenslide"):
        pathreason.get_task("mitosis")


def test_strict_mode_makes_a_broken_plugin_fatal(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(site, "pathreason-plugin-broken", "1.0", {"mitosis": "tp_broken2"},
                      {"tp_broken2": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv("PATHREASON_STRICT_PLUGINS", "1")
    pm = PathreasonPluginManager()
    with pytest.raises(PluginError, match=r"plugin 'mitosis' \(distribution pathreason-plugin-broken 1.0\).*boom"):
        pm.load_entrypoints()


def test_two_plugins_claiming_one_name(site: Path) -> None:
    make_distribution(site, "pathreason-plugin-a", "1.0", {"alpha": "tp_a"},
                      {"tp_a": TASK_PLUGIN.format(name="grading", alias="ga")})
    make_distribution(site, "pathreason-plugin-b", "2.0", {"beta": "tp_b"},
                      {"tp_b": TASK_PLUGIN.format(name="grading", alias="gb")})
    make_distribution(site, "pathreason-plugin-count", "0.3", {"count": "tp_count"},
                      {"tp_count": TASK_PLUGIN.format(name="cellcount", alias="cc")})
    with pytest.raises(PluginError, match=r"pathreason-plugin-a 1\.0.*pathreason-plugin-b 2\.0"):
        pathreason.get_task("grading")
    assert type(pathreason.get_task("ga")).__name__ == "CountTask"  # unambiguous aliases still work
    assert type(pathreason.get_task("cellcount")).__name__ == "CountTask"


def test_disable_plugins(site: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    make_distribution(site, "pathreason-plugin-count", "0.3", {"count": "tp_count"},
                      {"tp_count": TASK_PLUGIN.format(name="cellcount", alias="cc")})
    monkeypatch.setenv("PATHREASON_DISABLE_PLUGINS", "count, budgeterz")
    infos = {i.name: i for i in pathreason.list_plugins()}
    assert infos["count"].status == "disabled"
    assert "tp_count" not in sys.modules  # a disabled plugin is never imported
    assert "Did you mean 'budgeters'?" in caplog.text
    with pytest.raises(UnknownNameError, match="unknown task 'cellcount'"):
        pathreason.get_task("cellcount")


def test_hook_that_raises_marks_only_its_plugin_failed(site: Path) -> None:
    make_distribution(site, "pathreason-plugin-bad", "0.1", {"bad": "tp_badhook"}, {"tp_badhook": """
        from pathreason import hookimpl
        @hookimpl
        def pathreason_budgeters():
            raise ValueError("bad config file")
    """})
    infos = {i.name: i for i in pathreason.list_plugins()}
    assert infos["bad"].status == "failed" and "bad config file" in (infos["bad"].error or "")
    assert pathreason.get_budgeter("native").tokens(None) is None


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown budgeter 'statik'\. Did you mean 'static'\?.*native"):
        pathreason.get_budgeter("statik:4")
    with pytest.raises(UnknownNameError, match="Did you mean 'tiny'"):
        pathreason.get_model("tinny")


def test_specs_are_frozen_and_normalised() -> None:
    import dataclasses

    spec = pathreason.TaskSpec(name="  Mitosis ", factory=dict, aliases=("MIT",))
    assert spec.name == "mitosis" and spec.aliases == ("mit",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="invalid plugin name"):
        pathreason.RewardSpec(name="has space", factory=dict)
    with pytest.raises(TypeError, match="factory must be callable"):
        pathreason.BudgeterSpec(name="x", factory="not callable")  # type: ignore[arg-type]


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from pathreason.cli import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_cli_plugins_json_lists_first_party_plugins_without_torch() -> None:
    proc = _run_cli("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    ours = {r["name"]: r for r in rows if r["distribution"] == "pathreason"}
    assert {"budgeters", "models"} <= set(ours)
    assert all(r["status"] == "active" for r in ours.values()), [(r["name"], r["error"]) for r in ours.values()]
    assert ours["budgeters"]["provides"] == {"budgeters": ["static", "native", "allocator"]}
    assert ours["budgeters"]["version"] == pathreason.__version__


def test_cli_plugins_table() -> None:
    proc = _run_cli("plugins")
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0].split()
    assert header == ["name", "distribution", "status", "provides"]
    assert any(line.startswith("models") and "tiny" in line for line in proc.stdout.splitlines())


def test_misspelt_hook_name_fails_the_plugin(site: Path) -> None:
    make_distribution(site, "pathreason-plugin-typo", "0.1", {"typo": "tp_typo"}, {"tp_typo": """
        from pathreason import hookimpl
        @hookimpl
        def pathreason_task():
            return []
    """})
    infos = {i.name: i for i in pathreason.list_plugins()}
    assert infos["typo"].status == "failed"
    assert "Did you mean 'pathreason_tasks'" in (infos["typo"].error or "")
    assert infos["budgeters"].status == "active"
