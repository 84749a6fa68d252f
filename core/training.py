"""The one shared training engine: TRL's ``SFTTrainer`` and ``GRPOTrainer`` wired for pathreason.

Nothing here re-implements GRPO (paper Eq. 1-3 are TRL's ``loss_type="grpo"`` with
``scale_rewards="group"``); this module only turns samples into TRL datasets, builds the
trainer arguments from the run config, and prepares the policy (LoRA or full fine-tuning).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pathreason.config import GRPOSection, LoraConfigSection, RunConfig, SFTSection
from pathreason.console import Phase, console_enabled, is_quiet, trainer_callback

logger = logging.getLogger(__name__)

#: Linear layers of the language model only ("all linear layers of the language model", the paper's LoRA targets).
LM_LINEAR_REGEX = r"^(?!.*visual).*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$"


def is_vision_parameter(name: str) -> bool:
    return ".visual." in f".{name}"


def freeze_vision(model: Any) -> int:
    """Freeze the vision tower (and its merger); returns how many tensors were frozen."""
    n = 0
    for name, param in model.named_parameters():
        if is_vision_parameter(name):
            param.requires_grad_(False)
            n += 1
    return n


def lora_config(section: LoraConfigSection) -> Any:
    from peft import LoraConfig

    targets: Any = section.target_modules
    if targets == "all-linear":
        targets = LM_LINEAR_REGEX
    return LoraConfig(r=section.r, lora_alpha=section.lora_alpha, lora_dropout=section.lora_dropout,
                      target_modules=targets, bias=section.bias, modules_to_save=section.modules_to_save,
                      task_type="CAUSAL_LM")


def device_kwargs() -> dict[str, Any]:
    """Mixed precision where the hardware has it; plain fp32 on CPU (TRL's bf16 default fails there)."""
    import torch

    if torch.cuda.is_available():
        return {"bf16": torch.cuda.is_bf16_supported(), "fp16": False}
    return {"bf16": False, "fp16": False, "use_cpu": True}


def _no_checkpointing() -> dict[str, bool]:
    """Activation checkpointing off (TRL turns it on by default; the tiny model does not need it),
    under the argument's current name (``gradient_checkpointing`` is deprecated in transformers 5)."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": False}


def _common(section: SFTSection | GRPOSection, cfg: RunConfig, output_dir: Path) -> dict[str, Any]:
    return dict(
        output_dir=str(output_dir),
        learning_rate=section.learning_rate,
        weight_decay=section.weight_decay,
        lr_scheduler_type=section.lr_scheduler_type,
        warmup_steps=section.warmup_ratio,
        max_steps=section.max_steps,
        num_train_epochs=section.num_train_epochs,
        per_device_train_batch_size=section.per_device_train_batch_size,
        gradient_accumulation_steps=section.gradient_accumulation_steps,
        max_grad_norm=section.max_grad_norm,
        logging_steps=section.logging_steps,
        save_strategy="steps",
        save_steps=section.save_steps,
        save_total_limit=section.save_total_limit,
        save_only_model=False,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=cfg.report_to,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=is_quiet(),  # pathreason draws one line per phase instead (pathreason.console)
        **_no_checkpointing(),
        **device_kwargs(),
    )


def sft_arguments(cfg: RunConfig, output_dir: Path) -> Any:
    from trl import SFTConfig

    # Mixed budgets: batch rows of similar length together (no padding a 16-token image to 256).
    strategy = "group_by_length" if cfg.sft.budget_mix else "random"
    return SFTConfig(**_common(cfg.sft, cfg, output_dir), max_length=None, completion_only_loss=True,
                     train_sampling_strategy=strategy, length_column_name="length")


def grpo_arguments(section: GRPOSection, cfg: RunConfig, output_dir: Path, reward_weights: Sequence[float]) -> Any:
    from trl import GRPOConfig

    kwargs: dict[str, Any] = dict(
        num_generations=section.num_generations,
        beta=section.beta,
        epsilon=section.epsilon,
        temperature=section.temperature,
        max_completion_length=section.max_completion_length,
        loss_type=section.loss_type,
        scale_rewards=section.scale_rewards,
        reward_weights=list(reward_weights),
        use_vllm=section.use_vllm,
        log_completions=False,
    )
    if section.use_vllm:
        kwargs["vllm_mode"] = section.vllm_mode
        if section.vllm_mode == "server":
            kwargs.update(vllm_server_host=section.vllm_server_host, vllm_server_port=section.vllm_server_port)
    return GRPOConfig(**_common(section, cfg, output_dir), **kwargs)


def named_reward(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``func`` under its registered ``name``: TRL logs a reward as ``rewards/<__name__>/mean``, and a
    plugin's callable may carry any ``__name__`` (a lambda, a ``functools.partial``, a class)."""
    import asyncio

    if getattr(func, "__name__", None) == name:
        return func
    if asyncio.iscoroutinefunction(func) or asyncio.iscoroutinefunction(type(func).__call__):
        async def named_async(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, **kwargs)

        named_async.__name__ = named_async.__qualname__ = name
        return named_async

    def named(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    named.__name__ = named.__qualname__ = name
    return named


def reward_functions(task_rewards: Sequence[str], format_reward: str, format_weight: float,
                     task_weight: float = 1.0) -> tuple[list[Callable[..., Any]], list[float]]:
    """The reward callables and weights of R = task_weight · R_task + format_weight · R_format.

    TRL's ``GRPOTrainer`` takes a list of reward functions with ``GRPOConfig.reward_weights``, sums
    the weighted components per completion (``None`` components are skipped) and logs each one,
    here under its registered name. In a mixed-task run each task reward is ``None`` on the other
    tasks' samples, so every sample gets exactly its own R_task + λ_f · R_format.
    """
    from pathreason.registry import get_reward

    names = list(dict.fromkeys(task_rewards))
    if not names:
        raise ValueError("reward_functions needs at least one task reward")
    funcs = [named_reward(get_reward(name), name) for name in [*names, format_reward]]
    return funcs, [float(task_weight)] * len(names) + [float(format_weight)]


def check_vllm(section: GRPOSection) -> None:
    if section.use_vllm:
        import importlib.util

        from pathreason.api import ConfigError

        if importlib.util.find_spec("vllm") is None:
            raise ConfigError("grpo.use_vllm is true but vLLM is not installed: pip install 'pathreason[vllm]' "
                              "(needs a CUDA GPU), or set grpo.use_vllm false")


def sample_mean_loss(log_probs: Any, label_mask: Any) -> Any:
    """The mean over samples of each sample's mean answer-token loss (``sft.loss_per_sample``).

    TRL averages over all answer tokens of a batch, so in a mixed-task run an 80-token detection
    answer weighs sixteen times a 5-token subtyping answer; here every sample weighs the same.
    Rows without answer tokens count as zero and are left out of the mean.
    """
    mask = label_mask.to(log_probs.dtype)
    tokens = mask.sum(-1)
    per_sample = (-log_probs * mask).sum(-1) / tokens.clamp(min=1)
    return per_sample.sum() / (tokens > 0).sum().clamp(min=1)


def has_whole_model(folder: Path) -> bool:
    """Whether a checkpoint folder holds a whole model (full fine-tuning), not a peft adapter."""
    return (folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file()


def load_whole_checkpoint(model: Any, folder: Path) -> None:
    """Load the whole-model checkpoint in ``folder`` into ``model`` in place, every tensor or an error.

    ``save_pretrained`` writes a model's weights under its checkpoint names (Qwen2.5-VL:
    ``model.layers.*``, ``visual.*``), which ``from_pretrained`` renames to the module's names
    (``model.language_model.layers.*``, ``model.visual.*``). The Trainer's own resume loads the file
    with ``load_state_dict(strict=False)`` and no renaming, so every tensor but ``lm_head`` was
    skipped with a "missing keys" warning and a full fine-tuning run resumed from its starting
    weights. Here the checkpoint goes through ``from_pretrained`` of the model's own class (the same
    renaming as any load; never remote code) and is copied in strictly. It holds a second copy of
    the weights in host memory while it loads.
    """
    from pathreason.api import RunError

    dtype = next(model.parameters()).dtype
    loaded = type(model).from_pretrained(str(folder), dtype=dtype)
    try:
        model.load_state_dict(loaded.state_dict(), strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise RunError(f"checkpoint {folder} does not fit the model being trained ({first}); "
                       "it was written for another model") from None
    finally:
        del loaded
    logger.info("resumed the whole model's weights from %s", folder)


class ResumesWholeModels:
    """Trainer mixin: a full fine-tuning checkpoint is loaded with :func:`load_whole_checkpoint`.

    Adapters (peft), FSDP and DeepSpeed checkpoints keep the Trainer's own loading: their files use
    the module's names already.
    """

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        target = model if model is not None else getattr(self, "model", None)
        from transformers import PreTrainedModel

        if (isinstance(target, PreTrainedModel) and not getattr(self, "is_fsdp_enabled", False)
                and has_whole_model(Path(resume_from_checkpoint))):
            load_whole_checkpoint(target, Path(resume_from_checkpoint))
            return
        super()._load_from_checkpoint(resume_from_checkpoint, model)  # type: ignore[misc]


def run_trainer(trainer: Any, resume_from: Path | None, description: str = "training") -> None:
    """``trainer.train()``, from ``resume_from`` when given, shown as one console line (steps, ETA,
    loss or reward) once :func:`pathreason.console.quiet` took the trainer's own output off the
    console. A checkpoint file torch refuses to unpickle (``optimizer.pt``, ``rng_state.pth`` holding
    more than tensors: a tampered checkpoint) is one error naming the checkpoint, not a traceback."""
    import pickle

    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    try:
        with Phase(description, total=trainer.args.max_steps if trainer.args.max_steps > 0 else None,
                   enabled=is_quiet() and console_enabled()) as bar:
            if is_quiet():  # the metric dicts go to the log file, the steps to the phase's line
                trainer.remove_callback(PrinterCallback)
                trainer.remove_callback(ProgressCallback)
                trainer.add_callback(trainer_callback(bar))
            trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except pickle.UnpicklingError as exc:
        if resume_from is None:
            raise
        from pathreason.api import RunError

        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise RunError(f"checkpoint {resume_from}: refused to load one of its files, which holds more than "
                       f"tensors ({reason}); pathreason's trainer did not write it: delete this checkpoint to "
                       "resume from an earlier one, or train again") from exc


@functools.cache
def _sft_trainer_class() -> Any:
    """Defined on first use (TRL is a heavy import) and once per process."""
    from trl import SFTTrainer

    class PathreasonSFTTrainer(ResumesWholeModels, SFTTrainer):
        """TRL's ``SFTTrainer``, with an optional per-sample loss (every sample weighs the same)."""

        per_sample = False

        def compute_loss(self, model: Any, inputs: Any, return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            if not self.per_sample or return_outputs:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            mode = "train" if model.training else "eval"
            outputs = model(**inputs, use_cache=False, fused_lm_head=True)
            loss = sample_mean_loss(outputs.log_probs, outputs.label_mask)
            if num_items_in_batch is not None:  # Trainer then leaves accumulation averaging to the loss
                loss = loss / self.current_gradient_accumulation_steps
            valid = outputs.label_mask.sum().clamp(min=1)
            self._metrics[mode]["entropy"].append((outputs.entropy.detach().sum() / valid).item())
            self._metrics[mode]["mean_token_accuracy"].append((outputs.is_top1.sum() / valid).item())
            return loss

    return PathreasonSFTTrainer


def train_sft(model: Any, processor: Any, dataset: Any, cfg: RunConfig, output_dir: Path,
              resume_from: Path | None, callbacks: Sequence[Any] = (), description: str = "SFT") -> Any:
    trainer_class = _sft_trainer_class()
    trainer = trainer_class(model=model, args=sft_arguments(cfg, output_dir), train_dataset=dataset,
                            processing_class=processor, callbacks=list(callbacks))
    trainer.per_sample = cfg.sft.loss_per_sample
    run_trainer(trainer, resume_from, description)
    return trainer


@functools.cache
def _grpo_trainer_class() -> Any:
    """Defined on first use (TRL is a heavy import) and once per process."""
    from trl import GRPOTrainer

    class PathreasonGRPOTrainer(ResumesWholeModels, GRPOTrainer):
        """TRL's ``GRPOTrainer``, resuming full fine-tuning with the checkpoint's weights."""

    return PathreasonGRPOTrainer


def train_grpo(model: Any, processor: Any, dataset: Any, reward_funcs: Sequence[Callable[..., Any]],
               reward_weights: Sequence[float], section: GRPOSection, cfg: RunConfig, output_dir: Path,
               resume_from: Path | None, callbacks: Sequence[Any] = (), description: str = "GRPO") -> Any:
    check_vllm(section)
    trainer = _grpo_trainer_class()(model=model, reward_funcs=list(reward_funcs),
                          args=grpo_arguments(section, cfg, output_dir, reward_weights),
                          train_dataset=dataset, processing_class=processor, callbacks=list(callbacks))
    run_trainer(trainer, resume_from, description)
    return trainer
