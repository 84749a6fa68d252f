"""The detection reward (paper Eq. 9; docs/concepts/rewards.md): R = AP@0.5(B̂, B) of one completion.

- B̂: the boxes ``[[x1, y1, x2, y2], ...]`` of the answer (:func:`pathreason.api.completions.parse_boxes`),
  in the order written; they carry no scores, so the written order is the ranking.
- Matching (the COCO rule, also used by :mod:`pathreason.metrics`): each prediction in turn takes
  the not yet matched ground-truth box of highest IoU (ties: the later box, as pycocotools); it is
  a true positive when that IoU ≥ 0.5, else a false positive that consumes nothing. A box with
  x2 ≤ x1, y2 ≤ y1 or a non-finite coordinate is a false positive.
- AP: all-point interpolated (PASCAL VOC 2010+): AP = (1/|B|) Σ over true positives k of
  max_{j ≥ k} precision@j. Empty prediction with non-empty truth: 0; both empty: 1;
  predictions with empty truth: 0. A completion with no ``<answer>`` block at all scores 0.

A whole batch is scored together: IoUs in vectorised, cache-sized chunks of prediction/truth
pairs, and only the (few) pairs above the threshold go through the sequential greedy step.

Caps, so that no completion costs more than a few milliseconds whatever a model writes: an answer
of more than :data:`MAX_BOXES` (300) boxes scores 0 (a tile of CRAG, the densest dataset, holds a
few dozen glands); so does, unparsed, an answer holding more than ``MAX_BOXES + 1`` ``[`` brackets
(every box opens with one, the list adds one) and a completion longer than
:data:`~pathreason.rewards.columns.MAX_COMPLETION_CHARS` (64 Ki characters).

>>> gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
>>> score_detection([[0, 0, 10, 10]], gt), score_detection([[50, 50, 60, 60], [20, 20, 30, 31]], gt)
(0.5, 0.25)
>>> detection_reward(["<answer>[[0,0,10,10],[20,20,30,30]]</answer>"], boxes=[gt])
[1.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from pathreason.api.completions import Completion, parse_boxes_array
from pathreason.rewards.columns import applies, capped_answer, column

__all__ = [
    "IOU_THRESHOLD",
    "MAP_THRESHOLDS",
    "MAX_BOXES",
    "as_boxes",
    "average_precision",
    "box_iou",
    "detection_ap",
    "detection_mean_ap_reward",
    "detection_reward",
    "match_arrays",
    "match_predictions",
    "score_detection",
]

IOU_THRESHOLD = 0.5
#: The IoU thresholds of the paper's detection metric, averaged by :func:`detection_mean_ap_reward`.
MAP_THRESHOLDS = (0.1, 0.3, 0.5)
#: The most boxes an answer may list; an answer with more scores 0.
MAX_BOXES = 300
_EMPTY = np.zeros((0, 4), dtype=np.float64)


def as_boxes(boxes: Any, where: str = "boxes") -> np.ndarray:
    """``boxes`` (a list of ``[x1, y1, x2, y2]``, an (n, 4) array, or ``None``) as an (n, 4) float64 array.

    Raises ``ValueError`` naming ``where`` when the value is not a list of 4-number boxes (a
    dataset error; model output goes through :func:`parse_boxes`, which never raises).
    """
    if boxes is None or (hasattr(boxes, "__len__") and len(boxes) == 0):
        return _EMPTY
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: expected a list of [x1, y1, x2, y2] boxes, got {boxes!r:.200}") from err
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{where}: expected a list of [x1, y1, x2, y2] boxes, got shape {array.shape}")
    return array


def _valid(boxes: np.ndarray) -> np.ndarray:
    """Boxes with finite coordinates, x2 > x1 and y2 > y1."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


