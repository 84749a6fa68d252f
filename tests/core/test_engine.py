"""The engine on the tiny model: SFT and GRPO for every task, mixed tasks, evaluate, predict,
save/load, resume after SIGKILL, the CLI, and bad input. A few steps each: these test wiring, not
learning (tests/core/test_learning.py does that)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pathreason import Engine
from pathreason.api import DataError, RunError

FAST: dict[str, Any] = {
    "dataset__options": {"n": 8},
    "sft": {"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1, "learning_rate": 1e-3},
    "grpo": {"max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 2,
             "max_completion_length": 12, "logging_steps": 1},
}


def _engine(tmp_path: Path, task: Any, **extra: Any) -> Engine:
    settings = {**FAST, **extra}
    return Engine(task=task, output_dir=str(tmp_path / "run"), **settings)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["vqa", "sub", "det"])
def test_each_task_trains_sft_then_grpo(tmp_path: Path, task: str) -> None:
    engine = _engine(tmp_path, task).train()
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["phases"] == {"sft": "done", "grpo": "done"}
    canonical = next(iter(engine.tasks))
    grpo_log = engine.run.read_log("grpo")
    assert any(f"rewards/{canonical}/mean" in row for row in grpo_log)
    assert any("rewards/format/mean" in row for row in grpo_log)
    assert any("loss" in row for row in engine.run.read_log("sft"))


@pytest.mark.slow
def test_mixed_tasks_with_lora_adapters_in_peft_layout(tmp_path: Path) -> None:
    engine = _engine(tmp_path, ["vqa", "subtyping", "detection"],
                     lora={"r": 4, "lora_alpha": 16}, dataset__options={"n": 12})
    engine.train()
    rewards = {k for row in engine.run.read_log("grpo") for k in row if k.startswith("rewards/") and k.endswith("/mean")}
    assert {"rewards/vqa/mean", "rewards/subtyping/mean", "rewards/detection/mean", "rewards/format/mean"} <= rewards
    for phase in ("sft", "grpo"):
        final = tmp_path / "run" / phase / "final"
        assert (final / "adapter_config.json").is_file() and (final / "adapter_model.safetensors").is_file()
    # plain peft reads the adapter, on the base the run recorded
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(engine.models.location)
    peft_model = PeftModel.from_pretrained(base, str(tmp_path / "run" / "grpo" / "final"))
    assert any("lora_A" in n for n, _ in peft_model.named_parameters())
    assert not list((tmp_path / "run").rglob("*.pkl")) and not list((tmp_path / "run").rglob("*.pickle"))


@pytest.mark.slow
def test_evaluate_predict_and_load(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "det", grpo={"enabled": False}).train()
    report = engine.evaluate(n=4, budgeter="static:64", max_new_tokens=8, progress=False)
    entry = report.tasks["detection"]
    assert set(entry["metrics"]) >= {"map@0.1", "map@0.3", "map@0.5", "map_avg"}
    assert entry["n"] == 4 and 0 < entry["tpi"] <= 64
    assert set(entry["by_difficulty"]) <= {"coarse", "medium", "fine"}
    out = tmp_path / "run" / "eval" / "sft-static64-test"
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {"id", "prompt", "completion", "parsed", "tokens"} <= set(rows[0])
    assert json.loads((out / "report.json").read_text())["tasks"]["detection"]["n"] == 4
    assert "TPI" in report.table()

    loaded = Engine.load(tmp_path / "run")
    assert loaded.config == engine.config and loaded.latest_phase() == "sft"
    from PIL import Image

    record = loaded.predict(Image.new("RGB", (600, 300), (210, 130, 180)), max_new_tokens=8,
                            meta={"category": "glands", "organ": "colon"})
    from pathreason.api.budget import count_tokens

    assert record.tokens == count_tokens(300, 600, 256) == 11 * 21  # 600x300 -> 588x308
    assert record.parsed is None or isinstance(record.parsed, list)  # None: no <answer> written yet
    assert isinstance(record.completion, str) and record.task == "detection"


def test_untrained_base_is_evaluable(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "sub")
    report = engine.evaluate(n=4, phase="base", max_new_tokens=4, progress=False, write=False)
    assert report.phase == "base" and report.tasks["subtyping"]["format_rate"] == 0.0


@pytest.mark.slow
def test_resume_after_sigkill_mid_grpo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """The tiny preset fine-tunes the whole language model: the resumed GRPO starts from the killed
    run's checkpoint weights (it used to start from the SFT result: see tests/core/test_resume.py),
    a second writer is refused while the first runs, and the dead one's lock is taken over."""
    import torch
    from transformers import AutoModelForImageTextToText, TrainerCallback

    import pathreason.training as training

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "pathreason", "train", "--task", "sub", "--output-dir", str(run),
           "--dataset.options", "{n: 8}", "--sft.max_steps", "2", "--sft.per_device_train_batch_size", "4",
           "--grpo.max_steps", "6", "--grpo.save_steps", "1", "--grpo.per_device_train_batch_size", "4",
           "--grpo.num_generations", "2", "--grpo.max_completion_length", "8", "--grpo.logging_steps", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    try:
        while not (run / "grpo" / "checkpoint-2" / "trainer_state.json").is_file():
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.time() < deadline, "no GRPO checkpoint within 300 s"
            time.sleep(0.2)
        with pytest.raises(RunError, match=f"is in use by another pathreason command \\(pid {proc.pid} on host"):
            Engine.load(run).train(resume=True)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    state = json.loads((run / "state.json").read_text())
    assert state["phases"] == {"sft": "done"}
    sft_weights = next((run / "sft" / "final").glob("*.safetensors"))
    sft_mtime = sft_weights.stat().st_mtime

    with pytest.raises(RunError, match="already holds a run"):
        Engine.load(run).train()
    assert f"taking over a stale lock of pid {proc.pid}" in caplog.text

    begin: dict[str, Any] = {}

    class AtBegin(TrainerCallback):
        """The weights the resumed trainer starts from, and those of the checkpoint it resumed."""

        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            begin.update(step=state.global_step, weights={k: v.clone() for k, v in model.state_dict().items()},
                         saved=AutoModelForImageTextToText.from_pretrained(folder).state_dict())

    train_grpo = training.train_grpo
    monkeypatch.setattr(training, "train_grpo", lambda *a, **k: train_grpo(*a, **{**k, "callbacks": [AtBegin()]}))
    engine = Engine.load(run).train(resume=True)
    saved, weights = begin["saved"], begin["weights"]
    assert begin["step"] >= 2 and saved.keys() == weights.keys()
    assert [k for k in saved if not torch.equal(saved[k], weights[k])] == []
    assert json.loads((run / "state.json").read_text())["phases"] == {"sft": "done", "grpo": "done"}
    assert sft_weights.stat().st_mtime == sft_mtime  # the SFT phase was not redone
    log = engine.run.read_log("grpo")
    steps = [row["step"] for row in log if "loss" in row and "step" in row] or \
        [i + 1 for i, row in enumerate(log) if "loss" in row]
    assert max(steps) == 6
    first_resumed = json.loads((run / "grpo" / "checkpoint-6" / "trainer_state.json").read_text())["global_step"]
    assert first_resumed == 6


