"""The size caps of the built-in rewards (docs/concepts/rewards.md, "Caps"): what scores 0.

Nothing here is timed: each test puts a completion just inside a cap (scored as the formula says)
and one just over it (0), so the boundary itself is what is held.
"""

from __future__ import annotations

from pathreason.rewards.allocation import rule_reward
from pathreason.rewards.choices import MAX_CLOSED_ANSWER_CHARS
from pathreason.rewards.columns import MAX_COMPLETION_CHARS, capped_answer
from pathreason.rewards.detection import MAX_BOXES, detection_reward, score_detection
from pathreason.rewards.format import format_reward
from pathreason.rewards.subtyping import subtyping_reward
from pathreason.rewards.vqa import MAX_OPEN_ANSWER_TOKENS, score_vqa, vqa_reward


def padded(answer: str, length: int) -> str:
    """A well-formed completion of exactly ``length`` characters answering ``answer``."""
    frame = f"<think></think><answer>{answer}</answer>"
    return f"<think>{'x' * (length - len(frame))}</think><answer>{answer}</answer>"


def test_caps_are_what_the_docs_say() -> None:
    assert (MAX_COMPLETION_CHARS, MAX_CLOSED_ANSWER_CHARS, MAX_OPEN_ANSWER_TOKENS, MAX_BOXES) == (65_536, 1024, 1024, 300)


def test_a_completion_over_the_character_cap_scores_zero_in_every_reward() -> None:
    at, over = padded("B", MAX_COMPLETION_CHARS), padded("B", MAX_COMPLETION_CHARS + 1)
    assert (len(at), len(over)) == (MAX_COMPLETION_CHARS, MAX_COMPLETION_CHARS + 1)
    assert format_reward([at, over]) == [1.0, 0.0]
    assert vqa_reward([at, over], answer=["B", "B"], options=[["fat", "gland"]] * 2) == [1.0, 0.0]
    assert subtyping_reward([at, over], answer=["HP", "HP"], options=[["NORM", "HP"]] * 2) == [1.0, 0.0]
    chat = [{"role": "assistant", "content": over}]
    assert format_reward([chat]) == [0.0] and capped_answer(chat) is None  # the chat form too
    boxes = [[[0, 0, 10, 10]]] * 2
    assert detection_reward([padded("[[0, 0, 10, 10]]", MAX_COMPLETION_CHARS),
                             padded("[[0, 0, 10, 10]]", MAX_COMPLETION_CHARS + 1)], boxes=boxes) == [1.0, 0.0]
    eq10 = rule_reward(lambda s, n, n0, lam: s if n < n0 else lam * s, "eq10")
    assert eq10([padded("64", MAX_COMPLETION_CHARS), padded("64", MAX_COMPLETION_CHARS + 1)], n0=[256] * 2,
                native_tokens=[1024] * 2, performer_score=[0.8, 0.8]) == [0.8, 0.0]


def test_a_closed_answer_over_its_cap_matches_nothing() -> None:
    at = "B) " + "x" * (MAX_CLOSED_ANSWER_CHARS - 3)  # the letter wins over any text after it
    over = at + "x"
    assert score_vqa(at, "B", ["fat", "gland"]) == 1.0 and score_vqa(over, "B", ["fat", "gland"]) == 0.0
    assert score_vqa("yes" + "!" * (MAX_CLOSED_ANSWER_CHARS - 3), "yes") == 1.0
    assert score_vqa("yes" + "!" * (MAX_CLOSED_ANSWER_CHARS - 2), "yes") == 0.0
    assert subtyping_reward([f"<answer>{at}</answer>", f"<answer>{over}</answer>"], answer=["HP", "HP"],
                            options=[["NORM", "HP"]] * 2) == [1.0, 0.0]


def test_an_open_answer_over_the_token_cap_scores_zero() -> None:
    at = " ".join(["gland"] * MAX_OPEN_ANSWER_TOKENS)
    # BLEU of 1,024 x "gland" against "gland": p1 = 1/1024, p2..p4 smoothed (method 4), BP = 1: > 0.
    assert score_vqa(at, "gland") > 0.0
    assert score_vqa(at + " gland", "gland") == 0.0


def test_an_answer_over_the_box_cap_scores_zero() -> None:
    truth = [[0, 0, 10, 10]]
    first = "[0, 0, 10, 10]"
    filler = "[50, 50, 60, 60]"
    at = f"<answer>[{', '.join([first] + [filler] * (MAX_BOXES - 1))}]</answer>"
    over = f"<answer>[{', '.join([first] + [filler] * MAX_BOXES)}]</answer>"
    assert detection_reward([at, over], boxes=[truth, truth]) == [1.0, 0.0]  # the true positive comes first
    # 301 boxes without an outer list: as many brackets as boxes, over the cap once parsed.
    bare = f"<answer>{' '.join([first] + [filler] * MAX_BOXES)}</answer>"
    assert detection_reward([bare], boxes=[truth]) == [0.0]
    # More brackets than a list of MAX_BOXES boxes can hold: 0 unparsed, even with one box in it.
    brackets = f"<answer>{'[' * (MAX_BOXES + 1)} {first}</answer>"
    assert detection_reward([brackets], boxes=[truth]) == [0.0]
    assert detection_reward([f"<answer>{'[' * MAX_BOXES} {first}</answer>"], boxes=[truth]) == [1.0]
    assert score_detection([truth[0]] + [[50, 50, 60, 60]] * (MAX_BOXES - 1), truth) == 1.0
    assert score_detection([truth[0]] + [[50, 50, 60, 60]] * MAX_BOXES, truth) == 0.0
