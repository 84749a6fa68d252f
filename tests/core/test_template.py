"""``pathreason new-plugin``: name checks, and a full round trip of the generated package: install
(with pip, into a private target folder), ``pathreason plugins`` lists it, its own tests pass, and
``Engine(task=NAME, dataset=NAME)`` trains on the tiny model without any change to pathreason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pathreason.manager import set_plugin_manager
from pathreason.template import TemplateError, plugin_files, validate_name, write_plugin
from pathreason.testing import tiny_engine

NAME = "dark-nuclei"
MODULE = "pathreason_plugin_dark_nuclei"


@pytest.mark.parametrize("name", ["mitosis", "gland-count", "her2_score", "t1"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name
    files = plugin_files(name)
    module = "pathreason_plugin_" + name.replace("-", "_")
    assert f'{name} = "{module}"' in files["pyproject.toml"]
    assert f"{module}/__init__.py" in files
    assert 'pytest_plugins = ["pathreason.testing"]' in files["tests/conftest.py"]


@pytest.mark.parametrize("name", ["Mitosis", "1cell", "gland--count", "gland-", "-x", "with space", "a" * 41, ""])
def test_invalid_names_say_what_is_allowed(name: str) -> None:
    with pytest.raises(TemplateError, match="lower-case letters and digits, starting with a letter"):
        validate_name(name)


def test_prefixed_name_gets_a_hint() -> None:
    with pytest.raises(TemplateError, match=r"give the short name \('mitosis'\)"):
        validate_name("pathreason-plugin-mitosis")


def test_names_of_installed_plugins_and_existing_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="'detection' is already the name of an installed task"):
        write_plugin("detection", tmp_path)
    with pytest.raises(TemplateError, match="taken by the installed plugin 'synthpath'"):
        write_plugin("synthpath", tmp_path)
    (tmp_path / "pathreason-plugin-mitosis").mkdir()
    with pytest.raises(TemplateError, match="already exists"):
        write_plugin("mitosis", tmp_path)


def test_cli_error_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pathreason", "new-plugin", "Bad_Name", "-d", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("pathreason: error: plugin name 'Bad_Name' is not allowed")
    assert not list(tmp_path.iterdir())


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_generated_plugin_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 1. generate through the CLI, as a user would
    _run([sys.executable, "-m", "pathreason", "new-plugin", NAME, "--directory", str(tmp_path)],
         dict(os.environ), tmp_path)
    package = tmp_path / f"pathreason-plugin-{NAME}"
    assert (package / MODULE / "__init__.py").is_file() and (package / "README.md").is_file()

    # 2. a real pip install (build backend, wheel, entry points) into a private folder: nothing is
    #    installed into the shared environment, so there is nothing to uninstall on failure
    site = tmp_path / "site"
    env = dict(os.environ)
    env.pop("PATHREASON_DISABLE_PLUGINS", None)
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
          "--target", str(site), str(package)], env, tmp_path)
    assert (site / MODULE / "__init__.py").is_file()
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)

    # 3. pathreason finds it through its entry point
    listed = json.loads(_run([sys.executable, "-m", "pathreason", "plugins", "--json"], env, tmp_path).stdout)
    info = {p["name"]: p for p in listed}[NAME]
    assert info["status"] == "active" and info["distribution"] == f"pathreason-plugin-{NAME}"
    assert info["provides"] == {"datasets": [NAME], "rewards": [NAME], "tasks": [NAME]}

    # 4. its own tests pass (the training test is the same run as step 5, so it is left out here)
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow"], env, package)
    assert "4 passed, 1 deselected" in proc.stdout

    # 5. the tiny model trains on the plugin's task and data, with pathreason unchanged
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("PATHREASON_DISABLE_PLUGINS", raising=False)
    old = set_plugin_manager(None)
    try:
        engine = tiny_engine(tmp_path, task=NAME, dataset=NAME).train()
        assert engine.run.read_state().phases == {"sft": "done", "grpo": "done"}
        assert any(f"rewards/{NAME}/mean" in row for row in engine.run.read_log("grpo"))
        report = engine.evaluate(n=2, max_new_tokens=8, progress=False)
        assert report.tasks[NAME]["n"] == 2 and "accuracy" in report.tasks[NAME]["metrics"]
    finally:
        set_plugin_manager(old)
        for name in [m for m in sys.modules if m == MODULE or m.startswith(MODULE + ".")]:
            del sys.modules[name]
