"""``pathreason datasets`` lists the dataset plugins and checks a local copy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