def _overlap(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersection and union areas of the column-aligned boxes ``p[:, i]``, ``g[:, i]`` (each a
    (4, n) array of x1, y1, x2, y2 rows: contiguous rows keep numpy fast)."""
    with np.errstate(all="ignore"):
        w = np.minimum(p[2], g[2])
        w -= np.maximum(p[0], g[0])
        h = np.minimum(p[3], g[3])
        h -= np.maximum(p[1], g[1])
        np.maximum(w, 0.0, out=w)
        np.maximum(h, 0.0, out=h)
        w *= h
        union = p[2] - p[0]
        union *= p[3] - p[1]
        area_g = g[2] - g[0]
        area_g *= g[3] - g[1]
        union += area_g
        union -= w
    return w, union


def _ratio(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    """inter / union, 0 where the union is not positive and finite."""
    with np.errstate(all="ignore"):
        ok = (union > 0) & np.isfinite(union)
        return np.divide(inter, union, out=np.zeros_like(inter), where=ok)


def box_iou(pred: Any, gt: Any) -> np.ndarray:
    """The (n, m) IoU matrix of prediction and ground-truth boxes (xyxy); rows of invalid
    predictions are 0.

    >>> box_iou([[0, 0, 10, 10], [5, 5, 4, 4]], [[0, 0, 10, 20]]).tolist()
    [[0.5], [0.0]]
    """
    p, g = as_boxes(pred, "pred"), as_boxes(gt, "gt")
    rows, cols = np.divmod(np.arange(len(p) * len(g)), max(len(g), 1))
    iou = _ratio(*_overlap(p[rows].T, g[cols].T)) * _valid(p)[rows]
    return iou.reshape(len(p), len(g))


#: Prediction/truth pairs per vectorised chunk: small enough that the temporaries stay in the
#: CPU cache (numpy runs several times faster on in-cache arrays than on arrays of 250k pairs).
_CHUNK_PAIRS = 8192


def _candidate_pairs(pred: np.ndarray, n_pred: np.ndarray, gt: np.ndarray, n_gt: np.ndarray,
                     min_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (prediction, truth) pairs of the same image with IoU ≥ ``min_iou`` (> 0), as indices
    into ``pred`` and ``gt`` (boxes of all images concatenated; ``n_pred``/``n_gt`` boxes per
    image), in prediction-major order, with their IoUs. Invalid predictions pair with nothing."""
    pred_cols = np.ascontiguousarray(pred.T)
    gt_cols = np.ascontiguousarray(gt.T)
    pred_start = np.cumsum(n_pred) - n_pred
    gt_start = np.cumsum(n_gt) - n_gt
    valid = _valid(pred)
    pairs_per_image = np.cumsum(n_pred * n_gt)
    total_pairs = int(pairs_per_image[-1]) if len(pairs_per_image) else 0
    bounds = np.searchsorted(pairs_per_image, np.arange(_CHUNK_PAIRS, total_pairs, _CHUNK_PAIRS)) + 1
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(n_pred)]):
        if hi <= lo:
            continue
        p0, p1 = pred_start[lo], pred_start[hi - 1] + n_pred[hi - 1]
        pred_image = np.repeat(np.arange(lo, hi), n_pred[lo:hi])  # image of each prediction
        per_pred = n_gt[pred_image] * valid[p0:p1]  # truths paired with each prediction
        total = int(per_pred.sum())
        if not total:
            continue
        first = np.cumsum(per_pred) - per_pred
        pair_gt = np.repeat(gt_start[pred_image] - first, per_pred) + np.arange(total)
        inter, union = _overlap(np.repeat(pred_cols[:, p0:p1], per_pred, axis=1),
                                np.take(gt_cols, pair_gt, axis=1, mode="clip"))
        # Cheap screen without division, with a margin; exact IoUs are taken for the few kept.
        keep = np.flatnonzero(inter >= (min_iou - 1e-9) * union)
        iou = _ratio(inter[keep], union[keep])
        keep, iou = keep[iou >= min_iou], iou[iou >= min_iou]
        pair_pred = np.repeat(np.arange(p0, p1), per_pred)
        found.append((pair_pred[keep], pair_gt[keep], iou))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    return (np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found]),
            np.concatenate([f[2] for f in found]))


def _greedy(pair_pred: np.ndarray, pair_gt: np.ndarray, iou: np.ndarray, threshold: float, n_pred: int) -> np.ndarray:
    """True-positive flags: predictions in order, each taking the unmatched truth of highest IoU
    ≥ ``threshold`` (pycocotools' rule, including its 1 − 1e-10 cap and later-wins ties)."""
    threshold = min(threshold, 1 - 1e-10)
    candidates = np.flatnonzero(iou >= threshold)
    tp = np.zeros(n_pred, dtype=bool)
    if not len(candidates):
        return tp
    matched: set[int] = set()
    hits: list[int] = []
    current, best_gt, best_iou = -1, -1, threshold
    for p, g, v in zip(pair_pred[candidates].tolist(), pair_gt[candidates].tolist(), iou[candidates].tolist()):
        if p != current:
            if best_gt >= 0:
                hits.append(current)
                matched.add(best_gt)
            current, best_gt, best_iou = p, -1, threshold
        if v >= best_iou and g not in matched:
            best_gt, best_iou = g, v
    if best_gt >= 0:
        hits.append(current)
    tp[hits] = True
    return tp


def _check_thresholds(thresholds: Sequence[float]) -> list[float]:
    values = [float(t) for t in thresholds]
    if not values or not all(0 < t <= 1 for t in values):
        raise ValueError(f"IoU thresholds must be in (0, 1], got {list(thresholds)}")
    return values


