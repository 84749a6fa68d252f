"""The architecture is enforced, not hoped for: import contracts, no plugin name in the runtime, and the
old import paths that keep working (with a warning naming the new home) until pathreason 0.3."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import tomllib

import pathreason
from pathreason.api import PathreasonDeprecationWarning

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
#: Deprecated re-exports (removed in 0.3): they hold no code, only a module ``__getattr__``.
SHIMS = {"pathreason.budget", "pathreason.errors", "pathreason.hookspecs", "pathreason.prompts", "pathreason.sample",
         "pathreason.specs"}
FIRST_PARTY_PLUGINS = {"pathreason.tasks", "pathreason.rewards", "pathreason.plugins"}


def _contract(contract_id: str) -> dict:
    return next(c for c in CONTRACTS if c.get("id") == contract_id)


def _runtime_modules() -> set[str]:
    return set(_contract("runtime")["source_modules"])


def test_lint_imports_keeps_every_contract() -> None:
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is part of the dev extra: pip install -e '.[dev]'"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken" in proc.stdout


def test_every_module_is_in_the_contracts() -> None:
    """A new module must be placed in a layer: otherwise no rule would apply to it."""
    children = {f"pathreason.{m.name}" for m in pkgutil.iter_modules(pathreason.__path__)} - {"pathreason.__main__"}
    layered = {name.strip() for layer in _contract("layers")["layers"] for name in layer.split("|")}
    placed = _runtime_modules() | FIRST_PARTY_PLUGINS | {"pathreason.api"} | SHIMS
    assert children == placed, (children - placed, placed - children)
    assert _runtime_modules() | {"pathreason.api"} == layered
    assert set(_contract("sdk")["forbidden_modules"]) == _runtime_modules() | FIRST_PARTY_PLUGINS
    assert set(_contract("plugins")["forbidden_modules"]) == _runtime_modules() - {"pathreason._version",
                                                                                  "pathreason.models"}


def _first_party_names() -> set[str]:
    """Every name and alias the first-party plugins register (the phase name "allocator" excepted:
    it names the runtime's third phase and its config section, as well as a budgeter)."""
    names: set[str] = set()
    for info in pathreason.list_plugins():
        if info.distribution != "pathreason":
            continue
        for kind_names in info.provides.values():
            names.update(kind_names)
    from pathreason.manager import get_plugin_manager

    for kind in ("task", "reward", "budgeter", "dataset", "model"):
        for spec in get_plugin_manager().specs(kind).values():
            names.update(spec.aliases)
    return names - {"allocator"}


def _module_files(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin
    origin = Path(spec.origin)
    return sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """String constants that are not docstrings, with f-strings' literal parts."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_runtime_names_no_first_party_plugin() -> None:
    names = _first_party_names()
    assert {"vqa", "static", "format", "synthpath", "tiny", "det"} <= names  # the check can fail
    hits = []
    for module in sorted(_runtime_modules()):
        for path in _module_files(module):
            for line, value in _string_constants(path):
                if value in names or (":" in value and " " not in value and value.split(":", 1)[0] in names):
                    hits.append(f"{path.relative_to(path.parents[1])}:{line}: {value!r}")
    assert not hits, "the runtime names first-party plugins (make them configuration values):\n" + "\n".join(hits)


def test_the_name_check_catches_a_plugin_name(tmp_path: Path) -> None:
    code = tmp_path / "m.py"
    code.write_text('"""doc: static is fine here"""\nNAME = "static:256"\nf"{1}"\n')
    assert [v for _, v in _string_constants(code)] == ["static:256"]


OLD_PATHS = [
    ("pathreason.tasks.base", "Task", "pathreason.api.task"),
    ("pathreason.tasks.base", "make_view", "pathreason.api.budget"),
    ("pathreason.tasks.base", "View", "pathreason.api.budget"),
    ("pathreason.tasks", "Task", "pathreason.api.task"),
    ("pathreason.prompts", "vqa_prompt", "pathreason.tasks.prompts"),
    ("pathreason.prompts", "subtyping_prompt", "pathreason.tasks.prompts"),
    ("pathreason.prompts", "detection_prompt", "pathreason.tasks.prompts"),
    ("pathreason.prompts", "format_options", "pathreason.api.prompts"),
    ("pathreason.prompts", "SYSTEM_PROMPT", "pathreason.api.prompts"),
    ("pathreason.prompts", "allocation_prompt", "pathreason.api.prompts"),
    ("pathreason.plugins.datasets.readers", "DatasetSummary", "pathreason.api.datasets"),
    ("pathreason.plugins.datasets.readers", "LoadedSamples", "pathreason.api.datasets"),
    ("pathreason.plugins.datasets.readers", "LoadReport", "pathreason.api.datasets"),
    ("pathreason.rewards.parsing", "extract_answer", "pathreason.api.completions"),
    ("pathreason.rewards.parsing", "parse_boxes", "pathreason.api.completions"),
    ("pathreason.rewards", "extract_answer", "pathreason.api"),
    ("pathreason.errors", "DataError", "pathreason.api.errors"),
    ("pathreason.sample", "Sample", "pathreason.api.sample"),
    ("pathreason.budget", "smart_resize", "pathreason.api.budget"),
    ("pathreason.specs", "TaskSpec", "pathreason.api.specs"),
    ("pathreason.hookspecs", "hookimpl", "pathreason.api.hookspecs"),
    ("pathreason.metrics", "detection_map", "pathreason.tasks.metrics"),
]


@pytest.mark.parametrize(("old", "name", "home"), OLD_PATHS, ids=[f"{o}.{n}" for o, n, _ in OLD_PATHS])
def test_old_import_paths_still_work_with_a_warning(old: str, name: str, home: str) -> None:
    module = importlib.import_module(old)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(home), name)
    assert [w.category for w in caught] == [PathreasonDeprecationWarning]
    assert f"moved to {home}.{name}" in str(caught[0].message) and "0.3" in str(caught[0].message)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_old_task_rewards_still_assembles_the_rewards() -> None:
    from pathreason.rewards.combine import task_rewards

    with pytest.warns(PathreasonDeprecationWarning, match="pathreason.training.reward_functions"):
        funcs, weights = task_rewards("vqa", format_weight=0.5)
    assert [f.__name__ for f in funcs] == ["vqa", "format"] and weights == [1.0, 0.5]


def test_a_subclass_of_the_old_task_path_is_a_task() -> None:
    code = ("import warnings; warnings.simplefilter('error');\n"
            "from pathreason.api import Task\n"
            "with warnings.catch_warnings():\n"
            "    warnings.simplefilter('ignore')\n"
            "    from pathreason.tasks.base import Task as Old\n"
            "class Mine(Old):\n    name = 'mine'\n"
            "print(issubclass(Mine, Task))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr
