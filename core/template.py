"""``pathreason new-plugin NAME``: write a ready-to-install plugin package.

The package ``pathreason-plugin-NAME/`` holds a task (a yes/no question about the image, a
:class:`pathreason.api.Task` subclass), its reward (TRL's contract, registered with a
:class:`~pathreason.RewardSpec`) and a dataset that draws its own small H&E-like tiles with Pillow,
so that ``Engine(task=NAME, dataset=NAME).train()`` runs offline on the tiny model. It comes with
a README and tests that use :mod:`pathreason.testing`::

    pathreason-plugin-NAME/
        pyproject.toml                  [project.entry-points.pathreason] NAME = "pathreason_plugin_NAME"
        README.md
        pathreason_plugin_NAME/__init__.py
        tests/conftest.py               pytest_plugins = ["pathreason.testing"]
        tests/test_plugin.py
"""

from __future__ import annotations

import re
from pathlib import Path

from pathreason._version import __version__
from pathreason.api import PathreasonError

__all__ = ["TemplateError", "plugin_files", "validate_name", "write_plugin"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_NAME_LENGTH = 40


class TemplateError(PathreasonError, ValueError):
    """A plugin name that cannot be used, or a folder that is already there."""


def validate_name(name: str) -> str:
    """``name`` if it can name a plugin package, else :class:`TemplateError` saying what is allowed.

    >>> validate_name("gland-count")
    'gland-count'
    """
    allowed = ("use lower-case letters and digits, starting with a letter, optionally in parts joined by "
               "single '-' or '_' (e.g. 'mitosis', 'gland-count'), at most "
               f"{MAX_NAME_LENGTH} characters")
    if name.startswith(("pathreason-plugin-", "pathreason_plugin_")):
        short = name[len("pathreason-plugin-"):]
        raise TemplateError(f"plugin name {name!r}: give the short name ({short!r}); the package is "
                            f"called pathreason-plugin-{short}")
    if not _NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise TemplateError(f"plugin name {name!r} is not allowed: {allowed}")
    return name


def _check_unclaimed(name: str) -> None:
    """A name that an installed plugin already uses would make the new task ambiguous."""
    from pathreason.manager import get_plugin_manager

    pm = get_plugin_manager()
    for info in pm.plugin_infos():
        if info.name == name:
            raise TemplateError(f"plugin name {name!r} is taken by the installed {info.where()}; pick another name")
    for kind in ("task", "reward", "dataset"):
        for spec in pm.specs(kind).values():
            if name == spec.name or name in spec.aliases:
                raise TemplateError(f"{name!r} is already the name of an installed {kind}; pick another name")


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name)) + "Task"


def plugin_files(name: str) -> dict[str, str]:
    """The files of the plugin package ``pathreason-plugin-<name>`` by relative path."""
    name = validate_name(name)
    module = "pathreason_plugin_" + name.replace("-", "_")
    major, minor = __version__.split(".")[:2]
    values = {
        "__NAME__": name,
        "__MODULE__": module,
        "__DIST__": f"pathreason-plugin-{name}",
        "__CLASS__": _class_name(name),
        "__PATHREASON__": f"{major}.{minor}",
    }

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace(key, value)
        return text.lstrip("\n")

    return {
        "pyproject.toml": fill(_PYPROJECT),
        "README.md": fill(_README),
        f"{module}/__init__.py": fill(_MODULE),
        "tests/conftest.py": fill(_CONFTEST),
        "tests/test_plugin.py": fill(_TESTS),
    }


