"""Resuming an interrupted phase gives the checkpoint's weights back, for SFT and GRPO, full
fine-tuning and LoRA, and then trains on exactly as the uninterrupted run did.

Each case trains one run for three steps without interruption (the reference) and, in another
folder, the same run crashing right after its second checkpoint is written (what ``kill -9`` at
that moment leaves: checkpoints 1-2, no phase result, the phase not done); that run is then resumed.
The weights the resumed trainer starts from must be the ones the reference had after step 2,
exactly, and its final weights the reference's (float tolerance). Before the fix, a full fine-tuning
run resumed from its starting weights: transformers' Trainer loaded the checkpoint's
``model.safetensors`` (saved under the checkpoint key names, ``model.layers.*``) into a model whose
modules are ``model.language_model.layers.*`` with ``strict=False``, and skipped 104 of 105 tensors.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

import pathreason.training as training
from pathreason import Engine
from pathreason.api import RunError

STEPS = {"max_steps": 3, "save_steps": 1, "save_total_limit": None, "warmup_ratio": 0.0, "logging_steps": 1,
         "per_device_train_batch_size": 4}
SETTINGS: dict[str, Any] = {
    "dataset__options": {"n": 8},
    "sft": {**STEPS, "learning_rate": 1e-3},
    # a GRPO learning rate that moves the weights visibly in three steps (the tiny preset's 5e-6 barely does)
    "grpo": {**STEPS, "learning_rate": 1e-3, "num_generations": 2, "max_completion_length": 8},
}


class Crash(Exception):
    """Stands in for ``kill -9`` right after a checkpoint is written."""


class Watch(TrainerCallback):
    """Keeps copies of the weights when training begins (after a checkpoint was loaded), after each
    saved step, and at the end; optionally crashes after saving ``crash_at``."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.crash_at = crash_at
        self.begin: dict[str, torch.Tensor] = {}
        self.begin_step = -1
        self.saved: dict[int, dict[str, torch.Tensor]] = {}
        self.end: dict[str, torch.Tensor] = {}

    @staticmethod
    def weights(model: Any) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.begin, self.begin_step = self.weights(model), state.global_step

    def on_save(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.saved[state.global_step] = self.weights(model)
        if state.global_step == self.crash_at:
            raise Crash(f"killed after checkpoint-{state.global_step}")

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.end = self.weights(model)


TRAINERS = {name: getattr(training, name) for name in ("train_sft", "train_grpo")}


def watching(monkeypatch: pytest.MonkeyPatch, watch: Watch) -> None:
    """Hand ``watch`` (alone) to the trainers the engine builds."""
    for name, original in TRAINERS.items():

        def with_watch(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return _original(*args, **{**kwargs, "callbacks": [watch]})

        monkeypatch.setattr(training, name, with_watch)


def engine(folder: Path, phase: str, lora: bool) -> Engine:
    settings = {**SETTINGS, "sft": {**SETTINGS["sft"], "enabled": phase == "sft"},
                "grpo": {**SETTINGS["grpo"], "enabled": phase == "grpo"}}
    if lora:
        settings["lora"] = {"r": 4, "lora_alpha": 16}
    return Engine(task="sub", output_dir=str(folder), **settings)


def differing(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("phase", ["sft", "grpo"])
def test_a_resumed_phase_starts_from_its_checkpoint_and_ends_like_an_uninterrupted_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str, lora: bool) -> None:
    reference = Watch()
    watching(monkeypatch, reference)
    engine(tmp_path / "reference", phase, lora).train()
    assert sorted(reference.saved) == [1, 2, 3]
    trained = differing(reference.saved[1], reference.saved[2])
    assert trained  # step 2 moved the weights, so a resume from the base would show

    crashed = Watch(crash_at=2)
    watching(monkeypatch, crashed)
    with pytest.raises(Crash):
        engine(tmp_path / "run", phase, lora).train()
    run = tmp_path / "run"
    assert json.loads((run / "state.json").read_text())["phases"] == {}
    assert not (run / phase / "final").exists() and (run / phase / "checkpoint-2" / "trainer_state.json").is_file()

    resumed = Watch()
    watching(monkeypatch, resumed)
    Engine.load(run).train(resume=True)
    assert resumed.begin_step == 2
    assert differing(resumed.begin, reference.saved[2]) == []  # exactly the checkpoint's weights
    assert sorted(resumed.saved) == [3]
    for name in resumed.end:
        torch.testing.assert_close(resumed.end[name], reference.end[name], rtol=0, atol=1e-6, msg=name)
    assert json.loads((run / "state.json").read_text())["phases"] == {phase: "done"}


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.slow
def test_a_tampered_checkpoint_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint whose optimizer.pt is a pickle with code in it: torch refuses it, and the resume
    says which checkpoint and what to do, instead of an UnpicklingError traceback."""
    crashed = Watch(crash_at=1)
    watching(monkeypatch, crashed)
    run = tmp_path / "run"
    with pytest.raises(Crash):
        engine(run, "sft", lora=True).train()
    marker = tmp_path / "pickle-ran"
    (run / "sft" / "checkpoint-1" / "optimizer.pt").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(RunError, match=rf"checkpoint {run / 'sft' / 'checkpoint-1'}: refused to load one of its "
                                       r"files, which holds more than tensors .*delete this checkpoint") as info:
        Engine.load(run).train(resume=True)
    assert "\n" not in str(info.value)
    assert not marker.exists()
