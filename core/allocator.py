"""The token allocator (paper §3.2.2): a second LoRA policy that picks each image's visual-token budget.

One base model is in memory with two roles:

* the **performer** — the trained task performer, frozen: the base with the performer's adapter
  (LoRA recipe), or the fully fine-tuned performer itself with the allocator adapter switched off
  (the tiny preset's recipe);
* the **allocator** — a LoRA adapter named ``"allocator"`` on the same base, trained with TRL's
  ``GRPOTrainer`` on the token-allocation prompt (Appendix A).

Its reward (:class:`AllocationReward`) runs the performer on the image resized to the allocated
budget N̂ and scores the answer with the task's score ``s``: Eq. 10 ``s(N̂)`` if ``N̂ < N₀`` else
``λ·s(N̂)`` (or the ``token_cost`` rule), plus the format reward. The performer calls of one GRPO step
are one batched generation, and scores are cached per (sample, resized size): two completions that
allocate 250 and 255 tokens to a 448-pixel tile both give it 225 tokens, and are scored once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.budget import native_tokens, original_tokens
from pathreason.errors import ConfigError, RunError
from pathreason.prompts import allocation_prompt
from pathreason.rewards.allocation import RULES, clamp_tokens
from pathreason.rewards.parsing import completion_text, parse_token_count
from pathreason.tasks.base import Task, make_view, resize_for_view

if TYPE_CHECKING:
    from pathreason.config import AllocatorSection
    from pathreason.sample import Sample

logger = logging.getLogger(__name__)

ALLOCATOR_ADAPTER = "allocator"
PERFORMER_ADAPTER = "performer"
META_FILE = "pathreason_allocator.json"


# ---------------------------------------------------------------------------------------------- prompts
def allocation_messages(task: Task, sample: Sample, n0: int, native: int) -> list[dict[str, Any]]:
    """The paper's token-allocation prompt around the task prompt, with the image first."""
    return task.chat(allocation_prompt(current_token=n0, max_token=native, task_prompt=task.user_text(sample)))


@dataclass(frozen=True)
class AllocatorInput:
    """What the allocator is shown for one image: its counts and the view it looks at."""

    n0: int  # tokens under the training budget
    native: int  # the image's own token count (the clamp of N̂)
    view_tokens: int  # the allocator's own visual tokens
    image: Any  # the resized image the allocator sees


def allocator_input(image: Any, section: AllocatorSection, train_tokens: int, patch: int = 28) -> AllocatorInput:
    """The allocator's view of ``image``: at N₀ tokens (paper) or the cheap ``low`` look."""
    width, height = image.size
    n0 = original_tokens(height, width, train_tokens, patch)
    native = native_tokens(height, width, patch)
    view = make_view(image.size, train_tokens if section.view == "n0" else section.low_view_tokens, patch=patch)
    return AllocatorInput(n0=n0, native=native, view_tokens=view.tokens, image=resize_for_view(image, view))


def allocation_target(n: int, rationale: str) -> str:
    return f"<think> {rationale} </think> <answer> {n} </answer>"


# ---------------------------------------------------------------------------------------------- two roles
class DualPolicy:
    """One model in memory, two roles: :meth:`performer` and :meth:`allocator` (context managers).

    ``performer_adapter`` is the performer's adapter name, or ``None`` when the performer is the
    base itself (fully fine-tuned) and the allocator adapter is simply switched off for it.
    """

    def __init__(self, model: Any, performer_adapter: str | None) -> None:
        self.model = model
        self.performer_adapter = performer_adapter

    @contextmanager
    def performer(self) -> Iterator[Any]:
        was_training = self.model.training
        self.model.eval()
        try:
            if self.performer_adapter is None:
                with self.model.disable_adapter():
                    yield self.model
            else:
                self.model.set_adapter(self.performer_adapter)
                try:
                    yield self.model
                finally:
                    self.model.set_adapter(ALLOCATOR_ADAPTER)  # and the allocator is trainable again
        finally:
            self.model.train(was_training)

    @contextmanager
    def allocator(self) -> Iterator[Any]:
        was_training = self.model.training
        self.model.eval()
        try:
            yield self.model
        finally:
            self.model.train(was_training)