def match_arrays(pred: np.ndarray, n_pred: Sequence[int] | np.ndarray, gt: np.ndarray, n_gt: Sequence[int] | np.ndarray,
                 thresholds: Sequence[float]) -> list[np.ndarray]:
    """:func:`match_predictions` on concatenated boxes: ``pred`` (N, 4) and ``gt`` (M, 4) hold
    the boxes of all images, ``n_pred[i]``/``n_gt[i]`` how many belong to image ``i``."""
    values = _check_thresholds(thresholds)
    counts_pred = np.asarray(n_pred, dtype=np.int64).reshape(-1)
    counts_gt = np.asarray(n_gt, dtype=np.int64).reshape(-1)
    if len(counts_pred) != len(counts_gt):
        raise ValueError(f"got predictions for {len(counts_pred)} images but ground truth for {len(counts_gt)}")
    pair_pred, pair_gt, iou = _candidate_pairs(pred, counts_pred, gt, counts_gt, min(values))
    return [_greedy(pair_pred, pair_gt, iou, t, len(pred)) for t in values]


def match_predictions(preds: Sequence[Any], gts: Sequence[Any], thresholds: Sequence[float]) -> list[np.ndarray]:
    """For each IoU threshold, the true-positive flags of all predictions of a batch of images,
    concatenated image after image in emitted order (the matching rule of the module docstring).

    ``preds[i]`` and ``gts[i]`` are the boxes of image ``i`` (lists or (n, 4) arrays).

    >>> [t.tolist() for t in match_predictions([[[0, 0, 10, 10], [0, 0, 10, 12]]], [[[0, 0, 10, 11]]], [0.5, 0.95])]
    [[True, False], [False, False]]
    """
    if len(preds) != len(gts):
        raise ValueError(f"got predictions for {len(preds)} images but ground truth for {len(gts)}")
    pred_arrays = [as_boxes(p, f"predictions of image {i}") for i, p in enumerate(preds)]
    gt_arrays = [as_boxes(g, f"ground truth of image {i}") for i, g in enumerate(gts)]
    return match_arrays(np.concatenate([_EMPTY, *pred_arrays]), [len(p) for p in pred_arrays],
                        np.concatenate([_EMPTY, *gt_arrays]), [len(g) for g in gt_arrays], thresholds)


