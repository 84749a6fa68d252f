"""The VQA reward (paper Eq. 7; docs/concepts/rewards.md).

A question is *closed* when it has options or when its gold answer normalises to ``yes``/``no``:

- multiple choice: R = 1[â = a], both resolved to an option by letter (``"B"``, ``"(B)"``,
  ``"B)"``, ``"B) text"``) or by option text (:mod:`pathreason.rewards.choices`);
- yes/no: R = 1[â = a] after case and punctuation folding (``"Yes."`` = ``"yes"``);
- *open* questions: R = smoothed sentence BLEU-4 on lower-cased whitespace tokens, NLTK's
  ``SmoothingFunction().method4`` (re-implemented in :mod:`pathreason.rewards.bleu`, equal to
  NLTK's to 1e-9). The VQA metric's BLEU is the mean of this same score. Note that method 4
  scores short exact matches below 1 (two tokens: 0.221, three: 0.576; one token: 1.0), as in
  the reference code.

A completion without an ``<answer>`` block scores 0, and so does one longer than
:data:`~pathreason.rewards.columns.MAX_COMPLETION_CHARS` (64 Ki characters), a closed answer of
more than :data:`~pathreason.rewards.choices.MAX_CLOSED_ANSWER_CHARS` (1,024) characters or an open
answer of more than :data:`MAX_OPEN_ANSWER_TOKENS` (1,024) tokens: caps that keep every completion
to a few milliseconds (folding and BLEU grow with the answer's length) and change no score a
sensible answer gets (an answer of 1,024 words against a reference of a few scores about 0 anyway).

>>> vqa_reward(["<think>t</think><answer>(B)</answer>", "<answer>No.</answer>", "<answer>Gland</answer>"],
...            answer=["B", "no", "gland"], options=[["fat", "gland"], [], []], task=["vqa"] * 3)
[1.0, 1.0, 1.0]
>>> vqa_reward(["<answer>yes</answer>"], answer=["yes"], task=["detection"])
[None]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pathreason.api.completions import Completion
from pathreason.rewards.bleu import sentence_bleu
from pathreason.rewards.choices import MAX_CLOSED_ANSWER_CHARS, is_yes_no, matches_choice, normalize_answer
from pathreason.rewards.columns import answer_reward

__all__ = ["MAX_OPEN_ANSWER_TOKENS", "is_closed", "score_vqa", "vqa_reward"]

#: The longest open answer (in whitespace tokens) scored by BLEU; a longer one scores 0.
MAX_OPEN_ANSWER_TOKENS = 1024


def is_closed(answer: str, options: Sequence[str] | None) -> bool:
    """Whether a VQA question is closed: it has options, or its gold answer is yes/no."""
    return (options is not None and len(options) > 0) or is_yes_no(answer)


def score_vqa(pred: str | None, answer: str, options: Sequence[str] | None = None) -> float:
    """Eq. 7 for an already-extracted answer ``pred`` (``None`` when unparsed scores 0), in [0, 1];
    over the caps (the module docstring) an answer scores 0.

    >>> score_vqa("B) gland", "B", ["A) fat", "B) gland"]), score_vqa("YES!", "yes"), score_vqa(None, "yes")
    (1.0, 1.0, 0.0)
    >>> round(score_vqa("gland tissue", "glandular tissue"), 4)
    0.0675
    """
    if pred is None:
        return 0.0
    if options is not None and len(options) > 0:
        return 1.0 if matches_choice(pred, answer, options) else 0.0
    gold = normalize_answer(answer)
    if gold in ("yes", "no"):
        return 1.0 if len(pred) <= MAX_CLOSED_ANSWER_CHARS and normalize_answer(pred) == gold else 0.0
    if len(pred.split(maxsplit=MAX_OPEN_ANSWER_TOKENS)) > MAX_OPEN_ANSWER_TOKENS:
        return 0.0
    return sentence_bleu(pred, answer)


def vqa_reward(completions: Sequence[Completion], **columns: Any) -> list[float | None]:
    """TRL reward: :func:`score_vqa` of each completion's answer; ``None`` where ``task`` is not ``vqa``.

    Columns: ``answer`` (required), ``options`` (optional; empty or ``None`` for open/yes-no
    questions), ``task`` (optional).
    """
    return answer_reward("vqa", score_vqa, completions, columns)


vqa_reward.__name__ = "vqa"  # TRL logs rewards/<__name__>/mean