def performer_generate(policy: DualPolicy, processor: Any, max_new_tokens: int,
                       one_batch: bool = False) -> Callable[[list[Any], list[Any]], list[Any]]:
    """``generate(conversations, images)`` through the frozen performer of ``policy``; with
    ``one_batch`` every call is a single batched generation (the reward's contract)."""
    from pathreason.inference import generate

    def run(convs: list[Any], images: list[Any]) -> list[Any]:
        with policy.performer() as model:
            return generate(model, processor, convs, images, max_new_tokens=max_new_tokens,
                            batch_size=max(1, len(convs)) if one_batch else 16)

    return run


def performer_fingerprint(folder: Path) -> str:
    """A short hash of a performer's weights (adapter or full model files) in ``folder``."""
    h = hashlib.sha256()
    files = sorted(folder.glob("adapter_model.safetensors")) or sorted(folder.glob("*.safetensors"))
    if not files:
        raise RunError(f"{folder}: no weights (*.safetensors) to fingerprint")
    for f in files:
        h.update(f.name.encode())
        h.update(str(f.stat().st_size).encode())
        with f.open("rb") as fh:
            h.update(fh.read(64 << 20))  # the first 64 MiB: the whole of any adapter, a sample of a full model
    return h.hexdigest()[:16]


def build_policy(performer_dir: Path, load_base: Callable[[], Any], load_full: Callable[[str], Any],
                 section: AllocatorSection, allocator_dir: Path | None = None, trainable: bool = False) -> DualPolicy:
    """The performer found in ``performer_dir`` plus the allocator adapter: new (``allocator_dir``
    None, for training) or loaded from ``allocator_dir``."""
    from peft import PeftModel, get_peft_model

    from pathreason.training import lora_config

    if (performer_dir / "adapter_config.json").is_file():
        model = PeftModel.from_pretrained(load_base(), str(performer_dir), adapter_name=PERFORMER_ADAPTER,
                                          is_trainable=False)
        if allocator_dir is None:
            model.add_adapter(ALLOCATOR_ADAPTER, lora_config(section.lora))
        else:
            model.load_adapter(str(allocator_dir), adapter_name=ALLOCATOR_ADAPTER, is_trainable=trainable)
        model.set_adapter(ALLOCATOR_ADAPTER)
        policy = DualPolicy(model, PERFORMER_ADAPTER)
    else:
        base = load_full(str(performer_dir))
        if allocator_dir is None:
            model = get_peft_model(base, lora_config(section.lora), adapter_name=ALLOCATOR_ADAPTER)
        else:
            model = PeftModel.from_pretrained(base, str(allocator_dir), adapter_name=ALLOCATOR_ADAPTER,
                                              is_trainable=trainable)
        policy = DualPolicy(model, None)
    learns = trainable or allocator_dir is None
    for name, param in model.named_parameters():  # only the allocator learns
        param.requires_grad_(learns and f".{ALLOCATOR_ADAPTER}." in name)
    return policy


def save_allocator(model: Any, final: Path, meta: dict[str, Any]) -> None:
    """The allocator adapter alone, in the standard peft layout at ``final``, plus what it was trained for."""
    import shutil
    import tempfile

    final.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        model.save_pretrained(tmp, selected_adapters=[ALLOCATOR_ADAPTER])
        src = Path(tmp) / ALLOCATOR_ADAPTER if (Path(tmp) / ALLOCATOR_ADAPTER).is_dir() else Path(tmp)
        for f in src.iterdir():
            if f.is_file():
                shutil.copy2(f, final / f.name)
    (final / META_FILE).write_text(json.dumps(meta, indent=2))


def check_allocator(final: Path, performer_phase: str, fingerprint: str, base_location: str) -> dict[str, Any]:
    """Refuse an allocator adapter trained for another performer or base model."""
    meta_path = final / META_FILE
    if not meta_path.is_file():
        raise RunError(f"{final} holds no pathreason allocator ({META_FILE} is missing)")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    if meta.get("performer_fingerprint") != fingerprint:
        raise RunError(f"the allocator in {final} was trained for another task performer (phase "
                       f"{meta.get('performer_phase')!r}, weights {meta.get('performer_fingerprint')}); this run's "
                       f"performer (phase {performer_phase!r}) has weights {fingerprint}: train the allocator again")
    if Path(meta.get("base_location", "")).name != Path(base_location).name:
        raise RunError(f"the allocator in {final} was trained on base model {meta.get('base_location')!r}, "
                       f"not {base_location!r}")
    return meta


