"""The rewards of docs/concepts/rewards.md (paper Eq. 7-10) on hand-computed cases, TRL's calling
convention and the plugin entry."""

from __future__ import annotations

import doctest
import importlib
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest

import pathreason
from pathreason.api.completions import (
    MAX_TOKEN_COUNT,
    completion_text,
    extract_answer,
    parse_boxes,
    parse_boxes_array,
)
from pathreason.rewards.allocation import allocation_reward, clamp_tokens, parse_token_count
from pathreason.rewards.bleu import corpus_bleu, sentence_bleu
from pathreason.rewards.choices import normalize_answer, option_index
from pathreason.rewards.detection import box_iou, detection_reward, match_predictions, score_detection
from pathreason.rewards.format import format_reward
from pathreason.rewards.subtyping import score_subtyping, subtyping_reward
from pathreason.rewards.vqa import score_vqa, vqa_reward

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TRL_EXTRAS = {"prompts": ["p"], "completion_ids": [[1, 2]], "trainer_state": object(), "log_extra": print,
              "log_metric": print, "image": [None], "meta": ["{}"], "id": ["s1"]}


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


# --------------------------------------------------------------------------- parsing

def test_completion_text_reads_strings_and_chat_forms() -> None:
    assert completion_text("plain") == "plain"
    assert completion_text(chat("hi")) == "hi"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]) == "ab"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a1"},
                            {"role": "tool", "content": "t"}, {"role": "assistant", "content": "a2"}]) == "a2"
    assert completion_text([]) == "" and completion_text(None) == "" and completion_text({"content": "x"}) == "x"


@pytest.mark.parametrize(("text", "expected"), [
    ("<think>t</think><answer> B </answer>", "B"),
    ("<answer>A</answer><answer>C</answer>", "C"),                 # the last block
    ("<ANSWER>yes</Answer>", "yes"),                               # tags case-insensitive
    ("<answer>[[1, 2, 3, 4]", "[[1, 2, 3, 4]"),                    # cut before closing
    ("<answer>A</answer> and <answer>", ""),                       # trailing empty block
    ("<answer><answer>x</answer></answer>", "x"),                  # nested: the innermost
    ("</answer>B", None),
    ("B", None),
    ("", None),
])
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected
    assert extract_answer(chat(text)) == expected


def test_parse_boxes_forms() -> None:
    assert parse_boxes("[[1,2,3,4]]") == [(1.0, 2.0, 3.0, 4.0)]
    assert parse_boxes("[ [ 1 , 2.5 ,\n3e1, 4. ] , [-1, +2, .5, 6] ]") == [(1.0, 2.5, 30.0, 4.0), (-1.0, 2.0, 0.5, 6.0)]
    assert parse_boxes("[5, 6, 7, 8]") == [(5.0, 6.0, 7.0, 8.0)]
    assert parse_boxes("boxes: [1,2,3,4] and [5,6,7,8]!") == [(1.0, 2.0, 3.0, 4.0), (5.0, 6.0, 7.0, 8.0)]
    assert parse_boxes("[[1,2,3],[1,2,3,4,5],[a,b,c,d]]") == []
    assert parse_boxes("[[1-2, 3, 4, 5], [6, 7, 8, 9]]") == [(6.0, 7.0, 8.0, 9.0)]   # not a number: skipped
    assert parse_boxes("[[1 2, 3, 4, 5], [6, 7, 8, 9]]") == [(6.0, 7.0, 8.0, 9.0)]   # two numbers in a slot
    assert parse_boxes("[]") == [] and parse_boxes("") == [] and parse_boxes(None) == []
    assert parse_boxes("[[1e999, 0, 1, 1]]") == [(math.inf, 0.0, 1.0, 1.0)]


def test_parse_boxes_array_agrees_with_parse_boxes() -> None:
    answers = ["[[1,2,3,4],[5,6,7,8]]", None, "", "x [9, 9, 10, 10] y", "[[1 2, 3, 4, 5]]", "[[1-2,3,4,5],[1,2,3,4]]", "[]"]
    boxes, counts = parse_boxes_array(answers)
    assert counts == [2, 0, 0, 1, 0, 1, 0]
    assert boxes.tolist() == [list(b) for a in answers for b in parse_boxes(a)]


