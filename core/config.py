"""Run configuration: one pydantic model per concern, validated at the edge.

The same :class:`RunConfig` comes from keyword arguments, a YAML file or CLI overrides
(``--grpo.num_generations 8``). Section fields reuse TRL's and peft's own argument names where
they overlap (``sft.max_steps``, ``grpo.num_generations``, ``grpo.beta``, ``lora.r``), so TRL
knowledge carries over. Defaults are the paper's; the defaults that name plugins (the model, the
task, the dataset, the budgeters, the format reward) are read from ``defaults.yaml`` beside this
module, so the runtime itself names no plugin. Layers, lowest first: these defaults, the model
preset's own recipe, the YAML file, keyword arguments, CLI overrides.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import reprlib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pathreason.api import ConfigError

logger = logging.getLogger(__name__)
#: The plugin names the runtime uses by default (``defaults.yaml``; see the module docstring).
DEFAULTS: dict[str, Any] = yaml.safe_load((resources.files("pathreason") / "defaults.yaml").read_text())

#: Why ``trust_remote_code`` is an explicit option of each call and never a config setting.
TRUST_REMOTE_CODE_HELP = ("trust_remote_code is not read from a config: it lets a model folder run its own Python "
                          "code, so only the caller turns it on, for one call (Engine(trust_remote_code=True), "
                          "--trust-remote-code)")

#: The largest visual-token budget of one image: Qwen2.5-VL's processor takes at most
#: 16384 * 28 * 28 pixels (``max_pixels``), i.e. 16384 visual tokens.
MAX_TOKENS = 16384
#: The largest YAML file pathreason reads from a user (a run's ``config.yaml``, ``--config``).
MAX_YAML_BYTES = 1 << 20
#: ``transformers.SchedulerType`` values, checked without importing transformers (a name not listed
#: here is looked up in the installed transformers before it is refused).
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "cosine_warmup_with_min_lr",
              "warmup_stable_decay")


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors and aliases (``&a`` / ``*a``): a few hundred bytes of
    nested aliases expand to gigabytes (a "billion laughs" file), and no pathreason setting needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed in a pathreason config; "
                "write the values out", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML ``text`` from a user (``where`` names it in errors): safe tags only, no aliases."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{where} is not valid YAML: {exc.problem or exc.context}{at}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{where} nests its values too deeply to be a pathreason config") from None


def read_yaml_file(path: str | Path) -> Any:
    """Read a user's YAML file: at most :data:`MAX_YAML_BYTES`, UTF-8, parsed by :func:`load_yaml`."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    try:
        size = p.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"config file {p} is {size} bytes; a pathreason config is at most {MAX_YAML_BYTES} "
                              "bytes")
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"config file {p} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {p} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                          "save it as UTF-8") from None
    return load_yaml(text, f"config file {p}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraConfigSection(_Section):
    """peft ``LoraConfig`` arguments (paper: r=16, alpha=64, all linear layers of the language model)."""

    r: int = Field(16, ge=1)
    lora_alpha: int = Field(64, ge=1)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"
    bias: Literal["none", "all", "lora_only"] = "none"
    modules_to_save: list[str] | None = None
    """Modules trained in full and saved with the adapter (e.g. ``["lm_head"]``: the tiny preset's
    allocator, whose output rows for digits were never trained)."""


class _TrainerSection(_Section):
    """``transformers.TrainingArguments`` fields both phases share (TRL's names)."""

    enabled: bool = True
    learning_rate: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    lr_scheduler_type: str = "cosine"
    """A ``transformers.SchedulerType`` name (linear, cosine, constant, constant_with_warmup, ...)."""
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    """Fraction of the steps spent warming the learning rate up (TrainingArguments.warmup_steps < 1)."""
    max_steps: int = -1
    """Optimizer steps of the phase, a positive number; -1: ``num_train_epochs`` decides."""
    num_train_epochs: float = Field(1.0, gt=0)
    per_device_train_batch_size: int = Field(8, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_grad_norm: float = Field(1.0, gt=0)
    logging_steps: int = Field(10, ge=1)
    save_steps: int = Field(100, ge=1)
    save_total_limit: int | None = Field(2, ge=1)

    @field_validator("max_steps")
    @classmethod
    def _steps_or_epochs(cls, value: int) -> int:
        if value != -1 and value < 1:
            raise ValueError(f"max_steps must be a positive number of steps, or -1 to train num_train_epochs; "
                             f"got {value}")
        return value

    @field_validator("lr_scheduler_type")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        if value in SCHEDULERS:
            return value
        from transformers.trainer_utils import SchedulerType  # a newer transformers may know more

        known = [s.value for s in SchedulerType]
        if value not in known:
            raise ValueError(f"unknown learning-rate scheduler {value!r}; transformers knows: {', '.join(known)}")
        return value


def _check_budgets(values: Sequence[int], where: str) -> None:
    bad = [v for v in values if not 1 <= v <= MAX_TOKENS]
    if bad:
        raise ValueError(f"{where} must be visual-token budgets from 1 to {MAX_TOKENS} (Qwen2.5-VL's largest image), "
                         f"got {bad}")


class SFTSection(_TrainerSection):
    """TRL ``SFTConfig`` arguments for the supervised phase."""

    freeze_vision: bool = True
    budget_mix: list[int] | None = None
    """Train each sample at a budget drawn from this list (None: the training budget only); each
    from 1 to 16384 visual tokens."""
    loss_per_sample: bool = False
    """Average the loss per sample, then over the batch (TRL averages over all answer tokens, so
    long answers such as box lists dominate a mixed-task batch)."""
    budget_mix_exclude: list[str] = Field(default_factory=list)
    """Difficulties (``meta["difficulty"]``) or task names trained at the training budget only,
    never at a mixed one: detail that a low budget erases cannot be learned there, and a label
    taught where its evidence is invisible only teaches the performer to guess. Naming a task
    (e.g. ``"detection"``) keeps a small model from having to learn box frames that change size
    with the budget."""
    budget_mix_level_key: str | None = None
    """A ``meta`` key holding the smallest budget at which a sample's evidence shows (e.g.
    ``"level_tokens"``): its mixed budget is drawn only from the mix's budgets at or above that
    value (none left: the training budget only), so a sample is never taught where its detail is
    erased, yet still learns every budget where it is visible."""
    budget_mix_draws: Literal["one", "all", "balanced"] = "one"
    """``"one"``: each sample appears once more, at one mixed budget drawn at random; ``"all"``: at
    every mixed budget where its evidence shows. With ``"one"`` and ``budget_mix_level_key`` an easy
    sample is spread over more budgets than its harder twin, so at a mid budget the twin outnumbers
    it and the performer learns to lean towards the twin; ``"all"`` shows each at every budget.
    ``"balanced"``: as ``"all"``, then every sample is shown again at its budgets in turn (its lowest
    visible mixed budget first, the training budget last) until it has ``1 + len(budget_mix)`` rows,
    so a hard sample visible at fewer budgets gets as many rows as an easy one (with ``"all"`` it
    gets fewer), and the extra rows go to the lowest budget where it shows, the hardest to learn."""

    @field_validator("budget_mix")
    @classmethod
    def _mix_in_range(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            if not value:
                raise ValueError("budget_mix is a non-empty list of budgets, or null for the training budget only")
            _check_budgets(value, "budget_mix")
        return value


class GRPOSection(_TrainerSection):
    """TRL ``GRPOConfig`` arguments for the reinforcement phase (paper: G=8, beta=0.001, eps=0.2)."""

    learning_rate: float = Field(1e-5, gt=0)
    num_generations: int = Field(8, ge=2)
    beta: float = Field(0.001, ge=0)
    epsilon: float = Field(0.2, gt=0, lt=1)
    temperature: float = Field(1.0, gt=0)
    max_completion_length: int = Field(256, ge=1)
    logging_steps: int = Field(5, ge=1)
    save_steps: int = Field(50, ge=1)
    format_weight: float = Field(1.0, ge=0)
    """lambda_f: R = R_task + format_weight * R_format."""
    format_reward: str = DEFAULTS["grpo"]["format_reward"]
    """The reward plugin of R_format."""
    loss_type: str = "grpo"
    """TRL's loss_type; "grpo" is the paper's Eq. 1 (per-sequence length normalisation)."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """Advantage scaling: "group" is the paper's (R - mean) / std over the G outputs of a prompt."""
    budget_mix: bool = False
    """Show each prompt at one budget drawn from the training budget and the ``sft.budget_mix``
    budgets where its evidence shows (``sft.budget_mix_level_key``, never for ``sft.budget_mix_exclude``),
    so that GRPO keeps up the low budgets SFT taught (False: the training budget only)."""
    use_vllm: bool = False
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_server_host: str = "0.0.0.0"
    """Server mode: the host running ``trl vllm-serve``."""
    vllm_server_port: int = Field(8000, ge=1, le=65535)
    """Server mode: its port."""

    @model_validator(mode="after")
    def _batch_divides(self) -> GRPOSection:
        total = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if total % self.num_generations:
            raise ValueError(
                f"per_device_train_batch_size x gradient_accumulation_steps = {total} completions must be "
                f"divisible by num_generations = {self.num_generations} (TRL's GRPO batch counts completions)"
            )
        return self


class PerformerGRPOSection(GRPOSection):
    """The performer's GRPO phase: the GRPO settings, and which rewards it trains on."""

    rewards: list[str] | None = None
    """Reward plugins of R_task, replacing every task's own (``reward_names``); e.g.
    ``["detection_mean_ap"]`` trains detection on mean AP over IoU 0.1/0.3/0.5 instead of AP@0.5."""


class AllocatorSection(GRPOSection):
    """The token allocator: a second LoRA policy trained with GRPO (paper §3.2.2)."""

    enabled: bool = False
    """Run the allocator as ``train()``'s third phase (``train_allocator()`` works either way)."""
    rule: str = DEFAULTS["allocator"]["rule"]
    """The allocation reward plugin: "eq10" is the paper's (s if N < N0 else lam * s); "token_cost" is
    s - lam * N / N0, a continuous price per token. It receives ``lam`` and the ``performer_score``
    column (:mod:`pathreason.rewards.allocation`)."""
    format_reward: str = DEFAULTS["allocator"]["format_reward"]
    lam: float = Field(0.5, gt=0, le=1)
    """lambda of the rule: the factor above N0 (eq10), or the price of N0 tokens (token_cost)."""
    view: Literal["n0", "low"] = "n0"
    """What the allocator sees: the image at N0 tokens (paper) or a cheap low-resolution look."""
    low_view_tokens: int = Field(4, ge=1, le=MAX_TOKENS)
    """Visual tokens of the "low" view."""
    answer: Literal["free", "candidates", "expected"] = "free"
    """How a budget is read from the allocator at inference: "free", the number it writes (the
    paper's); "candidates", the number it writes when every token after its ``<answer>`` tag must
    continue one of ``candidates`` (greedy decoding over their tokens: free, it writes digits one
    by one and can join two budgets', e.g. 216 between 256 and 16); "expected", the candidate with the
    highest expected reward under ``rule``, its probabilities read as the belief that each candidate
    is the image's oracle budget (for an allocator warmed up on oracle targets). GRPO samples free
    answers either way."""
    candidates: list[int] = Field(default_factory=lambda: [16, 32, 64, 128, 256])
    """Budgets of the format warm-up and of the oracle in ``ablate-budget``."""
    warmup_steps: int = Field(0, ge=0)
    """Steps of format warm-up before GRPO: SFT on answers drawn uniformly from ``candidates`` (no label
    information), so that a model that never wrote a token count gets a GRPO signal (0: none)."""
    warmup_learning_rate: float | None = Field(None, gt=0)
    """Learning rate of the warm-up (None: ``learning_rate``)."""
    warmup_target: Literal["uniform", "oracle", "reward"] = "uniform"
    """What the warm-up teaches: "uniform" budgets (the answer format only); "oracle": each image's
    smallest candidate budget at which the frozen performer answers it correctly (the largest when
    none does); or "reward": the candidate the allocation rule rewards most given the performer's
    score there, the smaller on a tie (an image no budget answers right gets the smallest; a graded
    score such as BLEU is weighed against the tokens' price). Both are measured with the allocation
    reward's own scorer, so GRPO starts from a policy that already reads the image
    (rejection-sampling fine-tuning on the reward's best answer)."""
    warmup_neighbours: int = Field(0, ge=0)
    """With ``warmup_target: reward``: 0 teaches each image its own best budget; k > 0 the budget with
    the best mean reward over its k nearest warm-up images (the performer's last hidden state of the
    allocation prompt, cosine), so that a budget right only by luck on one image is not taught."""
    warmup_neighbours_by: Literal["input", "prompt"] = "input"
    """Where the warm-up's neighbours are found: "input", the allocation prompt with the image as the
    allocator sees it; "prompt", its text alone (images asked alike share a target, whatever they show)."""
    warmup_samples: int | None = Field(None, ge=1)
    """Training images the warm-up uses (the first ones of the split; None: all). The oracle target
    costs one performer generation per image and candidate budget."""
    lora: LoraConfigSection = Field(default_factory=lambda: LoraConfigSection())
    """The allocator's own LoRA adapter (always a LoRA, also when the performer was fully fine-tuned)."""
    beta: float = Field(0.0, ge=0, le=0)
    """KL weight, fixed at 0: the allocator is one adapter among two, and TRL's reference for a peft
    policy (its single "default" adapter, or the base without adapters) is not the performer the
    allocator starts from."""
    max_completion_length: int = Field(64, ge=1)
    learning_rate: float = Field(1e-4, gt=0)

    @model_validator(mode="after")
    def _positive_candidates(self) -> AllocatorSection:
        if not self.candidates:
            raise ValueError("allocator.candidates must list at least one budget")
        _check_budgets(self.candidates, "allocator.candidates")
        if self.warmup_neighbours and self.warmup_target != "reward":
            raise ValueError(f"allocator.warmup_neighbours averages the reward warm-up's targets; set "
                             f"allocator.warmup_target: reward, or warmup_neighbours: 0 (warmup_target is "
                             f"{self.warmup_target!r})")
        if self.budget_mix:
            raise ValueError("allocator.budget_mix: the allocator sees each image at its view "
                             "(allocator.view), not at a budget; budget_mix is grpo's (grpo.budget_mix)")
        return self


class BudgetSection(_Section):
    """Visual-token budgets (paper Eq. 4-6; docs/concepts/budgets.md)."""

    train_tokens: int = Field(256, ge=1, le=MAX_TOKENS)
    """N: the training budget; also defines N0 = min(native, N). At most 16384 (Qwen2.5-VL)."""
    budgeter: str = DEFAULTS["budget"]["budgeter"]
    """The budgeter of training images (``name`` or ``name:argument``; ``{train_tokens}`` is
    replaced by ``train_tokens``). It must answer from the sample alone (a two-stage budgeter such
    as the allocator cannot budget training images)."""
    patch: int = Field(28, ge=1)


class EvaluationSection(_Section):
    """Which budgeters evaluation uses by default (names with ``{train_tokens}`` / ``{budget}``
    filled in from the run), and how it batches."""

    budgeter: str = DEFAULTS["evaluation"]["budgeter"]
    """``evaluate`` and ``predict`` without a budgeter."""
    fixed_budgeter: str = DEFAULTS["evaluation"]["fixed_budgeter"]
    """``ablate-budget``'s budgeter of one fixed budget, for each candidate ``{budget}``."""
    compare: list[str] = Field(default_factory=lambda: list(DEFAULTS["evaluation"]["compare"]))
    """``ablate-budget``'s other budgeters, each evaluated when the run has what it needs (e.g. a
    trained allocator)."""
    batch_size: int = Field(16, ge=1)
    """Images per batched generation."""


class SlideSection(_Section):
    """Whole-slide images (:mod:`pathreason.slides`): resolution, tiling, tissue, the slide budget's
    sharing and how tile answers become the slide's result."""

    mpp: float = Field(0.5, gt=0)
    """Target resolution in micrometres per pixel (0.5 is 20x): tiles are read at the pyramid level
    closest above it and resized to it."""
    mpp_level0: float | None = Field(None, gt=0)
    """Micrometres per pixel of the slide's level 0, for slides that do not record it (it also
    overrides a recorded value)."""
    tile: int = Field(448, ge=56)
    """Tile side in pixels at ``mpp`` (448 = 256 visual tokens, the training budget)."""
    overlap: int = Field(0, ge=0)
    """Pixels (at ``mpp``) that neighbouring tiles share, so that an object cut by one tile's border
    lies whole in the next (detection); boxes are merged across tiles."""
    min_tissue: float = Field(0.5, ge=0, le=1)
    """A tile is read when at least this fraction of it is tissue."""
    thumbnail: int = Field(2048, ge=64)
    """Longest side of the thumbnail tissue is detected on."""
    min_saturation: float = Field(0.05, ge=0, le=1)
    """Tissue is saturation above Otsu's threshold and above this floor (glass and blank slides are
    grey: Otsu alone would split their noise)."""
    budgeter: str = DEFAULTS["slide"]["budgeter"]
    """The slide budgeter (``name`` or ``name:argument``) that shares the slide budget among tiles
    when their requests exceed it."""
    min_tokens: int = Field(16, ge=1)
    """The smallest budget a read tile gets; below it a tile is skipped."""
    results: dict[str, Literal["label", "boxes", "answer"]] = Field(
        default_factory=lambda: dict(DEFAULTS["slide"]["results"]))
    """What a task's tile answers make at the slide level, by task name: ``label`` (one class for
    the slide), ``boxes`` (objects in slide coordinates) or ``answer`` (one answer about a region)."""
    rule: Literal["majority", "most_severe"] = "majority"
    """``label``: the class most tiles give, or the most severe class found in at least
    ``min_tiles`` tiles (pathologists grade a slide by its worst region)."""
    severity: list[str] = Field(default_factory=list)
    """``most_severe``: the classes from least to most severe."""
    min_tiles: int = Field(1, ge=1)
    """``most_severe``: tiles that must show a class before the slide gets it."""
    survey: int | None = Field(None, ge=1)
    """``label`` with ``most_severe``: tokens of a first pass over every tissue tile; tiles are then
    read again at their budget (see ``survey_split``) until nothing left could change the slide's
    label or the slide budget is spent (``None``: one pass). Every pass counts in the slide's cost."""
    survey_split: str | None = "validation"
    """``survey``: the split whose samples, answered at the survey budget, tell which classes each
    survey class hides (learnt once per performer phase and kept with the run); tiles whose second
    read cannot change the slide's label are not read again, and survey classes take turns
    (``None``: any class may hide any other, the most severe survey class is read again first)."""
    survey_batch: int = Field(4, ge=1)
    """``survey``: tiles read again per round; the label is checked, and tiles next to one whose class
    rose are moved forward, after each round."""
    nms_iou: float = Field(0.5, gt=0, le=1)
    """``boxes``: of two boxes overlapping by at least this IoU, the lower-ranked one is dropped."""
    prefetch: int = Field(2, ge=1)
    """Batches of tiles read ahead by the reader thread (memory holds at most this many)."""
    region_max_side: int = Field(2048, ge=56)
    """``answer``: a region larger than this many pixels at ``mpp`` is read at a coarser level."""

    @model_validator(mode="after")
    def _overlap_below_tile(self) -> SlideSection:
        if self.overlap >= self.tile:
            raise ValueError(f"slide.overlap ({self.overlap}) must be smaller than slide.tile ({self.tile})")
        return self


class DatasetSection(_Section):
    """Which dataset plugin, where its local copy is, and which splits to use."""

    name: str = DEFAULTS["dataset"]["name"]
    root: str | None = None
    train_split: str = "train"
    eval_split: str = "test"
    options: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments passed to the dataset plugin (e.g. ``n``, ``seed``, ``tile``)."""


class RunConfig(BaseModel):
    """Everything an engine run needs. Build with :meth:`build`, :meth:`from_yaml` or the CLI."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = DEFAULTS["model"]
    task: str | list[str] = DEFAULTS["task"]
    dataset: DatasetSection = Field(default_factory=lambda: DatasetSection())
    budget: BudgetSection = Field(default_factory=lambda: BudgetSection())
    lora: LoraConfigSection | None = Field(default_factory=lambda: LoraConfigSection())
    """``null`` means full fine-tuning (the tiny preset's recipe)."""
    sft: SFTSection = Field(default_factory=lambda: SFTSection())
    grpo: PerformerGRPOSection = Field(default_factory=lambda: PerformerGRPOSection())
    allocator: AllocatorSection = Field(default_factory=lambda: AllocatorSection())
    evaluation: EvaluationSection = Field(default_factory=lambda: EvaluationSection())
    slide: SlideSection = Field(default_factory=lambda: SlideSection())
    box_frame: Literal["model", "absolute", "norm1000"] = "model"
    """The coordinates boxes are read and written in: the model family's (``"model"``: pixels of the
    image shown for Qwen2.5-VL), pixels of the image shown (``"absolute"``) or 0-1000 of the image
    (``"norm1000"``, the same answer at every budget)."""
    output_dir: str = "runs/pathreason"
    seed: int = 42
    report_to: str | list[str] = "none"

    @field_validator("task")
    @classmethod
    def _tasks_not_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("at least one task is needed")
        return value

    @property
    def tasks(self) -> list[str]:
        return [self.task] if isinstance(self.task, str) else list(self.task)

    def budgeter_name(self, name: str, **values: Any) -> str:
        """``name`` with ``{train_tokens}`` (and ``values``, e.g. ``budget=64``) filled in.

        >>> RunConfig().budgeter_name("static:{train_tokens}")
        'static:256'
        """
        try:
            return name.format(train_tokens=self.budget.train_tokens, **values)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"budgeter {name!r}: cannot fill in {exc}; the placeholders are "
                              f"{{train_tokens}}{''.join(f', {{{k}}}' for k in values)}") from None

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, *layers: Mapping[str, Any] | None, apply_preset: bool = True) -> RunConfig:
        """Merge ``layers`` (lowest first) over the model preset's recipe and validate once.

        Keys may be nested dicts or dotted (``{"grpo.beta": 0.0}``) or double-underscored
        (``grpo__beta=0.0``).
        """
        merged: dict[str, Any] = {}
        for layer in layers:
            if layer:
                deep_merge(merged, _expand(layer))
        if merged.pop("trust_remote_code", False):
            raise ConfigError(TRUST_REMOTE_CODE_HELP)
        if apply_preset:
            recipe = _preset_recipe(merged.get("model", DEFAULTS["model"]))
            if recipe:
                base: dict[str, Any] = copy.deepcopy(dict(recipe))
                deep_merge(base, _task_recipe(base.pop("by_task", None) or {}, merged.get("task", DEFAULTS["task"])))
                deep_merge(base, merged)
                merged = base
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None

    @classmethod
    def from_yaml(cls, path: str | Path, *overrides: Mapping[str, Any] | None) -> RunConfig:
        """The config in a YAML file (see :func:`read_yaml_file`: no aliases, at most 1 MiB, UTF-8),
        under ``overrides``. A file never turns on ``trust_remote_code``: that takes the caller's
        explicit option (``Engine(trust_remote_code=True)``, ``--trust-remote-code``)."""
        return cls.build(read_config_file(path), *overrides)

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        if path is not None:
            from pathreason.runs import atomic_write_text

            atomic_write_text(path, text)
        return text


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings in a YAML config file (:func:`read_yaml_file`), a mapping; a ``trust_remote_code``
    in it is dropped with a warning (only the caller's explicit option turns it on)."""
    p = Path(path)
    data = read_yaml_file(p)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of settings, got {type(data).__name__}")
    if data.pop("trust_remote_code", False):
        logger.warning("config file %s sets trust_remote_code; ignored: %s", p, TRUST_REMOTE_CODE_HELP)
    return data


def config_changes(before: RunConfig, after: RunConfig) -> dict[str, tuple[Any, Any]]:
    """The settings that differ, by dotted name: ``{"sft.max_steps": (8, 12)}`` (``output_dir`` aside).

    >>> config_changes(RunConfig.build({"sft.max_steps": 8}), RunConfig.build({"sft.max_steps": 12}))
    {'sft.max_steps': (8, 12)}
    """
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changes: dict[str, tuple[Any, Any]] = {}
    for key in old:
        a, b = old[key], new[key]
        if key == "output_dir" or a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):  # a section: field by field
            changes.update({f"{key}.{f}": (a.get(f), b.get(f)) for f in dict.fromkeys([*a, *b])
                            if a.get(f) != b.get(f)})
        else:
            changes[key] = (a, b)
    return changes


def check_names(config: RunConfig, tasks: Mapping[str, Any]) -> None:
    """Resolve every plugin name the config uses (rewards, budgeters), so that a typo fails now,
    naming the setting, and not after a model has loaded or a run folder was written."""
    from pathreason.api import Budgeter, PathreasonError
    from pathreason.registry import budgeter_spec, get_budgeter, reward_spec

    rewards = {"grpo.format_reward": config.grpo.format_reward, "allocator.format_reward": config.allocator.format_reward,
               "allocator.rule": config.allocator.rule}
    for task in tasks.values():
        for name in getattr(task, "reward_names", ()):
            rewards[f"task {task.name!r} reward"] = name
    for i, name in enumerate(config.grpo.rewards or ()):
        rewards[f"grpo.rewards[{i}]"] = name
    budgeters = {"budget.budgeter": config.budgeter_name(config.budget.budgeter),
                 "evaluation.budgeter": config.budgeter_name(config.evaluation.budgeter),
                 "evaluation.fixed_budgeter": config.budgeter_name(config.evaluation.fixed_budgeter, budget=1)}
    budgeters.update({f"evaluation.compare[{i}]": name for i, name in enumerate(config.evaluation.compare)})
    for where, name in rewards.items():
        try:
            reward_spec(name)
        except PathreasonError as exc:
            raise type(exc)(f"{where}: {exc}") from None
    for where, name in budgeters.items():
        try:
            budgeter_spec(name.partition(":")[0])
            budgeter = get_budgeter(name) if where != "evaluation.fixed_budgeter" else None  # static:abc too
        except PathreasonError as exc:
            raise type(exc)(f"{where}: {exc}") from None
        if where == "budget.budgeter" and not isinstance(budgeter, Budgeter):
            raise ConfigError(f"budget.budgeter {name!r} cannot budget training images: it has no tokens(sample) "
                              "(a two-stage budgeter, such as the allocator, runs only at inference)")


def parse_overrides(args: Sequence[str]) -> dict[str, Any]:
    """``["--grpo.beta", "0", "--task=vqa"]`` -> ``{"grpo.beta": 0, "task": "vqa"}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--") or item == "--":
            raise ConfigError(f"unexpected argument {item!r}: overrides look like --section.field VALUE")
        key = item[2:]
        if "=" in key:
            key, raw = key.split("=", 1)
        else:
            if i + 1 >= len(items):
                raise ConfigError(f"override {item} has no value")
            raw = items[i + 1]
            i += 1
        out[key.replace("-", "_")] = load_yaml(raw, f"the value of {item}") if raw != "" else ""
        i += 1
    return out


def _expand(layer: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in layer.items():
        parts = key.replace("__", ".").split(".") if isinstance(key, str) else [key]
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"setting {key!r} conflicts with {part!r} = {child!r}")
            node = child
        leaf = parts[-1]
        if isinstance(value, Mapping):
            existing = node.setdefault(leaf, {})
            if isinstance(existing, dict):
                deep_merge(existing, _expand(value))
                continue
        node[leaf] = value.model_dump() if isinstance(value, BaseModel) else value
    return out


def deep_merge(into: dict[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def _preset_recipe(model: Any) -> Mapping[str, Any]:
    if not isinstance(model, str):
        return {}
    from pathreason.api import UnknownNameError
    from pathreason.registry import model_spec

    try:
        return model_spec(model).recipe
    except (UnknownNameError, ValueError):  # ValueError: not a plugin name at all ("/a/b", "Org/Name")
        return {}  # a local folder or hub id: no preset recipe (an unknown name is reported by the engine)


def _task_recipe(by_task: Mapping[str, Any], task: Any) -> Mapping[str, Any]:
    """A preset recipe's ``by_task`` entry for a run that trains one task alone (``{}`` for a
    mixed-task run, or a task the recipe does not name); aliases (``"det"``) resolve to the name."""
    if not by_task or not isinstance(task, str | list) or (isinstance(task, list) and len(task) != 1):
        return {}
    name = task if isinstance(task, str) else task[0]
    from pathreason.api import UnknownNameError
    from pathreason.registry import task_spec

    with contextlib.suppress(UnknownNameError, ValueError):  # an unknown or malformed name is reported later
        name = task_spec(str(name)).name
    return _expand(by_task.get(name) or {})


def _explain(exc: ValidationError) -> str:
    """One line: ``invalid configuration: <field> = <value>: <why>; <next field> ...``."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        msg = err["msg"].removeprefix("Value error, ")
        shown = reprlib.repr(value)  # bounded: a value may be huge
        if err["type"] == "extra_forbidden":
            section = ".".join(str(p) for p in err["loc"][:-1])
            msg = "unknown setting" + (f" in section {section!r}" if section else "")
            allowed = _allowed_fields(err["loc"][:-1])
            if allowed:
                from pathreason.api import did_you_mean

                msg += f".{did_you_mean(str(err['loc'][-1]), allowed)} Allowed: {', '.join(allowed)}"
            lines.append(f"{where}: {msg}")
            continue
        if isinstance(value, dict):  # a section's own check: its message names the fields
            lines.append(f"{where}: {msg}")
            continue
        lines.append(f"{where} = {shown}: {msg}")
    return "invalid configuration: " + "; ".join(lines)


def _allowed_fields(loc: Sequence[Any]) -> list[str]:
    model: Any = RunConfig
    for part in loc:
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        candidates = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return []
        model = candidates[0]
    return sorted(model.model_fields)
