"""Several processes, one run: ``pathreason train`` and ``eval`` under ``accelerate launch`` / ``torchrun``
with two CPU processes (gloo), the shipped accelerate configs, and the vLLM option without vLLM.

The two-process run goes through the real CLI, wrapped by a small recorder (``DRIVER`` below) that
notes, per process, which dataset rows its data loader fetched while TRL trained, which samples it
generated for in evaluation, and every write to the run folder. The recorder only observes: it adds
a callback through ``train_sft``/``train_grpo``'s ``callbacks`` argument and wraps functions
without changing what they return.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "accelerate"

DRIVER = '''
import json, os, sys
from pathlib import Path

import datasets
import transformers
from transformers import TrainerCallback

import pathreason.config, pathreason.engine, pathreason.evaluation, pathreason.runs, pathreason.training
from pathreason.cli import main

OUT = Path(os.environ["RECORD_DIR"]) / f"rank{os.environ.get('RANK', '0')}.jsonl"
phase = None


def record(**event):
    with OUT.open("a") as fh:
        fh.write(json.dumps(event) + "\\n")


class Recorder(TrainerCallback):
    def __init__(self, name):
        self.name = name

    def on_train_begin(self, args, state, control, **kwargs):
        global phase
        phase = self.name
        record(event="train", phase=self.name, world_size=args.world_size, rank=args.process_index)

    def on_train_end(self, args, state, control, **kwargs):
        global phase
        phase = None


def with_recorder(train, name):
    def run(*args, callbacks=(), **kwargs):
        return train(*args, callbacks=[*callbacks, Recorder(name)], **kwargs)
    return run


def observed(fn, event, what=lambda *a, **k: {}):
    def run(*args, **kwargs):
        record(event=event, **what(*args, **kwargs))
        return fn(*args, **kwargs)
    return run


fetch = datasets.Dataset.__getitems__


def getitems(self, keys):
    rows = fetch(self, keys)
    if phase is not None:
        record(event="fetch", phase=phase, keys=[int(k) for k in keys], ids=[r.get("id") for r in rows])
    return rows


datasets.Dataset.__getitems__ = getitems
pathreason.training.train_sft = with_recorder(pathreason.training.train_sft, "sft")
pathreason.training.train_grpo = with_recorder(pathreason.training.train_grpo, "grpo")
save = transformers.PreTrainedModel.save_pretrained


def save_pretrained(self, save_directory, *args, is_main_process=True, **kwargs):
    if is_main_process:  # the other processes join in (sharded weights) but write nothing
        record(event="save_model", path=str(save_directory))
    return save(self, save_directory, *args, is_main_process=is_main_process, **kwargs)


transformers.PreTrainedModel.save_pretrained = save_pretrained
R = pathreason.runs.RunDir
R.write_state = observed(R.write_state, "write_state", lambda self, state: {"phases": dict(state.phases)})
R.write_log = observed(R.write_log, "write_log", lambda self, phase, history: {"phase": phase})
C = pathreason.config.RunConfig
C.to_yaml = observed(C.to_yaml, "write_config", lambda self, path=None: {"path": str(path)})
E = pathreason.evaluation  # the engine imports these from here when it evaluates
E.write_predictions = observed(E.write_predictions, "write_predictions", lambda records, path: {"n": len(records)})
E.predict_records = observed(E.predict_records, "predict",
                             lambda bound, tasks, samples, *a, **k: {"ids": [s.id for s in samples]})
sys.exit(main())
'''

TRAIN = ["train", "--task", "sub", "--dataset.options", "{n: 8}",
         "--sft.max_steps", "2", "--sft.per_device_train_batch_size", "2", "--sft.logging_steps", "1",
         "--grpo.max_steps", "2", "--grpo.per_device_train_batch_size", "2", "--grpo.num_generations", "2",
         "--grpo.max_completion_length", "8", "--grpo.logging_steps", "1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"


def _events(folder: Path, rank: int) -> list[dict[str, Any]]:
    path = folder / f"rank{rank}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _files(run: Path) -> set[str]:
    # Each process saves its own RNG state in a checkpoint (rng_state_<rank>.pth; rng_state.pth alone).
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and not p.name.startswith("rng_state")}


@pytest.mark.slow
def test_two_processes_train_and_evaluate_one_run(tmp_path: Path) -> None:
    home = tmp_path / "home"  # empty: both processes start building the tiny model at once
    env = {**os.environ, "PATHREASON_HOME": str(home), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "ACCELERATE_DISABLE_RICH": "1"}
    (tmp_path / "driver.py").write_text(DRIVER)
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir()
    one.mkdir()

    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(_free_port()), "driver.py"]
    _run([*launch, *TRAIN, "--output-dir", "run"], {**env, "RECORD_DIR": str(two)}, tmp_path)
    rank0, rank1 = _events(two, 0), _events(two, 1)

    # two processes, each trained its own shard of every phase's data
    assert {(e["phase"], e["rank"], e["world_size"]) for e in rank0 + rank1 if e["event"] == "train"} == {
        ("sft", 0, 2), ("sft", 1, 2), ("grpo", 0, 2), ("grpo", 1, 2)}
    for phase, key in (("sft", "keys"), ("grpo", "ids")):
        batches = [[e[key] for e in events if e["event"] == "fetch" and e["phase"] == phase] for events in (rank0, rank1)]
        assert all(len(b) >= 2 for b in batches), f"{phase}: {batches}"  # 2 steps (a loader may fetch one ahead)
        mine = [{x for batch in b for x in batch} for b in batches]
        assert not mine[0] & mine[1], f"{phase}: both processes trained on rows {sorted(mine[0] & mine[1])}"

    # the main process alone wrote the run folder and the models (both may have built the tiny model)
    written = {"write_state", "write_log", "write_config", "save_model"}
    assert not [e for e in rank1 if e["event"] in written and e.get("path", "run").startswith("run")], (
        "process 1 wrote to the run folder")
    assert [e["phases"] for e in rank0 if e["event"] == "write_state"] == [
        {}, {"sft": "done"}, {"sft": "done", "grpo": "done"}]
    assert sorted(e["phase"] for e in rank0 if e["event"] == "write_log") == ["grpo", "sft"]
    finals = [e["path"] for e in rank0 if e["event"] == "save_model" and e["path"].startswith("run/")
              and e["path"].endswith("final")]
    assert [Path(p).parent.name for p in finals] == ["sft", "grpo"]

    run = tmp_path / "run"
    assert json.loads((run / "state.json").read_text())["phases"] == {"sft": "done", "grpo": "done"}
    from safetensors.torch import load_file

    for phase in ("sft", "grpo"):
        weights = list((run / phase / "final").glob("*.safetensors"))
        assert len(weights) == 1 and load_file(str(weights[0]))  # one whole, readable file
    grpo_log = json.loads((run / "logs" / "grpo.json").read_text())
    assert any("rewards/subtyping/mean" in row for row in grpo_log)
    models = sorted(p.name for p in (home / "models").iterdir())
    assert len(models) == 1 and models[0].startswith("tiny-"), models  # one build kept, no half-built folder

    # evaluation under torchrun: each process generates for half the samples, process 0 writes them all
    # ("--": torchrun would take the abbreviation --run for its own --run-path)
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
          "driver.py", "--", "eval", "--run", "run", "--n", "4", "--budgeter", "static:64"],
         {**env, "RECORD_DIR": str(two)}, tmp_path)
    shares = [[i for e in _events(two, r) if e["event"] == "predict" for i in e["ids"]] for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 2 and not set(shares[0]) & set(shares[1])
    out = run / "eval" / "grpo-static64-test"
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == shares[0] + shares[1]  # gathered in rank order: the split's order
    assert json.loads((out / "report.json").read_text())["n"] == 4
    assert [e["n"] for e in _events(two, 0) if e["event"] == "write_predictions"] == [4]
    assert not [e for e in _events(two, 1) if e["event"] == "write_predictions"]

    # the same command in one process gives the same run folder
    _run([sys.executable, "driver.py", *TRAIN, "--output-dir", "solo"], {**env, "RECORD_DIR": str(one)}, tmp_path)
    solo = tmp_path / "solo"
    _run([sys.executable, "driver.py", "eval", "--run", "solo", "--n", "4", "--budgeter", "static:64"],
         {**env, "RECORD_DIR": str(one)}, tmp_path)
    assert _files(run) == _files(solo)
    solo_rows = [json.loads(line) for line in (solo / "eval" / "grpo-static64-test" / "predictions.jsonl")
                 .read_text().splitlines()]
    assert [r["id"] for r in solo_rows] == [r["id"] for r in rows]
    assert [(r["prompt"], r["tokens"], r["budget"]) for r in solo_rows] == [
        (r["prompt"], r["tokens"], r["budget"]) for r in rows]


# ------------------------------------------------------------------------------ helpers, one process
def test_helpers_are_no_ops_in_one_process() -> None:
    from pathreason.distributed import barrier, gather, is_main_process, num_processes, shard

    barrier()
    assert num_processes() == 1 and is_main_process()
    assert shard(range(5)) == [0, 1, 2, 3, 4] and gather(["a", "b"]) == ["a", "b"]


# ------------------------------------------------------------------------------ the shipped configs
def _config(name: str) -> Any:
    from accelerate.commands.config.config_args import load_config_from_file

    return load_config_from_file(str(CONFIGS / name))


def test_accelerate_configs_parse_and_say_what_they_claim() -> None:
    from accelerate.utils import DistributedType

    names = sorted(p.name for p in CONFIGS.glob("*.yaml"))
    assert names == ["deepspeed_zero2.yaml", "deepspeed_zero3.yaml", "fsdp.yaml", "multi_gpu.yaml", "two_nodes.yaml"]
    for name in names:
        cfg = _config(name)
        assert cfg.compute_environment.value == "LOCAL_MACHINE" and cfg.mixed_precision == "bf16", name
        assert cfg.num_processes == 8 * cfg.num_machines and not cfg.use_cpu, name

    ddp = _config("multi_gpu.yaml")
    assert ddp.distributed_type == DistributedType.MULTI_GPU and ddp.num_machines == 1

    zero2, zero3 = _config("deepspeed_zero2.yaml"), _config("deepspeed_zero3.yaml")
    for cfg, stage in ((zero2, 2), (zero3, 3)):
        assert cfg.distributed_type == DistributedType.DEEPSPEED
        assert cfg.deepspeed_config["zero_stage"] == stage
        assert cfg.deepspeed_config["offload_optimizer_device"] == cfg.deepspeed_config["offload_param_device"] == "none"
    # ZeRO-3 must gather the shards into one file on save, or final/ would hold no usable weights
    assert zero3.deepspeed_config["zero3_save_16bit_model"] is True
    # the engine loads the model before the trainer exists: no ZeRO-3 init / empty-weight loading
    assert zero3.deepspeed_config["zero3_init_flag"] is False

    fsdp = _config("fsdp.yaml")
    assert fsdp.distributed_type == DistributedType.FSDP
    assert fsdp.fsdp_config["fsdp_version"] == 2 and fsdp.fsdp_config["fsdp_reshard_after_forward"] is True
    assert fsdp.fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    # a full state dict: Trainer.save_model then writes an ordinary model / peft adapter
    assert fsdp.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    assert fsdp.fsdp_config["fsdp_cpu_ram_efficient_loading"] is False

    nodes = _config("two_nodes.yaml")
    assert nodes.distributed_type == DistributedType.MULTI_GPU
    assert (nodes.num_machines, nodes.machine_rank, nodes.num_processes) == (2, 0, 16)
    assert nodes.main_process_ip and nodes.main_process_port and nodes.rdzv_backend == "static"


def _launch_env(name: str, *flags: str) -> tuple[Any, dict[str, str]]:
    """What ``accelerate launch --config_file configs/accelerate/NAME FLAGS`` hands its processes (no launch)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / name), *flags, "-m", "pathreason"])
    args, defaults, _ = _validate_launch_command(args)
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        _, env = prepare_deepspeed_cmd_env(args)
    else:
        env = prepare_multi_gpu_env(args)
    return args, {k: v for k, v in env.items() if k.startswith(("ACCELERATE_", "FSDP_"))}