@pytest.mark.parametrize(("text", "expected"), [
    ("<answer>128</answer>", 128), ("<answer> +64 </answer>", 64), ("<answer>64.0</answer>", 64),
    ("<answer>0064</answer>", 64), (f"<answer>{MAX_TOKEN_COUNT}</answer>", MAX_TOKEN_COUNT),
    ("<answer>64.5</answer>", None), ("<answer>0</answer>", None), ("<answer>-5</answer>", None),
    ("<answer>nan</answer>", None), ("<answer>inf</answer>", None), ("<answer>1e3</answer>", None),
    (f"<answer>{MAX_TOKEN_COUNT + 1}</answer>", None), ("<answer>" + "9" * 5000 + "</answer>", None),
    ("<answer>64 tokens</answer>", None), ("64", None), ("<answer></answer>", None), ("<answer>٦٤</answer>", None),
])
def test_parse_token_count(text: str, expected: int | None) -> None:
    assert parse_token_count(text) == expected


# --------------------------------------------------------------------------- format

@pytest.mark.parametrize(("text", "expected"), [
    ("<think>r</think><answer>a</answer>", 1.0),
    ("  \n<think>r</think>\n\n <answer>a</answer>\n ", 1.0),    # whitespace outside the blocks
    ("<think></think><answer></answer>", 1.0),                  # empty blocks, as the reference regex
    ("<think>r\nmore</think><answer>[[1, 2, 3, 4]]</answer>", 1.0),
    ("<think>r</think><answer>a</answer> thanks", 0.0),         # text after
    ("so <think>r</think><answer>a</answer>", 0.0),             # text before
    ("<think>r</think> so <answer>a</answer>", 0.0),            # text between
    ("<answer>a</answer><think>r</think>", 0.0),                # wrong order
    ("<think>r</think>", 0.0), ("<answer>a</answer>", 0.0), ("", 0.0),
    ("<think>r</think><think>s</think><answer>a</answer>", 0.0),
    ("<think>r</think><answer>a</answer><answer>b</answer>", 0.0),
    ("<think><think>r</think></think><answer>a</answer>", 0.0),  # nested
    ("<think>r <answer>x</answer></think><answer>a</answer>", 0.0),
    ("<think>r</think><answer>a <think></answer>", 0.0),
    ("<think>r</think><answer>a", 0.0),                         # unclosed
    ("<THINK>r</THINK><answer>a</answer>", 0.0),                # tags are lower case
])
def test_format_reward(text: str, expected: float) -> None:
    assert format_reward([text]) == [expected]
    assert format_reward([chat(text)], task=["detection"], **TRL_EXTRAS) == [expected]  # every task


# --------------------------------------------------------------------------- vqa

MC = ["A) stroma", "B) gland", "C) fat", "D) muscle"]


@pytest.mark.parametrize("pred", ["B", "(B)", "B)", "B) gland", "B. gland", "b", " (b) ", "gland", "Gland.", "B) gland"])
def test_vqa_multiple_choice_accepts_letter_and_text(pred: str) -> None:
    assert score_vqa(pred, "B", MC) == 1.0
    assert score_vqa(pred, "B) gland", MC) == 1.0                       # PathMMU's gold form
    assert score_vqa(pred, "B", ["stroma", "gland", "fat"]) == 1.0      # plain options


@pytest.mark.parametrize("pred", ["A", "(C)", "D) muscle", "fat", "E", "gland tissue", "", "B cell"])
def test_vqa_multiple_choice_rejects(pred: str) -> None:
    assert score_vqa(pred, "B", MC) == 0.0


def test_vqa_option_text_that_starts_like_a_letter() -> None:
    options = ["C. difficile colitis", "ulcerative colitis", "Crohn disease"]
    assert option_index("C. difficile colitis", options) == 0   # the whole text wins over letter C
    assert score_vqa("C. difficile colitis", "A", options) == 1.0
    assert score_vqa("C", "Crohn disease", options) == 1.0