@pytest.mark.slow
def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="is not a pathreason run folder"):
        Engine.load(tmp_path)
    engine = _engine(tmp_path, "sub", grpo={"enabled": False}).train()
    with pytest.raises(RunError, match="task cannot change"):
        Engine.load(engine.run.path, task="vqa")
    other = Engine(task="vqa", output_dir=str(engine.run.path))
    with pytest.raises(RunError, match="whose task differ"):
        other.train(resume=True)
    # an adapter written for another base model is refused
    adapter_cfg = engine.run.final_dir("sft") / "adapter_config.json"
    adapter_cfg.write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-VL-7B-Instruct", "peft_type": "LORA"}))
    with pytest.raises(RunError, match="trained for base model 'Qwen/Qwen2.5-VL-7B-Instruct'"):
        Engine.load(engine.run.path).evaluate(n=2, phase="sft", progress=False)
    with pytest.raises(DataError, match="has no samples of task"):
        Engine(task="sub", dataset="synthpath", dataset__options={"n": 2, "task": "vqa"}).samples("train")


def test_unreadable_image_is_reported_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pathreason.api.sample import Sample

    engine = _engine(tmp_path, "sub")
    good = engine.samples("train")[:2]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    bad = Sample(id="broken-1", image=str(broken), task="subtyping", options=good[0].options, answer=good[0].answer)
    engine.source._cache[("train", None)] = [*good, bad]
    ds = engine.grpo_dataset()
    assert len(ds) == 2
    assert "broken-1" in caplog.text and str(broken) in caplog.text


def test_trust_remote_code_is_off_by_default() -> None:
    assert Engine(task="vqa").models.trust_remote_code is False
    assert Engine(task="vqa", trust_remote_code=True).models.trust_remote_code is True


