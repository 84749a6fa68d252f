"""The paper's metrics (§4.1) and TPI: hand-computed values, pycocotools agreement, evaluate integration."""

from __future__ import annotations

import contextlib
import doctest
import io
import math
import os
import random
import warnings

import numpy as np
import pytest

from pathreason import metrics
from pathreason.metrics import tpi
from pathreason.rewards.bleu import sentence_bleu
from pathreason.rewards.vqa import score_vqa
from pathreason.tasks import metrics as task_metrics
from pathreason.tasks.metrics import detection_map, subtyping_scores, vqa_scores

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")


# --------------------------------------------------------------------------- VQA

def test_vqa_scores_by_hand() -> None:
    preds = ["B", "(a)", "yes", "Yes.", None, "gland", "benign gland", None]
    refs = ["B", "B", "no", "yes", "yes", "gland", "malignant gland", "stroma"]
    opts = [["fat", "gland"], ["fat", "gland"], [], None, [], [], [], []]
    result = vqa_scores(preds, refs, opts)
    assert result["n_closed"] == 5 and result["n_open"] == 3
    assert result["accuracy"] == pytest.approx(2 / 5)
    # open: "gland"/"gland" = 1; "benign gland"/"malignant gland": p1 = 1/2, p2 = 0 -> method 4
    # 1/(2·5/ln 2), p3 and p4 -> 1/(4·5/ln 2), 1/(8·5/ln 2) (each /1), BP 1; None -> 0.
    ln2 = math.log(2)
    second = math.exp(0.25 * (math.log(0.5) + math.log(ln2 / 10) + math.log(ln2 / 20) + math.log(ln2 / 40)))
    assert result["bleu"] == pytest.approx((1 + second + 0) / 3, abs=1e-12)
    # the metric's BLEU is the mean of the reward's score
    assert result["bleu"] == pytest.approx(np.mean([score_vqa(p, r, o) for p, r, o in zip(preds, refs, opts)][5:]))


def test_vqa_corpus_bleu_beside_the_mean() -> None:
    from nltk.translate.bleu_score import SmoothingFunction
    from nltk.translate.bleu_score import corpus_bleu as nltk_corpus

    preds = ["the gland is benign", "stroma with fat", "mucosa"]
    refs = ["the gland is malignant", "stroma and fat", "normal colon mucosa"]
    result = vqa_scores(preds, refs)
    expected = nltk_corpus([[r.split()] for r in refs], [p.split() for p in preds],
                           smoothing_function=SmoothingFunction().method4)
    assert result["corpus_bleu"] == pytest.approx(expected, abs=1e-12)
    assert result["bleu"] == pytest.approx(np.mean([sentence_bleu(p, r) for p, r in zip(preds, refs)]))
    assert math.isnan(result["accuracy"]) and result["n_closed"] == 0


