"""A run's token allocator at inference: load the performer with its allocator, and allocate.

:func:`dual_policy` builds the performer of a phase plus the allocator adapter (new for training,
or the trained one, checked against the performer's fingerprint); :class:`RunAllocator` is the
:class:`pathreason.api.TrainedAllocator` a two-stage budgeter receives: ``allocate`` (batched,
greedy; an unusable answer falls back to the training budget) and the frozen ``performer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pathreason.allocator.inputs import allocation_messages, allocator_input
from pathreason.allocator.policy import DualPolicy, build_policy, check_allocator, performer_fingerprint
from pathreason.api import Allocation, RunError, Sample, Task, clamp_tokens, parse_token_count
from pathreason.inference import ModelPerformer, generate, last_token_positions

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.config import AllocatorSection, RunConfig
    from pathreason.models.store import ModelStore
    from pathreason.runs import RunDir

__all__ = ["RunAllocator", "allocate", "answer_prefix", "candidate_budgets", "dual_policy", "require_performer"]


def require_performer(phase: str, run: RunDir) -> str:
    """``phase`` if it is a trained performer phase; the allocator is rewarded by a trained performer."""
    if phase in (None, "base"):
        raise RunError(f"{run.path}: the allocator is rewarded by a trained task performer; train one "
                       "first (engine.train() / pathreason train)")
    return phase


def dual_policy(config: RunConfig, run: RunDir, models: ModelStore, phase: str, trained: bool,
                trainable: bool = False) -> DualPolicy:
    """The performer of ``phase`` plus the allocator adapter: a new one, or the run's trained one."""
    performer_dir = run.final_dir(phase)
    if (performer_dir / "adapter_config.json").is_file():
        models.check_adapter(performer_dir)
    allocator_dir = None
    if trained:
        allocator_dir = run.final_dir("allocator")
        if not allocator_dir.is_dir():
            raise RunError(f"{run.path}: no trained allocator at {allocator_dir}; run "
                           "engine.train_allocator() (pathreason train-allocator) first")
        check_allocator(allocator_dir, phase, performer_fingerprint(performer_dir), models.location)
    return build_policy(performer_dir, models.base, models.load_full, config.allocator, allocator_dir, trainable)


def allocate(policy: DualPolicy, processor: Any, tasks: Mapping[str, Task], samples: Sequence[Sample],
             images: Sequence[Image.Image], section: AllocatorSection, train_tokens: int, patch: int = 28,
             batch_size: int = 16) -> list[Allocation]:
    """Run the allocator over ``samples`` (batched, greedy); unusable answers fall back to ``train_tokens``."""
    inputs = [allocator_input(img, section, train_tokens, patch) for img in images]
    convs = [allocation_messages(tasks[s.task], s, a.n0, a.native) for s, a in zip(samples, inputs)]
    with policy.allocator() as model:
        gens = generate(model, processor, convs, [a.image for a in inputs],
                        max_new_tokens=section.max_completion_length, batch_size=batch_size)
        chosen: list[int | None] = [None] * len(gens)
        if section.answer in ("candidates", "expected"):
            prefixes = [answer_prefix(g.text) for g in gens]
            todo = [i for i, prefix in enumerate(prefixes) if prefix is not None]
            args = (model, processor, [convs[i] for i in todo], [inputs[i].image for i in todo],
                    [prefixes[i] or "" for i in todo], section.candidates, batch_size)
            if section.answer == "candidates":
                picks = candidate_budgets(*args)
            else:
                from pathreason.registry import get_reward

                rule = get_reward(section.rule, lam=section.lam)
                budgets, logps = candidate_logps(*args)
                picks = [expected_budget(budgets, [sum(t) for t in scores], rule, inputs[i].n0, inputs[i].native)
                         for i, scores in zip(todo, logps)]
            for i, pick in zip(todo, picks):
                chosen[i] = pick
    out = []
    for gen, a, choice in zip(gens, inputs, chosen):
        n = choice if choice is not None else parse_token_count(gen.text)
        budget = train_tokens if n is None else clamp_tokens(n, a.native)
        out.append(Allocation(answer=gen.text, requested=n, budget=budget, fallback=n is None,
                              allocator_tokens=a.view_tokens))
    return out


def answer_prefix(text: str) -> str | None:
    """The allocator's completion up to and including its last ``<answer>`` tag (``None``: no tag).

    >>> answer_prefix("<think> coarse </think> <answer> 216 </answer>")
    '<think> coarse </think> <answer>'
    """
    end = text.rfind("<answer>")
    return None if end < 0 else text[:end + len("<answer>")]


def candidate_budgets(model: Any, processor: Any, conversations: Sequence[list[dict[str, Any]]],
                      images: Sequence[Any], prefixes: Sequence[str], candidates: Sequence[int],
                      batch_size: int = 16) -> list[int]:
    """Per conversation: the budget the model writes after the prompt, its image and ``prefix`` (its
    own completion up to ``<answer>``) when each token must continue one of ``candidates``:
    greedy decoding constrained to the candidates' tokens (``" n </answer>"``). A number is written
    digit by digit, so free greedy decoding can join the digits of two budgets (``"216"`` between
    256 and 16); constrained, the first digit it picks leaves only the budgets that start with it.
    Each candidate's tokens are scored once (teacher-forced, batched); a tie goes to the smaller."""
    budgets, logps = candidate_logps(model, processor, conversations, images, prefixes, candidates, batch_size)
    tails = candidate_tails(processor, budgets)
    return [budgets[_constrained_greedy(tails, scores)] for scores in logps]


def candidate_tails(processor: Any, budgets: Sequence[int]) -> list[list[int]]:
    """The token ids of each budget's answer tail, ``" n </answer>"``."""
    return [processor.tokenizer(f" {n} </answer>", add_special_tokens=False)["input_ids"] for n in budgets]