@pytest.mark.slow
def test_cli_train_eval_predict(tmp_path: Path) -> None:
    run = tmp_path / "cli-run"
    base = [sys.executable, "-m", "pathreason"]
    train = subprocess.run([*base, "train", "--task", "det", "--output-dir", str(run), "--dataset.options", "{n: 4}",
                            "--sft.max_steps", "1", "--sft.per_device_train_batch_size", "4", "--grpo.enabled", "false"],
                           capture_output=True, text=True, timeout=600)
    assert train.returncode == 0, train.stderr[-3000:]
    assert f"run folder: {run}" in train.stdout
    ev = subprocess.run([*base, "eval", "--run", str(run), "--n", "2", "--budgeter", "static:16",
                         "--grpo.max_completion_length", "6"], capture_output=True, text=True, timeout=600)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert "detection" in ev.stdout and "TPI 16.0" in ev.stdout
    pr = subprocess.run([*base, "predict", "--run", str(run), "--category", "glands", "--organ", "colon",
                         "--grpo.max_completion_length", "6"], capture_output=True, text=True, timeout=600)
    assert pr.returncode == 0, pr.stderr[-3000:]
    assert "visual tokens: 256" in pr.stdout and "phase: sft" in pr.stdout
    bad = subprocess.run([*base, "train", "--grpo.betta", "1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Did you mean 'beta'" in bad.stderr


def test_evaluate_skips_and_reports_an_unreadable_image(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pathreason.api.sample import Sample

    engine = _engine(tmp_path, "sub")
    good = engine.samples("test", 2)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    bad = Sample(id="broken-eval", image=str(broken), task="subtyping", options=good[0].options, answer=good[0].answer)
    engine.source._cache[("test", 3)] = [*good, bad]
    report = engine.evaluate(n=3, phase="base", max_new_tokens=2, progress=False, write=False)
    assert report.n == 2 and report.tasks["subtyping"]["n"] == 2
    assert "broken-eval" in caplog.text and str(broken) in caplog.text


def test_sample_mean_loss_weighs_every_sample_the_same() -> None:
    import torch

    from pathreason.training import sample_mean_loss

    log_probs = torch.tensor([[-1.0, -3.0, -9.0], [-6.0, -9.0, -9.0], [-9.0, -9.0, -9.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    # per sample: (1 + 3) / 2 = 2 and 6 / 1 = 6; the empty row is left out -> (2 + 6) / 2 = 4
    # (TRL's token mean would be (1 + 3 + 6) / 3 = 3.33)
    assert sample_mean_loss(log_probs, mask).item() == pytest.approx(4.0)
    assert sample_mean_loss(log_probs, torch.zeros_like(mask)).item() == 0.0


@pytest.mark.slow
def test_sft_with_a_per_sample_loss(tmp_path: Path) -> None:
    engine = _engine(tmp_path, ["subtyping", "detection"], sft={**FAST["sft"], "loss_per_sample": True},
                     grpo={**FAST["grpo"], "enabled": False})
    engine.train()
    losses = [row["loss"] for row in engine.run.read_log("sft") if "loss" in row]
    assert losses and all(0 < loss < 20 for loss in losses)


def test_budget_mix_skips_the_excluded_difficulties_and_tasks(tmp_path: Path) -> None:
    """Every sample is trained at the training budget; a mixed budget is added for the others only, and
    only where their level shows (the tiny preset's ``budget_mix_level_key``: a medium tile's floor is
    64 tokens, above the mix's 16)."""
    engine = Engine(task=["subtyping", "detection"], output_dir=str(tmp_path / "run"), dataset__options={"n": 24},
                    sft={"budget_mix": [16], "budget_mix_exclude": ["fine", "detection"]})
    samples = engine.samples("train")
    rows = engine.sft_dataset()
    by_kind: dict[tuple[bool, int], int] = {}
    for row in rows:
        is_detection = "<answer> [" in row["completion"][0]["content"][0]["text"]
        by_kind[(is_detection, row["length"])] = by_kind.get((is_detection, row["length"]), 0) + 1
    coarse_subtyping = sum(s.task == "subtyping" and s.meta["difficulty"] == "coarse" for s in samples)
    medium_subtyping = sum(s.task == "subtyping" and s.meta["difficulty"] == "medium" for s in samples)
    n_detection = sum(s.task == "detection" for s in samples)
    assert (coarse_subtyping, medium_subtyping, n_detection) == (3, 3, 8)
    assert by_kind == {(False, 256): 8, (False, 16): coarse_subtyping, (True, 256): n_detection}
