"""Run folders under attack and bad luck: concurrent writers, missing or tampered folders, failed
commands, untrusted files, model folders and hub ids, unwritable output. Hostile fixtures are built
here; run folders are assembled from the tiny preset's files (no training) unless a test says so."""

from __future__ import annotations

import errno
import json
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pathreason import Engine
from pathreason.api import ConfigError, RunError, UnknownNameError
from pathreason.cli import main
from pathreason.config import RunConfig
from pathreason.runs import RunDir, atomic_path, atomic_write_text
from tests.plugins import _data_fixtures as fx

SMALL = {"dataset.options": {"n": 4}, "sft.max_steps": 8, "sft.per_device_train_batch_size": 4,
         "grpo.max_steps": 1, "grpo.per_device_train_batch_size": 2, "grpo.num_generations": 2,
         "grpo.max_completion_length": 4}


def make_run(folder: Path, tiny_path: Path, kind: str = "full", **settings: Any) -> Path:
    """A run folder whose SFT phase is done: the tiny preset's weights as a fully fine-tuned result
    (``kind="full"``) or a fresh LoRA adapter on it (``"lora"``), with its config and state."""
    from pathreason._version import __version__
    from pathreason.runs import RunState

    layer = {"task": "subtyping", "output_dir": str(folder), **SMALL, **settings}
    if kind == "lora":
        layer["lora"] = {"r": 4, "lora_alpha": 16}
    config = RunConfig.build(layer)
    folder.mkdir(parents=True)
    config.to_yaml(folder / "config.yaml")
    RunDir(folder).write_state(RunState(version=__version__, base_model="tiny", base_location=str(tiny_path),
                                        phases={"sft": "done"}))
    final = folder / "sft" / "final"
    if kind == "full":
        shutil.copytree(tiny_path, final)
    else:
        from peft import get_peft_model

        from pathreason.models.loading import load_model
        from pathreason.training import lora_config

        assert config.lora is not None
        get_peft_model(load_model(str(tiny_path)), lora_config(config.lora)).save_pretrained(str(final))
    return folder


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what the test printed before (a model loading) is not the command's
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------------------------------------- 3. locks
HOLD = textwrap.dedent("""
    import sys, time
    from pathreason.runs import RunDir
    with RunDir(sys.argv[1]).lock("train"):
        print("locked", flush=True)
        time.sleep(120)
""")


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, _, err = cli(capsys, "train", "--task", "sub", "--output-dir", str(run), "--dataset.options", "{n: 4}")
        assert code == 2 and err.count("\n") == 1
        assert err.startswith(f"pathreason: error: {run} is in use by another pathreason command (pid {holder.pid} "
                              f"on host {socket.gethostname()}, running 'train' since 20")
        with pytest.raises(RunError, match=f"pid {holder.pid}"), RunDir(run).lock("eval"):
            pass
        assert not (run / "config.yaml").exists() and not (run / "state.json").exists()
    finally:
        holder.kill()
        holder.wait()
    with RunDir(run).lock("eval"):  # the OS dropped the dead holder's lock
        assert json.loads((run / ".lock").read_text())["pid"] == os.getpid()
    assert (run / ".lock").read_text() == ""  # released


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "train",
                                           "started": "2026-01-01T00:00:00+00:00"}))
    with RunDir(run).lock("train"):
        assert json.loads((run / ".lock").read_text())["pid"] == os.getpid()
        with RunDir(run).lock("eval"):  # re-entrant within one process (ablate-budget evaluates)
            pass
        assert json.loads((run / ".lock").read_text())["command"] == "train"
    assert f"taking over a stale lock of pid {dead.pid}" in caplog.text and "that process has ended" in caplog.text


