"""``synthpath``: the embedded synthetic pathology benchmark (docs/concepts/index.md, "The embedded data").

Three tasks on procedurally generated H&E-like colon tiles (see
:mod:`pathreason.plugins.datasets.synthpath.tissue`), each with three **levels** named by the
visual-token budget from which their detail shows, so that a token allocator has something to learn
and looking too coarsely gives a wrong answer, not a lucky one:

* ``"coarse"`` (``meta["level_tokens"] = 16``): decidable from tissue layout and large glands,
  visible at 16 tokens;
* ``"medium"`` (64): needs the *clumped chromatin* texture or a gland drawn in it (2-pixel cells
  at 448 pixels: averaged away at 16 tokens, kept from 64; with ``clump_texture="band"`` (the
  chromatin) or ``gland_texture="band"`` (the glands), band-limited noise that shows at every grid
  from 64 tokens; with ``"checkerboard+band"``, both: the chromatin's default);
* ``"fine"`` (256): needs the *speckled chromatin* texture or a gland drawn in it (1-pixel cells:
  kept at 256 tokens only).

Below its budget a harder sample looks exactly like an easier one (:data:`LOOKALIKES` for
subtyping; an empty stroma tile for detection; the coarse level's tile without texture for VQA), and
``tests/plugins/test_synthpath.py`` measures it: a harder tile and its lookalike, rendered from the
same random stream and resized to each budget, differ by ~0 below the level's budget and clearly
at and above it.

* **Subtyping**: six classes, three per layout (glandular, epithelium): the coarse class, its
  medium twin (+ clumped chromatin) and its fine twin (+ speckled chromatin).
* **VQA**: coarse questions ask about layout (glands, tissue type and pattern, gland count: one
  or four large glands, one per quadrant, countable at 16 tokens) or about the chromatin of a tile
  without texture; medium and fine ones ask the same chromatin questions (clumping, speckle, dysplasia
  grade, distribution) of a tile with clumps or speckle, whose answer names the texture.
* **Detection**: one gland per tile (or none): a large gland drawn as tissue (coarse), a gland
  drawn only in the clumped texture (medium) or only in the speckle (fine), each placed on the
  token grid of its level's budget (cells of 112, 56, 28 pixels at 448) and 2-3 cells wide, so its
  box can be written exactly at that budget: a larger budget adds no precision, only visibility.
  An empty tile (answer ``[]``) counts as coarse: it scores the same at every budget.

Every sample records ``meta["difficulty"]`` (the level's name, so that evaluation breaks metrics
down by level) and ``meta["level_tokens"]``. Sample ``i`` of a (split, task) pair has level
``i % 3`` (coarse, medium, fine), so any ``n`` divisible by 3 is balanced across levels in every
split (and the default validation and test splits, 144 samples, across subtyping classes and
detection kinds too): a metric cannot be bought by the mix.

Determinism: sample ``i`` is drawn from its own generator seeded by ``(seed, split, task, i)``,
so it does not depend on ``n`` (``n=10`` is a prefix of ``n=100``) and the train, validation
and test splits of one base seed are different images.

Default sizes per task: train 512 (detection 2048: a box list is learned from many more scenes
than a label), validation 144, test 144 (a CPU demo trains in minutes). The levels are calibrated
for the default 448-pixel tiles (256 tokens); other sizes keep the same scenes.
"""

from __future__ import annotations

import dataclasses
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
from pathreason.plugins.datasets.synthpath.tissue import (
    CLUMP_GRAIN,
    CLUMP_TEXTURES,
    DEFAULT_CLUMP_TEXTURE,
    DEFAULT_GLAND_TEXTURE,
    REFERENCE_SIZE,
    SPECKLE_GRAIN,
    Gland,
    Scene,
    render,
)

logger = logging.getLogger(__name__)

TASKS = ("subtyping", "vqa", "detection")
SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"val": "validation", "valid": "validation"}
DEFAULT_SIZES = {"train": 512, "validation": 144, "test": 144}
#: Training samples of a task when ``n`` is not given, where it differs from DEFAULT_SIZES. The
#: tiny performer learned to place large glands from 2048 detection scenes (coarse mAP@0.1 0.34)
#: and wrote one box list for every tile from 512.
TRAIN_SIZES = {"detection": 2048}