def test_accelerate_launch_reads_the_configs_as_meant() -> None:
    args, env = _launch_env("multi_gpu.yaml", "--main_process_port", "0")
    assert (args.multi_gpu, args.nproc_per_node, env["ACCELERATE_MIXED_PRECISION"]) == (True, "8", "bf16")
    assert "ACCELERATE_USE_DEEPSPEED" not in env and "ACCELERATE_USE_FSDP" not in env

    for name, stage in (("deepspeed_zero2.yaml", "2"), ("deepspeed_zero3.yaml", "3")):
        args, env = _launch_env(name, "--main_process_port", "0")
        assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == stage
        assert env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "false" and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"

    from accelerate.utils import FullyShardedDataParallelPlugin

    args, env = _launch_env("fsdp.yaml", "--main_process_port", "0")
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_SHARDING_STRATEGY"] == "FULL_SHARD"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        plugin = FullyShardedDataParallelPlugin()  # what the trainer's Accelerator builds from that environment
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True and not plugin.cpu_ram_efficient_loading
    assert "FULL_STATE_DICT" in str(plugin.state_dict_type)

    # the second machine: the same file with --machine_rank 1 joins the first machine's 8 processes
    args, _ = _launch_env("two_nodes.yaml", "--machine_rank", "1")
    assert (args.nnodes, args.node_rank, args.nproc_per_node) == ("2", 1, "8")
    assert "10.0.0.1" in f"{getattr(args, 'rdzv_endpoint', '')}{getattr(args, 'master_addr', '')}"


