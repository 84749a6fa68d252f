"""The console is for people: one line per phase, library noise in the run's log.txt, -v shows it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pathreason.console import Phase

TRAIN = ["train", "--task", "sub", "--dataset.options", "{n: 8}", "--sft.max_steps", "3",
         "--sft.per_device_train_batch_size", "4", "--sft.logging_steps", "1", "--grpo.max_steps", "2",
         "--grpo.per_device_train_batch_size", "4", "--grpo.num_generations", "2",
         "--grpo.max_completion_length", "8", "--grpo.logging_steps", "1"]
NOISE = ("FutureWarning", "Loading weights", "Writing model shards", "{'loss'", "{'train_runtime'", "it/s]",
         "UserWarning")


def test_a_phase_prints_one_line_when_done(capsys: pytest.CaptureFixture[str]) -> None:
    with Phase("SFT", total=4, enabled=True) as bar:
        bar.advance(3)
        bar.update(done=4, note="loss 0.250")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("SFT") and "4/4 steps" in out[0] and out[0].endswith("loss 0.250")
    with Phase("hidden", total=2, enabled=False) as quiet_bar:
        quiet_bar.advance(2)
    assert capsys.readouterr().out == "" and quiet_bar.done == 2


def _cli(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATHREASON_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "pathreason", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow
def test_train_shows_one_line_per_phase_and_logs_the_rest(tmp_path: Path, pathreason_home: Path,
                                                           tiny_path: Path) -> None:
    quiet = _cli([*TRAIN, "--output-dir", "run"], tmp_path, pathreason_home)
    assert quiet.returncode == 0, quiet.stderr
    lines = [line for line in quiet.stdout.splitlines() if line.strip()]
    assert [line.split()[0] for line in lines] == ["SFT", "GRPO", "run"], quiet.stdout
    assert "3/3 steps" in lines[0] and "loss" in lines[0] and "2/2 steps" in lines[1] and "reward" in lines[1]
    shown = quiet.stdout + quiet.stderr
    assert not [n for n in NOISE if n in shown], shown
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "SFT step 1:" in log and "GRPO step 2:" in log and "'loss'" in log  # the metric dicts are kept there

    verbose = _cli(["-v", *TRAIN, "--output-dir", "run-v"], tmp_path, pathreason_home)
    assert verbose.returncode == 0, verbose.stderr
    assert "'loss'" in verbose.stdout + verbose.stderr  # -v: the trainer's own output is back on the console


def test_errors_still_print(tmp_path: Path, pathreason_home: Path) -> None:
    bad = _cli(["train", "--task", "nosuch", "--output-dir", "run"], tmp_path, pathreason_home)
    assert bad.returncode == 2 and bad.stderr.startswith("pathreason: error: ") and "nosuch" in bad.stderr


@pytest.mark.slow
def test_report_to_tensorboard_writes_event_files_a_viewer_reads(tmp_path: Path, pathreason_home: Path,
                                                                  tiny_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard is the 'tensorboard' extra (in the dev extra too)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    done = _cli(["train", "--task", "sub", "--dataset.options", "{n: 8}", "--sft.max_steps", "3",
                 "--sft.per_device_train_batch_size", "4", "--sft.logging_steps", "1", "--grpo.enabled", "false",
                 "--report_to", "tensorboard", "--output-dir", "run"], tmp_path, pathreason_home)
    assert done.returncode == 0, done.stderr
    (events,) = (tmp_path / "run" / "sft").glob("runs/*/events.out.tfevents.*")
    accumulator = EventAccumulator(str(events.parent))
    accumulator.Reload()
    assert [e.step for e in accumulator.Scalars("train/loss")] == [1, 2, 3]
    assert "train/learning_rate" in accumulator.Tags()["scalars"]