def expected_budget(budgets: Sequence[int], logps: Sequence[float], rule: Any, n0: int, native: int) -> int:
    """The budget whose expected allocation reward is highest (``allocator.answer: expected``).

    ``logps[c]`` is the log-probability of the allocator writing ``budgets[c]``; normalised over the
    candidates it is read as the allocator's belief that ``budgets[c]`` is the image's oracle budget
    (what the oracle warm-up teaches: the smallest budget at which the performer answers right). A
    budget ``c`` then answers right with probability ``P(oracle <= c)``, and its expected reward under
    the allocation ``rule`` (a reward plugin, called with performer scores 1 and 0) is
    ``P(oracle <= c) * R(c, 1) + (1 - P(oracle <= c)) * R(c, 0)``. The smaller budget wins a tie. Under
    ``token_cost`` (``s - lam * c / n0``) a likely 16 gives way to 64 when the belief that 16 is not
    enough outweighs the 48 tokens' price:

    >>> from pathreason.rewards.allocation import rule_reward, token_cost_reward
    >>> rule = rule_reward(token_cost_reward, "token_cost", lam=0.25)
    >>> import math
    >>> expected_budget([16, 64, 256], [math.log(0.6), math.log(0.25), math.log(0.15)], rule, 256, 256)
    64
    """
    import math

    from pathreason.allocator.inputs import allocation_target

    top = max(logps)
    weights = [math.exp(v - top) for v in logps]
    total = sum(weights)
    cdf, best, best_value = 0.0, budgets[0], float("-inf")
    for n, w in zip(budgets, weights):
        cdf += w / total
        right, wrong = (float("-inf") if r is None else float(r) for r in rule(
            [allocation_target(n, "")] * 2, n0=[n0] * 2, native_tokens=[native] * 2, performer_score=[1.0, 0.0]))
        value = cdf * right + (1 - cdf) * wrong
        if value > best_value + 1e-12:
            best, best_value = n, value
    return best


def candidate_logps(model: Any, processor: Any, conversations: Sequence[list[dict[str, Any]]],
                    images: Sequence[Any], prefixes: Sequence[str], candidates: Sequence[int],
                    batch_size: int = 16) -> tuple[list[int], list[list[list[float]]]]:
    """The sorted distinct ``candidates`` and, per conversation and candidate, the log-probability of
    each token of its answer tail (``" n </answer>"``) after the prompt, the image and ``prefix``:
    teacher-forced, batched, each candidate scored once."""
    import torch

    budgets = sorted(set(candidates))
    tails = candidate_tails(processor, budgets)
    rows = [(i, c) for i in range(len(conversations)) for c in range(len(budgets))]
    contexts = [processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False) + prefix
                for conv, prefix in zip(conversations, prefixes)]
    logps: list[list[list[float]]] = [[[] for _ in budgets] for _ in conversations]
    device = next(model.parameters()).device
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        texts = [contexts[i] + f" {budgets[c]} </answer>" for i, c in chunk]
        enc = processor(images=[images[i] for i, _ in chunk], text=texts, return_tensors="pt", padding=True).to(device)
        ids = enc["input_ids"]
        with torch.inference_mode():
            logits = model(**enc).logits
        lasts = last_token_positions(enc["attention_mask"]).tolist()
        for row, (i, c) in enumerate(chunk):
            last = lasts[row]
            first = last - len(tails[c]) + 1
            logp = torch.log_softmax(logits[row, first - 1:last].float(), dim=-1)
            logps[i][c] = logp.gather(1, ids[row, first:last + 1, None])[:, 0].tolist()
    return budgets, logps


def _constrained_greedy(tails: Sequence[Sequence[int]], logps: Sequence[Sequence[float]]) -> int:
    """The index of the candidate that greedy decoding over the candidates' token trie writes: at each
    step the most likely next token among the candidates still possible (``logps[c][t]``: candidate
    ``c``'s token ``t`` given its own earlier tokens, the same for candidates sharing them).

    >>> _constrained_greedy([[1, 6, 9], [2, 5, 6, 9], [2, 1, 9]], [[-0.9, -0.1, 0], [-0.5, -2.0, -0.1, 0], [-0.5, -0.3, 0]])
    2
    """
    alive = list(range(len(tails)))
    step = 0
    while len(alive) > 1:
        ends = [c for c in alive if len(tails[c]) <= step]
        if ends:  # a candidate complete here (a prefix of the others: it already has its closing tag)
            return min(ends)
        best: dict[int, float] = {}
        for c in alive:
            token = tails[c][step]
            best[token] = max(best.get(token, float("-inf")), logps[c][step])
        chosen = max(best, key=lambda t: (round(best[t], 6), -min(c for c in alive if tails[c][step] == t)))
        alive = [c for c in alive if tails[c][step] == chosen]
        step += 1
    return alive[0]


class RunAllocator:
    """The trained allocator of a run and its frozen performer (see the module docstring)."""

    def __init__(self, policy: DualPolicy, processor: Any, tasks: Mapping[str, Task], config: RunConfig,
                 box_frame: str, max_new_tokens: int, batch_size: int = 16) -> None:
        self.policy = policy
        self.processor = processor
        self.tasks = tasks
        self.config = config
        self.batch_size = batch_size
        self.performer = ModelPerformer(policy.model, processor, tasks, box_frame, config.budget.patch,
                                        max_new_tokens, batch_size, role=policy.performer)

    def allocate(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Allocation]:
        return allocate(self.policy, self.processor, self.tasks, samples, images, self.config.allocator,
                        self.config.budget.train_tokens, self.config.budget.patch, self.batch_size)