def write_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write ``pathreason-plugin-<name>/`` into ``directory`` and return its path.

    Raises :class:`TemplateError` when the name is not allowed, when an installed plugin already
    provides it, or when the folder exists.
    """
    files = plugin_files(name)
    _check_unclaimed(name)
    folder = Path(directory) / f"pathreason-plugin-{name}"
    if folder.exists():
        raise TemplateError(f"{folder} already exists; remove it or choose another directory (--directory)")
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


# ------------------------------------------------------------------------------ the templates
_PYPROJECT = '''
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "__DIST__"
version = "0.1.0"
description = "A pathreason plugin: the __NAME__ task, its reward and a generated dataset"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["pathreason>=__PATHREASON__", "pillow>=10.0"]

[project.optional-dependencies]
test = ["pytest>=8"]

# pathreason finds the plugin through this entry point: NAME = "module"
[project.entry-points.pathreason]
__NAME__ = "__MODULE__"

[tool.setuptools]
packages = ["__MODULE__"]

[tool.pytest.ini_options]
testpaths = ["tests"]
markers = ["slow: trains the embedded tiny model (about a minute on a laptop CPU)"]
'''

_README = '''
# __DIST__

A [pathreason](https://pypi.org/project/pathreason/) plugin that provides

- the task `__NAME__`: a yes/no question about the image ("Does this tile contain a cluster of
  dark-stained nuclei?"), answered in `<think>…</think> <answer>yes|no</answer>` form;
- the reward `__NAME__`: 1.0 when the answer is right, 0.0 when not, `None` for samples of other
  tasks (TRL's reward contract, so it also works in `trl.GRPOTrainer` directly);
- the dataset `__NAME__`: small H&E-like tiles drawn with Pillow, half of them with a cluster of
  dark nuclei, so everything runs offline.

## Install and check

```bash
pip install -e '.[test]'
pathreason plugins          # lists "__NAME__" as active
python -m pytest            # add -m "not slow" to skip the training test
```

## Train

```bash
pathreason train --task __NAME__ --dataset __NAME__ --output-dir runs/__NAME__ \\
    --dataset.options '{n: 64}' --sft.max_steps 20 --grpo.max_steps 10
```

or from Python:

```python
from pathreason import Engine

engine = Engine(task="__NAME__", dataset="__NAME__", output_dir="runs/__NAME__",
                dataset__options={"n": 64}, sft={"max_steps": 20}, grpo={"max_steps": 10})
engine.train()
print(engine.evaluate(n=16).table())
```

## Make it yours

Everything is in `__MODULE__/__init__.py`: replace `load` with a reader of your own data
(return `pathreason.Sample` records), `__CLASS__` with your prompt and metrics, and `reward` with your
score. Keep the factories light: import heavy libraries inside them, not at module level, so that
`pathreason plugins` stays fast.
'''

_MODULE = '''
"""pathreason plugin __NAME__: a yes/no task, its reward and a generated dataset.

Found by pathreason through the ``pathreason`` entry point in pyproject.toml. Train it on the
embedded tiny model::

    from pathreason import Engine
    Engine(task="__NAME__", dataset="__NAME__").train()
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pathreason import DatasetSpec, RewardSpec, Sample, TaskSpec, hookimpl
from pathreason.prompts import vqa_prompt
from pathreason.api import Task

NAME = "__NAME__"
QUESTION = "Does this tile contain a cluster of dark-stained nuclei?"
TILE = 224  # pixels: 8 x 8 = 64 visual tokens at 28 pixels per token


# ---------------------------------------------------------------------------------- reward
def score(pred: str | None, answer: str) -> float:
    """1.0 when the extracted answer equals the gold yes/no (case and punctuation folded), else 0.0."""
    from pathreason.rewards import normalize_answer

    return 1.0 if pred is not None and normalize_answer(pred) == normalize_answer(answer) else 0.0


def reward(completions: Sequence[Any], answer: Sequence[str], task: Sequence[str | None] | None = None,
           **kwargs: Any) -> list[float | None]:
    """TRL reward: :func:`score` of each completion's ``<answer>``; ``None`` for other tasks' samples.

    >>> reward(["<think>dark cluster</think><answer>Yes</answer>", "<answer>no</answer>"],
    ...        answer=["yes", "yes"], task=["__NAME__", "vqa"])
    [1.0, None]
    """
    from pathreason.rewards import extract_answer

    tasks = task if task is not None else [None] * len(completions)
    return [score(extract_answer(c), a) if t in (None, NAME) else None
            for c, a, t in zip(completions, answer, tasks)]


reward.__name__ = NAME  # TRL logs rewards/<__name__>/mean


