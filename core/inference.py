"""Batched generation with Qwen2.5-VL-style models: one call for many (conversation, image) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Generation:
    text: str
    visual_tokens: int


def visual_token_counts(image_grid_thw: Any, merge_size: int = 2) -> list[int]:
    """Tokens per image from the processor's ``image_grid_thw`` (t * h * w patches, merged 2x2)."""
    return [int(t * h * w) // (merge_size**2) for t, h, w in image_grid_thw.tolist()]


def generate(
    model: Any,
    processor: Any,
    conversations: Sequence[list[dict[str, Any]]],
    images: Sequence[Any],
    max_new_tokens: int = 256,
    do_sample: bool = False,
    temperature: float = 1.0,
    batch_size: int = 16,
) -> list[Generation]:
    """Generate one completion per conversation, each with its (already budget-resized) image.

    Images are passed to the processor as they are: the processor's pixel bounds are set so that it
    does not resize them again (see :mod:`pathreason.models.loading`).
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
        with torch.inference_mode():
            ids = model.generate(**enc, **gen_kwargs)
        new = ids[:, enc["input_ids"].shape[1]:]
        texts_out = processor.batch_decode(new, skip_special_tokens=False)
        for text, n in zip(texts_out, counts):
            out.append(Generation(text=_strip_special(text, processor), visual_tokens=n))
    return out


def _strip_special(text: str, processor: Any) -> str:
    """Drop padding and end-of-turn markers but keep ``<think>``/``<answer>`` tags."""
    tok = processor.tokenizer
    for special in {tok.pad_token, tok.eos_token, "<|im_end|>", "<|endoftext|>"} - {None}:
        text = text.replace(special, "")
    return text.strip()
