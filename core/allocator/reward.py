"""The allocator's reward: the frozen performer's score at each allocated budget, under a rule.

:class:`PerformerScorer` gives s(N̂) for (sample, budget) requests: one batched performer generation
per call, cached per (sample id, resized size), so two completions that allocate 250 and 255 tokens
to a 448-pixel tile (both 225 tokens once resized) are scored once. :class:`AllocationReward` is the
TRL reward function: it parses each completion's N̂, scores the performer there and hands the scores
to the allocation rule, a reward plugin (``allocator.rule``: Eq. 10 or the token cost) that receives
them as its ``performer_score`` column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import (
    Performer,
    Sample,
    Task,
    clamp_tokens,
    completion_text,
    make_view,
    parse_token_count,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["AllocationReward", "PerformerScorer"]


class PerformerScorer:
    """Scores of the frozen performer at given budgets (see the module docstring).

    ``generate_calls`` counts the performer's generations (one per GRPO step at most), ``generated``
    the images they answered.
    """

    def __init__(self, performer: Performer, tasks: Mapping[str, Task],
                 samples: Mapping[str, tuple[Sample, Image.Image]], box_frame: str = "absolute",
                 patch: int = 28) -> None:
        self.performer = performer
        self.tasks = tasks
        self.samples = samples
        self.box_frame = box_frame
        self.patch = patch
        self.cache: dict[tuple[str, tuple[int, int]], float] = {}
        self.generate_calls = 0
        self.generated = 0

    def scores(self, requests: Sequence[tuple[str, int]]) -> list[float]:
        """``s(N̂)`` for each ``(sample id, budget)``."""
        keys, todo, seen = [], [], set()
        for sid, budget in requests:
            if sid not in self.samples:
                raise KeyError(f"allocation reward: unknown sample id {sid!r}")
            sample, image = self.samples[sid]
            view = make_view(image.size, budget, self.box_frame, self.patch)
            key = (sid, view.size)
            keys.append(key)
            if key not in self.cache and key not in seen:
                seen.add(key)
                todo.append((key, sample, image, budget, view))
        if todo:
            self.generate_calls += 1
            self.generated += len(todo)
            answers = self.performer.answer([t[1] for t in todo], [t[2] for t in todo], [t[3] for t in todo])
            for (key, sample, _, _, view), answer in zip(todo, answers):
                task = self.tasks[sample.task]
                self.cache[key] = float(task.score(task.parse(answer.text, view), sample))
        return [self.cache[k] for k in keys]


class AllocationReward:
    """The allocator's TRL reward function (see the module docstring).

    Columns (TRL passes dataset columns as keyword arguments): ``id``, ``n0``, ``native_tokens``. An answer
    that is not a positive integer (or is absurdly large) is not scored by the performer, and the
    rule gives it 0.
    """

    def __init__(self, scorer: PerformerScorer, rule: Callable[..., list[float | None]]) -> None:
        self.scorer = scorer
        self.rule = rule
        self.__name__ = rule.__name__  # TRL logs rewards/<__name__>/mean: the rule's registered name

    def __call__(self, completions: Sequence[Any], id: Sequence[str], n0: Sequence[int],
                 native_tokens: Sequence[int], **_: Any) -> list[float | None]:
        allocations = [parse_token_count(completion_text(c)) for c in completions]
        valid = [(i, clamp_tokens(n, native_tokens[i])) for i, n in enumerate(allocations) if n is not None]
        scores: list[float | None] = [None] * len(completions)
        for (i, _n), score in zip(valid, self.scorer.scores([(id[i], n) for i, n in valid])):
            scores[i] = score
        return self.rule(completions, n0=n0, native_tokens=native_tokens, performer_score=scores)
