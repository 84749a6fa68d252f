"""Every reward and parser survives arbitrary and adversarial model output (10,000 generated cases).

Each case goes through all four TRL rewards (plain and chat form, every task's columns) and the
allocator's parser; each value must be a float in the documented range, or ``None``.
"""

from __future__ import annotations

import math
import os
import random
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathreason.api.completions import MAX_TOKEN_COUNT, extract_answer, parse_boxes, parse_token_count
from pathreason.rewards.allocation import allocation_reward, clamp_tokens
from pathreason.rewards.detection import detection_reward
from pathreason.rewards.format import format_reward
from pathreason.rewards.subtyping import subtyping_reward
from pathreason.rewards.vqa import vqa_reward

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)

GT_BOXES = [[10.0, 10.0, 50.0, 60.0], [100.0, 20.0, 180.0, 90.0], [0.0, 0.0, 448.0, 448.0]]
OPTIONS = ["A) stroma", "B) gland", "C) fat"]


def check_all(completion: Any, as_chat: bool = False) -> None:
    """Run every reward on ``completion`` (in TRL's chat form when ``as_chat``) with every task's
    columns; check range and types."""
    c = [{"role": "assistant", "content": completion}] if as_chat else completion
    batch = [c, c, c, c]
    columns = {
        "task": ["vqa", "vqa", "subtyping", "detection"],
        "answer": ["B", "a gland with atypia", "TA.HG", ""],
        "options": [OPTIONS, [], ["NORM", "HP", "TA.HG"], []],
        "boxes": [[], [], [], GT_BOXES],
        "prompts": ["p"] * 4, "completion_ids": [[0]] * 4, "trainer_state": None,
    }
    results = {
        "format": format_reward(batch, **columns),
        "vqa": vqa_reward(batch, **columns),
        "subtyping": subtyping_reward(batch, **columns),
        "detection": detection_reward(batch, **columns),
    }
    assert all(isinstance(v, float) and v in (0.0, 1.0) for v in results["format"])
    assert results["vqa"][2:] == [None, None] and results["subtyping"][:2] == [None, None]
    assert results["detection"][:3] == [None, None, None] and results["subtyping"][3] is None
    for name, values in results.items():
        assert len(values) == 4, name
        for v in values:
            assert v is None or (isinstance(v, float) and 0.0 <= v <= 1.0 and not math.isnan(v)), (name, v)
    count = parse_token_count(c)
    assert count is None or (isinstance(count, int) and 1 <= count <= MAX_TOKEN_COUNT)
    if count is not None:
        assert 0.0 <= allocation_reward(results["subtyping"][2] or 0.0, clamp_tokens(count, 1200), 256) <= 1.0
    answer = extract_answer(c)
    assert answer is None or isinstance(answer, str)
    assert all(len(b) == 4 for b in parse_boxes(answer))


# --------------------------------------------------------------------------- strategies

# Strings are built from one drawn seed: drawing hundreds of fragments one by one through
# hypothesis costs ~10 ms per example, and 10,000 examples must run in seconds.
FRAGMENTS = ["<think>", "</think>", "<answer>", "</answer>", "<ANSWER>", "</Answer>", "<think", "answer>", "< answer>",
             "[", "]", "[[", "]]", ",", ", ", " ", "\n", "\t", "\r", "\u00a0", "\u2028", "(", ")", "A)", "(B)", "B.",
             "B) gland", "C", "yes", "No.", "TA.HG", "gland", "\x00", "İ", "ß", "🧫", "\ufeff", "\u202e", "\ud800"]
HOSTILE_NUMBERS = ["nan", "NaN", "inf", "-inf", "1e999", "-1e999", "1e-999", "0", "-0", "+5", ".5", "5.", "1e",
                   "e5", "--1", "1-2", "1..2", "0x10", "1_000", "٣", "²", "9" * 400, "1.7976931348623157e308",
                   "-2.5", "3.25e2", "1E+3", "00012", "4294967296", str(2**64), "1" * 40]


def hostile_number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return str(rng.randint(-1000, 1000))
    if kind < 0.6:
        return rng.choice(HOSTILE_NUMBERS)
    if kind < 0.8:
        return repr(rng.uniform(-1e3, 1e3))
    return repr(struct.unpack("<d", rng.randbytes(8))[0])  # any double, NaN and inf included


def hostile_text(rng: random.Random, max_pieces: int = 40) -> str:
    pieces = []
    for _ in range(rng.randint(0, max_pieces)):
        kind = rng.random()
        if kind < 0.5:
            pieces.append(rng.choice(FRAGMENTS))
        elif kind < 0.75:
            pieces.append(hostile_number(rng))
        else:
            pieces.append("".join(chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0xFFFF),
                                                  rng.randint(0x10000, 0x10FFFF)])) for _ in range(rng.randint(1, 4))))
    return "".join(pieces)


