"""The plugin system: discovery through entry points, failures, conflicts, disabling, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pathreason
from pathreason.api import PluginError, UnknownNameError
from pathreason.manager import PathreasonPluginManager
from tests.core._plugin_site import make_distribution

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
    assert ours["budgeters"]["provides"]["budgeters"][:3] == ["static", "native", "allocator"]
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


# ------------------------------------------------------------------ what a plugin author hits (issue 16)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins"
PAGES = ("discovery.md", "troubleshooting.md")


def _text_blocks(page: str) -> list[str]:
    """The lines of the ```text blocks of a docs page (the messages it quotes)."""
    blocks, inside = [], False
    for line in (DOCS / page).read_text().splitlines():
        if line.strip().startswith("```"):
            inside = line.strip() == "```text"
            continue
        if inside:
            blocks.append(line.strip())
    return blocks


def test_docs_say_what_a_misspelt_hook_does(site: Path) -> None:
    """Point 1: the plugin fails to load with a did-you-mean (not "registered and never called"), and the
    message the docs quote is the one pathreason gives."""
    make_distribution(site, "pathreason-plugin-typo", "0.1", {"typo": "tp_typo2"}, {"tp_typo2": """
        from pathreason import hookimpl
        @hookimpl
        def pathreason_task():
            return []
    """})
    error = {i.name: i for i in pathreason.list_plugins()}["typo"].error or ""
    assert error.startswith("PluginError: it implements 'pathreason_task'")
    quoted = [line for line in _text_blocks("discovery.md") if "'pathreason_task'" in line]
    assert len(quoted) == 1 and quoted[0].endswith(", ...") and error.startswith(quoted[0].removesuffix("..."))
    did_you_mean = "it implements 'pathreason_task', which is not a pathreason hook. Did you mean 'pathreason_tasks'?"
    for page in PAGES:
        text = (DOCS / page).read_text()
        assert did_you_mean in text and "never called" not in text, page


MITOSIS = """
from pathreason import TaskSpec, hookimpl

def make_task(**options):
    from tp_nonexistent.task import MitosisTask  # the lazy import the guides recommend, broken
    return MitosisTask(**options)

@hookimpl
def pathreason_tasks():
    return [TaskSpec(name="mitosis", factory=make_task)]
"""


def test_a_broken_lazy_import_in_a_factory_is_one_line_naming_the_plugin(site: Path) -> None:
    """Point 7: the factory's ModuleNotFoundError becomes one PluginError line naming the plugin, its
    distribution and the error (chained, for -v); `plugins` still says active (factories do not run)."""
    make_distribution(site, "pathreason-plugin-mitosis", "0.3.0", {"mitosis": "tp_mitosis"}, {"tp_mitosis": MITOSIS})
    with pytest.raises(PluginError) as caught:
        pathreason.get_task("mitosis")
    message = str(caught.value)
    assert message == ("task 'mitosis' of plugin 'mitosis' (distribution pathreason-plugin-mitosis 0.3.0) raised "
                       "ModuleNotFoundError: No module named 'tp_nonexistent'. Fix or reinstall "
                       "pathreason-plugin-mitosis (`pathreason -v` shows the traceback)")
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)
    assert {i.name: i for i in pathreason.list_plugins()}["mitosis"].status == "active"
    from pathreason.registry import task_spec

    with pytest.raises(PluginError, match="of plugin 'mitosis'"):  # the engine's path: TaskSpec.create
        task_spec("mitosis").create()
    quoted = "pathreason: error: " + message.replace("tp_nonexistent", "skimage")
    for page in PAGES:
        assert quoted in _text_blocks(page), f"{page} should quote the error as pathreason prints it"


