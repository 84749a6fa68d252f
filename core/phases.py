"""The task performer's training phases, SFT then GRPO, over a run folder.

:class:`Phases` checks the run folder (refusing one that holds another run), builds each phase's
policy (LoRA or full fine-tuning), hands TRL its rows and rewards, resumes from the last checkpoint
when asked, and records each finished phase. The folder's ``config.yaml`` and ``state.json`` are
written only once a phase is about to train (:meth:`Phases.start`): a command that fails before
(a typo, a missing dataset, a model that does not load) leaves no run behind that a corrected
command would have to match. The TRL wiring itself is :mod:`pathreason.training`;
the token allocator's phase is :mod:`pathreason.allocator.training`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pathreason._version import __version__
from pathreason.api import RunError, Task
from pathreason.config import RunConfig
from pathreason.distributed import barrier, is_main_process
from pathreason.runs import RunState

if TYPE_CHECKING:
    from pathreason.models.store import ModelStore
    from pathreason.runs import RunDir
    from pathreason.sources import SampleSource

logger = logging.getLogger(__name__)

#: Settings a run's checkpoints depend on: they cannot change once it has started.
FIXED_BY_CHECKPOINT = ("model", "task", "lora", "budget")
#: The phases of a run, in order.
PHASES = ("sft", "grpo", "allocator")


def _fixed_value(config: RunConfig, key: str) -> Any:
    """A fixed setting as the checkpoints see it: task aliases ("sub") are their task's name."""
    value = getattr(config, key)
    if key == "task":
        from pathreason.api import UnknownNameError
        from pathreason.registry import task_spec

        names = []
        for name in config.tasks:
            try:
                names.append(task_spec(name).name)
            except (UnknownNameError, ValueError):
                names.append(name)
        return sorted(names)
    return value


def fixed_changes(saved: RunConfig, config: RunConfig) -> list[str]:
    """The settings of :data:`FIXED_BY_CHECKPOINT` on which ``config`` differs from a run's ``saved`` one."""
    return [k for k in FIXED_BY_CHECKPOINT if _fixed_value(saved, k) != _fixed_value(config, k)]


