"""Closed answers: normalising text and resolving option letters, shared by VQA and subtyping.

An answer names an option either by its text, compared after :func:`normalize_answer`, or by
its letter (``"B"``, ``"(B)"``, ``"B)"``, ``"B. text"``, ``"B) text"``; the letter wins over any
text after it). Options may be plain texts (``"gland"``) or carry their letter
(PathMMU's ``"B) gland"``); a letter prefix is recognised only when it is the option's own
letter, so an option such as ``"T. pallidum"`` in third place keeps its text.

>>> options = ["A) stroma", "B) gland", "C) fat"]
>>> [option_index(x, options) for x in ["B", "(b)", "B) gland", "gland.", "Gland", "D", "muscle"]]
[1, 1, 1, 1, 1, None, None]
>>> matches_choice("(B)", "B) gland", options), matches_choice("fat", "B", options)
(True, False)
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Sequence

__all__ = ["MAX_CLOSED_ANSWER_CHARS", "is_yes_no", "matches_choice", "normalize_answer", "option_index",
           "resolve_choice"]

#: The longest closed answer (an option, a class name, yes/no), in characters, that can match; a
#: longer one matches nothing, unread (normalising 64 Ki characters takes milliseconds).
MAX_CLOSED_ANSWER_CHARS = 1024

_PUNCTUATION = re.compile(r"[^\w\s]+")
_LETTER = re.compile(r"\s*[(\[]?\s*([A-Za-z])\s*(?:[)\].:]|$)")


def normalize_answer(text: str) -> str:
    """Case and punctuation folded, whitespace collapsed: the form in which closed answers compare.

    Punctuation becomes a space, so ``"TA.HG"`` and ``"TA.LG"`` stay apart while ``"Yes."``,
    ``"yes"`` and ``" YES! "`` all become ``"yes"``.

    >>> normalize_answer("  Yes. "), normalize_answer("TA.HG"), normalize_answer("T-cell  Lymphoma")
    ('yes', 'ta hg', 't cell lymphoma')
    """
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def is_yes_no(answer: str) -> bool:
    """Whether a gold answer is ``yes`` or ``no`` once normalised (a closed VQA question)."""
    return normalize_answer(answer) in ("yes", "no")


@functools.lru_cache(maxsize=4096)
def _option_names(options: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """For each option: (its label, its whole text), both normalised; the label drops the
    option's own letter prefix (``"B) gland"`` -> ``"gland"``)."""
    names = []
    for i, option in enumerate(options):
        whole = normalize_answer(option)
        letter = _LETTER.match(option)
        own_prefix = letter is not None and i < 26 and letter.group(1).upper() == string.ascii_uppercase[i]
        label = normalize_answer(option[letter.end():]) if own_prefix and letter is not None else whole
        names.append((label or whole, whole))
    return tuple(names)


def option_index(text: str, options: Sequence[str]) -> int | None:
    """The 0-based index of the option that ``text`` names; ``None`` if it names none.

    Tried in this order: the option's whole text (so an option ``"C. difficile colitis"`` is
    itself, not letter C), the letter (a letter beyond the last option is no letter answer),
    then the option's label (its text without its own letter prefix).
    """
    names = _option_names(tuple(str(o) for o in options))
    folded = normalize_answer(text)
    for index, (_, whole) in enumerate(names):
        if folded == whole:
            return index
    letter = _LETTER.match(text)
    if letter is not None:
        index = ord(letter.group(1).upper()) - ord("A")
        if index < len(names):
            return index
    for index, (label, _) in enumerate(names):
        if folded == label:
            return index
    return None


def resolve_choice(text: str, options: Sequence[str] | None) -> str:
    """The normalised label that ``text`` stands for: the named option's label when it names an
    option, else the normalised text itself. Predictions and gold answers resolved this way
    compare with ``==``, and serve as class labels for the subtyping metrics.

    >>> resolve_choice("(C)", ["NORM", "HP", "TA.HG"]), resolve_choice("hp", ["NORM", "HP"]), resolve_choice("Benign", None)
    ('ta hg', 'hp', 'benign')
    """
    if options is not None and len(options) > 0:
        index = option_index(text, options)
        if index is not None:
            return _option_names(tuple(str(o) for o in options))[index][0]
    return normalize_answer(text)


def matches_choice(pred: str | None, gold: str, options: Sequence[str] | None) -> bool:
    """1[ĉ = c]: whether a parsed prediction names the same option (or the same text) as the gold
    answer; an unparsed prediction (``None``) never matches, nor does one longer than
    :data:`MAX_CLOSED_ANSWER_CHARS`."""
    return (pred is not None and len(pred) <= MAX_CLOSED_ANSWER_CHARS
            and resolve_choice(pred, options) == resolve_choice(gold, options))
