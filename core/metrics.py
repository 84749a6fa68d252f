"""The cost side of every evaluation: TPI, the mean number of visual tokens per image (paper §4.1).

The task metrics (VQA accuracy and BLEU, subtyping balanced accuracy and weighted F1, detection mAP)
belong to their tasks: :mod:`pathreason.tasks.metrics`. Their old names here still work until
pathreason 0.3, with a :class:`~pathreason.api.PathreasonDeprecationWarning`.

``TokensPerImage`` is an ``evaluate`` metric built on first access (``import pathreason.metrics``
does not import ``evaluate``) and constructed directly, never through ``evaluate.load``::

    from pathreason.metrics import TokensPerImage

    TokensPerImage().compute(tokens=[64, 256], allocator_tokens=[4, 4])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api._moved import moved

if TYPE_CHECKING:  # built on first access by __getattr__ below
    TokensPerImage: type

__all__ = ["TokensPerImage", "tpi"]

#: Deprecated homes (removed in 0.3): the task metrics moved to their tasks.
_MOVED = moved(__name__, dict.fromkeys(
    ("DETECTION_IOU_THRESHOLDS", "DetectionMAP", "SubtypingScores", "VQAScores", "detection_map",
     "subtyping_scores", "vqa_scores"), "pathreason.tasks.metrics"))


def tpi(tokens: Sequence[int]) -> float:
    """TPI: the mean number of visual tokens per image.

    >>> tpi([64, 256, 100])
    140.0
    """
    values = [int(t) for t in tokens]
    if not values:
        raise ValueError("tpi: no images to average over")
    if min(values) < 0:
        raise ValueError(f"tpi: token counts must be non-negative, got {min(values)}")
    return math.fsum(values) / len(values)


@functools.lru_cache(maxsize=1)
def _tokens_per_image_class() -> type:
    """Define the ``evaluate.Metric`` subclass (imports evaluate and datasets)."""
    import datasets
    import evaluate

    class TokensPerImage(evaluate.Metric):  # type: ignore[misc]
        """TPI (:func:`tpi`). Input: ``tokens`` (visual tokens given to the task performer, per
        image); optional ``allocator_tokens`` (the allocator's own visual tokens per image),
        which adds ``allocator_tpi`` and ``total_tpi``."""

        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("keep_in_memory", True)
            super().__init__(**kwargs)

        def _info(self) -> Any:
            return evaluate.MetricInfo(description=tpi.__doc__ or "", citation="",
                                       features=datasets.Features({"tokens": datasets.Value("int64")}),
                                       inputs_description=TokensPerImage.__doc__ or "")

        def _compute(self, tokens: Any, allocator_tokens: Sequence[int] | None = None, **_: Any) -> dict[str, float]:
            result = {"tpi": tpi(tokens)}
            if allocator_tokens is not None:
                result["allocator_tpi"] = tpi(allocator_tokens)
                result["total_tpi"] = result["tpi"] + result["allocator_tpi"]
            return result

    TokensPerImage.__module__ = __name__  # so that it pickles as pathreason.metrics.TokensPerImage
    TokensPerImage.__qualname__ = "TokensPerImage"
    return TokensPerImage


def __getattr__(name: str) -> Any:
    if name == "TokensPerImage":
        cls = _tokens_per_image_class()
        globals()[name] = cls
        return cls
    return _MOVED(name)