# ---------------------------------------------------------------------------------------------- reward
class PerformerScorer:
    """Scores of the frozen performer at given budgets: one batched generation per call, cached per
    (sample id, resized size). ``generate_calls`` counts the generations (one per GRPO step at most)."""

    def __init__(self, generate: Callable[[list[Any], list[Any]], list[Any]], tasks: dict[str, Task],
                 samples: dict[str, tuple[Sample, Any]], box_frame: str = "absolute", patch: int = 28) -> None:
        self.generate = generate
        self.tasks = tasks
        self.samples = samples
        self.box_frame = box_frame
        self.patch = patch
        self.cache: dict[tuple[str, tuple[int, int]], float] = {}
        self.generate_calls = 0
        self.generated = 0

    def scores(self, requests: Sequence[tuple[str, int]]) -> list[float]:
        """``s(N̂)`` for each ``(sample id, budget)``."""
        keys, todo, seen = [], [], set()
        for sid, budget in requests:
            if sid not in self.samples:
                raise KeyError(f"allocation reward: unknown sample id {sid!r}")
            sample, image = self.samples[sid]
            view = make_view(image.size, budget, self.box_frame, self.patch)
            key = (sid, view.size)
            keys.append(key)
            if key not in self.cache and key not in seen:
                seen.add(key)
                todo.append((key, sample, image, view))
        if todo:
            convs = [self.tasks[s.task].messages(s) for _, s, _, _ in todo]
            images = [resize_for_view(img, v) for _, _, img, v in todo]
            self.generate_calls += 1
            self.generated += len(todo)
            gens = self.generate(convs, images)
            for (key, sample, _, view), gen in zip(todo, gens):
                task = self.tasks[sample.task]
                self.cache[key] = float(task.score(task.parse(gen.text, view), sample))
        return [self.cache[k] for k in keys]


class AllocationReward:
    """TRL reward function of the allocator: Eq. 10 (or ``token_cost``) on the performer's score.

    Columns (TRL passes dataset columns as keyword arguments): ``id``, ``n0``, ``native``.
    An answer that is not a positive integer (or is absurdly large) gets 0.
    """

    __name__ = "allocation"

    def __init__(self, scorer: PerformerScorer, rule: str = "eq10", lam: float = 0.5) -> None:
        if rule not in RULES:
            raise ConfigError(f"allocator.rule {rule!r} is not one of {sorted(RULES)}")
        self.scorer = scorer
        self.rule = RULES[rule]
        self.lam = lam

    def __call__(self, completions: Sequence[Any], id: Sequence[str], n0: Sequence[int], native: Sequence[int],
                 **_: Any) -> list[float]:
        allocations = [parse_token_count(completion_text(c)) for c in completions]
        valid = [(i, clamp_tokens(n, native[i])) for i, n in enumerate(allocations) if n is not None]
        scores = self.scorer.scores([(id[i], n) for i, n in valid])
        rewards = [0.0] * len(completions)
        for (i, n), s in zip(valid, scores):
            rewards[i] = float(self.rule(s, n, n0[i], self.lam))
        return rewards


# ---------------------------------------------------------------------------------------------- inference
@dataclass(frozen=True)
class Allocation:
    """The allocator's decision for one image."""

    answer: str  # what the allocator wrote
    requested: int | None  # N̂ as parsed (None: not a positive integer)
    budget: int  # the budget the performer gets (N̂ clamped, or the fallback)
    fallback: bool  # True when the answer was unusable and the fallback budget was used
    allocator_tokens: int  # the allocator's own visual tokens

    def as_extra(self) -> dict[str, Any]:
        """The fields a prediction record carries for the allocator stage."""
        return {"allocator_answer": self.answer, "allocator_requested": self.requested,
                "allocator_fallback": self.fallback, "allocator_tokens": self.allocator_tokens}