def test_cli_prints_a_factory_error_in_one_line_and_the_traceback_with_v(
        site: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    from pathreason.cli import main

    make_distribution(site, "pathreason-plugin-mitosis", "0.3.0", {"mitosis": "tp_mitosis"}, {"tp_mitosis": MITOSIS})
    assert main(["eval", "--task", "mitosis"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("pathreason: error: task 'mitosis' of plugin 'mitosis' "
                                                  "(distribution pathreason-plugin-mitosis 0.3.0) raised "
                                                  "ModuleNotFoundError"), err
    caplog.set_level("DEBUG", logger="pathreason")
    assert main(["-v", "eval", "--task", "mitosis"]) == 2
    traces = [r for r in caplog.records if r.exc_info]
    assert traces and isinstance(traces[-1].exc_info[1].__cause__, ModuleNotFoundError)


def _cli_env(site: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PATHREASON_") or k == "PATHREASON_HOME"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


def test_verbose_shows_the_traceback_of_a_plugin_that_fails_at_import(site: Path) -> None:
    """Point 5: one warning line without -v; the traceback (down to the plugin's line) with -v."""
    make_distribution(site, "pathreason-plugin-broken", "1.0", {"mitosis": "tp_broken_v"},
                      {"tp_broken_v": "def load():\n    raise ImportError('needs libopenslide')\n\nload()\n"})
    quiet = subprocess.run([sys.executable, "-m", "pathreason", "plugins"], capture_output=True, text=True,
                           timeout=120, env=_cli_env(site))
    assert quiet.returncode == 0, quiet.stderr
    warnings = [line for line in quiet.stderr.splitlines() if "failed to load" in line]
    assert len(warnings) == 1 and "needs libopenslide" in warnings[0] and "Traceback" not in quiet.stderr
    loud = subprocess.run([sys.executable, "-m", "pathreason", "-v", "plugins"], capture_output=True, text=True,
                          timeout=120, env=_cli_env(site))
    assert loud.returncode == 0, loud.stderr
    assert "Traceback (most recent call last)" in loud.stderr
    assert "tp_broken_v.py" in loud.stderr and "raise ImportError('needs libopenslide')" in loud.stderr


CLAIMS_BUILTINS = """
from pathreason import DatasetSpec, TaskSpec, hookimpl

@hookimpl
def pathreason_tasks():
    return [TaskSpec(name="vqa", factory=dict)]

@hookimpl
def pathreason_datasets():
    return [DatasetSpec(name="crag", factory=lambda split="train", **o: [], tasks=("detection",))]
"""


def test_a_plugin_claiming_a_built_in_name_is_a_conflict(
        site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Point 8: shown as `conflict` naming both plugins and the name, not hidden; fatal when strict."""
    from pathreason.cli import main

    make_distribution(site, "pathreason-plugin-mycrag", "1.0", {"mycrag": "tp_mycrag"},
                      {"tp_mycrag": CLAIMS_BUILTINS})
    infos = {i.name: i for i in pathreason.list_plugins()}
    ours = f"plugin 'crag' (distribution pathreason {pathreason.__version__})"
    theirs = "plugin 'mycrag' (distribution pathreason-plugin-mycrag 1.0)"
    expected = f"dataset name 'crag' is claimed by two plugins: {ours} and {theirs}; " \
               "disable one with PATHREASON_DISABLE_PLUGINS=<plugin name>"
    assert (infos["mycrag"].status, infos["crag"].status, infos["tasks"].status) == ("conflict",) * 3
    assert expected in infos["mycrag"].conflicts and infos["crag"].conflicts == [expected]
    assert any("task name 'vqa'" in c and "plugin 'tasks'" in c for c in infos["mycrag"].conflicts)
    assert infos["synthpath"].status == "active"
    with pytest.raises(PluginError, match=r"dataset name 'crag' is claimed by two plugins: plugin 'crag' .* and "
                                          r"plugin 'mycrag' \(distribution pathreason-plugin-mycrag 1\.0\)"):
        pathreason.get_dataset("crag")
    with pytest.raises(PluginError, match="task name 'vqa'.*plugin 'mycrag'"):
        pathreason.get_task("vqa")
    assert pathreason.get_task("subtyping").name == "subtyping"  # the rest of the built-ins are untouched

    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    assert any(line.startswith("mycrag") and " conflict " in line for line in out.splitlines()), out
    assert f"{theirs} conflict: {expected}" in err
    assert f"{ours} conflict: {expected}" in _text_blocks("troubleshooting.md")[1].replace(
        "pathreason 0.1.0", f"pathreason {pathreason.__version__}")
    assert main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["crag"]["status"] == "conflict" and rows["crag"]["conflicts"] == [expected]

    monkeypatch.setenv("PATHREASON_STRICT_PLUGINS", "1")
    from pathreason.manager import set_plugin_manager

    set_plugin_manager(None)
    with pytest.raises(PluginError, match=r"dataset name 'crag' is claimed by two plugins.*PATHREASON_STRICT_PLUGINS"):
        pathreason.list_plugins()


def test_a_multi_line_error_keeps_the_plugins_table_whole(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Point 9: the first line in the table, the whole error below it on standard error."""
    from pathreason.cli import main

    make_distribution(site, "pathreason-plugin-broken", "1.0", {"mitosis": "tp_multiline"},
                      {"tp_multiline": "raise ImportError('first line\\n  second line\\nthird line')\n"})
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    names = [i.name for i in pathreason.list_plugins()]
    assert len(lines) == 2 + len(names) and [line.split()[0] for line in lines[2:]] == names, out
    row = next(line for line in lines if line.startswith("mitosis"))
    assert row.split()[3] == "failed" and row.endswith("ImportError: first line")  # distribution: name version
    assert "ImportError: first line\n  second line\nthird line" in err


def _with_stdout_closed(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a standard output whose reader is gone (what `| head` does once it has its lines)."""
    import os

    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "pathreason", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write)


def test_plugins_json_into_a_closed_pipe_ends_quietly() -> None:
    """Point 9: `pathreason plugins --json | head` stops with status 141 and no BrokenPipeError."""
    proc = _with_stdout_closed("plugins", "--json")
    assert proc.returncode == 141, proc.stderr
    assert "BrokenPipeError" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


def test_a_plugin_calling_sys_exit_at_import_is_isolated(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 17 item 17: `sys.exit(3)` at import fails that plugin only; the command goes on."""
    from pathreason.cli import main

    make_distribution(site, "pathreason-plugin-exits", "0.2", {"exits": "tp_exits"},
                      {"tp_exits": "import sys\nsys.exit(3)\n"})
    make_distribution(site, "pathreason-plugin-count", "0.3", {"count": "tp_count"},
                      {"tp_count": TASK_PLUGIN.format(name="cellcount", alias="cc")})
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    assert "plugin 'exits' (distribution pathreason-plugin-exits 0.2) failed: SystemExit: it called sys.exit(3)" in err
    infos = {i.name: i for i in pathreason.list_plugins()}
    assert infos["exits"].status == "failed" and infos["count"].status == "active"
    assert type(pathreason.get_task("cellcount")).__name__ == "CountTask"


def test_a_factory_calling_sys_exit_is_a_plugin_error(site: Path) -> None:
    make_distribution(site, "pathreason-plugin-quits", "0.1", {"quits": "tp_quits"}, {"tp_quits": """
        import sys
        from pathreason import BudgeterSpec, hookimpl

        @hookimpl
        def pathreason_budgeters():
            return [BudgeterSpec(name="quits", factory=lambda argument=None: sys.exit(5))]
    """})
    with pytest.raises(PluginError, match=r"budgeter 'quits' of plugin 'quits' .* raised SystemExit: it called "
                                          r"sys\.exit\(5\)"):
        pathreason.get_budgeter("quits")


BAD_LOADER = """
import sys
from pathreason import DataError, DatasetSpec, Sample, hookimpl

def load(split="train", **options):
{body}

@hookimpl
def pathreason_datasets():
    return [DatasetSpec(name="badds", factory=load, tasks=("vqa",))]
"""
GOOD = 'Sample(id="s0", image="x.png", task="vqa", question="q?", answer="yes")'


@pytest.mark.parametrize(("body", "what"), [
    ("    return 3", "its loader returned int 3 for split 'train'"),
    ("    return None", "its loader returned None for split 'train'"),
    ("    return 'samples'", "its loader returned str 'samples' for split 'train'"),
    ("    return {'s0': 1}", "its loader returned dict {'s0': 1} for split 'train'"),
    (f"    return [{GOOD}, 7]", "its loader returned, for split 'train', item 1 = int 7, which is not a "
                                 "pathreason.api.Sample"),
    ("    return [{'id': 's0'}]", "item 0 = dict {'id': 's0'}, which is not a pathreason.api.Sample"),
    ("    raise KeyError('image_path')", "raised KeyError: 'image_path'"),
    (f"    yield {GOOD}\n    raise OSError('disk gone')",
     "its loader raised OSError: disk gone while producing split 'train'"),
    ("    sys.exit(4)", "raised SystemExit: it called sys.exit(4)"),
])
def test_a_bad_dataset_loader_is_one_error_naming_the_plugin(site: Path, body: str, what: str) -> None:
    """Issue 17 item 17: ints, None, non-iterables, non-samples or an exception from a dataset plugin's
    loader give one line naming the dataset, the plugin and its distribution."""
    from pathreason.config import DatasetSection
    from pathreason.sources import SampleSource

    make_distribution(site, "pathreason-plugin-bad", "0.1", {"bad": "tp_badloader"},
                      {"tp_badloader": BAD_LOADER.format(body=body)})
    source = SampleSource(DatasetSection(name="badds"), {"vqa": pathreason.get_task("vqa")})
    with pytest.raises(PluginError) as caught:
        source.samples("train")
    message = str(caught.value)
    assert message.startswith("dataset 'badds' of plugin 'bad' (distribution pathreason-plugin-bad 0.1")
    assert what in message and "\n" not in message, message


def test_a_loader_data_error_passes_through(site: Path) -> None:
    """pathreason's own errors raised by a plugin on purpose stay what they are."""
    from pathreason.api import DataError
    from pathreason.config import DatasetSection
    from pathreason.sources import SampleSource

    make_distribution(site, "pathreason-plugin-bad", "0.1", {"bad": "tp_badloader"}, {"tp_badloader": BAD_LOADER.format(
        body="    raise DataError('badds: /data/badds/train not found; expected ROOT/train/*.png')")})
    source = SampleSource(DatasetSection(name="badds"), {"vqa": pathreason.get_task("vqa")})
    with pytest.raises(DataError, match=r"^badds: /data/badds/train not found"):
        source.samples("train")


def test_a_reward_is_logged_under_its_registered_name(site: Path) -> None:
    """Point 4: TRL logs `rewards/<__name__>/mean`; the callable handed to TRL carries the registered name."""
    from pathreason.training import reward_functions

    make_distribution(site, "pathreason-plugin-odd", "0.1", {"odd": "tp_oddreward"}, {"tp_oddreward": """
        import functools
        from pathreason import RewardSpec, hookimpl

        def score(completions, scale=1.0, **columns):
            return [scale for _ in completions]

        @hookimpl
        def pathreason_rewards():
            return [RewardSpec(name="cell_count", factory=lambda: functools.partial(score, scale=0.5)),
                    RewardSpec(name="mitosis_count", factory=lambda: lambda completions, **kw: [1.0] * len(completions))]
    """})
    assert not hasattr(pathreason.get_reward("cell_count"), "__name__")
    assert pathreason.get_reward("mitosis_count").__name__ == "<lambda>"
    funcs, weights = reward_functions(["cell_count", "mitosis_count"], "format", 0.5)
    assert [f.__name__ for f in funcs] == ["cell_count", "mitosis_count", "format"] and weights == [1.0, 1.0, 0.5]
    assert funcs[0](["a", "b"]) == [0.5, 0.5] and funcs[1](["a"]) == [1.0]
    for page in PAGES:
        text = (DOCS / page).read_text()
        assert "rewards/<registered name>/mean" in text and "rewards/<__name__>" not in text, page