def average_precision(tp: Sequence[bool] | np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP of ranked true-positive flags against ``n_gt`` truths.

    >>> average_precision([True, False, True], 2)   # (1 + 2/3) / 2
    0.8333333333333333
    """
    flags = np.asarray(tp, dtype=bool).reshape(-1)
    return detection_ap(flags, [len(flags)], [n_gt])[0]


def detection_ap(tp: np.ndarray, n_pred: Sequence[int], n_gt: Sequence[int]) -> list[float]:
    """:func:`average_precision` of many images at once (segment-wise, vectorised): ``tp`` holds
    the flags of all images' predictions, image after image (as :func:`match_arrays` returns
    them), ``n_pred[i]``/``n_gt[i]`` the numbers of predictions and truths of image ``i``."""
    counts = np.asarray(n_pred, dtype=np.int64).reshape(-1)
    n_gt_arr = np.asarray(n_gt, dtype=np.int64).reshape(-1)
    ap = np.where(n_gt_arr == 0, (counts == 0).astype(np.float64), 0.0)
    if len(tp):
        image = np.repeat(np.arange(len(counts)), counts)
        start = np.cumsum(counts) - counts
        rank = np.arange(len(tp)) - start[image] + 1
        cum_tp = np.cumsum(tp)
        cum_tp = cum_tp - (cum_tp - tp)[start[image]]  # restart the count in each image
        precision = cum_tp / rank
        # Precision made non-increasing from the right, image by image: an offset of 2 per image
        # keeps a running max over the reversed array from leaking across image boundaries.
        offset = 2.0 * image[::-1]
        interpolated = (np.maximum.accumulate(precision[::-1] - offset) + offset)[::-1]
        has_gt = n_gt_arr > 0
        sums = np.bincount(image, weights=interpolated * tp, minlength=len(counts))
        ap[has_gt] = sums[has_gt] / n_gt_arr[has_gt]
    return ap.tolist()


def score_detection(pred_boxes: Any, gt_boxes: Any, iou_threshold: float = IOU_THRESHOLD) -> float:
    """Eq. 9 for already-parsed boxes: all-point AP@``iou_threshold`` of ``pred_boxes`` (in the
    order written) against ``gt_boxes``, in [0, 1]. ``pred_boxes=None`` (no answer at all, as
    opposed to an answer listing no box) scores 0, as in :func:`detection_reward`, and so do more
    than :data:`MAX_BOXES` boxes.

    >>> score_detection([], []), score_detection(None, []), score_detection([[0, 0, 1, 1]] * 301, [[0, 0, 1, 1]])
    (1.0, 0.0, 0.0)
    """
    if pred_boxes is None or len(pred_boxes) > MAX_BOXES:
        return 0.0
    pred, gt = as_boxes(pred_boxes, "pred_boxes"), as_boxes(gt_boxes, "gt_boxes")
    tp = match_arrays(pred, [len(pred)], gt, [len(gt)], [iou_threshold])[0]
    return detection_ap(tp, [len(pred)], [len(gt)])[0]


def _truth_array(truths: Sequence[Any], rows: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    """The ground-truth boxes of the given samples, concatenated, and how many each has."""
    boxes = [truths[i] if truths[i] is not None else [] for i in rows]
    counts = [len(b) for b in boxes]
    flat = [box for b in boxes for box in b]
    try:
        if sum(map(len, flat)) != 4 * len(flat):
            raise ValueError("a box is not four numbers")
        array = np.fromiter(itertools.chain.from_iterable(flat), dtype=np.float64, count=4 * len(flat))
    except (TypeError, ValueError) as err:
        for i in rows:  # name the first bad sample
            as_boxes(truths[i], f"detection reward: 'boxes' of sample {i}")
        raise ValueError(f"detection reward: the 'boxes' column is not lists of [x1, y1, x2, y2] boxes: {err}") from err
    return array.reshape(-1, 4), counts


def _mean_ap_rewards(completions: Sequence[Completion], columns: dict[str, Any],
                     thresholds: Sequence[float]) -> list[float | None]:
    """Per completion of a detection sample: the mean over ``thresholds`` of its all-point AP."""
    n = len(completions)
    mask = applies(columns, n, "detection")
    rows = [i for i in range(n) if mask[i]]
    if not rows:
        return [None] * n
    gt, n_gt = _truth_array(column(columns, "boxes", n, "detection"), rows)
    answers = [capped_answer(completions[i]) for i in rows]
    # Too many brackets: over the cap without parsing (parsing 64 Ki characters of boxes is what costs).
    crowded = [a is not None and a.count("[") > MAX_BOXES + 1 for a in answers]
    pred, n_pred = parse_boxes_array([None if c else a for a, c in zip(answers, crowded)])
    over = [c or count > MAX_BOXES for c, count in zip(crowded, n_pred)]
    if any(over):  # their boxes are dropped before matching
        keep = np.repeat(np.logical_not(over), n_pred)
        pred, n_pred = pred[keep], [0 if o else count for o, count in zip(over, n_pred)]
    per_threshold = [detection_ap(tp, n_pred, n_gt) for tp in match_arrays(pred, n_pred, gt, n_gt, thresholds)]
    rewards: list[float | None] = [None] * n
    for k, (i, answer, too_many) in enumerate(zip(rows, answers, over)):
        rewards[i] = 0.0 if answer is None or too_many else float(np.mean([aps[k] for aps in per_threshold]))
    return rewards


def detection_reward(completions: Sequence[Completion], **columns: Any) -> list[float | None]:
    """TRL reward: AP@0.5 of each completion's boxes; ``None`` where ``task`` is not ``detection``.

    Columns: ``boxes`` (required: the ground-truth boxes in the frame of the image the model saw;
    an empty list for a negative image), ``task`` (optional). A completion without an
    ``<answer>`` block scores 0, as in the other task rewards, even on a negative image: only an
    answer that lists no box (``<answer>[]</answer>``) earns the "both empty" 1. Over the caps (the
    module docstring) a completion scores 0.
    """
    return _mean_ap_rewards(completions, columns, [IOU_THRESHOLD])


def detection_mean_ap_reward(completions: Sequence[Completion], **columns: Any) -> list[float | None]:
    """TRL reward aligned with the metric the paper reports: the mean of each completion's
    all-point AP at IoU 0.1, 0.3 and 0.5 (:data:`MAP_THRESHOLDS`), with :func:`detection_reward`'s
    columns, caps and rules otherwise. A box of IoU 0.3 with its gland, worth 0 under Eq. 9, earns
    two thirds of a hit here, so a model whose boxes are roughly right gets a graded signal.

    >>> gt = [[0, 0, 10, 10]]
    >>> detection_reward(["<answer>[[0, 0, 10, 16]]</answer>"], boxes=[gt])  # IoU 0.625
    [1.0]
    >>> detection_mean_ap_reward(["<answer>[[0, 0, 10, 25]]</answer>"], boxes=[gt])  # IoU 0.4: hit at 0.1, 0.3
    [0.6666666666666666]
    """
    return _mean_ap_rewards(completions, columns, MAP_THRESHOLDS)


detection_reward.__name__ = "detection"
detection_mean_ap_reward.__name__ = "detection_mean_ap"
