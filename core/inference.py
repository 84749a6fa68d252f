"""Batched generation with Qwen2.5-VL-style models, and the task performer built on it.

:func:`generate` runs one call for many (conversation, image) pairs; :class:`ModelPerformer` is the
:class:`pathreason.api.Performer` that budgeters and evaluation use: it resizes each image to its
budget, builds the task's messages and answers greedily, optionally with the mean log-probability of
the answer's tokens (a confidence).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pathreason.api import Answer, Task, make_view, resize_for_view

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.api import Sample


@dataclass(frozen=True)
class Generation:
    text: str
    visual_tokens: int
    logprob: float | None = None


def visual_token_counts(image_grid_thw: Any, merge_size: int = 2) -> list[int]:
    """Tokens per image from the processor's ``image_grid_thw`` (t * h * w patches, merged 2x2)."""
    return [int(t * h * w) // (merge_size**2) for t, h, w in image_grid_thw.tolist()]


def answer_span_mean(pieces: Sequence[str], logprobs: Sequence[float]) -> float | None:
    """The mean of ``logprobs`` over the tokens (decoded as ``pieces``) that overlap the text inside
    the last ``<answer>…</answer>``; over every token when there is no answer block; ``None`` for an
    empty generation.

    >>> answer_span_mean(["<think>", "x", "</think>", "<answer>", "B", "</answer>"], [-1, -2, -1, -0.5, -0.1, -0.2])
    -0.1
    """
    if not pieces:
        return None
    text = "".join(pieces)
    start = text.rfind("<answer>")
    end = text.find("</answer>", start + 1) if start >= 0 else -1
    if start < 0:
        values = list(logprobs)
    else:
        lo, hi = start + len("<answer>"), end if end >= 0 else len(text)
        values, position = [], 0
        for piece, value in zip(pieces, logprobs):
            piece_end = position + len(piece)
            if piece_end > lo and position < hi:
                values.append(value)
            position = piece_end
        values = values or list(logprobs)
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else -math.inf


def last_token_positions(attention_mask: Any) -> Any:
    """Per row of a padded batch: the position of its last real token, whichever side pads."""
    return attention_mask.shape[1] - 1 - attention_mask.flip(1).argmax(1)


def generate(
    model: Any,
    processor: Any,
    conversations: Sequence[list[dict[str, Any]]],
    images: Sequence[Any],
    max_new_tokens: int = 256,
    do_sample: bool = False,
    temperature: float = 1.0,
    batch_size: int = 16,
    logprobs: bool = False,
) -> list[Generation]:
    """Generate one completion per conversation, each with its (already budget-resized) image.

    Images are passed to the processor as they are: the processor's pixel bounds are set so that it
    does not resize them again (see :mod:`pathreason.models.loading`). With ``logprobs`` each
    generation carries the mean log-probability of its answer's tokens (:func:`answer_span_mean`).
    """
    import torch

    if len(conversations) != len(images):
        raise ValueError(f"{len(conversations)} conversations but {len(images)} images")
    merge = getattr(processor.image_processor, "merge_size", 2)
    out: list[Generation] = []
    device = next(model.parameters()).device
    for start in range(0, len(conversations), batch_size):
        convs = conversations[start:start + batch_size]
        imgs = list(images[start:start + batch_size])
        texts = [processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in convs]
        enc = processor(images=imgs, text=texts, return_tensors="pt", padding=True).to(device)
        counts = visual_token_counts(enc["image_grid_thw"], merge)
        gen_kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": do_sample,
                                      "pad_token_id": processor.tokenizer.pad_token_id}
        if do_sample:
            gen_kwargs["temperature"] = temperature
        else:
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        if logprobs:
            gen_kwargs.update(return_dict_in_generate=True, output_scores=True)
        with torch.inference_mode():
            result = model.generate(**enc, **gen_kwargs)
        ids = result.sequences if logprobs else result
        new = ids[:, enc["input_ids"].shape[1]:]
        texts_out = processor.batch_decode(new, skip_special_tokens=False)
        confidences: list[float | None] = [None] * len(texts_out)
        if logprobs:
            confidences = _answer_logprobs(model, processor, new, result.scores)
        for text, n, confidence in zip(texts_out, counts, confidences):
            out.append(Generation(text=_strip_special(text, processor), visual_tokens=n, logprob=confidence))
    return out


def _answer_logprobs(model: Any, processor: Any, new: Any, scores: Any) -> list[float | None]:
    """Per generated sequence: the mean log-probability of its answer's tokens."""
    import torch

    steps = torch.stack(list(scores), dim=1).float().log_softmax(-1)  # (batch, steps, vocab)
    chosen = steps.gather(-1, new[:, :steps.shape[1], None]).squeeze(-1)
    tok = processor.tokenizer
    ends = {tok.pad_token_id, tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")} - {None}
    out: list[float | None] = []
    for row, values in zip(new.tolist(), chosen.tolist()):
        length = next((i for i, t in enumerate(row) if t in ends), len(row))
        pieces = [tok.decode([t], skip_special_tokens=False) for t in row[:length]]
        out.append(answer_span_mean(pieces, values[:length]))
    return out


def _strip_special(text: str, processor: Any) -> str:
    """Drop padding and end-of-turn markers but keep ``<think>``/``<answer>`` tags."""
    tok = processor.tokenizer
    for special in {tok.pad_token, tok.eos_token, "<|im_end|>", "<|endoftext|>"} - {None}:
        text = text.replace(special, "")
    return text.strip()


class ModelPerformer:
    """The task performer of a loaded model (a :class:`pathreason.api.Performer`): greedy, batched.

    ``batch_size=None`` makes every call one batched generation. ``role`` (optional) is a context
    manager factory entered around each generation, e.g. the performer role of a model that also
    carries the token allocator's adapter.
    """

    def __init__(self, model: Any, processor: Any, tasks: Mapping[str, Task], box_frame: str = "absolute",
                 patch: int = 28, max_new_tokens: int = 256, batch_size: int | None = 16,
                 role: Callable[[], AbstractContextManager[Any]] | None = None) -> None:
        self.model = model
        self.processor = processor
        self.tasks = tasks
        self.box_frame = box_frame
        self.patch = patch
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.role = role or nullcontext
        self.calls = 0
        """Batched generations run so far (the allocator's reward counts its own)."""

    def answer(self, samples: Sequence[Sample], images: Sequence[Image.Image], budgets: Sequence[int | None],
               *, logprobs: bool = False) -> list[Answer]:
        if not (len(samples) == len(images) == len(budgets)):
            raise ValueError(f"{len(samples)} samples, {len(images)} images and {len(budgets)} budgets")
        if not samples:
            return []
        views = [make_view(image.size, budget, self.box_frame, self.patch) for image, budget in zip(images, budgets)]
        convs = [self.tasks[s.task].messages(s) for s in samples]
        resized = [resize_for_view(image, view) for image, view in zip(images, views)]
        self.calls += 1
        with self.role():
            gens = generate(self.model, self.processor, convs, resized, max_new_tokens=self.max_new_tokens,
                            batch_size=self.batch_size or len(samples), logprobs=logprobs)
        return [Answer(text=gen.text, tokens=gen.visual_tokens, budget=budget, logprob=gen.logprob)
                for gen, budget in zip(gens, budgets)]


__all__ = ["Generation", "ModelPerformer", "answer_span_mean", "generate", "last_token_positions", "visual_token_counts"]
