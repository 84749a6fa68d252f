"""pathreason plugin example: a yes/no task, its reward and a generated dataset.

Found by pathreason through the ``pathreason`` entry point in pyproject.toml. Train it on the
embedded tiny model::

    from pathreason import Engine
    Engine(task="example", dataset="example").train()

Everything is imported from :mod:`pathreason.api`, the contract pathreason keeps for plugins.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pathreason.api import (
    DataError,
    DatasetSpec,
    RewardSpec,
    Sample,
    Task,
    TaskSpec,
    extract_answer,
    hookimpl,
)

if TYPE_CHECKING:
    from PIL.Image import Image

NAME = "example"
QUESTION = "Does this tile contain a cluster of dark-stained nuclei?"
TILE = 224  # pixels: 8 x 8 = 64 visual tokens at 28 pixels per token

_PUNCTUATION = re.compile(r"[^\w\s]+")


# ---------------------------------------------------------------------------------- reward
def normalize(text: str) -> str:
    """Case and punctuation folded, whitespace collapsed: ``" Yes. "`` and ``"yes"`` compare equal.

    >>> normalize("  Yes. ")
    'yes'
    """
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def score(pred: str | None, answer: str) -> float:
    """1.0 when the extracted answer equals the gold yes/no once normalised, else 0.0."""
    return 1.0 if pred is not None and normalize(pred) == normalize(answer) else 0.0


def reward(completions: Sequence[Any], answer: Sequence[str], task: Sequence[str | None] | None = None,
           **kwargs: Any) -> list[float | None]:
    """TRL reward: :func:`score` of each completion's ``<answer>``; ``None`` for other tasks' samples.

    >>> reward(["<think>dark cluster</think><answer>Yes</answer>", "<answer>no</answer>"],
    ...        answer=["yes", "yes"], task=[NAME, "another-task"])
    [1.0, None]
    """
    tasks = task if task is not None else [None] * len(completions)
    return [score(extract_answer(c), a) if t in (None, NAME) else None
            for c, a, t in zip(completions, answer, tasks)]


# ---------------------------------------------------------------------------------- task
class ExampleTask(Task):
    """The yes/no question, the SFT target (pathreason's), the score and the accuracy metric."""

    name = NAME
    reward_names = (NAME,)
    metric_names = ("accuracy",)

    def validate(self, sample: Sample) -> None:
        if normalize(sample.answer) not in ("yes", "no"):
            raise DataError(f"sample {sample.id!r}: answer {sample.answer!r} of task {NAME!r} must be "
                            "'yes' or 'no'")

    def user_text(self, sample: Sample) -> str:
        """The question with exactly one trailing question mark."""
        return (sample.question or QUESTION).strip().rstrip("?").rstrip() + "?"

    def default_rationale(self, sample: Sample) -> str:
        return "I look for a tight group of dark purple nuclei."

    def score(self, parsed: Any, sample: Sample) -> float:
        return score(parsed, sample.answer)

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        scores = [score(p, s.answer) for p, s in zip(parsed, samples)]
        return {"accuracy": sum(scores) / len(scores) if scores else 0.0}


# ---------------------------------------------------------------------------------- dataset
def draw_tile(cluster: bool, rng: random.Random) -> Image:
    """A pink (eosin) tile with scattered pale nuclei, and a cluster of dark ones when ``cluster``."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (TILE, TILE), (236, 186, 214))
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y, r = rng.randrange(TILE), rng.randrange(TILE), rng.randint(2, 4)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(196, 150, 200))
    if cluster:
        cx, cy = rng.randint(50, TILE - 50), rng.randint(50, TILE - 50)
        for _ in range(14):
            x, y, r = cx + rng.randint(-30, 30), cy + rng.randint(-30, 30), rng.randint(5, 8)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(72, 36, 118))
    return image


def load(split: str = "train", n: int = 32, seed: int = 0) -> list[Sample]:
    """``n`` samples of ``split``, half with a cluster, deterministic from ``split`` and ``seed``."""
    rng = random.Random(f"{NAME}/{split}/{seed}")
    samples = []
    for i in range(n):
        cluster = i % 2 == 0
        rationale = ("I see a tight group of dark purple nuclei." if cluster
                     else "I see only scattered pale nuclei in pink stroma.")
        samples.append(Sample(id=f"{NAME}-{split}-{i}", image=draw_tile(cluster, rng), task=NAME,
                              question=QUESTION, answer="yes" if cluster else "no",
                              meta={"dataset": NAME, "split": split, "rationale": rationale}))
    return samples


# ---------------------------------------------------------------------------------- hooks
@hookimpl
def pathreason_tasks() -> list[TaskSpec]:
    return [TaskSpec(name=NAME, factory=ExampleTask, description="yes/no: a cluster of dark nuclei?")]


@hookimpl
def pathreason_rewards() -> list[RewardSpec]:
    return [RewardSpec(name=NAME, factory=lambda: reward, low=0.0, high=1.0,
                       description="1 if the yes/no answer is right")]


@hookimpl
def pathreason_datasets() -> list[DatasetSpec]:
    return [DatasetSpec(name=NAME, factory=load, tasks=(NAME,),
                        description="generated H&E-like tiles, half with a cluster of dark nuclei")]
