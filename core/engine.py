"""``Engine``: the one object users hold; a facade over the runtime.

    >>> from pathreason import Engine                     # doctest: +SKIP
    >>> engine = Engine(task="det")                        # tiny model + synthpath
    >>> engine.train()                                     # SFT -> GRPO (-> allocator)
    >>> report = engine.evaluate()                         # metrics + TPI
    >>> engine.train_allocator()                           # the token allocator (GRPO)
    >>> engine.evaluate(budgeter="allocator")              # two-stage inference

What it delegates to: the run configuration (:mod:`pathreason.config`), the run folder
(:mod:`pathreason.runs`), the models (:mod:`pathreason.models.store`), the samples
(:mod:`pathreason.sources`), the performer's phases (:mod:`pathreason.phases`), the allocator's phase
(:mod:`pathreason.allocator.training`), evaluation (:mod:`pathreason.evaluation`, one path for every
budgeter), the budget ablation (:mod:`pathreason.ablation`), and the run as budgeters see it
(:mod:`pathreason.context`). Every task, reward, budgeter, dataset and model comes from the plugin
registry; nothing here knows one by name.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import ConfigError, RunError, Sample, Task
from pathreason.config import RunConfig, check_names
from pathreason.context import RunContext
from pathreason.distributed import gather, is_main_process, shard
from pathreason.models.store import ModelStore
from pathreason.phases import FIXED_BY_CHECKPOINT, Phases, fixed_changes
from pathreason.registry import get_budgeter, task_spec
from pathreason.runs import RunDir, atomic_path, atomic_write_text, check_writable
from pathreason.sources import SampleSource, canonical_task

if TYPE_CHECKING:
    from pathreason.ablation import AblationReport
    from pathreason.evaluation import EvalReport, Record
    from pathreason.slides import SlideReport

logger = logging.getLogger(__name__)


class Engine:
    """Train (SFT -> GRPO) and evaluate a pathology task performer, and its token allocator.

    ``Engine(task=..., model="tiny", dataset="synthpath", output_dir=..., **overrides)`` where
    overrides are nested dicts (``grpo={"beta": 0}``) or double-underscored (``grpo__beta=0``);
    or :meth:`from_config` with a YAML file; or :meth:`load` for an existing run folder. Names are
    validated before any model is loaded. ``model`` is a preset, a local ``save_pretrained`` folder
    or a Hugging Face Hub id.

    ``trust_remote_code=True`` lets ``from_pretrained`` run the Python files a model folder or hub
    repository ships (transformers' option of that name): anyone who can write that folder, or a run
    folder's phase results, can then run code as you. It is an option of this engine only and is
    never read from a config file; leave it off unless you need a model family that requires it
    and trust its source.
    """

    def __init__(self, task: str | Sequence[str] | None = None, model: str | None = None,
                 dataset: str | None = None, output_dir: str | Path | None = None, *,
                 config: RunConfig | None = None, trust_remote_code: bool = False, **overrides: Any) -> None:
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
            try:
                spec = task_spec(name)
            except ValueError as exc:  # not even a plugin name ("[]", "a b")
                raise ConfigError(f"task {name!r}: {exc}") from None
            self.tasks[spec.name] = spec.create()
        check_names(self.config, self.tasks)
        if Path(self.config.model).expanduser().is_dir():  # a local model folder: where it is, wherever we run
            self.config.model = str(Path(self.config.model).expanduser().resolve())
        #: Settings a loaded run's saved config had otherwise (:meth:`load`): ``{field: (saved, now)}``.
        self.changed_settings: dict[str, tuple[Any, Any]] = {}
        self.run = RunDir(self.config.output_dir)
        self.models = ModelStore(self.config, self.run, trust_remote_code=trust_remote_code)
        self.source = SampleSource(self.config.dataset, self.tasks)
        self.phases = Phases(self.config, self.run, self.models, self.source, self.tasks)
        self.context = RunContext(self.config, self.run, self.models, self.source, self.tasks, self.phases)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, path: str | Path, *, trust_remote_code: bool = False, **overrides: Any) -> Engine:
        return cls(config=RunConfig.from_yaml(path, overrides), trust_remote_code=trust_remote_code)

    @classmethod
    def load(cls, run_dir: str | Path, *, trust_remote_code: bool = False, **overrides: Any) -> Engine:
        """A finished or interrupted run with its saved config; ``overrides`` change it for this engine
        (e.g. ``sft={"max_steps": 500}`` to train on), except the settings its checkpoints depend on
        (:data:`~pathreason.phases.FIXED_BY_CHECKPOINT`), which may only be repeated. What changed
        is logged as a warning, shown on the console ("resuming with changed settings") and kept in :attr:`changed_settings`; training
        saves it to the run's ``config.yaml``."""
        from pathreason.config import config_changes

        run = RunDir(run_dir)
        state = run.read_state()
        saved = RunConfig.from_yaml(run.config_path)
        engine = cls(config=saved, output_dir=str(run.path), trust_remote_code=trust_remote_code, **overrides)
        changed = fixed_changes(saved, engine.config)
        if changed:
            raise RunError(f"{run.path}: {', '.join(changed)} cannot change for an existing run (the checkpoints "
                           "depend on them); start a new run with another output_dir")
        for key in FIXED_BY_CHECKPOINT:  # repeated, perhaps as an alias ("sub"): the run keeps its own spelling
            setattr(engine.config, key, getattr(saved, key))
        engine.changed_settings = config_changes(saved, engine.config)
        if engine.changed_settings:
            logger.warning("%s: resuming with changed settings: %s", run.path, ", ".join(
                f"{key} {old!r} -> {new!r}" for key, (old, new) in engine.changed_settings.items()))
        engine.models.check_base(state)
        return engine

    # ------------------------------------------------------------------ what the run holds
    @property
    def box_frame(self) -> str:
        return self.models.box_frame

    @property
    def processor(self) -> Any:
        return self.models.processor

    def latest_phase(self) -> str:
        """The latest finished performer phase: "grpo", "sft" or "base"."""
        return self.phases.latest()

    def performer(self, phase: str | None = None) -> Any:
        """The trained performer for inference (the latest finished phase by default), cached."""
        return self.models.performer(phase or self.latest_phase())

    def samples(self, split: str, n: int | None = None) -> list[Sample]:
        """Samples of the configured tasks from the dataset plugin (bad records reported by the loader)."""
        return self.source.samples(split, n)

    def sft_dataset(self, split: str | None = None) -> Any:
        """The SFT rows handed to TRL (:func:`pathreason.rows.sft_rows`), as a ``datasets.Dataset``."""
        import datasets

        from pathreason.rows import sft_rows

        samples, images = self.source.decoded(split or self.config.dataset.train_split)
        return datasets.Dataset.from_list(sft_rows(self.config, self.tasks, samples, images, self.box_frame))

    def grpo_dataset(self, split: str | None = None) -> Any:
        """The GRPO rows handed to TRL (:func:`pathreason.rows.grpo_rows`), as a ``datasets.Dataset``."""
        import datasets

        from pathreason.rows import grpo_rows

        samples, images = self.source.decoded(split or self.config.dataset.train_split)
        return datasets.Dataset.from_list(grpo_rows(self.config, self.tasks, samples, images, self.box_frame))

    def reward_functions(self) -> tuple[list[Any], list[float]]:
        """The reward callables and weights GRPO uses."""
        return self.phases.reward_functions()

    def allocator_rows(self, split: str | None = None) -> list[dict[str, Any]]:
        """The allocator's GRPO rows (:func:`pathreason.allocator.inputs.allocator_rows`)."""
        from pathreason.allocator.inputs import allocator_rows

        samples, images = self.source.decoded(split or self.config.dataset.train_split)
        return allocator_rows(self.config.allocator, self.tasks, samples, images, self.config.budget.train_tokens,
                              self.config.budget.patch)

    def allocation_reward(self, policy: Any, split: str | None = None) -> Any:
        """The allocator's reward over ``split``, scoring the frozen performer of ``policy``."""
        from pathreason.allocator.training import allocation_reward

        samples, images = self.source.decoded(split or self.config.dataset.train_split)
        return allocation_reward(self.config, policy, self.processor, self.tasks, samples, images, self.box_frame)

    def allocator_policy(self, phase: str | None = None) -> Any:
        """The trained allocator with its performer, one model in memory (cached)."""
        return self.context.allocator(phase).policy

    # ------------------------------------------------------------------ training
    @contextlib.contextmanager
    def _writing(self, command: str) -> Iterator[None]:
        """Hold the run folder's write lock while ``command`` writes it (:class:`pathreason.runs.RunLock`):
        a second command writing the same folder is refused, naming this one. Under several processes
        the main one holds it (the others write nothing of their own)."""
        if not is_main_process():
            yield
            return
        with self.run.lock(command):
            yield

    def train(self, resume: bool = False) -> Engine:
        """The paper's phases: SFT, then GRPO (each skippable with ``sft.enabled`` / ``grpo.enabled``),
        then the token allocator when ``allocator.enabled``. With ``resume=True`` finished phases are
        skipped and an interrupted one continues from its last checkpoint."""
        if self.config.grpo.enabled:
            from pathreason.training import check_vllm

            check_vllm(self.config.grpo)  # before SFT, not hours later
        with self._writing("train"):
            state = self.phases.begin(resume)
            if self.config.sft.enabled and state.phases.get("sft") != "done":
                self.phases.sft(state, resume)
            if self.config.grpo.enabled and state.phases.get("grpo") != "done":
                self.phases.grpo(state, resume)
            if self.config.allocator.enabled and state.phases.get("allocator") != "done":
                self._train_allocator(state, resume)
        return self

    def sft(self, resume: bool = False) -> Engine:
        """LoRA (or full) SFT with TRL's ``SFTTrainer``; loss on the answer only."""
        with self._writing("sft"):
            self.phases.sft(self.phases.begin(resume, "sft"), resume)
        return self

    def grpo(self, resume: bool = False) -> Engine:
        """LoRA (or full) GRPO with TRL's ``GRPOTrainer``, from the SFT result, with the task rewards."""
        with self._writing("grpo"):
            self.phases.grpo(self.phases.begin(resume, "grpo"), resume)
        return self

    def train_allocator(self, resume: bool = False) -> Engine:
        """Train the token allocator (a second LoRA, GRPO) against the latest trained performer."""
        with self._writing("train-allocator"):
            self._train_allocator(self.phases.begin(resume, "allocator"), resume)
        return self

    def _train_allocator(self, state: Any, resume: bool) -> None:
        from pathreason.allocator.training import train_allocator

        phase = self.latest_phase()
        self.phases.start(state)
        train_allocator(self.config, self.run, self.models, self.source, self.tasks, state, phase, resume)
        self.context.forget()

    # ------------------------------------------------------------------ inference
    def _budgeter(self, name: str | None) -> str:
        return self.config.budgeter_name(name or self.config.evaluation.budgeter)

    def evaluate(self, split: str | None = None, budgeter: str | None = None, n: int | None = None,
                 phase: str | None = None, max_new_tokens: int | None = None, batch_size: int | None = None,
                 write: bool = True, progress: bool = True) -> EvalReport:
        """Run the performer over a split under a budgeter; report the paper's metrics and TPI per task.

        ``budgeter`` is a budgeter name (``"static:128"``, ``"native"``, ``"allocator"``; default
        ``evaluation.budgeter``). ``phase`` picks the performer ("base", "sft", "grpo"; default the
        latest). Writes ``eval/<phase>-<budgeter>-<split>/predictions.jsonl``, ``report.json``, ``index.html``,
        each whole or not at all, under the run folder's write lock; the folder is checked writable
        before the first sample is answered. Under several processes each answers its share of the
        samples and all get the report.
        """
        split = split or self.config.dataset.eval_split
        phase = phase or self.latest_phase()
        name = self._budgeter(budgeter)
        if not (write and is_main_process()):
            return self._evaluate(split, name, n, phase, max_new_tokens, batch_size, None, progress)
        out = self.run.path / "eval" / f"{phase}-{name.replace(':', '')}-{split}"
        with self._writing("eval"):
            check_writable(out)
            return self._evaluate(split, name, n, phase, max_new_tokens, batch_size, out, progress)

    def _evaluate(self, split: str, name: str, n: int | None, phase: str, max_new_tokens: int | None,
                  batch_size: int | None, out: Path | None, progress: bool) -> EvalReport:
        from pathreason.evaluation import (
            EvalReport,
            Timer,
            bind,
            predict_records,
            summarize,
            write_predictions,
        )

        context = self.context.configure(max_new_tokens, batch_size)
        samples = self.samples(split, n)
        mine = [samples[i] for i in shard(range(len(samples)))]
        with Timer() as timer:
            bound = bind(get_budgeter(name), name, context, phase)
            local = predict_records(bound, self.tasks, mine, self.box_frame, self.config.budget.patch,
                                    context.batch_size, progress and is_main_process())
            records = gather(local)
        report = EvalReport(budgeter=name, split=split, phase=phase, tasks=summarize(records, samples, self.tasks),
                            seconds_per_image=timer.seconds / max(1, len(records)), n=len(records), records=records)
        if out is not None:
            try:
                with atomic_path(out / "predictions.jsonl") as tmp:
                    write_predictions(records, tmp)
                atomic_write_text(out / "report.json", json.dumps(report.as_dict(), indent=2))
                report.write_page(out / "index.html")
            except RunError:
                logger.error("the evaluation finished but its files could not be written; its report:\n%s",
                             report.table())
                raise
        return report

    def predict(self, image: Any, question: str = "", options: Sequence[str] = (), task: str | None = None,
                budgeter: str | None = None, phase: str | None = None, meta: Mapping[str, Any] | None = None,
                max_new_tokens: int | None = None) -> Record:
        """One answer with its rationale and the visual tokens used (the same path as :meth:`evaluate`)."""
        from pathreason.api import extract_rationale
        from pathreason.evaluation import bind, predict_records

        name = canonical_task(task) if task else next(iter(self.tasks))
        if name not in self.tasks:
            self.tasks[name] = task_spec(name).create()
        sample = Sample(id="predict", image=image, task=name, question=question, options=list(options),
                        meta=dict(meta or {}))
        sample.load_image()  # a clear error for a file that is not an image, before any model loads
        budgeter_name = self._budgeter(budgeter)
        context = self.context.configure(max_new_tokens, 1)
        bound = bind(get_budgeter(budgeter_name), budgeter_name, context, phase or self.latest_phase())
        (record,) = predict_records(bound, self.tasks, [sample], self.box_frame, self.config.budget.patch, 1, False)
        record.extra["rationale"] = extract_rationale(record.completion)
        return record

    def predict_slide(self, slide: str | Path, task: str | None = None, slide_budget: int | None = None,
                      budgeter: str | None = None, *, region: str | Sequence[int] | None = None,
                      options: Sequence[str] = (), question: str = "", meta: Mapping[str, Any] | None = None,
                      truth: str | Path | None = None, output: str | Path | None = None, phase: str | None = None,
                      max_new_tokens: int | None = None, batch_size: int | None = None,
                      progress: bool = True) -> SlideReport:
        """Read a whole-slide image, give each tissue tile its budget under ``slide_budget`` (visual tokens
        for the whole slide; None: no cap) and report the slide (see :mod:`pathreason.slides`).

        ``task`` picks what the slide's result is (``slide.results``): a label from the tiles' classes
        (``options``; default: those of the run's data), boxes in level-0 pixels merged across tiles, or
        an answer to ``question`` about ``region`` (``"x,y,w,h"`` in level-0 pixels; for the other tasks
        it limits the tiles to the region). ``budgeter`` gives each tile its budget (default
        ``evaluation.budgeter``); ``slide.budgeter`` shares ``slide_budget`` when the tiles ask for more.
        ``truth`` (default: ``SLIDE.truth.json`` beside the slide) scores the result. With ``output`` the
        report folder is written there (atomically).
        """
        from pathreason.slides import SlideJob, parse_region, run_slide, write_report
        from pathreason.slides.tiles import Region
        from pathreason.slides.truth import find_truth, load_truth

        name = canonical_task(task) if task else next(iter(self.tasks))
        if name not in self.tasks:
            self.tasks[name] = task_spec(name).create()
        result = self.config.slide.results.get(name)
        if result is None:
            raise ConfigError(f"task {name!r} has no slide result: set slide.results.{name} to label, boxes or answer")
        path = Path(slide)
        meta = dict(meta or {})
        if (result == "label" and not options) or (result == "boxes" and not meta):
            data = [s for s in self.samples(self.config.dataset.eval_split, 1) if s.task == name]
            if data:  # the classes (or what to detect) of the data the performer was trained on
                options = options or data[0].options
                meta = meta or {k: data[0].meta[k] for k in ("category", "organ") if k in data[0].meta}
        if isinstance(region, str):
            area: Region | None = parse_region(region)
        else:
            area = None if region is None else Region(*(int(v) for v in region))
        truth_path = Path(truth) if truth is not None else find_truth(path)
        budgeter_name = self._budgeter(budgeter)
        context = self.context.configure(max_new_tokens, batch_size)
        job = SlideJob(path=path, task_name=name, task=self.tasks[name], result=result, budgeter_name=budgeter_name,
                       budgeter=get_budgeter(budgeter_name), context=context, phase=phase or self.latest_phase(),
                       section=self.config.slide, slide_budget=slide_budget, region=area, options=list(options),
                       question=question, meta=meta, truth=load_truth(truth_path) if truth_path else None,
                       box_frame=self.box_frame, patch=self.config.budget.patch, batch_size=context.batch_size,
                       progress=progress)
        report = run_slide(job)
        if output is not None:
            write_report(report, output)
        return report

    def ablate_budget(self, budgets: Sequence[int] | None = None, allocator: bool | None = None,
                      split: str | None = None, n: int | None = None, phase: str | None = None,
                      output: str | Path | None = None, progress: bool = True,
                      compare: Sequence[str] | None = None) -> AblationReport:
        """The paper's Table 6 with the whole cost counted: a fixed budget per candidate (default
        ``allocator.candidates``), the oracle, and the budgeters of ``compare`` (default
        ``evaluation.compare``: native, escalate, the trained allocator; ``allocator=False`` leaves them
        out, ``True`` requires them). Per task and level: the metric, TPI, the total visual tokens per
        image, passes and wall time; writes a Markdown table, JSON and a metric-vs-total-tokens plot
        under ``output`` (default ``<run>/eval/ablation``)."""
        from pathreason.ablation import ablate

        split = split or self.config.dataset.eval_split

        def evaluate(budgeter: str) -> EvalReport:
            return self.evaluate(split=split, budgeter=budgeter, n=n, phase=phase, progress=progress)

        names = [] if allocator is False else list(self.config.evaluation.compare if compare is None else compare)
        folder = Path(output) if output else self.run.path / "eval" / "ablation"
        with self._writing("ablate-budget"):
            if is_main_process():
                check_writable(folder)
            return ablate(evaluate, self.samples(split, n), self.tasks,
                          budgets or self.config.allocator.candidates,
                          lambda b: self.config.budgeter_name(self.config.evaluation.fixed_budgeter, budget=b),
                          names, require=bool(allocator), output=folder if is_main_process() else None)

    def __repr__(self) -> str:
        return (f"Engine(task={self.config.task!r}, model={self.config.model!r}, "
                f"dataset={self.config.dataset.name!r}, output_dir={self.config.output_dir!r})")
