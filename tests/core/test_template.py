"""``pathreason new-plugin``: name checks; the shipped template (``core/templates/plugin``, the files
ruff and mypy check) is exactly what ``write_plugin`` writes for its own name, uses only the public
API, and is renamed completely; and a full round trip of a generated package: install (with pip,
into a private target folder), ``pathreason plugins`` lists it, its own tests pass, and
``Engine(task=NAME, dataset=NAME)`` trains on the tiny model without any change to pathreason."""

from __future__ import annotations

import ast
import doctest
import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import tomllib

import pathreason
import pathreason.api
from pathreason.manager import set_plugin_manager
from pathreason.template import (
    PLACEHOLDER,
    TemplateError,
    plugin_files,
    template_files,
    validate_name,
    write_plugin,
)
from pathreason.testing import tiny_engine

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "core" / "templates" / "plugin"
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


def _checkout_files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def test_the_shipped_template_is_what_write_plugin_writes_for_its_own_name(tmp_path: Path) -> None:
    assert PLACEHOLDER == "example"
    written = write_plugin(PLACEHOLDER, tmp_path)
    expected = _checkout_files(TEMPLATE)
    assert set(expected) == {"pyproject.toml", "README.md", "pathreason_plugin_example/__init__.py",
                             "tests/conftest.py", "tests/test_plugin.py"}
    assert _checkout_files(written) == expected
    assert {path: text.encode() for path, text in template_files().items()} == expected


def test_the_template_says_example_only_as_a_name() -> None:
    """``write_plugin`` replaces every ``example``, so the word may appear only where it names the
    plugin: a sentence "for example" or "examples" would come out as "for gland-count"."""
    forms = {"pathreason_plugin_example", "pathreason-plugin-example", "ExampleTask", "example"}
    for path, text in template_files().items():
        words = re.findall(r"[\w-]*example[\w-]*", path + "\n" + text, flags=re.IGNORECASE)
        assert set(words) <= forms, f"{path}: {sorted(set(words) - forms)}"
        assert not re.search(r"\b(?:for|an|as|this) example\b", text, flags=re.IGNORECASE), path


@pytest.mark.parametrize("name", ["mitosis", "gland-count"])
def test_every_placeholder_is_replaced(name: str) -> None:
    module = "pathreason_plugin_" + name.replace("-", "_")
    files = plugin_files(name)
    assert set(files) == {"pyproject.toml", "README.md", f"{module}/__init__.py", "tests/conftest.py",
                          "tests/test_plugin.py"}
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["name"] == f"pathreason-plugin-{name}"
    assert project["project"]["entry-points"]["pathreason"] == {name: module}
    assert project["tool"]["setuptools"]["packages"] == [module]
    tree = ast.parse(files[f"{module}/__init__.py"])
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes == ["".join(part.capitalize() for part in re.split("[-_]", name)) + "Task"]
    assert f'NAME = "{name}"' in files[f"{module}/__init__.py"] and f'NAME = "{name}"' in files["tests/test_plugin.py"]


@pytest.mark.parametrize(("name", "module", "task_class"), [("example2", "pathreason_plugin_example2", "Example2Task"),
                                                          ("my-example", "pathreason_plugin_my_example",
                                                           "MyExampleTask")])
def test_a_name_that_contains_the_placeholder_is_written_once(name: str, module: str, task_class: str) -> None:
    files = plugin_files(name)
    assert f"{module}/__init__.py" in files
    assert tomllib.loads(files["pyproject.toml"])["project"]["entry-points"]["pathreason"] == {name: module}
    assert f"class {task_class}(Task):" in files[f"{module}/__init__.py"]


def _pathreason_imports(text: str) -> dict[str, set[str]]:
    """``{module: names}`` of every import of pathreason in ``text``."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pathreason":
            found.setdefault(node.module or "", set()).update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pathreason":
                    found.setdefault(alias.name, set())
    return found


def test_the_template_imports_only_the_public_api() -> None:
    """import-linter does not see the template (it is package data), so its imports are checked here:
    the plugin imports :mod:`pathreason.api` only; its tests also the registry functions of
    ``pathreason`` and the test kit, each name public (no deprecated path)."""
    from pathreason import testing

    files = template_files()
    plugin = _pathreason_imports(files["pathreason_plugin_example/__init__.py"])
    assert set(plugin) == {"pathreason.api"}
    assert plugin["pathreason.api"] <= set(pathreason.api.__all__)
    tests = _pathreason_imports(files["tests/test_plugin.py"])
    assert set(tests) == {"pathreason", "pathreason.api", "pathreason.testing"}
    assert tests["pathreason"] <= set(pathreason.__all__)
    assert tests["pathreason.api"] <= set(pathreason.api.__all__)
    assert tests["pathreason.testing"] <= set(testing.__all__)
    assert 'pytest_plugins = ["pathreason.testing"]' in files["tests/conftest.py"]


def test_the_template_pins_a_pathreason_that_is_installed() -> None:
    (pin,) = [d for d in tomllib.loads(template_files()["pyproject.toml"])["project"]["dependencies"]
              if d.startswith("pathreason")]
    floor = tuple(int(part) for part in pin.removeprefix("pathreason>=").split("."))
    assert floor <= tuple(int(part) for part in pathreason.__version__.split(".")[:len(floor)])


def test_doctests_of_the_template_and_of_write_plugin_pass() -> None:
    """The template module is executed from its source (importing it from the checkout would leave a
    ``__pycache__`` in the template folder)."""
    import pathreason.template

    module = types.ModuleType("pathreason_plugin_example")
    source = TEMPLATE / "pathreason_plugin_example" / "__init__.py"
    exec(compile(source.read_text(), str(source), "exec"), module.__dict__)
    for tested in (module, pathreason.template):
        result = doctest.testmod(tested)
        assert result.attempted >= 2 and result.failed == 0, (tested, result)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the dev extra")
def test_a_generated_plugin_is_lint_clean_for_the_longest_name(tmp_path: Path) -> None:
    folder = write_plugin("a" * 19 + "-" + "b" * 20, tmp_path)
    proc = subprocess.run(["ruff", "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(folder)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:]


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.mark.slow
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
    assert "5 passed, 1 deselected" in proc.stdout

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
