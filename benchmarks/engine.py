"""GRPO step time through the engine vs. the same step through plain TRL, plus SFT/GRPO steps per
second and peak memory, on the tiny model and synthpath, in one process.

    python benchmarks/engine.py [--steps 8] [--rounds 4] [--task subtyping]

Prints medians of per-step wall times (the first step of each trainer is left out as warm-up). The
engine and plain TRL run in interleaved rounds (engine first, then TRL first, ...), so that load from
elsewhere on a noisy machine falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._t = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.times.append(time.perf_counter() - self._t)

    return StepTimer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--task", default="subtyping")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved engine/TRL rounds")
    args = parser.parse_args()

    import torch
    from trl import GRPOConfig, GRPOTrainer

    from pathreason import Engine
    from pathreason.models.loading import load_model
    from pathreason.training import train_grpo, train_sft

    out = Path(tempfile.mkdtemp(prefix="pathreason-bench-"))
    grpo = {"max_steps": args.steps, "per_device_train_batch_size": 8, "num_generations": 4,
            "max_completion_length": 32, "logging_steps": 1000, "save_steps": 10_000}
    engine = Engine(task=args.task, output_dir=str(out / "engine"), dataset__options={"n": 64},
                    sft={"max_steps": args.steps, "per_device_train_batch_size": 8, "save_steps": 10_000,
                         "logging_steps": 1000}, grpo=grpo)
    torch.manual_seed(0)
    timer_sft = _step_timer()
    train_sft(engine._policy_for_sft(), engine.processor, engine.sft_dataset(), engine.config,
              out / "sft", None, callbacks=[timer_sft])
    del timer_sft.times[0]  # warm-up

    dataset = engine.grpo_dataset()
    funcs, weights = engine.reward_functions()

    plain_args = GRPOConfig(
        output_dir=str(out / "grpo-trl"), max_steps=args.steps, per_device_train_batch_size=8, num_generations=4,
        max_completion_length=32, learning_rate=engine.config.grpo.learning_rate, beta=0.001, epsilon=0.2,
        temperature=1.0, loss_type="grpo", reward_weights=weights, bf16=False, use_cpu=not torch.cuda.is_available(),
        logging_steps=1000, save_steps=10_000, report_to="none", remove_unused_columns=False,
        seed=engine.config.seed, lr_scheduler_type="cosine", weight_decay=0.1,
        gradient_checkpointing=False)  # TRL's default is on; the engine turns it off, so compare like with like

    def through_engine(timer: Any) -> None:
        torch.manual_seed(0)
        train_grpo(load_model(engine.location), engine.processor, dataset, funcs, weights, engine.config.grpo,
                   engine.config, out / "grpo-engine", None, callbacks=[timer])

    def through_trl(timer: Any) -> None:
        torch.manual_seed(0)
        GRPOTrainer(model=load_model(engine.location), reward_funcs=funcs, args=plain_args, train_dataset=dataset,
                    processing_class=engine.processor, callbacks=[timer]).train()

    # Interleaved rounds (engine, TRL, TRL, engine, ...) so that a noisy machine slows both alike.
    timer_engine, timer_trl = _step_timer(), _step_timer()
    for r in range(args.rounds):
        pair = [(through_engine, timer_engine), (through_trl, timer_trl)]
        for fn, timer in (pair if r % 2 == 0 else pair[::-1]):
            start = len(timer.times)
            fn(timer)
            del timer.times[start]  # the first step of each trainer is warm-up

    def med(t: Any) -> float:
        return statistics.median(t.times)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"task {args.task}, tiny model, {args.rounds} interleaved rounds of {args.steps} steps each, "
          "medians excluding each trainer's first step")
    print(f"SFT  step (batch 8):                 {med(timer_sft):6.3f} s  -> {1 / med(timer_sft):5.2f} steps/s")
    print(f"GRPO step through the engine:        {med(timer_engine):6.3f} s  -> {1 / med(timer_engine):5.2f} steps/s")
    print(f"GRPO step through plain TRL:         {med(timer_trl):6.3f} s")
    print(f"ratio engine / plain TRL:            {med(timer_engine) / med(timer_trl):6.3f}  (target <= 1.05)")
    print(f"peak resident memory:                {peak_mb:6.0f} MB")


if __name__ == "__main__":
    main()