def test_a_lock_of_another_host_is_not_taken_over(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(json.dumps({"pid": 1234, "host": "gpu-node-7", "command": "train",
                                           "started": "2026-01-01T00:00:00+00:00"}))
    with pytest.raises(RunError, match=r"locked by pid 1234 on host gpu-node-7, running 'train' since 2026-01-01.*"
                                       rf"delete {run / '.lock'}"):
        RunDir(run).lock("train").acquire()


def test_only_the_main_process_takes_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``accelerate launch`` every process runs the command; the main one holds the lock and the
    others, which write nothing of their own, must not be refused by it."""
    import pathreason.engine as engine_module

    run = tmp_path / "run"
    main_process = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert main_process.stdout is not None and main_process.stdout.readline().strip() == "locked"
        engine = Engine(task="sub", output_dir=str(run))
        with pytest.raises(RunError, match=f"pid {main_process.pid}"), engine._writing("train"):
            pass
        monkeypatch.setattr(engine_module, "is_main_process", lambda: False)
        with engine._writing("train"):  # another rank of the same command
            assert json.loads((run / ".lock").read_text())["pid"] == main_process.pid
    finally:
        main_process.kill()
        main_process.wait()


# ------------------------------------------------------------------------------- 4. a missing run folder
@pytest.mark.parametrize("command", ["eval", "predict", "train-allocator", "ablate-budget"])
def test_a_missing_run_folder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str], command: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, command, "--run", str(tmp_path / "nonexistent"))
    assert code == 2 and out == ""
    assert err == (f"pathreason: error: {tmp_path / 'nonexistent'} is not a pathreason run folder: expected "
                   "config.yaml and state.json (written by Engine.train / pathreason train)\n")
    assert list(tmp_path.iterdir()) == []  # nothing written (no ./runs/)


# --------------------------------------------------------------- 12, 15. predict --image on a hostile file
@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_text("not an image at all"), "cannot identify image file"),
    (lambda p: fx.bomb_png(p), "pixels is over the limit of"),
    (lambda p: None, "No such file"),
])
def test_predict_on_a_hostile_image_is_one_line(tmp_path: Path, tiny_path: Path, capsys: pytest.CaptureFixture[str],
                                                make: Any, message: str) -> None:
    run = make_run(tmp_path / "run", tiny_path)
    image = tmp_path / "tile.png"
    make(image)
    code, out, err = cli(capsys, "predict", "--run", str(run), "--image", str(image))
    assert code == 2 and out == "", (out, err)
    line = err.strip()
    assert "\n" not in line and line.startswith("pathreason: error: ") and str(image) in line and message in line, err


# ------------------------------------------------------------------------- 5. a failed command leaves nothing
def test_a_failed_command_leaves_no_run_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--task", "sub", "--output-dir", str(run), "--budget.budgeter", "nosuch")
    assert code == 2 and "budget.budgeter" in err and "nosuch" in err
    assert not run.exists()
    # a failure after the folder was opened (no samples of the task): still no config.yaml / state.json
    with pytest.raises(Exception, match="has no samples of task"):
        Engine(task="sub", output_dir=str(run), budget={"train_tokens": 128},
               dataset__options={"n": 2, "task": "vqa"}).train()
    assert not RunDir(run).is_run() and not (run / "config.yaml").exists() and not (run / "state.json").exists()
    # the corrected command, with another budget, is not told the folder holds a run
    corrected = Engine(task="sub", output_dir=str(run), dataset__options={"n": 4})
    assert corrected.phases.begin(resume=False).phases == {}


def test_an_untrained_folder_left_by_an_older_version_is_taken_over(tmp_path: Path, tiny_path: Path) -> None:
    """config.yaml and state.json without any trained phase or checkpoint (what a failed command
    used to leave) do not pin the run's settings."""
    run = make_run(tmp_path / "run", tiny_path, budget={"train_tokens": 64})
    shutil.rmtree(run / "sft")
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "phases": {}}))
    assert Engine(task="sub", output_dir=str(run)).phases.begin(resume=False).phases == {}
    trained = make_run(tmp_path / "trained", tiny_path, budget={"train_tokens": 64})
    with pytest.raises(RunError, match="whose budget differ"):
        Engine(task="sub", output_dir=str(trained)).phases.begin(resume=True)


