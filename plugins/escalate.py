"""The ``escalate`` budgeter: a training-free baseline that reads an image again, larger, when the
performer is unsure of its answer (the idea of VisionThink, NeurIPS 2025: answer from a small image,
ask for a larger one only when needed).

The performer answers each image at the first budget of a ladder (default 16 -> 64 -> 256). Its
confidence is the mean log-probability of the answer's tokens (those inside ``<answer>…</answer>``,
:attr:`pathreason.api.Answer.logprob`); the image escalates to the next budget when the answer's mean
negative log-likelihood

    NLL = -(1/|a|) * sum_t log p(a_t | image, prompt, a_<t)

is **above** the threshold tau of the sample's task, and stops at the first answer with NLL <= tau or
at the end of the ladder. Every pass is paid for: an image escalated twice costs 16 + 64 + 256 visual
tokens (:attr:`~pathreason.api.Decision.overhead_tokens` holds the earlier passes,
:attr:`~pathreason.api.Decision.passes` their number). A rung that would show the image at the size it
already had (a small image reaches its native size early) is skipped: it would give the same answer.

**Calibration.** tau is chosen per task on a validation split, the first time the budgeter is bound
to a run, and saved with the run (:meth:`~pathreason.api.BudgetContext.save_state`, keyed by the
performer phase and the ladder; later binds reuse it, and a changed split, size or margin
recalibrates). Every validation image is answered at every rung; for each candidate tau (each NLL
observed before the last rung, and "never escalate") the escalation is replayed from those answers and
scored with the task's headline metric; tau is the **largest** candidate whose metric is at most
``margin`` (default 0.01: one point) below that of the ladder's top budget alone (``static:256`` by
default). A larger tau escalates fewer images, so the largest admissible tau is the cheapest
admissible setting. In the saved state ``null`` means "never escalate"; a negative tau escalates every
image (an NLL is never negative).

The budgeter's name carries its settings, comma-separated: budgets (the ladder, increasing) and
``split=NAME`` (the validation split, default ``validation``), ``n=N`` (its first N samples; default
all), ``margin=M``::

    escalate                     # 16 -> 64 -> 256, calibrated on "validation"
    escalate:32,256,split=val,n=64
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pathreason.api import (
    Answer,
    BudgetContext,
    ConfigError,
    Decision,
    PathreasonError,
    Performer,
    RunError,
    Sample,
    Task,
    make_view,
)

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

__all__ = ["ALWAYS", "BoundEscalation", "EscalateBudgeter", "EscalateSettings", "answer_nll", "calibrate",
           "choose_threshold", "escalates", "image_ladder", "replay", "state_key"]

DEFAULT_LADDER = (16, 64, 256)
#: A threshold below every NLL (an NLL is never negative): every image escalates to the top.
ALWAYS = -1.0
#: Validation images answered per performer call during calibration (their decoded images are held).
CHUNK = 64


@dataclass(frozen=True)
class EscalateSettings:
    """What the budgeter's argument sets (see the module docstring)."""

    ladder: tuple[int, ...] = DEFAULT_LADDER
    split: str = "validation"
    n: int | None = None
    margin: float = 0.01

    @classmethod
    def parse(cls, argument: str | None) -> EscalateSettings:
        """``"16,64,256,split=val,n=64,margin=0.01"`` (every item optional).

        >>> EscalateSettings.parse("32,256,n=8")
        EscalateSettings(ladder=(32, 256), split='validation', n=8, margin=0.01)
        """
        budgets: list[int] = []
        options: dict[str, Any] = {}
        for item in (argument or "").split(","):
            item = item.strip()
            if not item:
                continue
            key, eq, value = item.partition("=")
            try:
                if not eq:
                    budgets.append(int(item))
                elif key == "split" and value:
                    options["split"] = value
                elif key == "n":
                    options["n"] = int(value)
                elif key == "margin":
                    options["margin"] = float(value)
                else:
                    raise ValueError(item)
            except ValueError:
                raise ConfigError(f"budgeter 'escalate:{argument}': cannot read {item!r}; give increasing budgets "
                                  "and optionally split=NAME, n=N, margin=M, e.g. 'escalate:16,64,256,split=val'") from None
        ladder = tuple(budgets) or DEFAULT_LADDER
        if len(ladder) < 2 or any(b < 1 for b in ladder) or any(a >= b for a, b in zip(ladder, ladder[1:])):
            raise ConfigError(f"budgeter 'escalate:{argument}': the ladder must be at least two increasing positive "
                              f"budgets, got {list(ladder)}")
        if options.get("n") is not None and options["n"] < 1:
            raise ConfigError(f"budgeter 'escalate:{argument}': n must be a positive number of validation samples")
        if not 0 <= options.get("margin", 0.0) < 1:
            raise ConfigError(f"budgeter 'escalate:{argument}': margin is a metric difference in [0, 1), e.g. 0.01")
        return cls(ladder=ladder, **options)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ladder"] = list(self.ladder)
        return out


