"""The token-allocation reward's pure parts (paper Eq. 10, design §5.3).

The allocator answers an integer N̂ (:func:`parse_token_count`); N̂ is clamped to
[1, native count] (:func:`clamp_tokens`); with s(N̂) the task score of the frozen task performer
at that budget (the task reward without its format term) and N₀ the image's original token
count, :func:`allocation_reward` is

    R_alloc = s(N̂)        if N̂ < N₀
    R_alloc = λ · s(N̂)    otherwise,  λ = 0.5,

so fewer tokens earn full credit and more tokens pay only when they more than double the score.
An unparseable or non-positive N̂ gets R_alloc = 0. The allocator's total reward adds R_format.
The reward object that runs the task performer lives with the allocator, not here.

>>> n = parse_token_count("<think>coarse glands</think><answer>64</answer>")
>>> allocation_reward(0.8, clamp_tokens(n, native=1200), n_orig=256)
0.8
>>> allocation_reward(0.8, clamp_tokens(300, native=1200), n_orig=256)
0.4
"""

from __future__ import annotations

from pathreason.rewards.parsing import MAX_TOKEN_COUNT, parse_token_count

__all__ = ["ALLOCATION_LAMBDA", "MAX_TOKEN_COUNT", "RULES", "allocation_reward", "clamp_tokens", "parse_token_count",
           "token_cost_reward"]

ALLOCATION_LAMBDA = 0.5


def allocation_reward(score: float, n_pred: int, n_orig: int, lam: float = ALLOCATION_LAMBDA) -> float:
    """Eq. 10: ``score`` if ``n_pred < n_orig`` else ``lam * score``.

    ``score`` is s(N̂) in [0, 1], ``n_pred`` the clamped allocation N̂, ``n_orig`` the original
    token count N₀ = min(native count, training budget).
    """
    return score if n_pred < n_orig else lam * score


def token_cost_reward(score: float, n_pred: int, n_orig: int, lam: float = ALLOCATION_LAMBDA) -> float:
    """The continuous alternative of design §5.3: ``score - lam * n_pred / n_orig``.

    Every token has a price (``lam`` per N₀ tokens), so among budgets that score alike the smallest
    wins, and a budget above N₀ pays only when it raises the score by more than its price.

    >>> token_cost_reward(1.0, 64, 256, lam=0.25)
    0.9375
    """
    return score - lam * n_pred / n_orig


#: Allocation rules by name (``allocator.rule``).
RULES = {"eq10": allocation_reward, "token_cost": token_cost_reward}


def clamp_tokens(n_pred: int, native: int) -> int:
    """N̂ clamped to [1, ``native``], the image's token count at full resolution (more tokens than
    the image has pixels for cannot be given).

    >>> clamp_tokens(5000, native=1200), clamp_tokens(0, native=1200)
    (1200, 1)
    """
    if native < 1:
        raise ValueError(f"clamp_tokens: the native token count must be at least 1, got {native}")
    return max(1, min(int(n_pred), int(native)))