# ------------------------------------------------------------------------------ 2. resume keeps the config
def test_load_keeps_the_saved_config_and_names_what_changes(tmp_path: Path, tiny_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pathreason")
    run = make_run(tmp_path / "run", tiny_path)
    engine = Engine.load(run, task="sub", sft={"max_steps": 12})  # the task repeated under its alias
    assert engine.config.dataset.options == {"n": 4} and engine.config.sft.per_device_train_batch_size == 4
    assert engine.changed_settings == {"sft.max_steps": (8, 12)} and engine.config.task == "subtyping"
    assert f"{run}: resuming with changed settings: sft.max_steps 8 -> 12" in caplog.text
    with pytest.raises(RunError, match="task cannot change for an existing run"):
        Engine.load(run, task="vqa")
    with pytest.raises(RunError, match="lora cannot change"):
        Engine.load(run, lora={"r": 4})


@pytest.mark.slow
def test_cli_resume_uses_the_saved_config(tmp_path: Path, tiny_path: Path) -> None:
    """`train --task X --output-dir D --resume` continues D's run with D's settings (before: rebuilt from
    the defaults, 250 SFT steps and batch 16, and overwrote config.yaml); only the options given
    change, and the change is shown."""
    run = make_run(tmp_path / "run", tiny_path, grpo={"max_steps": 1, "per_device_train_batch_size": 2,
                                                      "num_generations": 2, "max_completion_length": 4,
                                                      "save_steps": 50})
    before = RunConfig.from_yaml(run / "config.yaml")
    done = subprocess.run([sys.executable, "-m", "pathreason", "train", "--task", "sub", "--output-dir", str(run),
                           "--resume", "--grpo.save_steps", "7"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming with changed settings: grpo.save_steps 50 -> 7" in done.stderr
    after = RunConfig.from_yaml(run / "config.yaml")
    assert after == before.model_copy(update={"grpo": before.grpo.model_copy(update={"save_steps": 7})})
    assert json.loads((run / "state.json").read_text())["phases"] == {"sft": "done", "grpo": "done"}


# --------------------------------------------------------------------------- 9. trust_remote_code from files
EVIL = """
from pathlib import Path
Path({marker!r}).write_text("ran")
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
class EvilConfig(Qwen2_5_VLConfig):
    pass
class EvilModel(Qwen2_5_VLForConditionalGeneration):
    config_class = EvilConfig
"""


def test_a_run_folder_cannot_turn_on_remote_code(tmp_path: Path, tiny_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    run = make_run(tmp_path / "run", tiny_path)
    marker = tmp_path / "marker"
    with (run / "config.yaml").open("a") as fh:
        fh.write("trust_remote_code: true\n")
    final = run / "sft" / "final"
    (final / "evil.py").write_text(EVIL.format(marker=str(marker)))
    config = json.loads((final / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForImageTextToText": "evil.EvilModel"}
    (final / "config.json").write_text(json.dumps(config))
    report = Engine.load(run).evaluate(n=1, max_new_tokens=2, progress=False, write=False)
    assert report.n == 1 and report.phase == "sft"
    assert not marker.exists()
    assert "sets trust_remote_code; ignored" in caplog.text


# ----------------------------------------------------------------------- 10 and 15: hostile run config files
@pytest.mark.parametrize(("content", "message"), [
    ("task: &t subtyping\nmodel: *t\n", "is not valid YAML: anchors and aliases"),
    (b"task: subtyping\nseed: \xff\xfe\n", "is not UTF-8 text (byte 0xff at offset 22)"),
])
def test_a_hostile_run_config_is_one_line(tmp_path: Path, tiny_path: Path, capsys: pytest.CaptureFixture[str],
                                          content: str | bytes, message: str) -> None:
    run = make_run(tmp_path / "run", tiny_path)
    if isinstance(content, bytes):
        (run / "config.yaml").write_bytes(content)
    else:
        (run / "config.yaml").write_text(content)
    code, _, err = cli(capsys, "eval", "--run", str(run))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"pathreason: error: config file {run / 'config.yaml'} ") and message in err


def test_an_empty_task_list_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "train", "--task", "[]", "--output-dir", str(tmp_path / "run"))
    assert (code, err) == (2, "pathreason: error: --task '[]' names no task; give one or more, e.g. --task vqa or "
                              "--task vqa,subtyping\n")
    code, _, err = cli(capsys, "train", "--task", "[vqa, {a: 1}]")
    assert code == 2 and "give task names" in err
    with pytest.raises(ConfigError, match=r"task '\[\]': invalid plugin name"):
        Engine(task="[]")


# ------------------------------------------------------------------------- 15. damaged phase results
def _damage(final: Path, how: str, marker: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    if how == "no adapter weights":
        (final / "adapter_model.safetensors").unlink()
    elif how == "corrupt adapter config":
        (final / "adapter_config.json").write_text('{"peft_type": "LORA", ')
    elif how == "pickled adapter":
        (final / "adapter_model.safetensors").unlink()
        (final / "adapter_model.bin").write_bytes(pickle.dumps(Payload()))
    elif how == "no model weights":
        (final / "model.safetensors").unlink()
    elif how == "pickled model":
        (final / "model.safetensors").unlink()
        (final / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))


@pytest.mark.parametrize(("kind", "how", "message"), [
    ("lora", "no adapter weights", "holds adapter_config.json but no adapter_model.safetensors: the adapter is "
                                   "incomplete"),
    ("lora", "corrupt adapter config", "adapter_config.json is damaged (JSONDecodeError: "),
    ("lora", "pickled adapter", "refused to load adapter_model.bin: pickle weight files can run code when loaded"),
    ("full", "no model weights", "holds no weights: model.safetensors is missing"),
    ("full", "pickled model", "refused to load pytorch_model.bin: pickle weight files can run code when loaded"),
])
def test_a_damaged_phase_result_is_one_line(tmp_path: Path, tiny_path: Path, capsys: pytest.CaptureFixture[str],
                                            kind: str, how: str, message: str) -> None:
    run = make_run(tmp_path / "run", tiny_path, kind)
    marker = tmp_path / "pickle-ran"
    _damage(run / "sft" / "final", how, marker)
    code, _, err = cli(capsys, "eval", "--run", str(run), "--n", "1")
    assert code == 2 and err.count("\n") == 1, err[-2000:]
    assert err.startswith(f"pathreason: error: {run / 'sft' / 'final'}") and message in err
    assert not marker.exists()


# ------------------------------------------------------------------------------ 13. --model folder / hub id
def test_a_local_model_folder_works(tmp_path: Path, tiny_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    mine = shutil.copytree(tiny_path, tmp_path / "my-qwen")  # a save_pretrained folder (model + processor)
    engine = Engine(task="sub", model=str(mine), output_dir=str(tmp_path / "run"), dataset__options={"n": 2})
    assert engine.config.model == str(mine) and engine.models.spec is None and engine.config.lora is not None
    report = engine.evaluate(n=1, phase="base", max_new_tokens=2, progress=False, write=False)
    assert report.n == 1
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "eval", "--model", "my-qwen", "--task", "sub", "--n", "1", "--phase", "base",
                         "--grpo.max_completion_length", "2", "--dataset.options", "{n: 2}")
    assert code == 0, err[-2000:]
    assert "subtyping" in out


def test_a_hub_id_not_cached_offline_says_how_to_fetch_it(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    expected = ("model 'pathreason-test/not-cached' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 "
                "forbids downloading it: fetch it first (`hf download pathreason-test/not-cached`, formerly "
                "`huggingface-cli download pathreason-test/not-cached`), or unset HF_HUB_OFFLINE")
    with pytest.raises(ConfigError) as info:
        Engine(task="sub", model="pathreason-test/not-cached")
    assert str(info.value) == expected
    code, _, err = cli(capsys, "eval", "--model", "pathreason-test/not-cached", "--task", "sub")
    assert (code, err) == (2, f"pathreason: error: {expected}\n")
    with pytest.raises(UnknownNameError, match="a model is a preset .*an existing folder written by save_pretrained"):
        Engine(task="sub", model="/no/such/folder")


# --------------------------------------------------------------------------------- 16. unwritable output
def test_eval_checks_its_folder_before_any_work(tmp_path: Path, tiny_path: Path) -> None:
    run = make_run(tmp_path / "run", tiny_path)
    (run / "eval").write_text("a file where the eval folder goes")  # what a read-only place looks like here
    engine = Engine.load(run)
    with pytest.raises(RunError, match=rf"cannot write {run / 'eval' / 'sft-static256-test'}: .*choose another output"):
        engine.evaluate(n=1, max_new_tokens=2, progress=False)
    assert engine.models._performer is None  # refused before the model was loaded


def test_atomic_writes_keep_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"old": true}')
    with pytest.raises(RunError, match=rf"cannot write {target}: No space left on device"), \
            atomic_path(target) as tmp:
        tmp.write_text('{"half')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert target.read_text() == '{"old": true}' and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    atomic_write_text(target, '{"new": true}')
    assert target.read_text() == '{"new": true}' and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_full_disk_during_eval_keeps_the_report(tmp_path: Path, tiny_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    import pathreason.evaluation as evaluation

    run = make_run(tmp_path / "run", tiny_path)
    out = run / "eval" / "sft-static256-test"
    out.mkdir(parents=True)
    (out / "predictions.jsonl").write_text('{"id": "earlier"}\n')

    def full_disk(records: Any, path: Path) -> None:
        path.write_text('{"id": "half')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(evaluation, "write_predictions", full_disk)
    with pytest.raises(RunError, match="No space left on device"):
        Engine.load(run).evaluate(n=1, max_new_tokens=2, progress=False)
    assert (out / "predictions.jsonl").read_text() == '{"id": "earlier"}\n'
    assert sorted(p.name for p in out.iterdir()) == ["predictions.jsonl"]
    assert "the evaluation finished but its files could not be written; its report:" in caplog.text
    assert "subtyping" in caplog.text


def test_a_damaged_state_file_is_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("task: vqa\n")
    for content in (b"[1, 2]", b"\xff\xfe", b"[" * 100_000, b'{"version": "1", "base_model": "tiny", '
                                                            b'"base_location": "x", "phases": {"sft": 3}}'):
        (run / "state.json").write_bytes(content)
        with pytest.raises(RunError, match=rf"{run / 'state.json'} is damaged"):
            RunDir(run).read_state()


def test_a_budgeter_state_is_stale_once_its_performer_is_trained_again(tmp_path: Path) -> None:
    """A calibration saved with the run records the performer weights it was computed with; training a
    phase again in the same folder (new weights) makes ``load_state`` answer ``None``, so it is redone."""
    from pathreason.context import PERFORMERS_KEY, RunContext
    from pathreason.runs import RunState

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    atomic_write_text(run.config_path, "task: subtyping\n")
    run.write_state(RunState(version="0", base_model="tiny", base_location="x", phases={"sft": "done"}))
    weights = run.final_dir("sft") / "model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"first weights")
    context = RunContext(RunConfig.build({}, apply_preset=False), run, None, None, {}, None)  # type: ignore[arg-type]

    context.save_state("escalate-sft-16-64-256", {"tau": 0.25})
    saved = json.loads((run.path / "budgeters" / "escalate-sft-16-64-256.json").read_text())
    assert saved["tau"] == 0.25 and set(saved[PERFORMERS_KEY]) == {"sft"}
    assert context.load_state("escalate-sft-16-64-256") == {"tau": 0.25}    # the same weights: reused as saved

    weights.write_bytes(b"other weights")                                   # sft trained again
    assert context.load_state("escalate-sft-16-64-256") is None
    context.save_state("escalate-sft-16-64-256", {"tau": 0.5})
    assert context.load_state("escalate-sft-16-64-256") == {"tau": 0.5}

    run.write_state(RunState(version="0", base_model="tiny", base_location="x",
                             phases={"sft": "done", "grpo": "done"}))      # a new phase with no weights yet
    assert context.load_state("escalate-sft-16-64-256") is None
