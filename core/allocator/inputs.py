"""What the token allocator is shown: the paper's allocation prompt around the task prompt, and the
image at N₀ tokens (or a cheap low-resolution look), with N₀ and the native count beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pathreason.api import (
    Sample,
    Task,
    allocation_prompt,
    make_view,
    native_tokens,
    original_tokens,
    resize_for_view,
)

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.config import AllocatorSection

__all__ = ["AllocatorInput", "allocation_messages", "allocation_target", "allocator_input", "allocator_rows"]


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


def allocator_input(image: Image.Image, section: AllocatorSection, train_tokens: int, patch: int = 28) -> AllocatorInput:
    """The allocator's view of ``image``: at N₀ tokens (paper) or the cheap ``low`` look."""
    width, height = image.size
    n0 = original_tokens(height, width, train_tokens, patch)
    native = native_tokens(height, width, patch)
    view = make_view(image.size, train_tokens if section.view == "n0" else section.low_view_tokens, patch=patch)
    return AllocatorInput(n0=n0, native=native, view_tokens=view.tokens, image=resize_for_view(image, view))


def allocation_target(n: int, rationale: str) -> str:
    """The SFT target of the warm-up: a rationale, then the budget."""
    return f"<think> {rationale} </think> <answer> {n} </answer>"


def allocator_rows(section: AllocatorSection, tasks: Mapping[str, Task], samples: Sequence[Sample],
                   images: Sequence[Image.Image], train_tokens: int, patch: int = 28) -> list[dict[str, Any]]:
    """The allocator's GRPO rows: ``prompt`` (the allocation prompt), ``image`` (its view), ``id``,
    ``task``, ``n0``, ``native_tokens``, ``view_tokens`` and the task's ``rationale`` (for the warm-up)."""
    rows = []
    for sample, image in zip(samples, images):
        a = allocator_input(image, section, train_tokens, patch)
        rows.append({"prompt": allocation_messages(tasks[sample.task], sample, a.n0, a.native),
                     "image": a.image, "id": sample.id, "task": sample.task, "n0": a.n0, "native_tokens": a.native,
                     "view_tokens": a.view_tokens, "rationale": tasks[sample.task].rationale(sample)})
    return rows
