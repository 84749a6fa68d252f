"""``pathreason datasets`` lists the dataset plugins and checks a local copy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pathreason.cli import main
from tests.core._plugin_site import make_distribution
from tests.plugins import _data_fixtures as fx


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pathreason", "datasets", *args], capture_output=True, text=True,
                          timeout=300)


def test_datasets_lists_every_dataset_plugin() -> None:
    proc = _cli("--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert {"synthpath", "pathvqa", "pathmmu", "unitopatho", "esca", "crag", "digestpath"} <= set(rows)
    assert rows["synthpath"]["tasks"] == ["vqa", "subtyping", "detection"] and not rows["synthpath"]["needs_root"]
    assert rows["crag"]["needs_root"]


def test_datasets_check_a_local_copy(tmp_path: Path) -> None:
    root = fx.unitopatho(tmp_path / "unitopatho")
    proc = _cli("check", "unitopatho", "--root", str(root), "--json")
    assert proc.returncode in (0, 1), proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary) >= {"splits", "classes", "problems"}
    assert summary["splits"], summary
    text = _cli("check", "unitopatho", "--root", str(root)).stdout
    assert "unitopatho" in text


def test_datasets_check_names_a_missing_folder(tmp_path: Path) -> None:
    proc = _cli("check", "crag", "--root", str(tmp_path / "nowhere"))
    assert proc.returncode == 1
    assert str(tmp_path / "nowhere") in proc.stdout and "Images" in proc.stdout


def test_a_dataset_folder_with_no_samples_is_not_ok(tmp_path: Path) -> None:
    folder = tmp_path / "unitopatho" / "800"
    folder.mkdir(parents=True)
    for split in ("train", "test"):  # the layout, but not one record
        (folder / f"{split}.csv").write_text("image_id,top_label_name,top_label,type,grade\n")
    proc = _cli("check", "unitopatho", "--root", str(tmp_path / "unitopatho"), "--json")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert set(summary["splits"].values()) == {0}
    assert any(p.startswith("no samples in any split") for p in summary["problems"]), summary


# ------------------------------------------------------------------ a dataset plugin's check (issue 16, points 2, 3, 9)
CHECKED = """
from pathreason import DatasetSpec, hookimpl
from pathreason.api import DatasetSummary

def load(split="train", **options):
    return []

{check}

@hookimpl
def pathreason_datasets():
    return [DatasetSpec(name="mytiles", factory=load, tasks=("subtyping",), needs_root={needs_root}, check=check)]
"""
WHERE = "dataset 'mytiles' of plugin 'mytiles' (distribution pathreason-plugin-mytiles 0.2)"


def _plugin(site: Path, check: str, needs_root: bool = False) -> None:
    make_distribution(site, "pathreason-plugin-mytiles", "0.2", {"mytiles": "tp_mytiles"},
                      {"tp_mytiles": CHECKED.format(check=textwrap.dedent(check), needs_root=needs_root)})


def test_check_gets_the_root_by_keyword_whether_or_not_the_dataset_needs_one(
        site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Point 3: `--root` reaches every check as `root=`; without it the check gets `root=None`, never
    a positional call with nothing."""
    _plugin(site, '''
        def check(root, **options):
            summary = DatasetSummary("mytiles", str(root))
            summary.splits["train"] = 3
            return summary
    ''')
    assert main(["datasets", "check", "mytiles", "--root", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["root"] == str(tmp_path) and summary["splits"] == {"train": 3} and summary["ok"] is True
    assert main(["datasets", "check", "mytiles"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "mytiles at None: ok"


@pytest.mark.parametrize(("body", "returned"), [
    ("return {'ok': True}", "dict {'ok': True}"),
    ("return None", "None"),
    ("return 'ok'", "str 'ok'"),
])
def test_check_must_return_a_dataset_summary(site: Path, capsys: pytest.CaptureFixture[str], body: str,
                                             returned: str) -> None:
    """Point 2: anything but a DatasetSummary is refused in one line naming the plugin and what came back."""
    _plugin(site, f"def check(root=None, **options):\n    {body}\n")
    assert main(["datasets", "check", "mytiles"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"pathreason: error: {WHERE}: check(root=...) returned {returned}; a dataset's "
                                 "check returns a pathreason.api.DatasetSummary\n")


def test_a_check_that_raises_is_one_line_naming_the_plugin(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _plugin(site, """
        def check(root=None, **options):
            return {}["images"]
    """, needs_root=True)
    assert main(["datasets", "check", "mytiles", "--root", "/data/mytiles"]) == 2
    err = capsys.readouterr().err
    assert err == ("pathreason: error: the check of dataset 'mytiles' of plugin 'mytiles' (distribution "
                   "pathreason-plugin-mytiles 0.2) raised KeyError: 'images'. Fix or reinstall "
                   "pathreason-plugin-mytiles (`pathreason -v` shows the traceback)\n")


def test_a_check_without_root_parameter_names_the_plugin(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A check written as `check()` cannot take the root: the error says which plugin and why."""
    _plugin(site, "def check():\n    return DatasetSummary('mytiles', '')\n")
    assert main(["datasets", "check", "mytiles"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pathreason: error: the check of dataset 'mytiles' of plugin 'mytiles'") and \
        "TypeError" in err and "'root'" in err and err.count("\n") == 1, err


def test_a_dataset_name_claimed_twice_is_listed_as_a_conflict(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Point 8: `crag` claimed by a plugin is not hidden from `pathreason datasets`."""
    make_distribution(site, "pathreason-plugin-mycrag", "1.0", {"mycrag": "tp_mycrag_ds"}, {"tp_mycrag_ds": """
        from pathreason import DatasetSpec, hookimpl

        @hookimpl
        def pathreason_datasets():
            return [DatasetSpec(name="crag", factory=lambda split="train", **o: [], tasks=("detection",))]
    """})
    assert main(["datasets", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert "plugin 'mycrag' (distribution pathreason-plugin-mycrag 1.0)" in rows["crag"]["conflict"]
    assert "plugin 'crag' (distribution pathreason " in rows["crag"]["conflict"]
    assert rows["synthpath"]["conflict"] is None
    assert main(["datasets"]) == 0
    assert any(line.startswith("crag") and "conflict: dataset name 'crag' is claimed by two plugins" in line
               for line in capsys.readouterr().out.splitlines())


def test_datasets_check_json_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """Point 9: `pathreason datasets check ... --json | head` ends with status 141 and no BrokenPipeError."""
    import os

    root = fx.unitopatho(tmp_path / "unitopatho")
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "pathreason", "datasets", "check", "unitopatho", "--root",
                               str(root), "--json"], stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "BrokenPipeError" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
