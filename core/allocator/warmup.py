"""The allocator's warm-up: a few SFT steps on budget answers before GRPO, so that a model that never
wrote a token count gets a GRPO signal (``allocator.warmup_steps``, ``allocator.warmup_target``).

**Neighbour-smoothed targets** (``allocator.warmup_neighbours: k``). An image's own best budget is
noisy: a yes/no question its performer cannot yet see at 16 tokens is still answered right there
half the time, by luck, and SFT on such targets learns their most frequent value, not the budget
that pays on average. With ``k`` > 0 each image's target is the budget with the highest *mean*
reward over its ``k`` nearest warm-up images (itself included), neighbours by cosine similarity of
the frozen performer's last hidden state at the end of the allocation prompt (:func:`input_embeddings`):
images the allocator cannot tell apart get the budget that is best for them as a group.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pathreason.allocator.inputs import allocation_target
from pathreason.allocator.oracle import best_budget

if TYPE_CHECKING:
    from pathreason.config import RunConfig

__all__ = ["input_embeddings", "smoothed_budgets", "warmup_config", "warmup_rows"]


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


def warmup_config(config: RunConfig) -> RunConfig:
    """The run config with an ``sft`` section for the warm-up, taken from the allocator's settings."""
    section = config.allocator
    return config.model_copy(update={"sft": config.sft.model_copy(update={
        "max_steps": section.warmup_steps, "budget_mix": None, "lr_scheduler_type": section.lr_scheduler_type,
        "learning_rate": section.warmup_learning_rate or section.learning_rate,
        "per_device_train_batch_size": section.per_device_train_batch_size, "warmup_ratio": 0.1,
        "save_steps": max(section.warmup_steps, 1), "logging_steps": section.logging_steps})})


def smoothed_budgets(rewards: Mapping[str, Mapping[int, float]], embeddings: Mapping[str, Sequence[float]],
                     k: int) -> dict[str, int]:
    """Per image id: the budget with the highest mean reward over its ``k`` nearest images (cosine
    similarity of ``embeddings``, the image itself included), the smaller budget on a tie.

    ``a`` is right at 16 tokens by luck, its look-alike ``b`` is not; ``c`` and ``d`` are right there:

    >>> rewards = {"a": {16: 1.0, 256: 0.75}, "b": {16: 0.0, 256: 0.75}, "c": {16: 1.0, 256: 0.75},
    ...            "d": {16: 1.0, 256: 0.75}}
    >>> smoothed_budgets(rewards, {"a": [1, 0], "b": [1, 0.1], "c": [0, 1], "d": [0.1, 1]}, k=2)
    {'a': 256, 'b': 256, 'c': 16, 'd': 16}
    """
    import numpy as np

    ids = sorted(rewards)
    if not ids:
        return {}
    vectors = np.asarray([embeddings[i] for i in ids], dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = vectors @ vectors.T
    k = max(1, min(k, len(ids)))
    budgets = sorted(set().union(*(rewards[i] for i in ids)))
    table = np.asarray([[rewards[i].get(b, 0.0) for b in budgets] for i in ids])
    out = {}
    for row, sid in enumerate(ids):
        order = sorted(range(len(ids)), key=lambda j: (-similarity[row, j], j != row, j))[:k]
        out[sid] = best_budget(dict(zip(budgets, table[order].mean(axis=0).tolist())))
    return out


def _text_only(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` without their image entries (the prompt as text alone)."""
    return [{**m, "content": [c for c in m["content"] if c.get("type") != "image"]} if isinstance(m.get("content"), list)
            else m for m in messages]


def input_embeddings(model: Any, processor: Any, rows: Sequence[dict[str, Any]], batch_size: int = 16,
                     by: str = "input") -> dict[str, list[float]]:
    """Per row id: ``model``'s last hidden state at the last token of the row's allocation prompt, the
    representation neighbours are found in: ``by="input"``, the prompt with its ``image`` as the
    allocator sees them; ``by="prompt"``, the prompt's text alone (images asked alike are neighbours,
    whatever they show)."""
    import torch

    from pathreason.inference import last_token_positions

    if by not in ("input", "prompt"):
        raise ValueError(f"input_embeddings: by must be 'input' or 'prompt', got {by!r}")
    out: dict[str, list[float]] = {}
    device = next(model.parameters()).device
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        prompts = [r["prompt"] if by == "input" else _text_only(r["prompt"]) for r in batch]
        texts = [processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in prompts]
        images = [r["image"] for r in batch] if by == "input" else None
        enc = processor(images=images, text=texts, return_tensors="pt", padding=True).to(device)
        with torch.inference_mode():
            hidden = model(**enc, output_hidden_states=True).hidden_states[-1]
        last = last_token_positions(enc["attention_mask"])
        for r, h in zip(batch, hidden[torch.arange(hidden.shape[0]), last].float().cpu()):
            out[r["id"]] = h.tolist()
    return out