def answer_nll(answer: Answer) -> float:
    """The answer's mean negative log-likelihood; ``inf`` when the performer gave no log-probability
    (an empty answer): no confidence, so the image escalates unless tau says never."""
    if answer.logprob is None or not math.isfinite(answer.logprob):
        return math.inf
    return max(0.0, -float(answer.logprob))


def escalates(nll: float, tau: float | None) -> bool:
    """True when an answer of this NLL is re-read at the next budget (``tau=None``: never)."""
    return tau is not None and nll > tau


def image_ladder(size: tuple[int, int], ladder: Sequence[int], patch: int = 28) -> list[int]:
    """The rungs of ``ladder`` that show an image of ``size`` (width, height) at a new size: a rung
    whose view is as large as the previous one would give the same answer again.

    >>> image_ladder((448, 448), (16, 64, 256))
    [16, 64, 256]
    >>> image_ladder((224, 224), (16, 64, 256))   # 64 tokens is already its native size
    [16, 64]
    """
    rungs: list[int] = []
    last: tuple[int, int] | None = None
    for budget in ladder:
        view = make_view(size, budget, patch=patch).size
        if view != last:
            rungs.append(budget)
            last = view
    return rungs


def replay(nlls: Sequence[float], tau: float | None) -> int:
    """Index of the pass an escalation stops at, given the NLL of each rung's answer.

    >>> replay([0.9, 0.3, 2.0], tau=0.5)
    1
    >>> replay([0.9, 0.8, 2.0], tau=0.5), replay([0.9, 0.8, 2.0], tau=None)
    (2, 0)
    """
    for i, nll in enumerate(nlls[:-1]):
        if not escalates(nll, tau):
            return i
    return len(nlls) - 1


def choose_threshold(task: Task, samples: Sequence[Sample], parsed: Sequence[Sequence[Any]],
                     nlls: Sequence[Sequence[float]], tokens: Sequence[Sequence[int]], margin: float) -> dict[str, Any]:
    """The largest tau whose replayed metric is within ``margin`` of the top rung's (see the module docstring).

    ``parsed[i][r]``, ``nlls[i][r]`` and ``tokens[i][r]``: sample ``i``'s parsed answer, NLL and
    visual tokens at its ``r``-th rung. Returns the threshold, the metric it reaches, the reference
    (every image at its top rung), the mean passes and total tokens per image, and the candidates tried.
    """
    metric_name = task.metric_names[0]

    def outcome(tau: float | None) -> tuple[float, list[int]]:
        stops = [replay(n, tau) for n in nlls]
        value = float(task.metrics(samples, [p[s] for p, s in zip(parsed, stops)])[metric_name])
        return value, stops

    reference, _ = outcome(ALWAYS)
    observed = sorted({n for row in nlls for n in row[:-1] if math.isfinite(n)}, reverse=True)
    candidates: list[float | None] = [None, *observed, ALWAYS]
    for tau in candidates:  # from the cheapest; ALWAYS reproduces the reference, so one is admissible
        value, stops = outcome(tau)
        if value >= reference - margin - 1e-9:
            break
    tried = candidates.index(tau) + 1
    n = max(1, len(samples))
    return {"tau": tau, "metric_name": metric_name, "metric": value, "reference": reference,
            "passes": sum(s + 1 for s in stops) / n,
            "total_tokens": sum(sum(t[:s + 1]) for t, s in zip(tokens, stops)) / n,
            "n": len(samples), "candidates_tried": tried}


def state_key(phase: str | None, ladder: Sequence[int]) -> str:
    """Where the calibration is saved in the run: ``escalate-<phase>-<ladder>``.

    >>> state_key("sft", (16, 64, 256))
    'escalate-sft-16-64-256'
    """
    return f"escalate-{phase or 'latest'}-{'-'.join(str(b) for b in ladder)}"