def test_vqa_scores_without_open_questions_report_nan_bleu() -> None:
    result = vqa_scores(["yes"], ["yes"])
    assert result["accuracy"] == 1.0 and math.isnan(result["bleu"]) and math.isnan(result["corpus_bleu"])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        vqa_scores(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no samples"):
        vqa_scores([], [])


# --------------------------------------------------------------------------- subtyping

def test_subtyping_scores_by_hand() -> None:
    classes = ["NORM", "HP", "TA"]
    refs = ["NORM", "NORM", "NORM", "HP", "HP", "TA"]
    preds = ["A", "norm", "HP", "(B)", None, "adenoma"]  # 2/3 NORM, 1/2 HP, 0/1 TA right
    result = subtyping_scores(preds, refs, [classes] * 6)
    assert result["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert result["accuracy"] == pytest.approx(3 / 6)
    # F1: NORM p = 2/2, r = 2/3 -> 0.8; HP p = 1/2, r = 1/2 -> 0.5; TA 0. Weights 3, 2, 1.
    assert result["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 0) / 6)


def test_subtyping_scores_match_sklearn_on_resolved_labels() -> None:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    rng = random.Random(0)
    classes = ["ADVENT", "LAM_PROP", "MUSC_MUC", "TUMOR", "ULCUS"]
    refs = [rng.choice(classes) for _ in range(200)]
    preds = [rng.choice(classes) if rng.random() < 0.8 else rng.choice(["", "??"]) for _ in refs]
    result = subtyping_scores(preds, refs)
    labels = [p if p in classes else "invalid" for p in preds]
    assert result["balanced_accuracy"] == pytest.approx(
        np.mean([np.mean([p == c for p, r in zip(labels, refs) if r == c]) for c in classes]))
    assert result["weighted_f1"] == pytest.approx(f1_score(refs, labels, labels=classes, average="weighted"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert result["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(refs, labels))


# --------------------------------------------------------------------------- detection

def coco_map(preds: list, gts: list, thresholds: tuple[float, ...]) -> list[float]:
    """pycocotools' mAP with pathreason's convention: score 1/(rank+1), one category, nothing capped."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = [{"id": i + 1, "width": 1000, "height": 1000} for i in range(len(gts))]
    categories = [{"id": 1, "name": "lesion"}]
    annotations = [{"id": k + 1, "image_id": i + 1, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1), "iscrowd": 0}
                   for k, (i, (x1, y1, x2, y2)) in enumerate((i, b) for i, boxes in enumerate(gts) for b in boxes)]
    results = [{"image_id": i + 1, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": 1.0 / (r + 1)}
               for i, boxes in enumerate(preds) for r, (x1, y1, x2, y2) in enumerate(boxes)]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": categories}
        gt.createIndex()
        if results:
            dt = gt.loadRes(results)
        else:
            dt = COCO()
            dt.dataset = {"images": images, "annotations": [], "categories": categories}
            dt.createIndex()
        evaluator = COCOeval(gt, dt, "bbox")
        evaluator.params.iouThrs = np.array(thresholds)
        evaluator.params.maxDets = [max([len(p) for p in preds] + [1])]
        evaluator.params.areaRng, evaluator.params.areaRngLbl = [[0, 1e10]], ["all"]
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, 0, 0, -1]
    return [float(p[p > -1].mean()) if (p > -1).any() else math.nan for p in precision]


def random_dataset(rng: random.Random) -> tuple[list, list]:
    def box() -> list[float]:
        x, y = rng.uniform(0, 400), rng.uniform(0, 400)
        return [x, y, x + rng.uniform(3, 90), y + rng.uniform(3, 90)]

    def jitter(b: list[float]) -> list[float]:
        x1, y1 = b[0] + rng.uniform(-12, 12), b[1] + rng.uniform(-12, 12)
        return [x1, y1, max(x1 + 1, b[2] + rng.uniform(-12, 12)), max(y1 + 1, b[3] + rng.uniform(-12, 12))]

    preds, gts = [], []
    for _ in range(rng.randint(1, 12)):
        gt = [box() for _ in range(rng.randint(0, 10))]
        preds.append([jitter(rng.choice(gt)) if gt and rng.random() < 0.6 else box() for _ in range(rng.randint(0, 12))])
        gts.append(gt)
    return preds, gts


def test_detection_map_agrees_with_pycocotools() -> None:
    rng = random.Random(0)
    thresholds = (0.1, 0.3, 0.5, 0.75)
    compared = 0
    for _ in range(150):
        preds, gts = random_dataset(rng)
        ours = detection_map(preds, gts, thresholds)
        for threshold, reference in zip(thresholds, coco_map(preds, gts, thresholds)):
            value = ours[f"map@{threshold:g}"]
            if math.isnan(reference):
                assert math.isnan(value)
            else:
                assert value == pytest.approx(reference, abs=1e-6)
                compared += 1
    assert compared > 400


def test_detection_map_ties_across_images_keep_image_order() -> None:
    # The first boxes of both images tie at rank 0; image 0's (a miss) comes first.
    preds = [[[100, 100, 110, 110]], [[0, 0, 10, 10]]]
    gts = [[[0, 0, 10, 10]], [[0, 0, 10, 10]]]
    assert detection_map(preds, gts, (0.5,))["map@0.5"] == pytest.approx(coco_map(preds, gts, (0.5,))[0], abs=1e-12)
    # recall 1/2 reached at precision 1/2: 51 recall points of 101 at 0.5
    assert detection_map(preds, gts, (0.5,))["map@0.5"] == pytest.approx(0.5 * 51 / 101)


def test_detection_map_by_hand() -> None:
    preds = [[[0, 0, 10, 10], [50, 50, 60, 60]], [[20, 20, 30, 30]]]
    gts = [[[0, 0, 10, 10]], [[20, 20, 30, 30.5], [70, 70, 80, 80]]]
    # ranked: (img0, r0) hit, (img1, r0) hit, (img0, r1) miss; 3 truths -> recall 1/3, 2/3 at precision 1
    result = detection_map(preds, gts)
    assert result["map@0.5"] == pytest.approx(67 / 101)
    assert result["map_avg"] == pytest.approx(67 / 101)
    assert set(result) == {"map@0.1", "map@0.3", "map@0.5", "map_avg"}
    # loose threshold: the miss overlaps nothing even at 0.1, so nothing changes
    assert result["map@0.1"] == result["map@0.5"]


def test_detection_map_counts_invalid_boxes_as_false_positives() -> None:
    gts = [[[0, 0, 10, 10]]]
    assert detection_map([[[10, 10, 0, 0], [0, 0, 10, 10]]], gts, (0.5,))["map@0.5"] == pytest.approx(0.5)
    assert detection_map([[[math.nan, 0, 1, 1], [0, 0, 10, 10]]], gts, (0.5,))["map@0.5"] == pytest.approx(0.5)


def test_detection_map_edge_cases() -> None:
    assert math.isnan(detection_map([[[0, 0, 1, 1]], []], [[], []])["map@0.5"])   # no truth at all
    assert detection_map([[], []], [[[0, 0, 1, 1]], []])["map_avg"] == 0.0
    assert detection_map([[[0, 0, 10, 10]], []], [[[0, 0, 10, 10]], []])["map_avg"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="IoU thresholds"):
        detection_map([[]], [[]], (0.0,))
    with pytest.raises(ValueError, match="references of image 0"):
        detection_map([[]], [[[1, 2, 3]]])


# --------------------------------------------------------------------------- TPI

def test_tpi() -> None:
    assert tpi([64, 256, 100]) == 140.0
    with pytest.raises(ValueError):
        tpi([])
    with pytest.raises(ValueError):
        tpi([-1])


# --------------------------------------------------------------------------- evaluate.Metric

def test_evaluate_metrics_are_built_directly_and_combine() -> None:
    import evaluate

    from pathreason.metrics import TokensPerImage
    from pathreason.tasks.metrics import DetectionMAP, SubtypingScores, VQAScores

    assert issubclass(DetectionMAP, evaluate.Metric) and DetectionMAP.__module__ == "pathreason.tasks.metrics"
    assert TokensPerImage.__module__ == "pathreason.metrics"
    preds = [[[0, 0, 10, 10], [50, 50, 60, 60]], [[20, 20, 30, 30]]]
    gts = [[[0, 0, 10, 10]], [[20, 20, 30, 30.5], [70, 70, 80, 80]]]
    assert DetectionMAP().compute(predictions=preds, references=gts) == detection_map(preds, gts)

    combined = evaluate.combine([DetectionMAP(), TokensPerImage()])
    result = combined.compute(predictions=preds, references=gts, tokens=[256, 64], allocator_tokens=[16, 16])
    assert result["map@0.5"] == pytest.approx(67 / 101)
    assert (result["tpi"], result["allocator_tpi"], result["total_tpi"]) == (160.0, 16.0, 176.0)

    vqa = VQAScores()
    vqa.add_batch(predictions=["B", None], references=["B", "yes"])
    vqa.add_batch(predictions=["gland"], references=["gland"])
    assert vqa.compute(options=[["x", "y"], [], []]) == vqa_scores(["B", None, "gland"], ["B", "yes", "gland"],
                                                                    [["x", "y"], [], []])
    sub = SubtypingScores().compute(predictions=["A", "hp"], references=["NORM", "HP"], options=[["NORM", "HP"]] * 2)
    assert sub["balanced_accuracy"] == 1.0 and sub["weighted_f1"] == 1.0


@pytest.mark.parametrize("module", [metrics, task_metrics])
def test_metrics_module_docstrings(module: object) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
