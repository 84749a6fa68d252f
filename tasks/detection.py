"""Lesion detection (CRAG, DigestPath): AP@0.5 of the boxes written in the answer (Eq. 9).

The model reads and writes boxes in the frame of the image it is shown (Qwen2.5-VL: pixels of the
resized image), so ground truth is mapped into that frame for training and rewards, and predictions
are mapped back to original pixels for metrics (docs/concepts/index.md, "Box coordinates").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import Task, View
from pathreason.tasks.prompts import detection_prompt

if TYPE_CHECKING:
    from pathreason.api import Sample


def format_boxes(boxes: Sequence[Sequence[float]]) -> str:
    """``[[x1, y1, x2, y2], ...]`` with whole pixels, as the detection prompt asks.

    >>> format_boxes([[1.4, 2.6, 10.0, 20.2]])
    '[[1, 3, 10, 20]]'
    """
    return "[" + ", ".join("[" + ", ".join(str(round(v)) for v in box) + "]" for box in boxes) + "]"


class DetectionTask(Task):
    """``Detect {category} in pathology {organ}. Output bounding boxes in [[x_min, …]] format.``"""

    name = "detection"
    reward_names = ("detection",)
    metric_names = ("map_avg", "map@0.1", "map@0.3", "map@0.5")

    def user_text(self, sample: Sample) -> str:
        return detection_prompt(str(sample.meta.get("category") or "lesions"), str(sample.meta.get("organ") or "tissue"))

    def default_rationale(self, sample: Sample) -> str:
        return f"I scan the image for {sample.meta.get('category') or 'lesions'}."

    def answer_text(self, sample: Sample, view: View) -> str:
        """Boxes in reading order (top to bottom, then left to right): one target per image, so SFT
        does not have to learn an arbitrary order the annotation happened to use."""
        return format_boxes(sorted(view.to_model(sample.boxes), key=lambda b: (b[1], b[0])))

    def parse(self, completion: str, view: View) -> list[list[float]] | None:
        """Boxes in original pixels, or ``None`` when there is no answer at all (which scores 0
        even on an image without objects: only an explicit ``[]`` claims "nothing here")."""
        from pathreason.api.completions import extract_answer, parse_boxes

        answer = extract_answer(completion)
        return None if answer is None else view.to_original(parse_boxes(answer))

    def score(self, parsed: Any, sample: Sample) -> float:
        from pathreason.rewards.detection import score_detection

        return float(score_detection(parsed, sample.boxes))

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        from pathreason.tasks.metrics import detection_map

        return dict(detection_map([p or [] for p in parsed], [s.boxes for s in samples]))