def box_answer(rng: random.Random) -> str:
    sep = rng.choice([", ", ",", " , ", ",\n"])
    boxes = [[hostile_number(rng) for _ in range(rng.choice([4, 4, 4, 3, 5]))] for _ in range(rng.randint(0, 30))]
    body = "[" + sep.join("[" + sep.join(b) + "]" for b in boxes) + "]"
    return rng.choice([f"<think>t</think><answer>{body}</answer>", f"<answer>{body}", body,
                       f"<think>t</think>\n<answer>{body}</answer> trailing", f"<answer>boxes: {body}.</answer>"])


seeds = st.integers(min_value=0, max_value=2**64 - 1)
odd_completions = st.one_of(
    st.none(),
    st.integers(),
    st.just([]),
    st.lists(st.fixed_dictionaries({"role": st.sampled_from(["assistant", "user", "tool"]),
                                    "content": st.one_of(st.none(), st.text(max_size=40),
                                                         st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=40)}), max_size=3),
                                                         st.integers())}), max_size=3),
    st.dictionaries(st.sampled_from(["content", "role", "x"]), st.text(max_size=40), max_size=3),
    st.lists(st.one_of(st.none(), st.text(max_size=40), st.integers()), max_size=3),
)


# --------------------------------------------------------------------------- tests (2500 + 4000 + 2000 + 1000 + 500)

@fuzz(2500)
@given(st.text(max_size=200), st.booleans())
def test_arbitrary_unicode(text: str, as_chat: bool) -> None:
    check_all(text, as_chat)


@fuzz(4000)
@given(seeds, st.booleans())
def test_adversarial_fragments(seed: int, as_chat: bool) -> None:
    check_all(hostile_text(random.Random(seed)), as_chat)


@fuzz(2000)
@given(seeds, st.booleans())
def test_box_lists_with_hostile_numbers(seed: int, as_chat: bool) -> None:
    check_all(box_answer(random.Random(seed)), as_chat)


@fuzz(1000)
@given(seeds, st.booleans())
def test_well_formed_shells_with_hostile_content(seed: int, as_chat: bool) -> None:
    rng = random.Random(seed)
    text = f"<think>{hostile_text(rng)}</think>{rng.choice(['', ' ', chr(10)])}<answer>{hostile_text(rng)}</answer>"
    check_all(text, as_chat)
    assert format_reward([text]) in ([0.0], [1.0])


@fuzz(500)
@given(odd_completions)
def test_odd_completion_objects(completion: Any) -> None:
    check_all(completion)


HUGE = {
    "10k boxes": "<answer>[" + ", ".join(f"[{i % 400}, {i % 300}, {i % 400 + 20}, {i % 300 + 25}]" for i in range(10_000)) + "]</answer>",
    "10k non-finite boxes": "<answer>" + "[1e999, -1e999, nan, inf], " * 10_000 + "</answer>",
    "100k-digit coordinate": "<answer>[[" + "9" * 100_000 + ", 0, 1, 1]]</answer>",
    "100k open brackets": "<answer>" + "[" * 100_000 + "</answer>",
    "100k close brackets": "<answer>" + "]" * 100_000,
    "50k answer tags": "<answer>" * 50_000,
    "50k closing tags": "</answer>" * 50_000 + "<answer>1</answer>",
    "20k think tags": "<think>" * 20_000 + "</think>" * 20_000 + "<answer>x</answer>",
    "200k spaces in a box": "<answer>[1" + " " * 200_000 + "x</answer>",
    "50k unclosed boxes": "<answer>" + "[1, " * 50_000 + "</answer>",
    "50k words": "<answer>" + "gland " * 50_000 + "</answer>",
    "100k-digit count": "<answer>" + "9" * 100_000 + "</answer>",
    "100k nbsp": "<answer>" + "\u00a0" * 100_000 + "B</answer>",
    "empty": "",
}


@pytest.mark.parametrize("completion", list(HUGE.values()), ids=list(HUGE))
def test_huge_inputs(completion: str) -> None:
    check_all(completion)


def test_three_hundred_boxes_are_scored_and_more_score_zero() -> None:
    boxes = [f"[{x}, {x}, {x + 40}, {x + 50}]" for x in range(301)]
    truth = [[[10, 10, 50, 60]]]
    # boxes x = 2..18 overlap the truth with IoU >= 0.5; the first of them (x = 2, IoU 1344/2656)
    # takes it at rank 3: AP = precision 1/3. The false positives after it do not count.
    assert detection_reward([f"<answer>[{', '.join(boxes[:300])}]</answer>"], boxes=truth) == [pytest.approx(1 / 3)]
    # One box more is over the cap (MAX_BOXES = 300): the answer scores 0, so do 10,000 boxes.
    assert detection_reward([f"<answer>[{', '.join(boxes)}]</answer>"], boxes=truth) == [0.0]
    many = ", ".join(f"[{x}, {x}, {x + 40}, {x + 50}]" for x in range(10_000))
    assert detection_reward([f"<answer>[{many}]</answer>"], boxes=truth) == [0.0]
