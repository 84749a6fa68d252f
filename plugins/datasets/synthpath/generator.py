"""``synthpath``: the embedded synthetic pathology benchmark (docs/concepts/index.md, "The embedded data").

Three tasks on procedurally generated H&E-like colon tiles (see :mod:`pathreason.plugins.datasets.synthpath.tissue`),
with labels that need different resolutions, so that a token allocator has something to learn:

* **coarse** samples are decidable from structure visible at 4-16 visual tokens (gland lumens,
  tissue layout, large glands);
* **fine** samples only from pixel-scale detail visible near 256 tokens (the chromatin speckle of
  high-grade dysplasia, small glands). Below that budget a fine subtyping tile looks exactly
  like a tile of a coarse class (:data:`LOOKALIKES`), so looking too coarsely gives a wrong
  answer, not a lucky one.

Every sample records ``meta["difficulty"]``. Sample ``i`` of a (split, task) pair alternates
coarse and fine (even ``i`` coarse), so any even ``n`` is exactly half coarse, half fine, in
every split: a metric cannot be bought by the mix.

Determinism: sample ``i`` is drawn from its own generator seeded by ``(seed, split, task, i)``,
so it does not depend on ``n`` (``n=10`` is a prefix of ``n=100``) and the train, validation
and test splits of one base seed are different images.

Default sizes per task: train 512 (detection 2048: a box list is learned from many more scenes
than a label), validation 128, test 128 (a CPU demo trains in minutes).
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pathreason.api import ConfigError, Sample
from pathreason.api.sample import option_letter
from pathreason.plugins.datasets.synthpath.he_tiles import load_he_tiles
from pathreason.plugins.datasets.synthpath.tissue import REFERENCE_SIZE, Gland, Scene, render

logger = logging.getLogger(__name__)

TASKS = ("subtyping", "vqa", "detection")
SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"val": "validation", "valid": "validation"}
DEFAULT_SIZES = {"train": 512, "validation": 128, "test": 128}
#: Training samples of a task when ``n`` is not given, where it differs from DEFAULT_SIZES. The
#: tiny performer learned to place large glands from 2048 detection scenes (coarse mAP@0.1 0.34)
#: and wrote one box list for every tile from 512.
TRAIN_SIZES = {"detection": 2048}
#: The cycle of detection scenes: 1-3 large glands, 2-5 small ones (fine: found at 256 tokens
#: only), or none (an explicit ``[]``; coarse, like the large ones): half coarse, half fine, and
#: large scenes three times as often as empty ones.
DETECTION_KINDS = ("large", "small", "large", "small", "none", "small", "large", "small")


def default_size(split: str, task: str) -> int:
    """Samples of ``task`` in ``split`` when ``n`` is not given."""
    split = canonical_split(split)
    return TRAIN_SIZES.get(task, DEFAULT_SIZES[split]) if split == "train" else DEFAULT_SIZES[split]


ORGAN = "colon"


@dataclass(frozen=True)
class Subtype:
    """A subtyping class: its name, what decides it, and how it is drawn."""

    name: str
    difficulty: str
    layout: str
    speckle: bool = False


STROMAL = Subtype("stromal spindle-cell tissue", "coarse", "stroma")  # VQA and detection scenes
ADENOMA = Subtype("glandular adenoma", "coarse", "glandular")
ADENOMA_HIGH_GRADE = Subtype("adenoma with high-grade dysplasia", "fine", "glandular", speckle=True)
LOW_GRADE = Subtype("low-grade dysplasia", "coarse", "epithelium")
HIGH_GRADE = Subtype("high-grade dysplasia", "fine", "epithelium", speckle=True)

SUBTYPES = (ADENOMA, ADENOMA_HIGH_GRADE, LOW_GRADE, HIGH_GRADE)
"""The four subtyping classes, in the order they are offered as options."""

LOOKALIKES = {ADENOMA_HIGH_GRADE.name: ADENOMA.name, HIGH_GRADE.name: LOW_GRADE.name}
"""Each fine class and the coarse class it looks like below 256 tokens.