LEVELS = ("coarse", "medium", "fine")
"""The difficulty levels, in the order sample ``i`` cycles through them (``i % 3``)."""
LEVEL_TOKENS = {"coarse": 16, "medium": 64, "fine": 256}
"""The visual-token budget from which each level's detail shows (``meta["level_tokens"]``)."""

#: Detection tiles of the coarse level, in turn: a large gland three times out of four, else none.
COARSE_DETECTION = ("large", "large", "none", "large")
#: Grid cell (pixels at 448) each detection level's glands are placed on: one visual token's side
#: at the level's budget (16 tokens: 4 x 4 cells of 112 px; 64: 8 x 8 of 56; 256: 16 x 16 of 28).
GRID = {"coarse": 112, "medium": 56, "fine": 28}
#: How a gland of each detection level is drawn: as tissue (0) or as a texture of that grain.
GLAND_GRAIN = {"coarse": 0, "medium": CLUMP_GRAIN, "fine": SPECKLE_GRAIN}
#: Side of a detection gland, in grid cells (each axis drawn on its own).
GLAND_CELLS = (2, 3)


def default_size(split: str, task: str) -> int:
    """Samples of ``task`` in ``split`` when ``n`` is not given."""
    split = canonical_split(split)
    return TRAIN_SIZES.get(task, DEFAULT_SIZES[split]) if split == "train" else DEFAULT_SIZES[split]


def level(index: int) -> str:
    """The level of sample ``index`` of any task and split: ``LEVELS[index % 3]``."""
    return LEVELS[index % len(LEVELS)]


ORGAN = "colon"
CHROMATIN = {"even": "smooth and even", "clumped": "coarse and clumped", "speckled": "finely speckled"}
"""The chromatin patterns (``Subtype.chromatin``) and how VQA answers name them."""
CHROMATIN_LEVEL = {"even": "coarse", "clumped": "medium", "speckled": "fine"}


@dataclass(frozen=True)
class Subtype:
    """A subtyping class: its name, its level, the tissue layout that decides it at 16 tokens and
    the chromatin texture that decides it from its level's budget (``"even"``: none)."""

    name: str
    difficulty: str
    layout: str
    chromatin: str = "even"

    def scene(self, glands: list[Gland]) -> Scene:
        return chromatin_scene(self.layout, glands, self.chromatin)


def chromatin_scene(layout: str, glands: list[Gland], chromatin: str = "even") -> Scene:
    """A scene whose nuclei carry ``chromatin`` (a key of :data:`CHROMATIN`)."""
    if chromatin not in CHROMATIN:
        raise ValueError(f"chromatin must be one of {list(CHROMATIN)}, got {chromatin!r}")
    return Scene(layout, glands, speckle=chromatin == "speckled", clumps=chromatin == "clumped")


STROMAL = Subtype("stromal spindle-cell tissue", "coarse", "stroma")  # VQA and detection scenes
ADENOMA = Subtype("glandular adenoma", "coarse", "glandular")
ADENOMA_MODERATE = Subtype("adenoma with moderate dysplasia", "medium", "glandular", "clumped")
ADENOMA_HIGH_GRADE = Subtype("adenoma with high-grade dysplasia", "fine", "glandular", "speckled")
LOW_GRADE = Subtype("low-grade dysplasia", "coarse", "epithelium")
MODERATE = Subtype("moderate dysplasia", "medium", "epithelium", "clumped")
HIGH_GRADE = Subtype("high-grade dysplasia", "fine", "epithelium", "speckled")

SUBTYPES = (ADENOMA, ADENOMA_MODERATE, ADENOMA_HIGH_GRADE, LOW_GRADE, MODERATE, HIGH_GRADE)
"""The six subtyping classes, in the order they are offered as options and sample ``i`` takes
them (``i % 6``: levels cycle with ``i``, each layout's triple in turn)."""

LOOKALIKES = {ADENOMA_MODERATE.name: ADENOMA.name, ADENOMA_HIGH_GRADE.name: ADENOMA.name,
              MODERATE.name: LOW_GRADE.name, HIGH_GRADE.name: LOW_GRADE.name}
