"""GPU check: a few SFT and GRPO steps of the tiny model in bf16 through the Engine, a batched
evaluation, and (when a checkpoint is at hand) one real Qwen2.5-VL GRPO step with LoRA. Prints
steps/s, images/s and peak GPU memory per stage. Single process; about 1-3 minutes on one GPU.

    python scripts/gpu_check.py                                 # tiny; Qwen too if in the HF cache
    python scripts/gpu_check.py --qwen /models/Qwen2.5-VL-3B-Instruct
    python scripts/gpu_check.py --no-qwen --steps 10
    python scripts/gpu_check.py --allow-cpu --steps 2           # the same on CPU (fp32), a dry run

Without CUDA it says so and exits 0 (``--allow-cpu`` runs it on the CPU instead). Nothing is
downloaded: ``--qwen`` is a local folder, or a Qwen2.5-VL checkpoint already in the local Hugging
Face cache is used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a check must never start a multi-GB download
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QWEN_REPOS = ("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct")


def cached_qwen() -> Path | None:
    """The folder of a Qwen2.5-VL checkpoint in the local Hugging Face cache (3B first), if any."""
    from huggingface_hub import try_to_load_from_cache

    for repo in QWEN_REPOS:
        found = try_to_load_from_cache(repo, "config.json")
        if isinstance(found, str):
            folder = Path(found).parent
            if list(folder.glob("*.safetensors")):
                return folder
    return None


def measure(name: str, run: Any, phase_log: Any = None) -> dict[str, Any]:
    """Run one stage; its wall time, the trainer's steps/s (from the run's log), what ``run`` returns
    (a dict) and peak GPU memory."""
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    extra = run()
    if cuda:
        torch.cuda.synchronize()
    row: dict[str, Any] = {"stage": name, "seconds": round(time.perf_counter() - start, 1)}
    if phase_log is not None:
        final = [r for r in phase_log() if "train_steps_per_second" in r]
        if final:
            row["steps_per_s"] = round(float(final[-1]["train_steps_per_second"]), 3)
    if isinstance(extra, dict):
        row.update(extra)
    row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
    print(json.dumps(row), flush=True)
    return row


def check_tiny(out: Path, steps: int) -> list[dict[str, Any]]:
    from pathreason import Engine

    engine = Engine(task="sub", output_dir=str(out / "tiny"), dataset__options={"n": 32},
                    sft={"max_steps": steps, "per_device_train_batch_size": 8, "logging_steps": 1},
                    grpo={"max_steps": steps, "per_device_train_batch_size": 8, "num_generations": 4,
                          "max_completion_length": 48, "logging_steps": 1})
    rows = [measure("tiny sft", engine.sft, lambda: engine.run.read_log("sft")),
            measure("tiny grpo", lambda: engine.grpo(resume=True), lambda: engine.run.read_log("grpo"))]

    def evaluate() -> dict[str, Any]:
        report = engine.evaluate(n=16, budgeter="static:64", max_new_tokens=32, batch_size=16, progress=False,
                                 write=False)
        device = next(engine.performer().parameters()).device
        return {"images_per_s": round(1 / max(report.seconds_per_image, 1e-9), 2), "device": str(device)}

    rows.append(measure("tiny eval", evaluate))
    return rows


def check_qwen(folder: Path, out: Path) -> dict[str, Any]:
    from pathreason import Engine

    engine = Engine(task="sub", model=str(folder), output_dir=str(out / "qwen"), dataset__options={"n": 4},
                    lora={"r": 16, "lora_alpha": 64}, sft={"enabled": False},
                    grpo={"max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 4,
                          "max_completion_length": 64, "logging_steps": 1})
    return measure(f"{folder.name} grpo (LoRA, 1 step)", engine.grpo,
                   lambda: engine.run.read_log("grpo"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="SFT and GRPO steps of the tiny model (default 5)")
    parser.add_argument("--qwen", type=Path, help="a local Qwen2.5-VL checkpoint folder for one real GRPO step")
    parser.add_argument("--no-qwen", action="store_true", help="skip the Qwen step even if a checkpoint is cached")
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when there is no CUDA GPU")
    parser.add_argument("--output-dir", type=Path, help="where the check's runs go (default: a temporary folder)")
    args = parser.parse_args(argv)

    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        print(f"CUDA: {torch.cuda.device_count()} x {name}; bf16: {torch.cuda.is_bf16_supported()}; "
              f"torch {torch.__version__}", flush=True)
    elif args.allow_cpu:
        print("no CUDA GPU: running on the CPU in fp32 (--allow-cpu); peak memory is not measured", flush=True)
    else:
        print("no CUDA GPU on this machine: nothing to check (pass --allow-cpu to run the same stages on the CPU)")
        return 0
    if args.qwen is not None and not (args.qwen / "config.json").is_file():
        parser.error(f"--qwen {args.qwen}: no config.json there; give a local Qwen2.5-VL checkpoint folder")

    with tempfile.TemporaryDirectory(prefix="pathreason-gpu-check-") as tmp:
        out = args.output_dir or Path(tmp)
        rows = check_tiny(out, args.steps)
        qwen = None if args.no_qwen else (args.qwen or cached_qwen())
        if qwen is None:
            print("Qwen2.5-VL: no checkpoint given (--qwen PATH) or cached; skipped", flush=True)
        else:
            rows.append(check_qwen(qwen, out))
    print("\nstage                                   seconds  steps/s  images/s  peak GiB")
    for r in rows:
        peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        print(f"{r['stage']:<38}  {r['seconds']:>7.1f}  {r.get('steps_per_s', '-')!s:>7}  "
              f"{r.get('images_per_s', '-')!s:>8}  {peak:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
