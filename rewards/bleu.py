"""BLEU-4 with NLTK's smoothing method 4, re-implemented for speed (the open-VQA reward and metric).

Definition (the same as ``nltk.translate.bleu_score`` with ``weights=(0.25,)*4`` and
``SmoothingFunction().method4``, one reference, which is what the paper's reference code uses;
the tests check equality with NLTK to 1e-9):

- tokens: ``text.lower().split()`` (lower-cased whitespace tokens, punctuation kept);
- p_n = clipped n-gram matches / max(1, number of hypothesis n-grams), n = 1..4;
- 0 when no unigram matches (this includes an empty hypothesis);
- method 4 (Chen & Cherry 2014): the k-th order with no match (k = 1, 2, ... in order of n)
  gets p_n = 1 / (2^k · 5 / ln|h|) / max(1, |h|-n+1), when the hypothesis has more than one token;
  orders still at 0 (a one-token hypothesis) are left out of the sum;
- BLEU = BP · exp(Σ 0.25 · ln p_n), BP = 1 if |h| > |r| else exp(1 − |r|/|h|).

:func:`corpus_bleu` sums the counts over the corpus first (Papineni et al.), as NLTK does.
NLTK itself takes ~100 µs per sentence; this takes a few, so a GRPO batch scores in
milliseconds.

>>> round(sentence_bleu("the gland is benign", "the gland is benign"), 6)
1.0
>>> round(sentence_bleu("Adenocarcinoma", "adenocarcinoma of the colon"), 6)
0.049787

Method 4 scores a short exact match below 1 (its missing 3- and 4-grams are smoothed, not skipped):

>>> [round(sentence_bleu(t, t), 3) for t in ["gland", "benign gland", "benign gland tissue"]]
[1.0, 0.221, 0.576]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

__all__ = ["MAX_ORDER", "corpus_bleu", "sentence_bleu", "tokenize"]

MAX_ORDER = 4
_WEIGHT = 1.0 / MAX_ORDER
_METHOD4_K = 5  # NLTK's SmoothingFunction default k


def tokenize(text: str) -> tuple[str, ...]:
    """Lower-cased whitespace tokens."""
    return tuple(text.lower().split())


def _ngram_counts(tokens: tuple[str, ...]) -> tuple[dict[tuple[str, ...], int], ...]:
    """Counts of the 1..4-grams of ``tokens``."""
    counts: list[dict[tuple[str, ...], int]] = []
    grams: list[tuple[str, ...]] = [(t,) for t in tokens]
    for n in range(1, MAX_ORDER + 1):
        if n > 1:
            grams = [g + (t,) for g, t in zip(grams, tokens[n - 1:])]
        table: dict[tuple[str, ...], int] = {}
        for gram in grams:
            table[gram] = table.get(gram, 0) + 1
        counts.append(table)
    return tuple(counts)


# References repeat (a GRPO group scores G completions against one answer); hypotheses rarely do.
_reference_counts = functools.lru_cache(maxsize=8192)(_ngram_counts)


def _matches(hyp: tuple[str, ...], ref: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """Clipped n-gram matches and NLTK's denominators max(1, #hypothesis n-grams), n = 1..4."""
    ref_counts = _reference_counts(ref)
    numerators = [0] * MAX_ORDER
    grams: list[tuple[str, ...]] = [(t,) for t in hyp]
    for n in range(MAX_ORDER):
        if n:
            grams = [g + (t,) for g, t in zip(grams, hyp[n:])]
        ref_n = ref_counts[n]
        distinct = set(grams)
        if len(distinct) == len(grams):  # no repeated n-gram: nothing to clip
            matched = len(distinct.intersection(ref_n))
        else:
            hyp_n: dict[tuple[str, ...], int] = {}
            for gram in grams:
                hyp_n[gram] = hyp_n.get(gram, 0) + 1
            matched = sum(min(count, ref_n.get(gram, 0)) for gram, count in hyp_n.items())
        if not matched:  # an (n+1)-gram can only match where its n-grams do
            break
        numerators[n] = matched
    return numerators, [max(1, len(hyp) - n) for n in range(MAX_ORDER)]


def _bleu(numerators: Sequence[int], denominators: Sequence[int], hyp_len: int, ref_len: int) -> float:
    if numerators[0] == 0:
        return 0.0
    log_sum = []
    smoothed = 1
    for num, den in zip(numerators, denominators):
        if num == 0 and hyp_len > 1:
            p = 1 / (2**smoothed * _METHOD4_K / math.log(hyp_len)) / den
            smoothed += 1
        else:
            p = num / den
        if p > 0:
            log_sum.append(_WEIGHT * math.log(p))
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return penalty * math.exp(math.fsum(log_sum))


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """Smoothed sentence BLEU-4 of ``hypothesis`` against one ``reference`` (module docstring), in [0, 1]."""
    hyp, ref = tokenize(hypothesis), tokenize(reference)
    if not hyp:
        return 0.0
    numerators, denominators = _matches(hyp, ref)
    return _bleu(numerators, denominators, len(hyp), len(ref))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 (counts summed over all pairs before the precisions), method-4 smoothing
    applied with the total hypothesis length, as ``nltk.translate.bleu_score.corpus_bleu``.
    0 for an empty corpus."""
    if len(hypotheses) != len(references):
        raise ValueError(f"corpus_bleu got {len(hypotheses)} hypotheses but {len(references)} references")
    numerators = [0] * MAX_ORDER
    denominators = [0] * MAX_ORDER
    hyp_len = ref_len = 0
    for hypothesis, reference in zip(hypotheses, references):
        hyp, ref = tokenize(hypothesis), tokenize(reference)
        nums, dens = _matches(hyp, ref)
        numerators = [a + b for a, b in zip(numerators, nums)]
        denominators = [a + b for a, b in zip(denominators, dens)]
        hyp_len += len(hyp)
        ref_len += len(ref)
    return _bleu(numerators, denominators, hyp_len, ref_len)