def allocate(policy: DualPolicy, processor: Any, tasks: dict[str, Task], samples: Sequence[Sample],
             images: Sequence[Any], section: AllocatorSection, train_tokens: int, patch: int = 28,
             batch_size: int = 16) -> list[Allocation]:
    """Run the allocator over ``samples`` (batched, greedy); unusable answers fall back to ``train_tokens``."""
    from pathreason.inference import generate

    inputs = [allocator_input(img, section, train_tokens, patch) for img in images]
    convs = [allocation_messages(tasks[s.task], s, a.n0, a.native) for s, a in zip(samples, inputs)]
    with policy.allocator() as model:
        gens = generate(model, processor, convs, [a.image for a in inputs],
                        max_new_tokens=section.max_completion_length, batch_size=batch_size)
    out = []
    for gen, a in zip(gens, inputs):
        n = parse_token_count(gen.text)
        budget = train_tokens if n is None else clamp_tokens(n, a.native)
        out.append(Allocation(answer=gen.text, requested=n, budget=budget, fallback=n is None,
                              allocator_tokens=a.view_tokens))
    return out


class BoundAllocator:
    """The ``allocator`` budgeter bound to an engine's run: the trained allocator and its performer."""

    def __init__(self, engine: Any, phase: str | None = None) -> None:
        self.engine = engine
        self.policy = engine.allocator_policy(None if phase in (None, "base") else phase)

    def allocate(self, samples: Sequence[Sample], images: Sequence[Any], batch_size: int = 16) -> list[Allocation]:
        cfg = self.engine.config
        return allocate(self.policy, self.engine.processor, self.engine.tasks, samples, images, cfg.allocator,
                        cfg.budget.train_tokens, cfg.budget.patch, batch_size)

    def generate_fn(self, max_new_tokens: int) -> Callable[[list[Any], list[Any]], list[Any]]:
        return performer_generate(self.policy, self.engine.processor, max_new_tokens)


def oracle_targets(scorer: PerformerScorer, ids: Sequence[str], candidates: Sequence[int],
                   chunk: int = 64) -> dict[str, int]:
    """Each sample's oracle budget: the smallest of ``candidates`` at which the frozen performer
    answers it correctly (score >= 0.5), else the largest. Scored with ``scorer`` (batched
    ``chunk`` generations at a time, cached, so GRPO later reuses these scores)."""
    from pathreason.ablation import oracle_budgets

    requests = [(sid, n) for n in sorted(set(candidates)) for sid in ids]
    values: list[float] = []
    for start in range(0, len(requests), chunk):
        values += scorer.scores(requests[start:start + chunk])
    scores: dict[int, dict[str, float]] = {}
    for (sid, n), value in zip(requests, values):
        scores.setdefault(n, {})[sid] = value
    return oracle_budgets(scores)


def warmup_rows(rows: Sequence[dict[str, Any]], candidates: Sequence[int], seed: int,
                targets: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Warm-up rows: each allocation prompt with a budget answer.

    Without ``targets`` the budget is drawn uniformly from ``candidates``: the answers carry no
    information about the image, so the warm-up teaches the answer format only and GRPO then learns
    which budget each image needs. With ``targets`` (sample id -> budget, e.g. :func:`oracle_targets`)
    each row answers its own target. The ``<think>`` text is the row's ``rationale`` (the task's own,
    which the performer already writes), so the warm-up only has to teach the model the number.
    """
    rng = random.Random(seed)
    out = []
    for row in rows:
        n = targets[row["id"]] if targets is not None else rng.choice(list(candidates))
        target = allocation_target(n, row["rationale"])
        out.append({"prompt": row["prompt"], "images": [row["image"]], "length": row["view_tokens"],
                    "completion": [{"role": "assistant", "content": [{"type": "text", "text": target}]}]})
    return out


__all__ = ["ALLOCATOR_ADAPTER", "AllocationReward", "Allocation", "AllocatorInput", "BoundAllocator", "DualPolicy",
           "PerformerScorer", "allocate", "allocation_messages", "allocator_input", "build_policy",
           "performer_generate",
           "check_allocator", "oracle_targets", "performer_fingerprint", "save_allocator", "warmup_rows"]