@pytest.mark.parametrize(("pred", "gold", "expected"), [
    ("yes", "yes", 1.0), ("Yes.", "yes", 1.0), (" YES! ", "Yes", 1.0), ("no", "No.", 1.0),
    ("no", "yes", 0.0), ("yes, it is", "yes", 0.0), ("", "yes", 0.0), (None, "no", 0.0),
])
def test_vqa_yes_no(pred: str | None, gold: str, expected: float) -> None:
    assert score_vqa(pred, gold) == expected
    assert score_vqa(pred, gold, []) == expected


def test_vqa_open_is_method4_bleu_by_hand() -> None:
    # hyp "the gland is benign" vs ref "the gland is malignant": p1 = 3/4, p2 = 2/3, p3 = 1/2,
    # p4 = 0 matches -> method 4: 1 / (2^1 * 5 / ln 4) / 1; |h| = |r| -> brevity penalty 1.
    p = [3 / 4, 2 / 3, 1 / 2, 1 / (2 * 5 / math.log(4))]
    expected = math.exp(sum(0.25 * math.log(x) for x in p))
    assert score_vqa("The gland is benign", "the gland is malignant") == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.431468, abs=1e-6)
    # one-token hypothesis against four tokens: p1 = 1, higher orders left out; BP = exp(1 - 4/1)
    assert score_vqa("adenocarcinoma", "adenocarcinoma of the colon") == pytest.approx(math.exp(-3), abs=1e-12)
    assert score_vqa("gland", "gland") == 1.0
    assert score_vqa("stroma", "gland") == 0.0
    assert score_vqa("", "gland") == 0.0 and score_vqa(None, "gland") == 0.0


def test_bleu_equals_nltk_method4() -> None:
    from nltk.translate.bleu_score import SmoothingFunction
    from nltk.translate.bleu_score import corpus_bleu as nltk_corpus
    from nltk.translate.bleu_score import sentence_bleu as nltk_sentence

    smooth = SmoothingFunction().method4
    rng = random.Random(0)
    vocab = ["the", "a", "gland", "tumor", "cell", "benign", "malignant", "of", "in", "is", "Gland"]
    hyps, refs = [], []
    for _ in range(3000):
        hyps.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 14))))
        refs.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 14))))
    for h, r in zip(hyps, refs):
        expected = nltk_sentence([r.lower().split()], h.lower().split(), smoothing_function=smooth)
        assert abs(sentence_bleu(h, r) - expected) <= 1e-9, (h, r)
    for lo in range(0, 3000, 300):
        h, r = hyps[lo:lo + 300], refs[lo:lo + 300]
        expected = nltk_corpus([[x.lower().split()] for x in r], [x.lower().split() for x in h], smoothing_function=smooth)
        assert abs(corpus_bleu(h, r) - expected) <= 1e-9


def test_vqa_reward_follows_trl_contract() -> None:
    completions = [chat("<think>t</think><answer>(B)</answer>"), "<answer>No.</answer>", "<answer>gland</answer>",
                   "no tags: yes", "<answer>yes</answer>"]
    out = vqa_reward(completions, answer=["B", "no", "gland", "yes", "yes"], options=[MC, [], None, [], []],
                     task=["vqa", "vqa", "vqa", "vqa", "detection"], **{**TRL_EXTRAS, "prompts": ["p"] * 5})
    assert out == [1.0, 1.0, 1.0, 0.0, None]
    assert vqa_reward(["<answer>yes</answer>"], answer=["yes"]) == [1.0]          # no task column: applies
    assert vqa_reward(["<answer>yes</answer>"], answer=["yes"], task=[None]) == [1.0]
    assert vqa_reward(["x"], task=["subtyping"]) == [None]                        # answer not needed then
    with pytest.raises(ValueError, match="'answer'"):
        vqa_reward(["<answer>yes</answer>"], task=["vqa"])
    with pytest.raises(ValueError, match="2 values for 1 completions"):
        vqa_reward(["<answer>yes</answer>"], answer=["yes", "no"])


# --------------------------------------------------------------------------- subtyping

CLASSES = ["NORM", "HP", "TA.HG", "TA.LG", "TVA.HG", "TVA.LG"]


