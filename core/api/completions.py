"""Reading model output: the one place where completions are turned into answers, boxes and counts,
and where the answer format (``<think>…</think> <answer>…</answer>``) is judged.

Every parser here is total: whatever a model writes (unbalanced or nested tags, huge numbers,
NaN, unicode, megabytes of text) it returns a value or ``None`` and never raises.

>>> c = [{"role": "assistant", "content": "<think>two glands</think><answer>[[1,2,30,40], [5, 6.5, 7, 8]]</answer>"}]
>>> completion_text(c)[:17]
'<think>two glands'
>>> extract_answer(c)
'[[1,2,30,40], [5, 6.5, 7, 8]]'
>>> parse_boxes(extract_answer(c))
[(1.0, 2.0, 30.0, 40.0), (5.0, 6.5, 7.0, 8.0)]
>>> parse_token_count("<think>simple tile</think><answer>64</answer>")
64
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "MAX_TOKEN_COUNT",
    "Completion",
    "completion_text",
    "extract_answer",
    "extract_rationale",
    "is_well_formed",
    "parse_boxes",
    "parse_boxes_array",
    "parse_token_count",
]

#: A completion as TRL hands it to a reward: plain text, or the chat form
#: ``[{"role": "assistant", "content": "..."}]`` (content may also be a list of ``{"type": "text"}`` parts).
Completion = Any

#: Token counts above this are not a budget but noise (Qwen2.5-VL's own cap is 16,384 per image).
MAX_TOKEN_COUNT = 1_000_000

_ANSWER_TAG = re.compile(r"<(/?)answer>", re.IGNORECASE)
# Unambiguous number grammar (no nested optional digit runs), so a run of digits cannot make the
# regex engine backtrack quadratically.
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_BOX = re.compile(rf"\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]", re.ASCII)
_SKELETON = str.maketrans("", "", "0123456789.+-eE \t\n\r\f\v")
_SEPARATORS = str.maketrans("[],", "   ")
_COUNT = re.compile(r"\+?(\d+)(?:\.0*)?", re.ASCII)
_FORMAT_TAGS = re.compile(r"</?(?:think|answer)>")
_EXPECTED_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):  # multimodal content parts
        return "".join(part.get("text") or "" if isinstance(part, Mapping) else str(part) for part in content)
    return "" if content is None else str(content)


def completion_text(completion: Completion) -> str:
    """The text of a completion: a string as is; for TRL's chat form, the content of the last
    assistant message (the last message when none names its role).

    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "yes"}]}])
    'yes'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        messages = [m for m in completion if isinstance(m, Mapping)]
        if not messages:
            return "".join(x for x in completion if isinstance(x, str))
        assistant = [m for m in messages if m.get("role") == "assistant"] or messages
        return _content_text(assistant[-1].get("content"))
    return "" if completion is None else str(completion)


def extract_answer(completion: Completion) -> str | None:
    """The stripped text after the last ``<answer>`` tag, up to the next ``</answer>`` (or the end
    of the text when the generation was cut before closing it); ``None`` when there is no
    ``<answer>`` tag. Tags are matched case-insensitively; a bare answer without tags is ``None``
    (the format reward, not the task reward, is where missing tags are judged).

    >>> extract_answer("<answer>A</answer> then <ANSWER> B </Answer>")
    'B'
    >>> extract_answer("<think>x</think><answer>[[1, 2, 3, 4]")
    '[[1, 2, 3, 4]'
    >>> extract_answer("B") is None
    True
    """
    text = completion_text(completion)
    last_open: re.Match[str] | None = None
    close: re.Match[str] | None = None
    for tag in _ANSWER_TAG.finditer(text):
        if not tag.group(1):
            last_open = tag
            close = None
        elif last_open is not None and close is None:
            close = tag
    if last_open is None:
        return None
    end = close.start() if close is not None else len(text)
    return text[last_open.end():end].strip()


def _bare_list_size(answer: str) -> int | None:
    """The number of boxes when ``answer`` is a bare box list (``[[x1,y1,x2,y2], ...]`` or one
    ``[x1,y1,x2,y2]``, what the prompt asks for) as far as its brackets and commas show, found
    with string methods only; ``None`` for anything else. Its tokens still have to be checked."""
    skeleton = answer.translate(_SKELETON)
    if skeleton == "[,,,]":
        return 1
    boxes = skeleton.count("[") - 1
    return boxes if boxes >= 0 and skeleton == "[" + ",".join(["[,,,]"] * boxes) + "]" else None


def _regex_tokens(answer: str) -> list[str]:
    """The numbers of every four-number bracket group, by regex (the general path)."""
    return [number for box in _BOX.findall(answer) for number in box]


def _to_floats(tokens: list[str]) -> list[float] | None:
    try:
        return list(map(float, tokens))
    except ValueError:
        return None


def _box_values(answer: str) -> list[float]:
    """The coordinates of the boxes of one answer, four per box, in the order written."""
    size = _bare_list_size(answer)
    if size is not None:
        tokens = answer.translate(_SEPARATORS).split()
        values = _to_floats(tokens) if len(tokens) == 4 * size else None
        if values is not None:
            return values
    return list(map(float, _regex_tokens(answer)))