# ------------------------------------------------------------------------------ vLLM, not installed here
needs_no_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")


@needs_no_vllm
def test_asking_for_vllm_without_it_fails_before_anything_runs(tmp_path: Path) -> None:
    from pathreason import Engine
    from pathreason.api import ConfigError

    engine = Engine(task="sub", output_dir=str(tmp_path / "run"), grpo={"use_vllm": True, "vllm_mode": "server"})
    with pytest.raises(ConfigError, match=r"grpo.use_vllm is true but vLLM is not installed: pip install 'pathreason\[vllm\]'"):
        engine.train()
    assert not (tmp_path / "run").exists()  # refused before SFT, before any model was built or loaded

    from pathreason.training import train_grpo

    with pytest.raises(ConfigError, match="vLLM is not installed"):  # Engine.grpo() goes this way
        train_grpo(None, None, None, [], [], engine.config.grpo, engine.config, tmp_path / "grpo", None)


def test_vllm_settings_reach_trl(tmp_path: Path) -> None:
    from pathreason.config import RunConfig
    from pathreason.training import grpo_arguments

    for mode in ("colocate", "server"):
        cfg = RunConfig.build({"grpo": {"use_vllm": True, "vllm_mode": mode}})
        args = grpo_arguments(cfg.grpo, cfg, tmp_path, [1.0, 1.0])
        assert args.use_vllm is True and args.vllm_mode == mode
    cfg = RunConfig.build({})
    assert grpo_arguments(cfg.grpo, cfg, tmp_path, [1.0, 1.0]).use_vllm is False


def test_vllm_server_address_reaches_trl(tmp_path) -> None:
    from pathreason.config import RunConfig
    from pathreason.training import grpo_arguments

    cfg = RunConfig.build({"grpo.use_vllm": True, "grpo.vllm_mode": "server",
                           "grpo.vllm_server_host": "10.0.0.5", "grpo.vllm_server_port": 8123})
    args = grpo_arguments(cfg.grpo, cfg, tmp_path, [1.0, 1.0])
    assert (args.vllm_mode, args.vllm_server_host, args.vllm_server_port) == ("server", "10.0.0.5", 8123)