"""Each medium or fine class and the coarse class it looks like below its level's budget.

A harder class is its coarse twin plus a chromatin texture in every nucleus: clumps (medium, seen
from 64 tokens) or speckle (fine, seen at 256). Below that budget the texture is averaged away and
the tile *is* a tile of the twin, so a performer that looks too coarsely gives the twin's answer
(as a pathologist at low power would) and is wrong, not right by a coin flip. The twins are decided
by tissue layout, visible at 16 tokens."""

CLASS_NAMES = tuple(s.name for s in SUBTYPES)

NORMAL = STROMAL
"""With ``subtyping_normal``: the class of tissue without a lesion (what a slide is mostly made of)."""
NORMAL_CLASS_NAMES = (NORMAL.name, *CLASS_NAMES)
"""The subtyping options with ``subtyping_normal``: the normal class first, then the six lesions."""


def subtype_of(index: int, normal: bool = False) -> Subtype:
    """Subtyping sample ``index``'s class: ``SUBTYPES[i % 6]``; with ``normal`` a coarse sample
    (``i % 3 == 0``) is in turn adenoma, low-grade dysplasia or normal stroma (``(i // 3) % 3``),
    so the levels still cycle with ``i`` and each keeps a third of the samples.

    >>> [subtype_of(i).name[:8] for i in (0, 3, 6)], [subtype_of(i, True).name[:8] for i in (0, 3, 6, 9)]
    (['glandula', 'low-grad', 'glandula'], ['glandula', 'low-grad', 'stromal ', 'glandula'])
    """
    if normal and index % 3 == 0:
        return (ADENOMA, LOW_GRADE, NORMAL)[(index // 3) % 3]
    return SUBTYPES[index % len(SUBTYPES)]

TISSUE_TYPE = {"stroma": "stromal tissue", "glandular": "glandular tissue", "epithelium": "dysplastic epithelium"}
PATTERN = {"stroma": "spindle-cell stroma", "glandular": "glands with open lumens", "epithelium": "crowded epithelium"}
COUNT_WORDS = ("one", "two", "three", "four")
VQA_GLAND_COUNTS = ("one-to-four", "one-or-four")
"""How many glands a coarse gland-count question's tile holds (``vqa_gland_count``)."""
DEFAULT_VQA_GLAND_COUNT = "one-or-four"
VQA_UNTEXTURED = ("coarse", "level")
"""Where a chromatin question about a tile without texture sits (``vqa_untextured``)."""
DEFAULT_VQA_UNTEXTURED = "coarse"


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


def _quadrant_glands(rng: np.random.Generator, size: int, count: int, large: bool = False) -> list[Gland]:
    """``count`` (1-4) glands, each in its own quadrant of the tile, so that they can be counted at
    16 tokens (each quadrant is 2 x 2 tokens there). ``large``: each gland nearly fills its quadrant
    (semi-axes 64-84 pixels at 448 instead of 36-56, moved at most 8 from its centre instead of 20);
    the same random draws."""
    s = size / REFERENCE_SIZE
    jitter, (low, high) = (8, (64, 84)) if large else (20, (36, 56))
    glands = []
    for quadrant in rng.permutation(4)[:count]:
        cx, cy = (0.5 + (quadrant % 2)) * size / 2, (0.5 + quadrant // 2) * size / 2
        jx, jy = rng.uniform(-jitter * s, jitter * s, 2)
        ax, ay = rng.uniform(low * s, high * s, 2)
        glands.append(Gland(cx + jx, cy + jy, ax, ay, 14 * s))
    return glands


def _scene(rng: np.random.Generator, size: int, layout: str, chromatin: str = "even") -> Scene:
    glands = _adenoma_glands(rng, size) if layout == "glandular" else []
    return chromatin_scene(layout, glands, chromatin)


def grid_gland(rng: np.random.Generator, size: int, difficulty: str) -> Gland:
    """A detection gland of level ``difficulty``: its outer ellipse fills 2-3 x 2-3 cells of the
    level's grid (:data:`GRID`, scaled to ``size``), drawn as tissue (coarse) or as its level's
    texture (:data:`GLAND_GRAIN`)."""
    cell = GRID[difficulty] * size / REFERENCE_SIZE
    cells = round(size / cell)
    ring = 16.0 * size / REFERENCE_SIZE if difficulty == "coarse" else 0.0
    centre, half = [], []
    for _ in range(2):
        span = int(rng.choice(GLAND_CELLS))
        start = int(rng.integers(0, cells - span + 1))
        centre.append((start + span / 2) * cell)
        half.append(span * cell / 2 - ring)
    return Gland(centre[0], centre[1], half[0], half[1], ring, grain=GLAND_GRAIN[difficulty])


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
    lookalike: bool = False
    vqa_option_order: str = "fixed"
    vqa_coarse_texture: bool = False
    subtyping_normal: bool = False
    clump_texture: str = DEFAULT_CLUMP_TEXTURE
    gland_texture: str = DEFAULT_GLAND_TEXTURE
    vqa_gland_count: str = DEFAULT_VQA_GLAND_COUNT
    vqa_untextured: str = DEFAULT_VQA_UNTEXTURED

    def draw(self, rng: np.random.Generator, scene: Scene) -> Image.Image:
        return self.draw_with_boxes(rng, scene)[0]

    def draw_with_boxes(self, rng: np.random.Generator, scene: Scene) -> tuple[Image.Image, list[list[float]]]:
        background = _real_background(rng, self.size) if self.real_background else None
        if self.lookalike:  # textures come last in render(): the same pixels otherwise
            scene = Scene(scene.layout, [g for g in scene.glands if g.grain == 0])
        return render(dataclasses.replace(scene, clump_texture=self.clump_texture, gland_texture=self.gland_texture),
                      self.size, rng, background)

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
            "level_tokens": LEVEL_TOKENS[difficulty],
            **extra,
        }


def _subtyping(ctx: _Context, index: int, rng: np.random.Generator) -> Sample:
    subtype = subtype_of(index, ctx.subtyping_normal)
    glands = _adenoma_glands(rng, ctx.size) if subtype.layout == "glandular" else []
    return Sample(
        id=ctx.sample_id("subtyping", index),
        image=ctx.draw(rng, subtype.scene(glands)),
        task="subtyping",
        options=list(NORMAL_CLASS_NAMES if ctx.subtyping_normal else CLASS_NAMES),
        answer=subtype.name,
        meta=ctx.meta(index, subtype.difficulty, category=subtype.name, layout=subtype.layout, chromatin=subtype.chromatin),
    )


def _multiple_choice(rng: np.random.Generator, choices: list[str], correct: str, shuffle: bool = True) -> tuple[list[str], str]:
    options = [choices[i] for i in rng.permutation(len(choices))] if shuffle else list(choices)
    return options, option_letter(options.index(correct))


#: VQA question families per level, taken in turn (``(i // 3) % len``), with ``vqa_untextured="coarse"``
#: (the default): a chromatin question is asked at every level, of a tile with that level's texture
#: (none at the coarse level), and its answer names the texture, as a subtyping class does. Below a
#: level's budget its tile looks untextured, so the answer read there is the coarse level's, which is
#: wrong for the level, not right by a coin flip.
VQA_FAMILIES = {
    "coarse": ("gland presence", "chromatin clumping", "tissue pattern", "dysplasia grade", "tissue type",
               "chromatin speckle", "gland count", "chromatin distribution"),
    "medium": ("chromatin clumping", "dysplasia grade", "chromatin distribution"),
    "fine": ("chromatin speckle", "dysplasia grade", "chromatin distribution"),
}
#: The families with ``vqa_untextured="level"`` (the earlier data): each level asks its own questions,
#: and a medium or fine question's tile is textured or not, at random (answer "no" without texture).
VQA_LEVEL_FAMILIES = {
    "coarse": ("gland presence", "tissue pattern", "tissue type", "gland count"),
    "medium": ("chromatin clumping", "dysplasia severity", "chromatin distribution"),
    "fine": ("chromatin speckle", "dysplasia grade", "chromatin texture"),
}
#: The chromatin drawn in a chromatin question's tile at each level (``vqa_untextured="coarse"``).
LEVEL_CHROMATIN = {level: chromatin for chromatin, level in CHROMATIN_LEVEL.items()}
#: The dysplasia grade each chromatin shows (``vqa_untextured="coarse"``), and the options offered.
GRADE = {"even": LOW_GRADE.name, "clumped": MODERATE.name, "speckled": HIGH_GRADE.name}
GRADE_OPTIONS = [*GRADE.values(), "no dysplasia"]


def _chromatin_question(kind: str, chromatin: str, rng: np.random.Generator,
                        shuffle: bool) -> tuple[str, str, list[str]]:
    """A chromatin question of ``kind`` about a tile whose nuclei carry ``chromatin``: question,
    answer and options (``vqa_untextured="coarse"``)."""
    options: list[str] = []
    if kind == "chromatin clumping":
        question, answer = "Is the nuclear chromatin clumped?", "yes" if chromatin == "clumped" else "no"
    elif kind == "chromatin speckle":
        question, answer = "Do the nuclei show speckled chromatin?", "yes" if chromatin == "speckled" else "no"
    elif kind == "dysplasia grade":
        question = "What grade of dysplasia is shown?"
        options, answer = _multiple_choice(rng, GRADE_OPTIONS, GRADE[chromatin], shuffle)
    else:
        question, answer = "How is the nuclear chromatin distributed?", CHROMATIN[chromatin]
    return question, answer, options


def _vqa(ctx: _Context, index: int, rng: np.random.Generator) -> Sample:
    difficulty = level(index)
    families = VQA_FAMILIES if ctx.vqa_untextured == "coarse" else VQA_LEVEL_FAMILIES
    kind = families[difficulty][(index // len(LEVELS)) % len(families[difficulty])]
    options: list[str] = []
    shuffle = ctx.vqa_option_order == "shuffled"
    if kind.startswith(("chromatin", "dysplasia")) and ctx.vqa_untextured == "coarse":
        # The level's texture on a glandular or epithelial tile (the random stream of the earlier data's
        # chromatin tiles: a medium or fine tile drawn textured there is the same image here).
        layout = ("glandular", "epithelium")[int(rng.integers(2))]
        rng.random()  # was: textured or not
        chromatin = LEVEL_CHROMATIN[difficulty]
        scene = _scene(rng, ctx.size, layout, chromatin)
        question, answer, options = _chromatin_question(kind, chromatin, rng, shuffle)
    elif difficulty == "coarse":
        # Layout questions; the chromatin is drawn at random so that no texture answers them.
        chromatin = str(rng.choice(list(CHROMATIN)))
        if not ctx.vqa_coarse_texture:
            chromatin = "even"  # drawn all the same: the random stream is that of the textured tiles
        if kind == "gland presence":  # balanced yes/no
            layout = "glandular" if rng.random() < 0.5 else ("stroma", "epithelium")[int(rng.integers(2))]
        else:
            layout = ("stroma", "glandular", "epithelium")[int(rng.integers(3))]
        scene = _scene(rng, ctx.size, layout, chromatin)
        if kind == "gland presence":
            question, answer = "Are gland lumens present in this image?", "yes" if layout == "glandular" else "no"
        elif kind == "tissue pattern":
            question = "Which tissue pattern is shown?"
            options, answer = _multiple_choice(rng, [*PATTERN.values(), "adipose tissue"], PATTERN[layout], shuffle)
        elif kind == "tissue type":
            question, answer = "What type of tissue is shown?", TISSUE_TYPE[layout]
        else:
            layout = "glandular"
            count = int(rng.integers(1, 5))
            binary = ctx.vqa_gland_count == "one-or-four"
            if binary:  # the same random stream: 1-2 -> one, 3-4 -> four
                count = 1 if count <= 2 else 4
            choices = [COUNT_WORDS[0], COUNT_WORDS[3]] if binary else list(COUNT_WORDS)
            scene = chromatin_scene(layout, _quadrant_glands(rng, ctx.size, count, large=binary), chromatin)
            question = "How many glands are visible?"
            options, answer = _multiple_choice(rng, choices, COUNT_WORDS[len(scene.glands) - 1], shuffle=False)
    else:
        # Chromatin questions on glandular or epithelial tiles: the texture of the question's
        # level, or none (then the tile is its own lookalike: "no" needs the same budget as "yes").
        layout = ("glandular", "epithelium")[int(rng.integers(2))]
        textured = bool(rng.random() < 0.5)
        present = "clumped" if difficulty == "medium" else "speckled"
        chromatin = present if textured else "even"
        scene = _scene(rng, ctx.size, layout, chromatin)
        low, moderate, high = LOW_GRADE.name, MODERATE.name, HIGH_GRADE.name  # an adenoma's dysplasia too
        if kind in ("chromatin clumping", "chromatin speckle", "chromatin distribution"):
            question, answer, options = _chromatin_question(kind, chromatin, rng, shuffle)
        elif kind == "dysplasia severity":
            question = "How severe is the dysplasia?"
            options, answer = _multiple_choice(rng, [low, moderate, "no dysplasia"], moderate if textured else low,
                                               shuffle)
        elif kind == "dysplasia grade":
            question = "What grade of dysplasia is shown?"
            options, answer = _multiple_choice(rng, [low, high, "no dysplasia"], high if textured else low, shuffle)
        else:
            question, answer = "What is the chromatin texture of the nuclei?", CHROMATIN[chromatin]
    question_type = "multiple choice" if options else ("yes/no" if answer in ("yes", "no") else "open")
    return Sample(
        id=ctx.sample_id("vqa", index),
        image=ctx.draw(rng, scene),
        task="vqa",
        question=question,
        options=options,
        answer=answer,
        meta=ctx.meta(index, difficulty, category=kind, question_type=question_type, layout=layout),
    )


def _detection(ctx: _Context, index: int, rng: np.random.Generator) -> Sample:
    difficulty = level(index)
    kind = {"medium": "medium", "fine": "small"}.get(difficulty) or COARSE_DETECTION[(index // 3) % len(COARSE_DETECTION)]
    glands = [] if kind == "none" else [grid_gland(rng, ctx.size, difficulty)]
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


def make_sample(
    split: str, task: str, index: int, seed: int = 0, tile: int = REFERENCE_SIZE, real_background: bool = False,
    lookalike: bool = False, vqa_option_order: str = "fixed", vqa_coarse_texture: bool = False,
    subtyping_normal: bool = False, clump_texture: str = DEFAULT_CLUMP_TEXTURE,
    gland_texture: str = DEFAULT_GLAND_TEXTURE, vqa_gland_count: str = DEFAULT_VQA_GLAND_COUNT,
    vqa_untextured: str = DEFAULT_VQA_UNTEXTURED,
) -> Sample:
    """Sample ``index`` of ``task`` in ``split``: always the same for the same arguments.

    ``lookalike=True`` draws the same tile without its textures (chromatin clumps or speckle, and
    glands drawn in them), from the same random stream: what a medium or fine sample shows below
    its level's budget. Its question and answer are the sample's; a detection tile keeps only the
    boxes of the glands still drawn. ``vqa_option_order``, ``vqa_coarse_texture``,
    ``subtyping_normal``, ``clump_texture``, ``gland_texture``, ``vqa_gland_count`` and
    ``vqa_untextured``: see
    :func:`generate`.
    """
    split = canonical_split(split)
    if task not in _BUILDERS:
        raise ConfigError(f"synthpath task must be one of {list(TASKS)} or None (all), got {task!r}")
    if vqa_option_order not in ("shuffled", "fixed"):
        raise ConfigError(f"synthpath vqa_option_order must be 'shuffled' or 'fixed', got {vqa_option_order!r}")
    for name, value in (("clump_texture", clump_texture), ("gland_texture", gland_texture)):
        if value not in CLUMP_TEXTURES:
            raise ConfigError(f"synthpath {name} must be one of {list(CLUMP_TEXTURES)}, got {value!r}")
    if vqa_gland_count not in VQA_GLAND_COUNTS:
        raise ConfigError(f"synthpath vqa_gland_count must be one of {list(VQA_GLAND_COUNTS)}, got {vqa_gland_count!r}")
    if vqa_untextured not in VQA_UNTEXTURED:
        raise ConfigError(f"synthpath vqa_untextured must be one of {list(VQA_UNTEXTURED)}, got {vqa_untextured!r}")
    ctx = _Context(split, seed, tile, real_background, lookalike, vqa_option_order, bool(vqa_coarse_texture),
                   bool(subtyping_normal), clump_texture, gland_texture, vqa_gland_count, vqa_untextured)
    return _BUILDERS[task](ctx, index, sample_rng(seed, split, task, index))


def generate(
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    task: str | None = None,
    tile: int = REFERENCE_SIZE,
    real_background: bool = False,
    progress: bool | None = None,
    vqa_option_order: str = "fixed",
    vqa_coarse_texture: bool = False,
    subtyping_normal: bool = False,
    clump_texture: str = DEFAULT_CLUMP_TEXTURE,
    gland_texture: str = DEFAULT_GLAND_TEXTURE,
    vqa_gland_count: str = DEFAULT_VQA_GLAND_COUNT,
    vqa_untextured: str = DEFAULT_VQA_UNTEXTURED,
) -> list[Sample]:
    """``n`` samples of the synthpath benchmark.

    ``task=None`` mixes the three tasks round-robin (subtyping, vqa, detection), so the mixed
    list of ``3k`` samples is exactly the union of the per-task lists of ``k``. ``n`` defaults
    to :func:`default_size` per task (for the mix: each task's default, round-robin until a
    task runs out, so again the union of the per-task default lists). ``tile`` is the side in pixels
    (448 = 256 visual tokens); ``real_background`` blends the shipped real H&E tiles into the
    stroma. ``progress`` shows a bar (default: when ``n >= 500``). ``vqa_option_order="fixed"`` (the
    default) lists a multiple-choice VQA question's options in one order for its whole family (the
    answer letter always names the same option; ``"shuffled"``: a new order per question);
    ``vqa_coarse_texture=False`` (the default) draws coarse VQA tiles with even chromatin instead of a
    random texture (no texture then shows at 256 tokens that the layout question ignores). With the
    shuffled options and the textured coarse tiles the tiny performer learnt no shuffled family and
    got the coarse layout questions wrong at 256 tokens (docs: the task performer's page).
    ``subtyping_normal=True`` adds a seventh subtyping class, normal stroma without a lesion, to the
    coarse level (:func:`subtype_of`): a performer meant for whole slides, which are mostly normal
    tissue, learns to call it normal rather than some lesion. ``clump_texture`` draws the medium
    level's clumped chromatin (subtyping and VQA) as 2-pixel cells (``"checkerboard"``), as
    band-limited noise of random phase (``"band"``), which shows at every grid from 64 tokens where
    the cells show only at 8 x 8 and 16 x 16 tokens, or as both (``"checkerboard+band"``, the
    default: the cells at half their amplitude, the noise in the room they leave) (:mod:`.tissue`);
    on the checkerboard alone the tiny performer misread medium tiles at 128 tokens, between the
    grids where the cells land on whole pixels. ``gland_texture``: the medium detection glands, with
    the same choices (default ``"checkerboard"``). ``vqa_gland_count``: the coarse gland-count
    question's tiles hold one or four large glands (``"one-or-four"``, the default; options one and
    four) or one to four smaller ones (``"one-to-four"``, options one to four; the same random
    stream), which the tiny performer never learnt to count (it answered "one" at 256 tokens).
    ``vqa_untextured``: where a chromatin question about a tile without texture sits. ``"coarse"`` (the
    default): each level asks the chromatin questions (:data:`VQA_FAMILIES`) of tiles with its own
    texture, the coarse level of tiles without one, and the answer names the texture ("no", "low-grade
    dysplasia", "smooth and even" at the coarse level), so a tile looked at below its level's budget
    gets the coarse level's answer, which is wrong, as a subtyping twin's is. ``"level"`` (the earlier
    data): medium and fine questions of their own (:data:`VQA_LEVEL_FAMILIES`), half of them about a
    tile without texture, answered "no" from 16 tokens by a performer that sees no texture there: the
    oracle gave those questions 16 tokens, which no allocator can know to do without the detail.
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
    return [make_sample(split, name, k, seed, tile, real_background, vqa_option_order=vqa_option_order,
                        vqa_coarse_texture=vqa_coarse_texture, subtyping_normal=subtyping_normal,
                        clump_texture=clump_texture, gland_texture=gland_texture,
                        vqa_gland_count=vqa_gland_count, vqa_untextured=vqa_untextured) for name, k in bar]
