"""A cohort of slides through the CLI: resumed after a kill, and split between two processes under
``accelerate launch`` (gloo on CPU). The untrained tiny model answers; what is checked is who read
which slide, that reports are whole, and that finished slides are skipped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pathreason.plugins.datasets.synthpath.slides import make_slide

ARGS = ["--task", "subtyping", "--budgeter", "static:16", "--slide-budget", "400", "--max-new-tokens", "2",
        "--slide.thumbnail", "256"]
DRIVER = '''
import json, os, sys
from pathlib import Path
import pathreason.engine
from pathreason.cli import main

predict = pathreason.engine.Engine.predict_slide

def recorded(self, slide, *args, **kwargs):
    with Path(os.environ["RECORD_DIR"], f"rank{os.environ.get('RANK', '0')}.jsonl").open("a") as fh:
        fh.write(json.dumps({"slide": Path(slide).name}) + "\\n")
    return predict(self, slide, *args, **kwargs)

pathreason.engine.Engine.predict_slide = recorded
sys.exit(main())
'''


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cohort")
    for i in range(4):
        make_slide(folder / f"s{i}.tiff", size=1344, seed=i)
    return folder


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "driver.py").write_text(DRIVER)
    # the tiny model is built before the processes start, so that none reads it while another writes it
    subprocess.run([sys.executable, "-c", "from pathreason import get_model; get_model('tiny').create()"], check=True,
                   timeout=300)
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
            "RECORD_DIR": str(tmp_path)}


def _seen(tmp_path: Path, rank: int) -> list[str]:
    path = tmp_path / f"rank{rank}.jsonl"
    return [json.loads(line)["slide"] for line in path.read_text().splitlines()] if path.is_file() else []


@pytest.mark.slow
def test_a_killed_cohort_resumes_where_it_stopped(cohort: Path, tmp_path: Path) -> None:
    env, out = _env(tmp_path), tmp_path / "out"
    cmd = [sys.executable, "driver.py", "slides", str(cohort), "--output", str(out), *ARGS]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 400
    while not (out / "s0" / "slide.json").is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "s0" / "slide.json").is_file()
    first = (out / "s0" / "slide.json").stat().st_mtime_ns
    done_before = {p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert all((out / name / "slide.json").is_file() for name in done_before)  # no half-written report
    (tmp_path / "rank0.jsonl").unlink()

    proc2 = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    assert (out / "s0" / "slide.json").stat().st_mtime_ns == first          # not redone
    assert set(_seen(tmp_path, 0)) == {f"s{i}.tiff" for i in range(4)} - {f"{n}.tiff" for n in done_before}
    rows = (out / "cohort.csv").read_text().splitlines()
    assert len(rows) == 5 and all(",done," in row for row in rows[1:])
    assert f"{len(done_before)} already done" in proc2.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_processes_share_a_cohort(cohort: Path, tmp_path: Path) -> None:
    env, out = _env(tmp_path), tmp_path / "out"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(_free_port()), "driver.py"]
    proc = subprocess.run([*launch, "slides", str(cohort), "--output", str(out), *ARGS], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert _seen(tmp_path, 0) == ["s0.tiff", "s1.tiff"] and _seen(tmp_path, 1) == ["s2.tiff", "s3.tiff"]
    for i in range(4):
        report = json.loads((out / f"s{i}" / "slide.json").read_text())
        assert report["total_tokens"] <= 400 and report["tiles_tissue"] > 0
    table = json.loads((out / "cohort.json").read_text())
    assert [row["slide"] for row in table["slides"]] == [f"s{i}.tiff" for i in range(4)]
    assert table["metrics"]["slides"] == 4.0
    assert proc.stdout.count("cohort table:") == 1  # the main process alone writes and prints the table
