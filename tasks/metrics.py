"""The paper's task metrics (§4.1), as plain functions and ``evaluate`` metrics.

=================  ==========================================================================
task               metric
=================  ==========================================================================
VQA                accuracy on closed questions (options or yes/no); BLEU on open ones: the mean
                   of the open-VQA reward's sentence BLEU-4 (NLTK method-4 smoothing, see
                   :mod:`pathreason.rewards.bleu`), with corpus BLEU-4 reported beside it
subtyping          balanced accuracy and weighted F1 (scikit-learn), plus accuracy
detection          mAP at IoU 0.1, 0.3, 0.5 and their mean, COCO-style over the whole dataset
=================  ==========================================================================

TPI, the cost side of every task, is the runtime's (:mod:`pathreason.metrics`).

Predictions are already-extracted answers (:func:`pathreason.api.extract_answer`; ``None``
for a completion without one, which counts as wrong) or, for detection, parsed boxes.

Detection mAP follows pycocotools' definition for one class-agnostic category (tests check
agreement with ``COCOeval`` to 1e-6): the predictions of all images are ranked together, each
image's predictions are matched greedily in rank order to the unmatched ground truth of highest
IoU ≥ t, and precision is interpolated at 101 recall points. Boxes carry no scores, so the
confidence of the i-th box an image's answer lists (i = 0, 1, ...) is 1 / (i + 1): every first
box outranks every second box, and boxes of equal rank keep the order of their images (a stable
sort, as pycocotools' mergesort). Nothing is capped (as ``maxDets`` at least the longest
answer), no ground truth is ignored (area range "all", no crowd boxes), and an invalid
predicted box (x2 ≤ x1, y2 ≤ y1, non-finite) is a false positive at its rank (pycocotools would
drop a negative-area box through its area range; here it counts against the model). With no ground
truth in the whole dataset the mAP is undefined: NaN (pycocotools reports -1).
The per-completion reward (all-point AP@0.5 of one image) differs from this on purpose.

The ``evaluate`` metrics are built on first access (``import pathreason.tasks.metrics`` does not
import ``evaluate``, which loads transformers and torch) and are constructed directly, never
through ``evaluate.load``; they default to ``keep_in_memory=True``::

    import evaluate
    from pathreason.metrics import TokensPerImage
    from pathreason.tasks.metrics import DetectionMAP

    metrics = evaluate.combine([DetectionMAP(), TokensPerImage()])
    metrics.compute(predictions=[[[10, 10, 50, 50]]], references=[[[12, 10, 50, 52]]], tokens=[256])
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # built on first access by __getattr__ below
    DetectionMAP: type
    SubtypingScores: type
    VQAScores: type

__all__ = [
    "DETECTION_IOU_THRESHOLDS",
    "DetectionMAP",
    "SubtypingScores",
    "VQAScores",
    "detection_map",
    "subtyping_scores",
    "vqa_scores",
]

DETECTION_IOU_THRESHOLDS = (0.1, 0.3, 0.5)
_UNPARSED = "<unparsed>"  # a class label that no normalised answer can equal


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def _check_lengths(name: str, predictions: Sequence[Any], references: Sequence[Any],
                   options: Sequence[Any] | None = None) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{name}: got {len(predictions)} predictions but {len(references)} references")
    if options is not None and len(options) != len(references):
        raise ValueError(f"{name}: got {len(options)} option lists for {len(references)} references")
    if not references:
        raise ValueError(f"{name}: no samples to score")


def vqa_scores(predictions: Sequence[str | None], references: Sequence[str],
               options: Sequence[Sequence[str] | None] | None = None) -> dict[str, float]:
    """VQA metrics: ``accuracy`` on closed questions, ``bleu`` (mean sentence BLEU-4, the reward's
    definition) and ``corpus_bleu`` on open ones, and the counts ``n_closed``/``n_open``. A
    metric with no question of its kind is NaN.

    >>> vqa_scores(["B", "no", "gland"], ["B", "yes", "gland"], [["fat", "gland"], [], []])
    {'accuracy': 0.5, 'bleu': 1.0, 'corpus_bleu': 1.0, 'n_closed': 2, 'n_open': 1}
    """
    from pathreason.rewards.bleu import corpus_bleu
    from pathreason.rewards.vqa import is_closed, score_vqa

    _check_lengths("vqa_scores", predictions, references, options)
    opts: Sequence[Sequence[str] | None] = options if options is not None else [None] * len(references)
    closed, open_scores, hyps, refs = [], [], [], []
    for pred, ref, opt in zip(predictions, references, opts):
        score = score_vqa(pred, ref, opt)
        if is_closed(ref, opt):
            closed.append(score)
        else:
            open_scores.append(score)
            hyps.append(pred or "")
            refs.append(ref)
    return {
        "accuracy": _mean(closed),
        "bleu": _mean(open_scores),
        "corpus_bleu": corpus_bleu(hyps, refs) if refs else math.nan,
        "n_closed": len(closed),
        "n_open": len(open_scores),
    }


def subtyping_scores(predictions: Sequence[str | None], references: Sequence[str],
                     options: Sequence[Sequence[str] | None] | None = None) -> dict[str, float]:
    """Subtyping metrics: ``balanced_accuracy`` (mean recall over the classes present in the
    references), ``weighted_f1`` (F1 per reference class weighted by its support) and
    ``accuracy``. Answers are resolved to class names by letter or name as the reward does; an
    answer that names no class is a wrong prediction.

    >>> s = subtyping_scores(["A", "hp", None, "NORM"], ["NORM", "HP", "HP", "NORM"], [["NORM", "HP"]] * 4)
    >>> s["balanced_accuracy"], s["accuracy"], round(s["weighted_f1"], 4)
    (0.75, 0.75, 0.8333)
    """
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from pathreason.rewards.choices import resolve_choice

    _check_lengths("subtyping_scores", predictions, references, options)
    opts: Sequence[Sequence[str] | None] = options if options is not None else [None] * len(references)
    y_true = [resolve_choice(ref, opt) for ref, opt in zip(references, opts)]
    y_pred = [_UNPARSED if pred is None else resolve_choice(pred, opt) for pred, opt in zip(predictions, opts)]
    with warnings.catch_warnings():
        # Predictions outside the reference classes are simply wrong; sklearn warns about them.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = float(balanced_accuracy_score(y_true, y_pred))
    weighted_f1 = float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="weighted", zero_division=0))
    return {
        "balanced_accuracy": balanced,
        "weighted_f1": weighted_f1,
        "accuracy": _mean([float(t == p) for t, p in zip(y_true, y_pred)]),
    }


def _recall_thresholds() -> Any:
    """pycocotools' 101 recall points 0, 0.01, ..., 1, built exactly as ``COCOeval``'s ``Params``."""
    import numpy as np

    return np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)


def detection_map(predictions: Sequence[Any], references: Sequence[Any],
                  iou_thresholds: Sequence[float] = DETECTION_IOU_THRESHOLDS) -> dict[str, float]:
    """COCO-style mAP of a dataset at each IoU threshold (keys ``"map@0.1"``...) and their mean
    (``"map_avg"``); see the module docstring for the exact definition.

    ``predictions[i]``: the boxes of image ``i`` in the order the answer lists them;
    ``references[i]``: its ground-truth boxes; both ``[[x1, y1, x2, y2], ...]`` in one frame.

    One hit ranked first, then a false positive, one of two truths found: precision 1 at the 51
    recall points 0, 0.01, ..., 0.5 and 0 at the other 50:

    >>> m = detection_map([[[0, 0, 10, 10], [50, 50, 60, 60]], []], [[[0, 0, 10, 10]], [[20, 20, 30, 30]]])
    >>> round(m["map@0.5"], 6), round(m["map_avg"], 6), round(51 / 101, 6)
    (0.50495, 0.50495, 0.50495)
    """
    import numpy as np

    from pathreason.rewards.detection import as_boxes, match_arrays

    _check_lengths("detection_map", predictions, references)
    thresholds = [float(t) for t in iou_thresholds]
    preds = [as_boxes(p, f"detection_map: predictions of image {i}") for i, p in enumerate(predictions)]
    gts = [as_boxes(g, f"detection_map: references of image {i}") for i, g in enumerate(references)]
    n_pred = np.array([len(p) for p in preds], dtype=np.int64)
    n_gt = int(sum(len(g) for g in gts))
    tps = match_arrays(np.concatenate([np.zeros((0, 4)), *preds]), n_pred,
                       np.concatenate([np.zeros((0, 4)), *gts]), [len(g) for g in gts], thresholds)
    image = np.repeat(np.arange(len(preds)), n_pred)
    rank = np.arange(len(image)) - (np.cumsum(n_pred) - n_pred)[image]
    order = np.lexsort((image, rank))  # by rank, then image: pycocotools' stable sort of 1/(rank+1)
    recall_points = _recall_thresholds()
    results: dict[str, float] = {}
    for threshold, tp in zip(thresholds, tps):
        if n_gt == 0:
            results[f"map@{threshold:g}"] = math.nan
            continue
        tp_sorted = tp[order]
        tp_sum = np.cumsum(tp_sorted).astype(np.float64)
        fp_sum = np.cumsum(~tp_sorted).astype(np.float64)
        recall = tp_sum / n_gt
        precision = tp_sum / (fp_sum + tp_sum + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        index = np.searchsorted(recall, recall_points, side="left")
        sampled = np.zeros(len(recall_points))
        inside = index < len(precision)
        sampled[inside] = precision[index[inside]]
        results[f"map@{threshold:g}"] = float(sampled.mean())
    results["map_avg"] = _mean(list(results.values()))
    return results


@functools.lru_cache(maxsize=1)
def _metric_classes() -> dict[str, type]:
    """Define the ``evaluate.Metric`` subclasses (imports evaluate and datasets)."""
    import datasets
    import evaluate

    answers = datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")})
    boxes = datasets.Sequence(datasets.Sequence(datasets.Value("float64")))

    class _Metric(evaluate.Metric):  # type: ignore[misc]
        """An offline metric: built directly, kept in memory unless told otherwise."""

        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("keep_in_memory", True)
            super().__init__(**kwargs)

    class VQAScores(_Metric):
        """:func:`vqa_scores`. Inputs: ``predictions`` (extracted answers or ``None``),
        ``references``; optional ``options`` (one list per question)."""

        def _info(self) -> Any:
            return evaluate.MetricInfo(description=vqa_scores.__doc__ or "", citation="", features=answers,
                                       inputs_description=VQAScores.__doc__ or "")

        def _compute(self, predictions: Any, references: Any, options: Any = None, **_: Any) -> dict[str, float]:
            return vqa_scores(predictions, references, options)

    class SubtypingScores(_Metric):
        """:func:`subtyping_scores`. Inputs: ``predictions`` (extracted answers or ``None``),
        ``references`` (class names or letters); optional ``options`` (the classes per sample)."""

        def _info(self) -> Any:
            return evaluate.MetricInfo(description=subtyping_scores.__doc__ or "", citation="", features=answers,
                                       inputs_description=SubtypingScores.__doc__ or "")

        def _compute(self, predictions: Any, references: Any, options: Any = None, **_: Any) -> dict[str, float]:
            return subtyping_scores(predictions, references, options)

    class DetectionMAP(_Metric):
        """:func:`detection_map`. Inputs: ``predictions`` and ``references``, one list of
        ``[x1, y1, x2, y2]`` boxes per image (predictions in emitted order); optional
        ``iou_thresholds``."""

        def _info(self) -> Any:
            return evaluate.MetricInfo(description=detection_map.__doc__ or "", citation="",
                                       features=datasets.Features({"predictions": boxes, "references": boxes}),
                                       inputs_description=DetectionMAP.__doc__ or "")

        def _compute(self, predictions: Any, references: Any, iou_thresholds: Sequence[float] = DETECTION_IOU_THRESHOLDS,
                     **_: Any) -> dict[str, float]:
            return detection_map(predictions, references, iou_thresholds)

    classes: dict[str, type] = {}
    for cls in (VQAScores, SubtypingScores, DetectionMAP):
        cls.__module__ = __name__  # so that they pickle as pathreason.metrics.<name>
        cls.__qualname__ = cls.__name__
        classes[cls.__name__] = cls
    return classes


def __getattr__(name: str) -> Any:
    if name in ("VQAScores", "SubtypingScores", "DetectionMAP"):
        cls = _metric_classes()[name]
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
