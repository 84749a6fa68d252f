"""The token-allocation rewards (paper Eq. 10 and a continuous token cost), with TRL's contract.

The allocator answers an integer N̂ (:func:`pathreason.api.parse_token_count`), clamped to
[1, native count] (:func:`pathreason.api.clamp_tokens`). With s(N̂) the task score of the frozen task
performer at that budget (the task reward without its format term) and N₀ the image's original token
count, Eq. 10 (:func:`allocation_reward`) is

    R_alloc = s(N̂)        if N̂ < N₀
    R_alloc = λ · s(N̂)    otherwise,  λ = 0.5,

so fewer tokens earn full credit and more tokens pay only when they more than double the score.
An unparseable or non-positive N̂ gets R_alloc = 0, and so does a completion longer than
:data:`~pathreason.rewards.columns.MAX_COMPLETION_CHARS` (64 Ki characters), unread. The
allocator's total reward adds R_format.

Each rule is registered as a reward plugin (``eq10``, alias ``allocation``; ``token_cost``) whose
callable takes TRL's arguments: the completions, and the columns ``n0`` (N₀), ``native_tokens`` (the
native token count) and ``performer_score`` (s(N̂) of each completion, or ``None`` when its N̂ is unusable),
which the allocator's trainer fills in by running the performer at each completion's budget. Another
allocation rule is another reward plugin with the same columns (``allocator.rule`` names it).

>>> n = parse_token_count("<think>coarse glands</think><answer>64</answer>")
>>> allocation_reward(0.8, clamp_tokens(n, native=1200), n_orig=256)
0.8
>>> allocation_reward(0.8, clamp_tokens(300, native=1200), n_orig=256)
0.4
>>> eq10 = rule_reward(allocation_reward, "eq10")
>>> eq10(["<answer>64</answer>", "<answer>300</answer>", "<answer>?</answer>"], n0=[256] * 3,
...      native_tokens=[1200] * 3, performer_score=[0.8, 0.8, None])
[0.8, 0.4, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pathreason.api import MAX_TOKEN_COUNT, Completion, clamp_tokens, parse_token_count
from pathreason.rewards.columns import capped_text

__all__ = ["ALLOCATION_LAMBDA", "MAX_TOKEN_COUNT", "RULES", "allocation_reward", "clamp_tokens", "parse_token_count",
           "rule_reward", "token_cost_reward"]

ALLOCATION_LAMBDA = 0.5


def allocation_reward(score: float, n_pred: int, n_orig: int, lam: float = ALLOCATION_LAMBDA) -> float:
    """Eq. 10: ``score`` if ``n_pred < n_orig`` else ``lam * score``.

    ``score`` is s(N̂) in [0, 1], ``n_pred`` the clamped allocation N̂, ``n_orig`` the original
    token count N₀ = min(native count, training budget).
    """
    return score if n_pred < n_orig else lam * score


def token_cost_reward(score: float, n_pred: int, n_orig: int, lam: float = ALLOCATION_LAMBDA) -> float:
    """The continuous alternative: ``score - lam * n_pred / n_orig``.

    Every token has a price (``lam`` per N₀ tokens), so among budgets that score alike the smallest
    wins, and a budget above N₀ pays only when it raises the score by more than its price.

    >>> token_cost_reward(1.0, 64, 256, lam=0.25)
    0.9375
    """
    return score - lam * n_pred / n_orig


#: Allocation rules by registered name.
RULES = {"eq10": allocation_reward, "token_cost": token_cost_reward}


def rule_reward(rule: Callable[[float, int, int, float], float], name: str,
                lam: float = ALLOCATION_LAMBDA) -> Callable[..., list[float | None]]:
    """``rule`` (score, N̂, N₀, λ) as a reward with TRL's contract (see the module docstring)."""

    def reward(completions: Sequence[Completion], n0: Sequence[int], native_tokens: Sequence[int],
               performer_score: Sequence[float | None], **_: Any) -> list[float | None]:
        out: list[float | None] = []
        for completion, n_orig, n_native, score in zip(completions, n0, native_tokens, performer_score):
            text = capped_text(completion)
            n_pred = None if text is None else parse_token_count(text)
            if n_pred is None or score is None:
                out.append(0.0)
            else:
                out.append(float(rule(float(score), clamp_tokens(n_pred, int(n_native)), int(n_orig), lam)))
        return out

    reward.__name__ = name
    return reward