@pytest.mark.parametrize(("pred", "gold", "expected"), [
    ("C", "TA.HG", 1.0), ("(C)", "TA.HG", 1.0), ("C) TA.HG", "TA.HG", 1.0), ("ta.hg", "TA.HG", 1.0),
    ("TA.HG", "C", 1.0), ("TA.LG", "TA.HG", 0.0), ("D", "TA.HG", 0.0), ("G", "TA.HG", 0.0),
    ("tahg", "TA.HG", 0.0), (None, "TA.HG", 0.0), ("", "TA.HG", 0.0),
])
def test_subtyping_by_letter_or_name(pred: str | None, gold: str, expected: float) -> None:
    assert score_subtyping(pred, gold, CLASSES) == expected


def test_subtyping_without_options_compares_names() -> None:
    assert score_subtyping("Adenoma", "adenoma") == 1.0
    assert score_subtyping("B", "adenoma") == 0.0


def test_subtyping_reward_contract() -> None:
    out = subtyping_reward(["<answer>B</answer>", chat("<answer>hp</answer>"), "HP", "<answer>HP</answer>"],
                           answer=["HP"] * 4, options=[CLASSES] * 4, task=["subtyping"] * 3 + ["vqa"], **TRL_EXTRAS)
    assert out == [1.0, 1.0, 0.0, None]


def test_normalize_answer_folds_case_and_punctuation() -> None:
    assert normalize_answer("  Yes. ") == "yes"
    assert normalize_answer("Non-small-cell  CARCINOMA!") == "non small cell carcinoma"


# --------------------------------------------------------------------------- detection

GT2 = [[0, 0, 10, 10], [20, 20, 30, 30]]


@pytest.mark.parametrize(("pred", "gt", "expected"), [
    ([[0, 0, 10, 10], [20, 20, 30, 30]], GT2, 1.0),
    ([[20, 20, 30, 30], [0, 0, 10, 10]], GT2, 1.0),                    # order among hits is free
    ([[0, 0, 10, 10]], GT2, 0.5),                                      # recall 1/2 at precision 1
    ([[50, 50, 60, 60], [0, 0, 10, 10]], GT2, 0.25),                   # FP first: 1/2 · 1/2
    ([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]], GT2, (1 + 2 / 3) / 2),
    ([[0, 0, 10, 10], [0, 0, 10, 10]], [[0, 0, 10, 10]], 1.0),         # duplicate after the hit: FP, AP kept
    ([[0, 0, 10, 10], [0, 0, 10, 10]], GT2, 0.5),
    ([[0, 0, 10, 10]], [[0, 0, 10, 20]], 1.0),                         # IoU exactly 0.5 is a hit
    ([[0, 0, 10, 10]], [[0, 0, 10, 21]], 0.0),                         # IoU 100/210 < 0.5
    ([], GT2, 0.0),                                                    # empty prediction, non-empty truth
    ([], [], 1.0),                                                     # both empty
    ([[0, 0, 10, 10]], [], 0.0),                                       # predictions, empty truth
    ([[10, 10, 5, 5], [0, 0, 10, 10]], [[0, 0, 10, 10]], 0.5),         # inverted box: a FP
    ([[0, 0, 0, 10], [0, 0, 10, 10]], [[0, 0, 10, 10]], 0.5),          # zero width: a FP
    ([[math.nan, 0, 10, 10], [0, 0, 10, 10]], [[0, 0, 10, 10]], 0.5),  # non-finite: a FP
    ([[-math.inf, -math.inf, math.inf, math.inf]], [[0, 0, 10, 10]], 0.0),
])
def test_detection_ap_by_hand(pred: list, gt: list, expected: float) -> None:
    assert score_detection(pred, gt) == pytest.approx(expected, abs=1e-12)


