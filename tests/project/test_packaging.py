"""The wheel holds exactly the ``pathreason`` tree and declares every first-party plugin."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

import pathreason
from pathreason.template import template_files

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"core": "pathreason", "tasks": "pathreason/tasks", "rewards": "pathreason/rewards",
           "plugins": "pathreason/plugins"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    for name in ["pyproject.toml", "setup.py", "README.md", "LICENSE", *FOLDERS]:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (whl,) = out.glob("pathreason-*.whl")
    return zipfile.ZipFile(whl)


def test_wheel_holds_exactly_the_pathreason_tree(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    dist_info = f"pathreason-{pathreason.__version__}.dist-info/"
    assert all(n.startswith(("pathreason/", dist_info)) for n in names), [
        n for n in names if not n.startswith(("pathreason/", dist_info))]
    expected = set()
    for folder, target in FOLDERS.items():
        for py in (ROOT / folder).rglob("*.py"):
            expected.add(f"{target}/{py.relative_to(ROOT / folder).as_posix()}")
    assert expected <= set(names), sorted(expected - set(names))
    assert "pathreason/py.typed" in names
    # the new-plugin template is package data: every file of it, and nothing else under its folder
    shipped = {n for n in names if n.startswith("pathreason/templates/plugin/")}
    assert shipped == {f"pathreason/templates/plugin/{path}" for path in template_files()}, shipped


def test_wheel_declares_entry_points(wheel: zipfile.ZipFile) -> None:
    text = wheel.read(f"pathreason-{pathreason.__version__}.dist-info/entry_points.txt").decode()
    parser = configparser.ConfigParser()
    parser.read_string(text)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pathreason"]
    assert dict(parser["pathreason"]) == declared
    assert parser["console_scripts"]["pathreason"] == "pathreason.cli:main"
    for module in declared.values():  # every first-party plugin module is in the wheel
        assert module.replace(".", "/") + ".py" in wheel.namelist() or \
            module.replace(".", "/") + "/__init__.py" in wheel.namelist()
