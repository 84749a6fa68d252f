"""Registers the first-party tasks (through the same entry-point group as third-party plugins)."""

from __future__ import annotations

from typing import Any

from pathreason.api.hookspecs import hookimpl
from pathreason.api.specs import TaskSpec


def _vqa(**options: Any) -> Any:
    from pathreason.tasks.vqa import VQATask

    return VQATask(**options)


def _subtyping(**options: Any) -> Any:
    from pathreason.tasks.subtyping import SubtypingTask

    return SubtypingTask(**options)


def _detection(**options: Any) -> Any:
    from pathreason.tasks.detection import DetectionTask

    return DetectionTask(**options)


@hookimpl
def pathreason_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(name="vqa", factory=_vqa, aliases=("qa",),
                 description="visual question answering: closed (accuracy) and open (BLEU) questions"),
        TaskSpec(name="subtyping", factory=_subtyping, aliases=("sub", "cls"),
                 description="cancer subtyping: one class among the options (balanced accuracy, weighted F1)"),
        TaskSpec(name="detection", factory=_detection, aliases=("det",),
                 description="lesion detection: boxes [[x1, y1, x2, y2], ...] (mAP@0.1/0.3/0.5)"),
    ]