def test_detection_greedy_takes_the_unmatched_truth_of_highest_iou() -> None:
    gt = [[0, 0, 10, 10], [2, 0, 12, 10]]
    # P1 overlaps truth 1 (IoU 95/105) more than truth 2 (85/115); P2 equals truth 1 but that is
    # taken, so it takes truth 2 (IoU 80/120 >= 0.5): both are hits.
    assert box_iou([[0.5, 0, 10.5, 10]], gt)[0].tolist() == pytest.approx([95 / 105, 85 / 115])
    assert score_detection([[0.5, 0, 10.5, 10], [0, 0, 10, 10]], gt) == 1.0
    # Ties go to the later truth, as in pycocotools: P1 is as close to both truths (IoU 95/105)
    # and takes truth 2, which leaves truth 1 to P2 (IoU 70/130; with truth 2 only 60/140).
    tied = [[0, 0, 10, 10], [1, 0, 11, 10]]
    flags = match_predictions([[[0.5, 0, 10.5, 10], [-3, 0, 7, 10]]], [tied], [0.5])[0]
    assert flags.tolist() == [True, True]


def voc_ap_reference(pred: list, gt: list, threshold: float = 0.5) -> float:
    """A straightforward reference: COCO greedy matching in pure Python, VOC 2010 all-point AP."""
    def iou(a: list, b: list) -> float:
        if not (all(math.isfinite(v) for v in a) and a[2] > a[0] and a[3] > a[1]):
            return 0.0
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    if not gt:
        return 1.0 if not pred else 0.0
    matched: set[int] = set()
    tp = []
    for p in pred:
        best, best_iou = -1, threshold
        for j, g in enumerate(gt):
            v = iou(p, g)
            if j not in matched and v >= best_iou:
                best, best_iou = j, v
        tp.append(best >= 0)
        if best >= 0:
            matched.add(best)
    if not pred:
        return 0.0
    hits = np.cumsum(tp)
    rec = list(hits / len(gt))
    prec = list(hits / np.arange(1, len(tp) + 1))
    mrec, mpre = [0.0, *rec, 1.0], [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return float(sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]))


def random_case(rng: random.Random) -> tuple[list, list]:
    def box() -> list:
        x, y = rng.uniform(0, 300), rng.uniform(0, 300)
        return [x, y, x + rng.uniform(4, 80), y + rng.uniform(4, 80)]

    gt = [box() for _ in range(rng.randint(0, 30))]
    pred = []
    for _ in range(rng.randint(0, 30)):
        r = rng.random()
        if r < 0.6 and gt:
            b = rng.choice(gt)
            d = [rng.uniform(-8, 8) for _ in range(4)]
            pred.append([b[0] + d[0], b[1] + d[1], b[2] + d[2], b[3] + d[3]])
        elif r < 0.9:
            pred.append(box())
        else:
            pred.append([50, 50, 40, 60])
    return pred, gt


def test_detection_batch_reward_matches_reference_per_sample() -> None:
    rng = random.Random(1)
    cases = [random_case(rng) for _ in range(600)]  # ~100k pairs: many vectorised chunks
    completions = ["<think>x</think><answer>" + str([[round(v, 3) for v in b] for b in p]) + "</answer>" for p, _ in cases]
    out = detection_reward(completions, boxes=[g for _, g in cases], task=["detection"] * len(cases))
    for value, (pred, gt) in zip(out, cases):
        expected = voc_ap_reference([[round(v, 3) for v in b] for b in pred], gt)
        assert value == pytest.approx(expected, abs=1e-12)
    assert any(0 < v < 1 for v in out if v is not None)


def test_detection_reward_contract() -> None:
    completions = ["<answer>[[0, 0, 10, 10], [20,20,30,30]]</answer>", chat("<answer>[[0,0,10,10]]</answer>"),
                   "<answer>[]</answer>", "[[0, 0, 10, 10]]", "<answer>[[0,0,10,10]]</answer>", "<answer>[]</answer>",
                   "<answer>no lesion</answer>", "no answer block", "<think>t</think><answer>[[0, 0, 10, 10]"]
    out = detection_reward(completions, boxes=[GT2, GT2, [], GT2, GT2, None, [], [], GT2], answer=[""] * 9,
                           task=["detection"] * 4 + ["vqa"] + ["detection"] * 4, **TRL_EXTRAS)
    # an answer without boxes on a negative image is right; no answer block at all is not
    assert out == [1.0, 0.5, 1.0, 0.0, None, 1.0, 1.0, 0.0, 0.5]
    assert detection_reward(["<answer>[[0,0,10,10]]</answer>"], boxes=[np.array([[0, 0, 10, 10]])]) == [1.0]
    with pytest.raises(ValueError, match="'boxes'"):
        detection_reward(["<answer>[]</answer>"], task=["detection"])
    with pytest.raises(ValueError, match="sample 1"):
        detection_reward(["a", "b"], boxes=[[], [[1, 2, 3]]])


