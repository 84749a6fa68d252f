"""What a task is: prompts, the SFT target, answer parsing, the score and the rewards.

A task turns a :class:`pathreason.Sample` into chat messages (the paper's system prompt verbatim and
its task template, Appendix A), writes the SFT target ``<think>…</think> <answer>…</answer>``,
parses a completion into an answer, scores it (the task reward without the format term: ``s(n)`` of
Eq. 10) and names the reward plugins GRPO uses. Tasks see a sample through a :class:`View`: the
image resized to a visual-token budget, with box coordinates mapped between the original pixels and
the frame the model is shown (design §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pathreason.budget import PATCH, count_tokens, rescale_boxes, smart_resize
from pathreason.prompts import SYSTEM_PROMPT

if TYPE_CHECKING:
    from PIL import Image

    from pathreason.sample import Sample


@dataclass(frozen=True)
class View:
    """A sample as the model sees it under a budget.

    ``size`` is the resized ``(width, height)``, ``orig_size`` the original one; ``box_frame`` is the
    model family's coordinate convention: ``"absolute"`` (pixels of the resized image, Qwen2.5-VL) or
    ``"norm1000"`` (0-1000 of the image, Qwen2-VL / Qwen3-VL).
    """

    orig_size: tuple[int, int]
    size: tuple[int, int]
    tokens: int
    budget: int | None
    box_frame: str = "absolute"

    def _frame_size(self) -> tuple[int, int]:
        return (1000, 1000) if self.box_frame == "norm1000" else self.size

    def to_model(self, boxes: Sequence[Sequence[float]]) -> list[list[float]]:
        """Original-pixel boxes -> the frame the model reads and writes."""
        return rescale_boxes(boxes, self.orig_size, self._frame_size())

    def to_original(self, boxes: Sequence[Sequence[float]]) -> list[list[float]]:
        """Boxes the model wrote -> original pixels (for metrics)."""
        return rescale_boxes(boxes, self._frame_size(), self.orig_size)


def make_view(orig_size: tuple[int, int], budget: int | None, box_frame: str = "absolute",
              patch: int = PATCH) -> View:
    """The view of an image of ``orig_size`` (width, height) under ``budget`` (None: native)."""
    width, height = orig_size
    h, w = smart_resize(height, width, budget, patch)
    return View(orig_size=(width, height), size=(w, h), tokens=count_tokens(height, width, budget, patch),
                budget=budget, box_frame=box_frame)


def resize_for_view(image: Image.Image, view: View) -> Image.Image:
    from PIL import Image as PILImage

    if image.size == view.size:
        return image
    return image.resize(view.size, PILImage.Resampling.BICUBIC)


class Task:
    """Base class of a task plugin. Subclasses set ``name`` and ``reward_names`` and fill the hooks."""

    name: str = ""
    #: Reward plugins of the task term (the format reward is added by the engine with weight lambda_f).
    reward_names: tuple[str, ...] = ()
    #: Keys of the metrics dict that summarise the task (the first one is the headline).
    metric_names: tuple[str, ...] = ()
    system_prompt: str = SYSTEM_PROMPT

    def __init__(self, **options: Any) -> None:
        if options:
            raise TypeError(f"task {self.name!r} takes no options, got {sorted(options)}")

    # ---- prompts ---------------------------------------------------------------------------------
    def user_text(self, sample: Sample) -> str:
        raise NotImplementedError

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        """System prompt, then the user turn: the image and the task prompt."""
        return self.chat(self.user_text(sample))

    def chat(self, text: str) -> list[dict[str, Any]]:
        """The task's system prompt, then a user turn of the image and ``text``."""
        return [
            {"role": "system", "content": [{"type": "text", "text": self.system_prompt}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]},
        ]

    # ---- SFT target ------------------------------------------------------------------------------
    def rationale(self, sample: Sample) -> str:
        """The ``<think>`` text of the SFT target: ``meta["rationale"]`` when the data has one."""
        return str(sample.meta.get("rationale") or self.default_rationale(sample))

    def default_rationale(self, sample: Sample) -> str:
        return "I examine the tissue in the image."

    def answer_text(self, sample: Sample, view: View) -> str:
        """The gold answer as the model should write it (in the model's frame for boxes)."""
        return sample.answer

    def target(self, sample: Sample, view: View) -> str:
        return f"<think> {self.rationale(sample)} </think> <answer> {self.answer_text(sample, view)} </answer>"

    # ---- rewards ---------------------------------------------------------------------------------
    def reward_columns(self, sample: Sample, view: View) -> dict[str, Any]:
        """Dataset columns the reward functions receive as keyword arguments (TRL's contract)."""
        return {"task": self.name, "answer": sample.answer, "options": list(sample.options),
                "boxes": view.to_model(sample.boxes), "question": sample.question}

    # ---- parsing and scoring ---------------------------------------------------------------------
    def parse(self, completion: str, view: View) -> Any:
        """The answer of a completion (boxes in original pixels); never raises."""
        from pathreason.rewards.parsing import extract_answer

        return extract_answer(completion)

    def score(self, parsed: Any, sample: Sample) -> float:
        """The task score of a parsed answer, without the format term (``s`` of Eq. 10)."""
        raise NotImplementedError

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        """Dataset-level metrics of the paper (§4.1) for this task."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<task {self.name}>"