A fine class is its coarse twin plus the chromatin speckle in every nucleus. Below 256 visual
tokens the speckle is averaged away and the tile *is* a tile of the twin, so a performer that
looks too coarsely gives the twin's answer (as a pathologist at low power would) and is wrong,
not right by a coin flip. The twins are decided by tissue layout, visible at 16 tokens."""

CLASS_NAMES = tuple(s.name for s in SUBTYPES)
# Even positions coarse, odd positions the fine twin: every split is half coarse, half fine, and
# each twin pair is balanced, so a performer cannot learn "a large image means the fine class".
_SUBTYPE_CYCLE = (ADENOMA, ADENOMA_HIGH_GRADE, LOW_GRADE, HIGH_GRADE)

TISSUE_TYPE = {"stroma": "stromal tissue", "glandular": "glandular tissue", "epithelium": "dysplastic epithelium"}
PATTERN = {"stroma": "spindle-cell stroma", "glandular": "glands with open lumens", "epithelium": "crowded epithelium"}
CHROMATIN = {False: "fine and even", True: "coarse and speckled"}
COUNT_WORDS = ("one", "two", "three", "four")


def canonical_split(split: str) -> str:
    """``"val"`` -> ``"validation"``; unknown names raise a :class:`ConfigError` listing the allowed ones."""
    name = SPLIT_ALIASES.get(split, split)
    if name not in SPLITS:
        raise ConfigError(f"synthpath split must be one of {list(SPLITS)} (or 'val'), got {split!r}")
    return name


def sample_rng(seed: int, split: str, task: str, index: int) -> np.random.Generator:
    """The generator of one sample: independent of ``n`` and different for every split and task."""
    key = (zlib.crc32(split.encode()), zlib.crc32(task.encode()), index)
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


# -- scenes ---------------------------------------------------------------------------------------


def place_glands(
    rng: np.random.Generator, size: int, count: int, axes: tuple[float, float], ring: float, tries: int = 40
) -> list[Gland]:
    """Up to ``count`` non-overlapping glands fully inside the tile (fewer if they do not fit)."""
    margin = 8.0 * size / REFERENCE_SIZE
    glands: list[Gland] = []
    for _ in range(count):
        for _ in range(tries):
            ax, ay = rng.uniform(*axes, 2)
            rx, ry = ax + ring + margin, ay + ring + margin  # ring nuclei stick out by < margin
            if 2 * rx >= size or 2 * ry >= size:
                continue
            cx, cy = rng.uniform(rx, size - rx), rng.uniform(ry, size - ry)
            clear = all(
                abs(cx - g.cx) > rx + g.ax + g.ring + margin or abs(cy - g.cy) > ry + g.ay + g.ring + margin for g in glands
            )
            if clear:
                glands.append(Gland(cx, cy, ax, ay, ring))
                break
    return glands


def _adenoma_glands(rng: np.random.Generator, size: int, count: int | None = None) -> list[Gland]:
    s = size / REFERENCE_SIZE
    count = int(rng.integers(3, 6)) if count is None else count
    return place_glands(rng, size, count, (30 * s, 55 * s), 14 * s)


def _scene(rng: np.random.Generator, size: int, layout: str, speckle: bool = False) -> Scene:
    glands = _adenoma_glands(rng, size) if layout == "glandular" else []
    return Scene(layout, glands, speckle)


@functools.lru_cache(maxsize=4)
def _real_tiles(size: int) -> tuple[Image.Image, ...]:
    """The shipped H&E tiles, enlarged when ``size`` exceeds them."""
    return tuple(t if min(t.size) >= size else t.resize((size, size), Image.Resampling.BICUBIC) for t in load_he_tiles())


def _real_background(rng: np.random.Generator, size: int) -> Image.Image:
    """A random ``size x size`` crop of a shipped H&E tile, randomly flipped and rotated."""
    tiles = _real_tiles(size)
    tile = tiles[int(rng.integers(len(tiles)))]
    x, y = (int(rng.integers(0, d - size + 1)) for d in tile.size)
    crop = tile.crop((x, y, x + size, y + size))
    turn = int(rng.integers(0, 8))  # the 7 flips and rotations of a square, or none
    return crop if turn == 7 else crop.transpose(Image.Transpose(turn))


# -- tasks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    split: str
    seed: int
    size: int
    real_background: bool

    def draw(self, rng: np.random.Generator, scene: Scene) -> Image.Image:
        return self.draw_with_boxes(rng, scene)[0]

    def draw_with_boxes(self, rng: np.random.Generator, scene: Scene) -> tuple[Image.Image, list[list[float]]]:
        background = _real_background(rng, self.size) if self.real_background else None
        return render(scene, self.size, rng, background)

    def sample_id(self, task: str, index: int) -> str:
        return f"synthpath-s{self.seed}-{self.split}-{task}-{index:05d}"

    def meta(self, index: int, difficulty: str, **extra: object) -> dict[str, object]:
        return {
            "dataset": "synthpath",
            "split": self.split,
            "index": index,
            "seed": self.seed,
            "organ": ORGAN,
            "difficulty": difficulty,
            **extra,
        }


def _subtyping(ctx: _Context, index: int, rng: np.random.Generator) -> Sample:
    subtype = _SUBTYPE_CYCLE[index % len(_SUBTYPE_CYCLE)]
    scene = _scene(rng, ctx.size, subtype.layout, subtype.speckle)
    return Sample(
        id=ctx.sample_id("subtyping", index),
        image=ctx.draw(rng, scene),
        task="subtyping",
        options=list(CLASS_NAMES),
        answer=subtype.name,
        meta=ctx.meta(index, subtype.difficulty, category=subtype.name, layout=subtype.layout),
    )


def _multiple_choice(rng: np.random.Generator, choices: list[str], correct: str, shuffle: bool = True) -> tuple[list[str], str]:
    options = [choices[i] for i in rng.permutation(len(choices))] if shuffle else list(choices)
    return options, option_letter(options.index(correct))


def _vqa(ctx: _Context, index: int, rng: np.random.Generator) -> Sample:
    coarse = index % 2 == 0
    family = (index // 2) % (4 if coarse else 3)
    options: list[str] = []
    if coarse:
        if family == 0:  # balanced yes/no
            layout = "glandular" if rng.random() < 0.5 else ("stroma", "epithelium")[int(rng.integers(2))]
        else:
            layout = ("stroma", "glandular", "epithelium")[int(rng.integers(3))]
        scene = _scene(rng, ctx.size, layout, speckle=bool(rng.random() < 0.5))
        if family == 0:
            kind, question = "gland presence", "Are gland lumens present in this image?"
            answer = "yes" if layout == "glandular" else "no"
        elif family == 1:
            kind, question = "tissue pattern", "Which tissue pattern is shown?"
            options, answer = _multiple_choice(rng, [*PATTERN.values(), "adipose tissue"], PATTERN[layout])
        elif family == 2:
            kind, question, answer = "tissue type", "What type of tissue is shown?", TISSUE_TYPE[layout]
        else:
            layout = "glandular"
            scene = Scene(layout, _adenoma_glands(rng, ctx.size, int(rng.integers(1, 5))))
            kind, question = "gland count", "How many glands are visible?"
            options, answer = _multiple_choice(rng, list(COUNT_WORDS), COUNT_WORDS[len(scene.glands) - 1], shuffle=False)
    else:
        layout, speckle = "epithelium", bool(rng.random() < 0.5)
        scene = Scene(layout, [], speckle)
        if family == 0:
            kind, question = "chromatin speckle", "Do the nuclei show coarse, speckled chromatin?"
            answer = "yes" if speckle else "no"
        elif family == 1:
            grade = HIGH_GRADE.name if speckle else LOW_GRADE.name
            kind, question = "dysplasia grade", "What grade of dysplasia is shown?"
            options, answer = _multiple_choice(rng, [LOW_GRADE.name, HIGH_GRADE.name, "no dysplasia"], grade)
        else:
            kind, question, answer = "chromatin pattern", "What is the chromatin pattern of the nuclei?", CHROMATIN[speckle]
    question_type = "multiple choice" if options else ("yes/no" if answer in ("yes", "no") else "open")
    return Sample(
        id=ctx.sample_id("vqa", index),
        image=ctx.draw(rng, scene),
        task="vqa",
        question=question,
        options=options,
        answer=answer,
        meta=ctx.meta(index, "coarse" if coarse else "fine", category=kind, question_type=question_type, layout=layout),
    )


def _detection(ctx: _Context, index: int, rng: np.random.Generator) -> Sample:
    s = ctx.size / REFERENCE_SIZE
    kind = DETECTION_KINDS[index % len(DETECTION_KINDS)]
    if kind == "large":
        glands = place_glands(rng, ctx.size, int(rng.integers(1, 4)), (40 * s, 70 * s), 16 * s)
    elif kind == "small":
        glands = place_glands(rng, ctx.size, int(rng.integers(2, 6)), (5 * s, 8 * s), 7 * s)
    else:
        glands = []
    # An empty tile scores the same at every budget (nothing to find), so it counts as coarse.
    difficulty = "fine" if kind == "small" else "coarse"
    image, boxes = ctx.draw_with_boxes(rng, Scene("stroma", glands))
    return Sample(
        id=ctx.sample_id("detection", index),
        image=image,
        task="detection",
        boxes=boxes,
        meta=ctx.meta(index, difficulty, category="gland", object_size=kind, objects=len(glands)),
    )


_BUILDERS: dict[str, Callable[[_Context, int, np.random.Generator], Sample]] = {
    "subtyping": _subtyping,
    "vqa": _vqa,
    "detection": _detection,
}


def make_sample(split: str, task: str, index: int, seed: int = 0, tile: int = REFERENCE_SIZE, real_background: bool = False) -> Sample:
    """Sample ``index`` of ``task`` in ``split``: always the same for the same arguments."""
    split = canonical_split(split)
    if task not in _BUILDERS:
        raise ConfigError(f"synthpath task must be one of {list(TASKS)} or None (all), got {task!r}")
    ctx = _Context(split, seed, tile, real_background)
    return _BUILDERS[task](ctx, index, sample_rng(seed, split, task, index))


def generate(
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    task: str | None = None,
    tile: int = REFERENCE_SIZE,
    real_background: bool = False,
    progress: bool | None = None,
) -> list[Sample]:
    """``n`` samples of the synthpath benchmark.

    ``task=None`` mixes the three tasks round-robin (subtyping, vqa, detection), so the mixed
    list of ``3k`` samples is exactly the union of the per-task lists of ``k``. ``n`` defaults
    to :func:`default_size` per task (for the mix: each task's default, round-robin until a
    task runs out, so again the union of the per-task default lists). ``tile`` is the side in pixels
    (448 = 256 visual tokens); ``real_background`` blends the shipped real H&E tiles into the
    stroma. ``progress`` shows a bar (default: when ``n >= 500``).
    """
    split = canonical_split(split)
    tasks = TASKS if task is None else (task,)
    for name in tasks:
        if name not in _BUILDERS:
            raise ConfigError(f"synthpath task must be one of {list(TASKS)} or None (all), got {name!r}")
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 2 * 28:
        raise ConfigError(f"synthpath tile must be an integer number of pixels >= 56, got {tile!r}")
    if n is None:
        sizes = {name: default_size(split, name) for name in tasks}
        plan = [(name, k) for k in range(max(sizes.values())) for name in tasks if k < sizes[name]]
    elif isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"synthpath n must be a non-negative integer, got {n!r}")
    else:
        plan = [(tasks[i % len(tasks)], i // len(tasks)) for i in range(n)]
    from tqdm.auto import tqdm

    bar = tqdm(plan, desc=f"synthpath {split}", disable=not (len(plan) >= 500 if progress is None else progress))
    return [make_sample(split, name, k, seed, tile, real_background) for name, k in bar]