# ---------------------------------------------------------------------------------- task
class __CLASS__(Task):
    """The yes/no question, the SFT target (pathreason's), the score and the accuracy metric."""

    name = NAME
    reward_names = (NAME,)
    metric_names = ("accuracy",)

    def user_text(self, sample: Sample) -> str:
        return vqa_prompt(sample.question or QUESTION)

    def default_rationale(self, sample: Sample) -> str:
        return "I look for a tight group of dark purple nuclei."

    def score(self, parsed: Any, sample: Sample) -> float:
        return score(parsed, sample.answer)

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        scores = [score(p, s.answer) for p, s in zip(parsed, samples)]
        return {"accuracy": sum(scores) / len(scores) if scores else 0.0}


# ---------------------------------------------------------------------------------- dataset
def draw_tile(cluster: bool, rng: random.Random) -> Any:
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
    return [TaskSpec(name=NAME, factory=__CLASS__, description="yes/no: a cluster of dark nuclei?")]


@hookimpl
def pathreason_rewards() -> list[RewardSpec]:
    return [RewardSpec(name=NAME, factory=lambda: reward, low=0.0, high=1.0,
                       description="1 if the yes/no answer is right")]


@hookimpl
def pathreason_datasets() -> list[DatasetSpec]:
    return [DatasetSpec(name=NAME, factory=load, tasks=(NAME,),
                        description="generated H&E-like tiles, half with a cluster of dark nuclei")]
'''

_CONFTEST = '''
# Fixtures of pathreason.testing (plugin_manager) for every test here.
pytest_plugins = ["pathreason.testing"]
'''

_TESTS = '''
"""Tests of the __NAME__ plugin, through pathreason as a user would reach it."""

from __future__ import annotations

import pytest
from pathreason import get_dataset, get_task, list_plugins
from pathreason.api import make_view
from pathreason.testing import check_reward, tiny_engine

NAME = "__NAME__"


def test_plugin_is_installed_and_active(plugin_manager):
    info = {p.name: p for p in list_plugins()}[NAME]
    assert info.status == "active", info.error
    assert info.provides == {"tasks": [NAME], "rewards": [NAME], "datasets": [NAME]}


def test_reward_follows_the_trl_contract(plugin_manager):
    completions = ["<think>a dark cluster</think><answer>Yes.</answer>", "<answer>no</answer>", "yes"]
    values = check_reward(NAME, completions, answer=["yes", "yes", "yes"], task=[NAME] * 3)
    assert values == [1.0, 0.0, 0.0]
    assert check_reward(NAME, ["<answer>yes</answer>"], answer=["yes"], task=["vqa"]) == [None]


def test_dataset_is_balanced_and_deterministic(plugin_manager):
    load = get_dataset(NAME)
    samples = load(split="train", n=8)
    assert [s.answer for s in samples] == ["yes", "no"] * 4
    assert {s.task for s in samples} == {NAME}
    assert samples[0].load_image().size == (224, 224)
    again = load(split="train", n=8)
    assert samples[0].load_image().tobytes() == again[0].load_image().tobytes()
    assert samples[0].load_image().tobytes() != load(split="test", n=8)[0].load_image().tobytes()


def test_task_prompt_target_and_score(plugin_manager):
    task = get_task(NAME)
    sample = get_dataset(NAME)(split="test", n=2)[0]
    view = make_view(sample.size, 256)
    text = task.messages(sample)[1]["content"][1]["text"]
    assert text.endswith("dark-stained nuclei?")
    assert task.target(sample, view).endswith("<answer> yes </answer>")
    parsed = task.parse("<think>x</think><answer>yes</answer>", view)
    assert task.score(parsed, sample) == 1.0
    assert task.metrics([sample], [parsed]) == {"accuracy": 1.0}


@pytest.mark.slow
def test_trains_on_the_tiny_model(tmp_path, plugin_manager):
    engine = tiny_engine(tmp_path, task=NAME, dataset=NAME).train()
    assert any(f"rewards/{NAME}/mean" in row for row in engine.run.read_log("grpo"))
    report = engine.evaluate(n=2, max_new_tokens=8, progress=False)
    assert report.tasks[NAME]["n"] == 2
'''
