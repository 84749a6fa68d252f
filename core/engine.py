"""``Engine``: one object that trains and evaluates the task performer and the token allocator.

    >>> from pathreason import Engine                     # doctest: +SKIP
    >>> engine = Engine(task="det")                        # tiny model + synthpath
    >>> engine.train()                                     # SFT -> GRPO (-> allocator)
    >>> report = engine.evaluate()                         # metrics + TPI
    >>> engine.train_allocator()                           # the token allocator (GRPO)
    >>> engine.evaluate(budgeter="allocator")              # two-stage inference

Every task, reward, budgeter, dataset and model comes from the plugin registry; nothing here
knows the first-party ones by name.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason._version import __version__
from pathreason.config import RunConfig
from pathreason.distributed import barrier, device, gather, is_main_process, shard
from pathreason.errors import DataError, RunError
from pathreason.evaluation import EvalReport, Record, Timer, predict_records, summarize, write_predictions
from pathreason.registry import dataset_spec, get_budgeter, model_spec, task_spec
from pathreason.runs import RunDir, RunState
from pathreason.tasks.base import Task, make_view, resize_for_view

if TYPE_CHECKING:
    from pathreason.sample import Sample

logger = logging.getLogger(__name__)

_CONFIG_KEYS_FIXED_BY_CHECKPOINT = ("model", "task", "lora", "budget")


def _same_location(a: str, b: str) -> bool:
    """One base model: the same hub id, or local folders with the same name (e.g. ``tiny-<fingerprint>``)."""
    if a == b:
        return True
    pa, pb = Path(a), Path(b)
    return pa.is_absolute() and pb.is_absolute() and pa.name == pb.name


class Engine:
    """Train (SFT -> GRPO) and evaluate a pathology task performer.

    ``Engine(task=..., model="tiny", dataset="synthpath", output_dir=..., **overrides)`` where
    overrides are nested dicts (``grpo={"beta": 0}``) or double-underscored (``grpo__beta=0``);
    or :meth:`from_config` with a YAML file; or :meth:`load` for an existing run folder. Names are
    validated before any model is loaded.
    """

    def __init__(self, task: str | Sequence[str] | None = None, model: str | None = None,
                 dataset: str | None = None, output_dir: str | Path | None = None, *,
                 config: RunConfig | None = None, **overrides: Any) -> None:
        layer: dict[str, Any] = {}
        if task is not None:
            layer["task"] = task if isinstance(task, str) else list(task)
        if model is not None:
            layer["model"] = model
        if dataset is not None:
            layer["dataset.name"] = dataset
        if output_dir is not None:
            layer["output_dir"] = str(output_dir)
        if config is not None:
            self.config = RunConfig.build(config.model_dump(), layer, overrides, apply_preset=False)
        else:
            self.config = RunConfig.build(layer, overrides)
        self.tasks: dict[str, Task] = {}
        for name in self.config.tasks:
            spec = task_spec(name)
            self.tasks[spec.name] = spec.create()
        self._dataset = dataset_spec(self.config.dataset.name)
        self._model_spec = self._resolve_model_spec()
        self.run = RunDir(self.config.output_dir)
        self._location: str | None = None
        self._processor: Any = None
        self._performer: tuple[str, Any] | None = None  # (phase, model)
        self._dual: tuple[str, Any] | None = None  # (performer phase, DualPolicy) with a trained allocator
        self._sample_cache: dict[tuple[str, int | None], list[Sample]] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, path: str | Path, **overrides: Any) -> Engine:
        return cls(config=RunConfig.from_yaml(path, overrides))

    @classmethod
    def load(cls, run_dir: str | Path, **overrides: Any) -> Engine:
        """A finished or interrupted run, with its saved config (``overrides`` may change e.g. steps)."""
        run = RunDir(run_dir)
        state = run.read_state()
        saved = RunConfig.from_yaml(run.config_path)
        changed = [k for k in _CONFIG_KEYS_FIXED_BY_CHECKPOINT if k in overrides]
        if changed:
            raise RunError(f"{run.path}: {', '.join(changed)} cannot change for an existing run (the checkpoints "
                           "depend on them); start a new run with another output_dir")
        engine = cls(config=saved, output_dir=str(run.path), **overrides)
        engine._check_base(state)
        return engine

    def _resolve_model_spec(self) -> Any:
        from pathreason.errors import UnknownNameError

        try:
            return model_spec(self.config.model)
        except UnknownNameError:
            if Path(self.config.model).expanduser().is_dir() or "/" in self.config.model:
                return None  # a local folder or a hub id
            raise

    @property
    def box_frame(self) -> str:
        return self._model_spec.box_frame if self._model_spec is not None else "absolute"

    # ------------------------------------------------------------------ model
    @property
    def location(self) -> str:
        if self._location is None:
            from pathreason.models.loading import resolve_model

            self._location, _ = resolve_model(self.config.model)
        return self._location

    @property
    def processor(self) -> Any:
        if self._processor is None:
            from pathreason.models.loading import load_processor

            self._processor = load_processor(self.location, trust_remote_code=self.config.trust_remote_code)
        return self._processor

    def _load_base(self) -> Any:
        from pathreason.models.loading import load_model

        return load_model(self.location, trust_remote_code=self.config.trust_remote_code)

    def _load_phase_model(self, phase: str | None, trainable: bool = False) -> Any:
        """The performer after ``phase`` ("sft", "grpo"; None or "base" for the untrained base)."""
        if phase in (None, "base"):
            return self._load_base()
        final = self.run.final_dir(phase)
        if not final.is_dir():
            raise RunError(f"{self.run.path}: phase {phase!r} has no result at {final}; train it first")
        if (final / "adapter_config.json").is_file():
            from peft import PeftModel

            self._check_adapter(final)
            return PeftModel.from_pretrained(self._load_base(), str(final), is_trainable=trainable)
        from pathreason.models.loading import load_model

        return load_model(str(final), trust_remote_code=self.config.trust_remote_code)

    def _check_adapter(self, folder: Path) -> None:
        meta = json.loads((folder / "adapter_config.json").read_text())
        base = meta.get("base_model_name_or_path")
        if base and Path(base).resolve() != Path(self.location).resolve() and base != self.location:
            raise RunError(f"the adapter in {folder} was trained for base model {base!r}, but this run's model "
                           f"{self.config.model!r} resolves to {self.location!r}")

    def _check_base(self, state: RunState) -> None:
        if state.base_model != self.config.model:
            raise RunError(f"{self.run.path} was trained from model {state.base_model!r}, "
                           f"but the config asks for {self.config.model!r}")
        if not _same_location(state.base_location, self.location):
            raise RunError(f"{self.run.path} was trained on the base model at {state.base_location!r}, but "
                           f"{self.config.model!r} now resolves to {self.location!r} (a preset rebuilt by "
                           "another pathreason version?); its checkpoints do not fit this base")

    def performer(self, phase: str | None = None) -> Any:
        """The trained performer for inference (the latest finished phase by default), cached."""
        phase = phase or self.latest_phase()
        if self._performer is None or self._performer[0] != phase:
            model = self._load_phase_model(phase)
            model.to(device())
            model.eval()
            self._performer = (phase, model)
        return self._performer[1]

    def latest_phase(self) -> str:
        state = self.run.read_state() if self.run.is_run() else None
        for phase in ("grpo", "sft"):
            if state and state.phases.get(phase) == "done":
                return phase
        return "base"

    # ------------------------------------------------------------------ data
    def samples(self, split: str, n: int | None = None) -> list[Sample]:
        """Samples of the configured tasks from the dataset plugin (bad records reported by the loader)."""
        key = (split, n)
        if key in self._sample_cache:
            return self._sample_cache[key]
        options = dict(self.config.dataset.options)
        if n is not None:
            options["n"] = n
        if self.config.dataset.root is not None:
            options["root"] = self.config.dataset.root
        elif self._dataset.needs_root:
            raise DataError(f"dataset {self._dataset.name!r} reads a local copy: set dataset.root "
                            f"(e.g. --dataset.root /data/{self._dataset.name})")
        if len(self._dataset.tasks) > 1 and len(self.tasks) == 1 and "task" not in options:
            options["task"] = next(iter(self.tasks))  # one task of a multi-task dataset: load only that
        loaded = list(self._dataset.factory(split=split, **options))
        names = {self._canonical_task(s.task) for s in loaded}
        kept = [s for s in loaded if self._canonical_task(s.task) in self.tasks]
        for s in kept:
            s.task = self._canonical_task(s.task)
        if not kept:
            raise DataError(f"dataset {self._dataset.name!r} split {split!r} has no samples of task(s) "
                            f"{sorted(self.tasks)} (it has {sorted(names)})")
        self._sample_cache[key] = kept
        return kept

    @staticmethod
    def _canonical_task(name: str) -> str:
        from pathreason.errors import UnknownNameError

        try:
            return task_spec(name).name
        except UnknownNameError:
            return name

    def _readable(self, samples: Sequence[Sample]) -> list[tuple[Sample, Any]]:
        """``(sample, image)`` for samples whose image can be read; the others are reported and skipped."""
        out, bad = [], []
        for s in samples:
            try:
                out.append((s, s.load_image()))
            except Exception as exc:  # a corrupt file must not end a run
                bad.append((s.id, s.image_path or "<in memory>", f"{type(exc).__name__}: {exc}"))
        if bad:
            logger.warning("skipped %d sample(s) whose image cannot be read: %s", len(bad),
                           "; ".join(f"{i} ({p}): {e}" for i, p, e in bad[:20]))
        return out

    def _train_budget(self, sample: Sample) -> int | None:
        name = self.config.budget.budgeter
        if name == "static":
            name = f"static:{self.config.budget.train_tokens}"
        budgeter = get_budgeter(name)
        return budgeter.tokens(sample)

    def sft_dataset(self, split: str | None = None) -> Any:
        """The SFT dataset: prompt/completion conversations with the image resized to its budget.

        With ``sft.budget_mix`` each sample also appears at a budget drawn from the mix (so the
        performer learns to answer at every budget the allocator may choose), except samples
        whose difficulty or task is in ``sft.budget_mix_exclude``.
        """
        import datasets

        rng = random.Random(self.config.seed)
        sft = self.config.sft
        rows = []
        for sample, image in self._readable(self.samples(split or self.config.dataset.train_split)):
            task = self.tasks[sample.task]
            budgets = [self._train_budget(sample)]
            excluded = sample.meta.get("difficulty") in sft.budget_mix_exclude or sample.task in sft.budget_mix_exclude
            if sft.budget_mix and not excluded:
                budgets.append(rng.choice(sft.budget_mix))
            for budget in budgets:
                view = make_view(image.size, budget, self.box_frame)
                rows.append({
                    "prompt": task.messages(sample),
                    "completion": [{"role": "assistant",
                                    "content": [{"type": "text", "text": task.target(sample, view)}]}],
                    "images": [resize_for_view(image, view)],
                    "length": view.tokens,  # lets the sampler batch images of one budget together
                })
        rng.shuffle(rows)
        return datasets.Dataset.from_list(rows)

    def grpo_dataset(self, split: str | None = None) -> Any:
        """The GRPO dataset: prompts with the image at the training budget and the reward columns."""
        import datasets

        rows = []
        for sample, image in self._readable(self.samples(split or self.config.dataset.train_split)):
            task = self.tasks[sample.task]
            view = make_view(image.size, self._train_budget(sample), self.box_frame)
            rows.append({"prompt": task.messages(sample), "image": resize_for_view(image, view),
                         "id": sample.id, **task.reward_columns(sample, view)})
        return datasets.Dataset.from_list(rows)

    def reward_functions(self) -> tuple[list[Any], list[float]]:
        """The task rewards of every configured task plus the format reward (design §5.3)."""
        from pathreason.rewards.combine import task_rewards

        names: list[str] = []
        for task in self.tasks.values():
            names += [n for n in task.reward_names if n not in names]
        return task_rewards(names, format_weight=self.config.grpo.format_weight)

    # ------------------------------------------------------------------ allocator
    def _allocator_performer_phase(self) -> str:
        phase = self.latest_phase()
        if phase == "base":
            raise RunError(f"{self.run.path}: the allocator is rewarded by a trained task performer; train one "
                           "first (engine.train() / pathreason train)")
        return phase

    def _dual_policy(self, phase: str, trained: bool, trainable: bool = False) -> Any:
        """The performer of ``phase`` plus the allocator adapter (new, or the trained one)."""
        from pathreason.allocator import build_policy, check_allocator, performer_fingerprint
        from pathreason.models.loading import load_model

        performer_dir = self.run.final_dir(phase)
        if (performer_dir / "adapter_config.json").is_file():
            self._check_adapter(performer_dir)
        allocator_dir = None
        if trained:
            allocator_dir = self.run.final_dir("allocator")
            if not allocator_dir.is_dir():
                raise RunError(f"{self.run.path}: no trained allocator at {allocator_dir}; run "
                               "engine.train_allocator() (pathreason train --allocator.enabled true) first")
            check_allocator(allocator_dir, phase, performer_fingerprint(performer_dir), self.location)
        return build_policy(performer_dir, self._load_base,
                            lambda path: load_model(path, trust_remote_code=self.config.trust_remote_code),
                            self.config.allocator, allocator_dir, trainable)

    def allocator_rows(self, split: str | None = None) -> list[dict[str, Any]]:
        """Allocation prompts: the image as the allocator sees it, with ``id``, ``n0`` and ``native``."""
        return self._allocator_rows(self._readable(self.samples(split or self.config.dataset.train_split)))

    def _allocator_rows(self, readable: Sequence[tuple[Sample, Any]]) -> list[dict[str, Any]]:
        from pathreason.allocator import allocation_messages, allocator_input

        rows = []
        for sample, image in readable:
            a = allocator_input(image, self.config.allocator, self.config.budget.train_tokens, self.config.budget.patch)
            rows.append({"prompt": allocation_messages(self.tasks[sample.task], sample, a.n0, a.native),
                         "image": a.image, "id": sample.id, "task": sample.task, "n0": a.n0, "native": a.native,
                         "view_tokens": a.view_tokens, "rationale": self.tasks[sample.task].rationale(sample)})
        return rows

    def allocation_reward(self, policy: Any, split: str | None = None) -> Any:
        """The allocator's reward object, scoring the frozen performer of ``policy`` (batched, cached)."""
        return self._allocation_reward(policy, self._readable(self.samples(split or self.config.dataset.train_split)))

    def _allocation_reward(self, policy: Any, readable: Sequence[tuple[Sample, Any]]) -> Any:
        from pathreason.allocator import AllocationReward, PerformerScorer, performer_generate

        run = performer_generate(policy, self.processor, self.config.grpo.max_completion_length, one_batch=True)
        scorer = PerformerScorer(run, self.tasks, {s.id: (s, img) for s, img in readable}, self.box_frame,
                                 self.config.budget.patch)
        return AllocationReward(scorer, self.config.allocator.rule, self.config.allocator.lam)

    def train_allocator(self, resume: bool = False) -> Engine:
        """Train the token allocator (a second LoRA, GRPO) against the latest trained performer."""
        state = self._begin(resume, "allocator")
        self._train_allocator(state, resume)
        return self

    def _train_allocator(self, state: RunState, resume: bool) -> None:
        import datasets

        from pathreason.allocator import oracle_targets, performer_fingerprint, save_allocator, warmup_rows
        from pathreason.registry import get_reward
        from pathreason.training import train_grpo, train_sft

        phase = self._allocator_performer_phase()
        section = self.config.allocator
        logger.info("allocator phase (performer: %s): %s", phase, self.run.phase_dir("allocator"))
        policy = self._dual_policy(phase, trained=False)
        readable = self._readable(self.samples(self.config.dataset.train_split))  # decoded once, for both
        rows = self._allocator_rows(readable)
        reward = self._allocation_reward(policy, readable)
        history: list[dict[str, Any]] = []
        if section.warmup_steps:
            warm_rows, targets = rows[:section.warmup_samples], None  # None: all of them
            if section.warmup_target == "oracle":
                targets = oracle_targets(reward.scorer, [r["id"] for r in warm_rows], section.candidates)
                counts = Counter(targets.values())
                history.append({"stage": "warmup_targets", "performer_generate_calls": reward.scorer.generate_calls,
                                **{f"budget_{n}": counts[n] for n in sorted(counts)}})
                logger.info("allocator warm-up: oracle budgets of %d images: %s", len(targets), dict(sorted(counts.items())))
            warm_cfg = self.config.model_copy(update={"sft": self.config.sft.model_copy(update={
                "max_steps": section.warmup_steps, "budget_mix": None, "lr_scheduler_type": section.lr_scheduler_type,
                "learning_rate": section.warmup_learning_rate or section.learning_rate,
                "per_device_train_batch_size": section.per_device_train_batch_size, "warmup_ratio": 0.1,
                "save_steps": max(section.warmup_steps, 1), "logging_steps": section.logging_steps})})
            warm = train_sft(policy.model, self.processor,
                             datasets.Dataset.from_list(warmup_rows(warm_rows, section.candidates, self.config.seed,
                                                                    targets)),
                             warm_cfg, self.run.phase_dir("allocator") / "warmup", None)
            history += [{**r, "stage": "warmup"} for r in warm.state.log_history]
            policy.model.set_adapter("allocator")
            if is_main_process():  # kept for inspection: what GRPO starts from
                save_allocator(policy.model, self.run.phase_dir("allocator") / "warmup" / "final",
                               {"stage": "warmup", "performer_phase": phase})
        warm_calls = reward.scorer.generate_calls  # the oracle's; those of GRPO are counted on their own
        data = datasets.Dataset.from_list([{k: v for k, v in r.items() if k not in ("view_tokens", "rationale")}
                                           for r in rows])
        trainer = train_grpo(policy.model, self.processor, data, [reward, get_reward("format")],
                             [1.0, section.format_weight], section, self.config,
                             self.run.phase_dir("allocator"),
                             self.run.last_checkpoint("allocator") if resume else None)
        history += trainer.state.log_history
        history.append({"stage": "reward", "performer_generate_calls": reward.scorer.generate_calls - warm_calls,
                        "performer_generations": reward.scorer.generated, "cache_size": len(reward.scorer.cache)})
        if is_main_process():
            save_allocator(policy.model, self.run.final_dir("allocator"), {
                "performer_phase": phase, "performer_fingerprint": performer_fingerprint(self.run.final_dir(phase)),
                "base_location": self.location, "rule": section.rule, "lam": section.lam, "view": section.view,
                "version": __version__})
            state.phases["allocator"] = "done"
            self.run.write_log("allocator", history)
            self.run.write_state(state)
        barrier()
        self._dual = None

    def allocator_policy(self, phase: str | None = None) -> Any:
        """The trained allocator with its performer, one model in memory (cached)."""
        phase = phase or self._allocator_performer_phase()
        if self._dual is None or self._dual[0] != phase:
            policy = self._dual_policy(phase, trained=True)
            policy.model.to(device())
            policy.model.eval()
            self._dual = (phase, policy)
        return self._dual[1]

    # ------------------------------------------------------------------ training
    def _begin(self, resume: bool, phase: str | None = None) -> RunState:
        """Open (or create) the run folder. Without ``resume`` an existing run is refused, unless
        ``phase`` names the one phase about to run and it has not started there yet."""
        if self.run.is_run():
            state = self.run.read_state()
            self._check_base(state)
            saved = RunConfig.from_yaml(self.run.config_path)
            diff = [k for k in _CONFIG_KEYS_FIXED_BY_CHECKPOINT if getattr(saved, k) != getattr(self.config, k)]
            if diff:
                raise RunError(f"{self.run.path} holds a run whose {', '.join(diff)} differ from this config; "
                               "use another output_dir")
            started = [phase] if phase else [*state.phases, "sft", "grpo", "allocator"]
            if not resume and any(state.phases.get(p) or self.run.last_checkpoint(p) for p in started):
                raise RunError(f"{self.run.path} already holds a run (phases done: "
                               f"{sorted(state.phases) or 'none'}); pass resume=True (--resume) to continue it, "
                               "or choose another output_dir")
        else:
            state = RunState(version=__version__, base_model=self.config.model, base_location=self.location)
        barrier()  # every process has read the folder before the main one writes it
        if is_main_process():
            self.run.path.mkdir(parents=True, exist_ok=True)
            self.config.to_yaml(self.run.config_path)
            self.run.write_state(state)
        barrier()
        return state

    def _finish_phase(self, state: RunState, phase: str, trainer: Any) -> None:
        final = self.run.final_dir(phase)
        trainer.save_model(str(final))  # on every process (ZeRO-3/FSDP gather the weights); the main one writes
        state.phases[phase] = "done"
        if is_main_process():
            self.run.write_log(phase, trainer.state.log_history)
            self.run.write_state(state)
        barrier()  # the next phase loads this one's result
        self._performer = None

    def _policy_for_sft(self) -> Any:
        model = self._load_base()
        if self.config.lora is None:
            if self.config.sft.freeze_vision:
                from pathreason.training import freeze_vision

                freeze_vision(model)
            return model
        from peft import get_peft_model

        from pathreason.training import lora_config

        return get_peft_model(model, lora_config(self.config.lora))

    def _policy_for_grpo(self, state: RunState) -> Any:
        if state.phases.get("sft") == "done":
            model = self._load_phase_model("sft", trainable=True)
        else:
            model = self._policy_for_sft()
        if self.config.lora is None and self.config.sft.freeze_vision:
            from pathreason.training import freeze_vision

            freeze_vision(model)
        return model

    def sft(self, resume: bool = False) -> Engine:
        """LoRA (or full) SFT with TRL's ``SFTTrainer``; loss on the answer only."""
        state = self._begin(resume, "sft")
        self._sft(state, resume)
        return self

    def _sft(self, state: RunState, resume: bool) -> None:
        from pathreason.training import train_sft

        logger.info("SFT phase: %s", self.run.phase_dir("sft"))
        trainer = train_sft(self._policy_for_sft(), self.processor, self.sft_dataset(), self.config,
                            self.run.phase_dir("sft"), self.run.last_checkpoint("sft") if resume else None)
        self._finish_phase(state, "sft", trainer)

    def grpo(self, resume: bool = False) -> Engine:
        """LoRA (or full) GRPO with TRL's ``GRPOTrainer``, from the SFT result, with the task rewards."""
        state = self._begin(resume, "grpo")
        self._grpo(state, resume)
        return self

    def _grpo(self, state: RunState, resume: bool) -> None:
        from pathreason.training import train_grpo

        logger.info("GRPO phase: %s", self.run.phase_dir("grpo"))
        funcs, weights = self.reward_functions()
        trainer = train_grpo(self._policy_for_grpo(state), self.processor, self.grpo_dataset(), funcs, weights,
                             self.config.grpo, self.config, self.run.phase_dir("grpo"),
                             self.run.last_checkpoint("grpo") if resume else None)
        self._finish_phase(state, "grpo", trainer)

    def train(self, resume: bool = False) -> Engine:
        """The paper's phases: SFT, then GRPO (each skippable with ``sft.enabled`` / ``grpo.enabled``),
        then the token allocator when ``allocator.enabled``.

        With ``resume=True`` finished phases are skipped and an interrupted one continues from its
        last checkpoint.
        """
        if self.config.grpo.enabled:
            from pathreason.training import check_vllm

            check_vllm(self.config.grpo)  # before SFT, not hours later
        state = self._begin(resume)
        if self.config.sft.enabled and state.phases.get("sft") != "done":
            self._sft(state, resume)
        if self.config.grpo.enabled and state.phases.get("grpo") != "done":
            self._grpo(state, resume)
        if self.config.allocator.enabled and state.phases.get("allocator") != "done":
            self._train_allocator(state, resume)
        return self

    # ------------------------------------------------------------------ inference
    def _generate_fn(self, phase: str | None, max_new_tokens: int) -> Any:
        from pathreason.inference import generate

        model = self.performer(phase)
        processor = self.processor

        def run(convs: list[list[dict[str, Any]]], images: list[Any]) -> list[Any]:
            return generate(model, processor, convs, images, max_new_tokens=max_new_tokens)

        return run

    def evaluate(self, split: str | None = None, budgeter: str = "static", n: int | None = None,
                 phase: str | None = None, max_new_tokens: int | None = None, batch_size: int = 16,
                 write: bool = True, progress: bool = True) -> EvalReport:
        """Run the performer over a split and report the paper's metrics and TPI per task.

        ``budgeter`` is a budgeter name (``"static:128"``, ``"native"``); plain ``"static"`` uses the
        training budget. ``phase`` picks the performer ("base", "sft", "grpo"; default the latest).
        Writes ``eval/<phase>-<budgeter>/predictions.jsonl`` and ``report.json`` in the run folder.
        Under several processes each generates for its share of the samples and all get the report.
        """
        split = split or self.config.dataset.eval_split
        phase = phase or self.latest_phase()
        name = f"static:{self.config.budget.train_tokens}" if budgeter == "static" else budgeter
        budget_policy = get_budgeter(name)
        samples = self.samples(split, n)  # images are decoded once, in predict_records (bad ones skipped there)
        mine = [samples[i] for i in shard(range(len(samples)))]
        max_new = max_new_tokens or self.config.grpo.max_completion_length
        with Timer() as timer:
            if getattr(budget_policy, "needs_engine", False):  # two-stage: the allocator, then the performer
                bound = budget_policy.bind(self, phase)
                readable = self._readable(mine)
                mine = [s for s, _ in readable]
                allocations = bound.allocate(mine, [img for _, img in readable], batch_size)
                local = predict_records(bound.generate_fn(max_new), self.tasks, mine, [a.budget for a in allocations],
                                        self.box_frame, batch_size, progress and is_main_process(),
                                        decoded=[img for _, img in readable])
                by_id = {s.id: a for s, a in zip(mine, allocations)}
                for record in local:
                    record.extra.update(by_id[record.id].as_extra())
            else:
                local = predict_records(self._generate_fn(phase, max_new), self.tasks, mine,
                                        [budget_policy.tokens(s) for s in mine], self.box_frame, batch_size,
                                        progress and is_main_process())
            records = gather(local)
        report = EvalReport(budgeter=name, split=split, phase=phase, tasks=summarize(records, samples, self.tasks),
                            seconds_per_image=timer.seconds / max(1, len(records)), n=len(records), records=records)
        if write and is_main_process():
            out = self.run.path / "eval" / f"{phase}-{name.replace(':', '')}-{split}"
            write_predictions(records, out / "predictions.jsonl")
            (out / "report.json").write_text(json.dumps(report.as_dict(), indent=2))
        return report

    def predict(self, image: Any, question: str = "", options: Sequence[str] = (), task: str | None = None,
                budgeter: str = "static", phase: str | None = None, meta: Mapping[str, Any] | None = None,
                max_new_tokens: int | None = None) -> Record:
        """One answer with its rationale and the visual tokens used."""
        from pathreason.sample import Sample

        name = self._canonical_task(task) if task else next(iter(self.tasks))
        if name not in self.tasks:
            self.tasks[name] = task_spec(name).create()
        sample = Sample(id="predict", image=image, task=name, question=question, options=list(options),
                        meta=dict(meta or {}))
        policy = get_budgeter(f"static:{self.config.budget.train_tokens}" if budgeter == "static" else budgeter)
        max_new = max_new_tokens or self.config.grpo.max_completion_length
        if getattr(policy, "needs_engine", False):  # two-stage: the allocator picks the budget first
            bound = policy.bind(self, phase)
            image = sample.load_image()
            (allocation,) = bound.allocate([sample], [image], 1)
            (record,) = predict_records(bound.generate_fn(max_new), self.tasks, [sample], [allocation.budget],
                                        self.box_frame, 1, False, decoded=[image])
            record.extra.update(allocation.as_extra())
        else:
            (record,) = predict_records(self._generate_fn(phase, max_new), self.tasks, [sample],
                                        [policy.tokens(sample)], self.box_frame, 1, False)
        from pathreason.rewards.parsing import completion_text

        text = completion_text(record.completion)
        think = text.split("<think>", 1)[-1].split("</think>", 1)[0].strip() if "<think>" in text else ""
        record.extra["rationale"] = think
        return record

    def ablate_budget(self, budgets: Sequence[int] | None = None, allocator: bool | None = None,
                      split: str | None = None, n: int | None = None, phase: str | None = None,
                      output: str | Path | None = None, progress: bool = True) -> Any:
        """The paper's Table 6: ``static:N`` for each budget and the trained allocator (when there is one),
        with the oracle TPI; writes a Markdown table, JSON and an accuracy-vs-TPI plot. ``budgets``
        defaults to ``allocator.candidates``."""
        from pathreason.ablation import ablate

        return ablate(self, budgets or self.config.allocator.candidates, allocator, split, n, phase, Path(output) if output else None, progress)

    def __repr__(self) -> str:
        return (f"Engine(task={self.config.task!r}, model={self.config.model!r}, "
                f"dataset={self.config.dataset.name!r}, output_dir={self.config.output_dir!r})")