class Phases:
    """SFT and GRPO of the task performer for one run (see the module docstring)."""

    def __init__(self, config: RunConfig, run: RunDir, models: ModelStore, source: SampleSource,
                 tasks: Mapping[str, Task]) -> None:
        self.config = config
        self.run = run
        self.models = models
        self.source = source
        self.tasks = tasks
        self._written = False  # this command has written config.yaml and state.json (:meth:`start`)

    # ------------------------------------------------------------------ the run folder
    def latest(self) -> str:
        """The latest finished performer phase: "grpo", "sft", or "base" when none is."""
        state = self.run.read_state() if self.run.is_run() else None
        for phase in ("grpo", "sft"):
            if state and state.phases.get(phase) == "done":
                return phase
        return "base"

    def trained(self, state: RunState) -> bool:
        """Whether the run folder holds trained work: a finished phase or a checkpoint."""
        return any(state.phases.get(p) or self.run.last_checkpoint(p) for p in PHASES)

    def begin(self, resume: bool, phase: str | None = None) -> RunState:
        """Check the run folder and return its state; nothing is written (:meth:`start` does that).

        A folder holding trained work must have been trained on this model, task, LoRA and budget;
        without ``resume`` it is refused, unless ``phase`` names the one phase about to run and it has
        not started there yet. A folder holding no trained work (a command failed before its first
        phase began) is simply taken over."""
        self._written = False
        fresh = RunState(version=__version__, base_model=self.config.model, base_location=self.models.location)
        if not self.run.is_run():
            return fresh
        state = self.run.read_state()
        if not self.trained(state):
            return fresh
        self.models.check_base(state)
        saved = RunConfig.from_yaml(self.run.config_path)
        diff = fixed_changes(saved, self.config)
        if diff:
            raise RunError(f"{self.run.path} holds a run whose {', '.join(diff)} differ from this config; "
                           "use another output_dir")
        started = [phase] if phase else [*state.phases, *PHASES]
        if not resume and any(state.phases.get(p) or self.run.last_checkpoint(p) for p in started):
            raise RunError(f"{self.run.path} already holds a run (phases done: "
                           f"{sorted(state.phases) or 'none'}); pass resume=True (--resume) to continue it, "
                           "or choose another output_dir")
        return state

    def start(self, state: RunState) -> None:
        """Write the run's ``config.yaml`` and ``state.json`` when the command's first phase is about to
        train, its model and data ready (the main process writes, the others wait); a later phase of the
        same command finds them written."""
        if self._written:
            return
        barrier()  # every process has read the folder before the main one writes it
        if is_main_process():
            self.config.to_yaml(self.run.config_path)
            self.run.write_state(state)
        barrier()
        self._written = True

    def finish(self, state: RunState, phase: str, trainer: Any) -> None:
        """Save a phase's result and mark it done (every process saves: ZeRO-3/FSDP gather the weights)."""
        trainer.save_model(str(self.run.final_dir(phase)))
        state.phases[phase] = "done"
        if is_main_process():
            self.run.write_log(phase, trainer.state.log_history)
            self.run.write_state(state)
        barrier()  # the next phase loads this one's result
        self.models.forget()

    # ------------------------------------------------------------------ policies
    def _freeze_vision(self, model: Any) -> None:
        if self.config.lora is None and self.config.sft.freeze_vision:
            from pathreason.training import freeze_vision

            freeze_vision(model)

    def sft_policy(self) -> Any:
        """The base model, with a new LoRA adapter (or its vision tower frozen for full fine-tuning)."""
        model = self.models.base()
        if self.config.lora is None:
            self._freeze_vision(model)
            return model
        from peft import get_peft_model
        from transformers import set_seed

        from pathreason.training import lora_config

        set_seed(self.config.seed)  # the adapter's initial weights are the run's (the Trainer seeds only later)
        return get_peft_model(model, lora_config(self.config.lora))

    def grpo_policy(self, state: RunState) -> Any:
        """GRPO starts from the SFT result (trainable), or from the base when SFT was skipped."""
        model = self.models.phase("sft", trainable=True) if state.phases.get("sft") == "done" else self.sft_policy()
        self._freeze_vision(model)
        return model

    # ------------------------------------------------------------------ phases
    def sft(self, state: RunState, resume: bool) -> None:
        """LoRA (or full) SFT with TRL's ``SFTTrainer``; loss on the answer only."""
        import datasets

        from pathreason.rows import sft_rows
        from pathreason.training import train_sft

        logger.info("SFT phase: %s", self.run.phase_dir("sft"))
        samples, images = self.source.decoded(self.config.dataset.train_split)
        rows = sft_rows(self.config, self.tasks, samples, images, self.models.box_frame)
        policy = self.sft_policy()
        self.start(state)
        trainer = train_sft(policy, self.models.processor, datasets.Dataset.from_list(rows), self.config,
                            self.run.phase_dir("sft"), self.run.last_checkpoint("sft") if resume else None)
        self.finish(state, "sft", trainer)

    def reward_functions(self) -> tuple[list[Any], list[float]]:
        """Each task's rewards (or ``grpo.rewards`` when set), then the format reward, with their
        weights (λ_f = ``grpo.format_weight``)."""
        from pathreason.training import reward_functions

        names = self.config.grpo.rewards or [name for task in self.tasks.values() for name in task.reward_names]
        return reward_functions(names, self.config.grpo.format_reward, self.config.grpo.format_weight)

    def grpo(self, state: RunState, resume: bool) -> None:
        """LoRA (or full) GRPO with TRL's ``GRPOTrainer``, from the SFT result, with the task rewards."""
        import datasets

        from pathreason.rows import grpo_rows
        from pathreason.training import train_grpo

        logger.info("GRPO phase: %s", self.run.phase_dir("grpo"))
        funcs, weights = self.reward_functions()
        samples, images = self.source.decoded(self.config.dataset.train_split)
        rows = grpo_rows(self.config, self.tasks, samples, images, self.models.box_frame)
        policy = self.grpo_policy(state)
        self.start(state)
        trainer = train_grpo(policy, self.models.processor, datasets.Dataset.from_list(rows), funcs,
                             weights, self.config.grpo, self.config, self.run.phase_dir("grpo"),
                             self.run.last_checkpoint("grpo") if resume else None)
        self.finish(state, "grpo", trainer)


__all__ = ["FIXED_BY_CHECKPOINT", "PHASES", "Phases", "fixed_changes"]