def parse_boxes(answer: str | None) -> list[tuple[float, float, float, float]]:
    """Every ``[x1, y1, x2, y2]`` group of four numbers in ``answer``, in the order written.

    Accepts the nested list ``[[x1,y1,x2,y2], ...]``, a single box, ints or floats (``1e3``
    too) and ASCII whitespace anywhere, with or without text around. A bracket group that is not
    exactly four numbers is not a box and is skipped. Numbers too large for a float become
    ``inf``; boxes are not validated here (the detection reward counts non-finite or inverted
    boxes as false positives).

    >>> parse_boxes("[[10, 20, 30.5, 40], [ 1,2 ,3, 4 ], [1, 2, 3]]")
    [(10.0, 20.0, 30.5, 40.0), (1.0, 2.0, 3.0, 4.0)]
    >>> parse_boxes("[[1 2, 3, 4, 5], [6, 7, 8, 9]]"), parse_boxes(None)
    ([(6.0, 7.0, 8.0, 9.0)], [])
    """
    if not answer:
        return []
    values = _box_values(answer)
    return list(zip(values[0::4], values[1::4], values[2::4], values[3::4]))


def parse_boxes_array(answers: Sequence[str | None]) -> tuple[np.ndarray, list[int]]:
    """:func:`parse_boxes` of many answers at once: an (N, 4) float64 array of all their boxes,
    answer after answer, and the number of boxes of each answer.

    >>> boxes, counts = parse_boxes_array(["[[1, 2, 3, 4], [5, 6, 7, 8]]", None, "see [9, 9, 10, 10]"])
    >>> boxes.shape, counts
    ((3, 4), [2, 0, 1])
    """
    import numpy as np

    # Fast path: bare lists are split all together, in one string operation.
    pieces: list[str] = []
    counts: list[int] = []
    for answer in answers:
        size = _bare_list_size(answer) if answer else 0
        if size is None:
            tokens = _regex_tokens(answer or "")
            pieces.append(" ".join(tokens))
            counts.append(len(tokens) // 4)
        else:
            pieces.append(answer or "")
            counts.append(size)
    tokens = " ".join(pieces).translate(_SEPARATORS).split()
    values = _to_floats(tokens) if len(tokens) == 4 * sum(counts) else None
    if values is None:  # a bare list hid a non-number or two numbers in one slot: answer by answer
        per_answer = [_box_values(a) if a else [] for a in answers]
        values = [v for vs in per_answer for v in vs]
        counts = [len(vs) // 4 for vs in per_answer]
    return np.array(values, dtype=np.float64).reshape(-1, 4), counts


def parse_token_count(completion: Completion) -> int | None:
    """The allocator's visual-token count: the positive integer inside ``<answer>…</answer>``.

    Accepts surrounding whitespace, a leading ``+`` and a zero fraction (``"64.0"``); anything
    else (no answer block, words, a fraction, zero or a negative number, NaN/inf, more than
    :data:`MAX_TOKEN_COUNT`) is ``None``, which the allocation reward scores 0.

    >>> parse_token_count("<answer> 128 </answer>"), parse_token_count("<answer>0</answer>")
    (128, None)
    >>> parse_token_count("<answer>1e400</answer>") is None
    True
    """
    answer = extract_answer(completion)
    if answer is None:
        return None
    match = _COUNT.fullmatch(answer)
    if match is None:
        return None
    digits = match.group(1).lstrip("0")
    # The length test comes first: int() refuses strings of more than 4,300 digits.
    if not digits or len(digits) > len(str(MAX_TOKEN_COUNT)):
        return None
    count = int(digits)
    return count if count <= MAX_TOKEN_COUNT else None


def is_well_formed(text: str) -> bool:
    """Whether ``text`` is exactly ``<think>…</think>`` then ``<answer>…</answer>``: only whitespace
    before, between and after the two blocks, exactly one of each of the four (lower-case) tags and
    no tag nested inside a block. Either block may be empty (the reference code's pattern
    ``^<think>.*?</think>\\s*<answer>.*?</answer>(?![\\s\\S])``). R_format is this as 0 or 1.

    >>> is_well_formed("<think>round nuclei</think>\\n<answer>B</answer>"), is_well_formed("<answer>B</answer>")
    (True, False)
    """
    tags = list(itertools.islice(_FORMAT_TAGS.finditer(text), len(_EXPECTED_TAGS) + 1))
    if tuple(tag.group() for tag in tags) != _EXPECTED_TAGS:
        return False
    think, think_end, answer, answer_end = tags
    outside = (text[:think.start()], text[think_end.end():answer.start()], text[answer_end.end():])
    return not any(part.strip() for part in outside)


def extract_rationale(completion: Completion) -> str:
    """The stripped text of the first ``<think>`` block (to its ``</think>`` or the end), or ``""``.

    >>> extract_rationale("<think> two glands </think><answer>[]</answer>"), extract_rationale("B")
    ('two glands', '')
    """
    text = completion_text(completion)
    if "<think>" not in text:
        return ""
    return text.split("<think>", 1)[1].split("</think>", 1)[0].strip()