# --------------------------------------------------------------------------- allocation

def test_allocation_reward_eq10() -> None:
    assert allocation_reward(0.8, 100, 256) == 0.8           # fewer tokens: full credit
    assert allocation_reward(0.8, 256, 256) == 0.4           # as many: half
    assert allocation_reward(0.8, 900, 256) == 0.4
    assert allocation_reward(0.8, 900, 256, lam=0.25) == 0.2
    assert allocation_reward(0.0, 4, 256) == 0.0


def test_clamp_tokens() -> None:
    assert [clamp_tokens(n, native=1200) for n in (0, 1, 64, 1200, 5000)] == [1, 1, 64, 1200, 1200]
    with pytest.raises(ValueError, match="native"):
        clamp_tokens(64, native=0)


# --------------------------------------------------------------------------- combination and plugins

def test_task_rewards_gives_trl_the_components_and_weights() -> None:
    from pathreason.rewards import task_rewards

    funcs, weights = task_rewards("detection")
    assert [f.__name__ for f in funcs] == ["detection", "format"] and weights == [1.0, 1.0]
    funcs, weights = task_rewards(["vqa", "subtyping"], format_weight=0.5)
    assert [f.__name__ for f in funcs] == ["vqa", "subtyping", "format"] and weights == [1.0, 1.0, 0.5]
    with pytest.raises(pathreason.UnknownNameError):
        task_rewards("detecton")
    with pytest.raises(ValueError):
        task_rewards([])


@pytest.mark.parametrize("name", ["format", "vqa", "subtyping", "detection"])
def test_rewards_are_registered_plugins(name: str) -> None:
    from pathreason.registry import reward_spec

    spec = reward_spec(name)
    reward = pathreason.get_reward(name)
    assert reward.__name__ == name and (spec.low, spec.high) == (0.0, 1.0) and spec.description
    out = reward(["<think>t</think><answer>B</answer>"], answer=["B"], options=[["x", "y"]], boxes=[[]], task=[name])
    assert len(out) == 1 and 0.0 <= out[0] <= 1.0


def test_reward_modules_import_lightly() -> None:
    code = ("import sys, pathreason.rewards.plugin as p, pathreason.metrics, pathreason.rewards; "
            "specs = p.pathreason_rewards(); "
            "heavy = [m for m in ('torch', 'transformers', 'sklearn', 'evaluate', 'datasets', 'nltk', 'numpy', "
            "'pycocotools') if m in sys.modules]; print(len(specs), heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "7 []"


@pytest.mark.parametrize("module", ["choices", "bleu", "format", "vqa", "subtyping", "detection", "allocation"])
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"pathreason.rewards.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_detection_mean_ap_reward_by_hand() -> None:
    """Two truths; the first box has IoU 0.4 with its truth (100 / 250), the second matches exactly.
    AP@0.1 = AP@0.3 = (1 + 1) / 2 = 1; AP@0.5: the first box is a false positive, the second a hit at
    precision 1/2, so AP = 0.5 / 2 = 0.25; their mean is 0.75, while Eq. 9 (AP@0.5 alone) gives 0.25."""
    from pathreason import get_reward

    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    completion = "<think> two </think> <answer> [[0, 0, 10, 25], [20, 20, 30, 30]] </answer>"
    assert get_reward("detection_mean_ap")([completion], boxes=[gt], task=["detection"]) == [pytest.approx(0.75)]
    assert get_reward("detection")([completion], boxes=[gt], task=["detection"]) == [pytest.approx(0.25)]
    assert get_reward("detection_mean_ap")(["no answer", "<answer>[]</answer>"], boxes=[gt, []],
                                       task=["detection"] * 2) == [0.0, 1.0]
    assert get_reward("detection_mean_ap")([completion], boxes=[gt], task=["vqa"]) == [None]