def calibrate(performer: Performer, tasks: Mapping[str, Task], samples: Sequence[Sample], settings: EscalateSettings,
              patch: int = 28, box_frame: str = "absolute") -> dict[str, Any]:
    """Answer every sample at every rung of its ladder and choose each task's threshold
    (:func:`choose_threshold`). An unreadable image is reported and left out."""
    start = time.perf_counter()
    by_task: dict[str, dict[str, list[Any]]] = {}
    skipped: list[str] = []
    for begin in range(0, len(samples), CHUNK):
        kept, images = [], []
        for sample in samples[begin:begin + CHUNK]:
            try:
                images.append(sample.load_image())
            except Exception as exc:  # one bad file must not stop a calibration; it is reported below
                skipped.append(f"{sample.id}: {type(exc).__name__}: {exc}")
                continue
            kept.append(sample)
        ladders = [image_ladder(im.size, settings.ladder, patch) for im in images]
        rows: list[tuple[list[Any], list[float], list[int]]] = [([], [], []) for _ in kept]
        for step in range(len(settings.ladder)):
            todo = [i for i, ladder in enumerate(ladders) if step < len(ladder)]
            if not todo:
                break
            answers = performer.answer([kept[i] for i in todo], [images[i] for i in todo],
                                       [ladders[i][step] for i in todo], logprobs=True)
            for i, answer in zip(todo, answers):
                view = make_view(images[i].size, ladders[i][step], box_frame, patch)
                rows[i][0].append(tasks[kept[i].task].parse(answer.text, view))
                rows[i][1].append(answer_nll(answer))
                rows[i][2].append(int(answer.tokens))
        for sample, (parsed, nlls, tokens) in zip(kept, rows):
            block = by_task.setdefault(sample.task, {"samples": [], "parsed": [], "nlls": [], "tokens": []})
            block["samples"].append(sample)
            block["parsed"].append(parsed)
            block["nlls"].append(nlls)
            block["tokens"].append(tokens)
    if skipped:
        logger.warning("escalate calibration: skipped %d sample(s) whose image cannot be read: %s",
                       len(skipped), "; ".join(skipped[:20]))
    read = [n for b in by_task.values() for row in b["nlls"] for n in row[:-1]]  # the NLLs a decision reads
    if read and all(math.isinf(n) for n in read):
        raise RunError("escalate: the performer gave no log-probabilities (Answer.logprob is None for every "
                       "answer); it needs a performer whose answer(..., logprobs=True) returns them")
    out = {task: choose_threshold(tasks[task], b["samples"], b["parsed"], b["nlls"], b["tokens"], settings.margin)
           for task, b in by_task.items()}
    return {"settings": settings.as_dict(), "tasks": out, "skipped": len(skipped),
            "seconds": time.perf_counter() - start}


class EscalateBudgeter:
    """The ``escalate`` budgeter (a :class:`pathreason.api.TwoStageBudgeter`; see the module docstring)."""

    name = "escalate"

    def __init__(self, argument: str | None = None) -> None:
        self.settings = EscalateSettings.parse(argument)

    def bind(self, context: BudgetContext, phase: str | None = None) -> BoundEscalation:
        performer = context.performer(phase)
        # The protocol carries no box frame; the run's performer does (detection answers are parsed
        # in it). Qwen2.5-VL's absolute pixels otherwise.
        box_frame = str(getattr(performer, "box_frame", "absolute"))
        key = state_key(phase, self.settings.ladder)
        state = context.load_state(key)
        if state is None or state.get("settings") != self.settings.as_dict():
            try:
                samples = context.samples(self.settings.split, self.settings.n)
            except PathreasonError as exc:
                raise RunError(f"escalate: cannot calibrate on split {self.settings.split!r} ({exc}); name the "
                               "run's validation split, e.g. 'escalate:16,64,256,split=val'") from None
            logger.info("escalate: calibrating the threshold on %d %s samples (ladder %s)", len(samples),
                        self.settings.split, list(self.settings.ladder))
            state = calibrate(performer, context.tasks, samples, self.settings, context.patch, box_frame)
            context.save_state(key, state)
        thresholds = {task: entry["tau"] for task, entry in state["tasks"].items()}
        return BoundEscalation(performer, self.settings.ladder, thresholds, context.patch)

    def __repr__(self) -> str:
        return "escalate:" + ",".join(str(b) for b in self.settings.ladder)


class BoundEscalation:
    """The ``escalate`` budgeter bound to a run: thresholds per task, one batched call per rung.

    A sample of a task that has no threshold (none of its samples was in the validation split) is
    escalated to the top of its ladder, and counted as a fallback.
    """

    def __init__(self, performer: Performer, ladder: Sequence[int], thresholds: Mapping[str, float | None],
                 patch: int = 28) -> None:
        self.performer = performer
        self.ladder = tuple(ladder)
        self.thresholds = dict(thresholds)
        self.patch = patch

    def decide(self, samples: Sequence[Sample], images: Sequence[Image.Image]) -> list[Decision]:
        ladders = [image_ladder(im.size, self.ladder, self.patch) for im in images]
        taus = [self.thresholds.get(s.task, ALWAYS) for s in samples]
        passes: list[list[Answer]] = [[] for _ in samples]
        active = list(range(len(samples)))
        step = 0
        while active:
            more = [step + 1 < len(ladders[i]) for i in active]
            answers = self.performer.answer([samples[i] for i in active], [images[i] for i in active],
                                            [ladders[i][step] for i in active], logprobs=any(more))
            going_on = []
            for i, answer, has_next in zip(active, answers, more):
                passes[i].append(answer)
                if has_next and escalates(answer_nll(answer), taus[i]):
                    going_on.append(i)
            active = going_on
            step += 1
        return [Decision(answer=done[-1], overhead_tokens=sum(a.tokens for a in done[:-1]), passes=len(done),
                         fallback=s.task not in self.thresholds,
                         info={"escalate_budgets": [a.budget for a in done],
                               "escalate_nll": [_json_float(answer_nll(a)) for a in done[:-1]],
                               "escalate_tau": _json_float(tau) if tau is not None else None})
                for s, done, tau in zip(samples, passes, taus)]


def _json_float(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None
