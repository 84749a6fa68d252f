"""Can the vision tower read a synthpath level's texture at a budget? A probe that needs no training.

    python benchmarks/texture_probe.py                           # each medium texture, 80 tiles
    python benchmarks/texture_probe.py --texture band --pairs 160 --budgets 32,64,100,128,196,256

It renders the first ``--pairs`` medium subtyping tiles of the train split (both medium classes, in
turn) and their look-alikes (the same tile without the clumps), resizes both to each budget, and runs the tiny model's frozen vision tower
(the embedded preset's seeded weights, which SFT keeps frozen) on them. A logistic regression on the
pooled output tokens (mean and spread of each channel) is fitted on the first half of the pairs at
``--fit-budgets`` (default 64 and 256, the budgets the tiny preset shows medium tiles at most) and
scored on the second half at every budget, per class: 0.50 is chance, 1.00 tells every tile from its
look-alike.

It is a quick check of a texture before training performers on it (a few minutes on two CPU cores,
where a performer takes a quarter of an hour): on the 2-pixel checkerboard alone it gives 1.00 at 64
and 256 tokens and 0.50 at 128, where the subtyping performer fails too; on ``clump_texture: band``
0.95 / 0.95 / 1.00 at 64 / 128 / 256 and 0.50 at 32 (docs: the token allocator's page). A linear
probe on pooled tokens is a lower bound on what a trained performer can read, not a forecast of it.

    python benchmarks/texture_probe.py --task detection          # per token: medium glands vs stroma

``--task detection`` asks where, not whether: it renders the first ``--pairs`` medium detection tiles
(one gland each, drawn in ``--texture`` as synthpath's ``gland_texture``) and labels every output
token at each budget (a 28-pixel cell of the resized image) as gland (its centre in the middle 70 %
of the gland's box, each way) or stroma (outside the box); the cells on the gland's rim are left out. Two probes, each a logistic regression fitted at the
budget it is scored at, on the first half of the tiles, scored (balanced accuracy) on the second half:

* ``pixels``: each cell's mean squared 3 x 3 high-pass of the resized image, per colour (log): what
  the image itself holds, for any reader that measures local texture energy;
* ``tower``: the frozen vision tower's output token for that cell, as the performer receives it.

On 80 tiles, at 32 / 64 / 128 / 256 tokens, ``pixels`` reads the glands of every medium texture at
0.52-0.54 / 0.99-1.00 / 1.00 / 1.00: the data hides them below 64 tokens and shows them at every grid
from there. ``tower`` reads the checkerboard at 0.50 / 1.00 / 0.89 / 1.00, the band at 0.49 / 0.55 /
0.61 / 0.80 and both at 0.49 / 0.96 / 0.69 / 1.00: the frozen tower passes on the cells, which a
resize keeps in phase with its patches at 64 and 256 tokens, and barely the band's random-phase energy
(docs: the token allocator's page).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEXTURES = ("checkerboard", "band", "checkerboard+band")


def parse_budgets(text: str) -> list[int]:
    try:
        budgets = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"--budgets: a comma-separated list of whole numbers, got {text!r}") from None
    if not budgets or min(budgets) < 4:
        raise SystemExit(f"--budgets: budgets of at least 4 tokens, got {text!r}")
    return budgets


def tower_tokens(vision: Any, processor: Any, image: Any) -> tuple[Any, tuple[int, int]]:
    """The vision tower's output tokens for ``image`` (one row per merged token, raster order) and
    their grid (rows, columns)."""
    import torch

    inputs = processor(images=[image], return_tensors="pt")
    with torch.no_grad():
        out = vision(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"])
    tokens = (out.pooler_output if hasattr(out, "pooler_output") else out).float().numpy()
    _, height, width = (int(v) for v in inputs["image_grid_thw"][0])
    merge = vision.spatial_merge_size
    return tokens, (height // merge, width // merge)


def pooled_features(vision: Any, processor: Any, image: Any) -> Any:
    """The vision tower's output tokens for ``image``, pooled: each channel's mean and spread."""
    import numpy as np

    tokens, _ = tower_tokens(vision, processor, image)
    return np.concatenate([tokens.mean(0), tokens.std(0)])


def probe(texture: str, pairs: int, budgets: list[int], fit_budgets: list[int]) -> dict[str, dict[int, float]]:
    """Held-out accuracy per medium class and budget (see the module's docstring)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from transformers import Qwen2_5_VLForConditionalGeneration

    from pathreason.api import resize_to_budget
    from pathreason.plugins.datasets.synthpath.generator import LEVELS, make_sample
    from pathreason.plugins.models.tiny import build_image_processor, tiny_path

    processor = build_image_processor()
    vision = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_path()).eval().model.visual
    every = sorted(set(budgets) | set(fit_budgets))
    features: dict[int, list[Any]] = {b: [] for b in every}
    labels, classes = [], []
    medium = [i for i in range(3 * pairs + 3) if LEVELS[i % 3] == "medium"][:pairs]
    for index in medium:
        for label, lookalike in ((1, False), (0, True)):
            sample = make_sample("train", "subtyping", index, lookalike=lookalike, clump_texture=texture)
            image = sample.load_image()
            for budget in every:
                features[budget].append(pooled_features(vision, processor, resize_to_budget(image, budget)))
            labels.append(label)
            classes.append(str(sample.answer))
    y, names = np.array(labels), np.array(classes)
    fit = np.arange(len(y)) < len(y) // 2
    x_fit = np.concatenate([np.array(features[b])[fit] for b in fit_budgets])
    mean, spread = x_fit.mean(0), x_fit.std(0) + 1e-6
    model = LogisticRegression(C=1.0, max_iter=5000).fit((x_fit - mean) / spread, np.tile(y[fit], len(fit_budgets)))
    scores: dict[str, dict[int, float]] = {}
    for name in sorted(set(classes)):
        held = ~fit & (names == name)
        scores[name] = {b: float(model.score((np.array(features[b])[held] - mean) / spread, y[held])) for b in budgets}
    return scores


def balanced_accuracy(predicted: Any, truth: Any) -> float:
    """The mean of the recall of each class (0.50: chance, whatever the classes' sizes): scikit-learn's,
    as the subtyping metric uses."""
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(truth, predicted))


def cell_labels(box: Sequence[float], size: tuple[int, int], grid: tuple[int, int], core: float = 0.7) -> Any:
    """Each cell of a ``grid`` (rows, columns) of output tokens over an image of ``size`` (width,
    height): 1 where its centre lies in the middle ``core`` of ``box`` (each way), 0 where it lies
    outside the box, -1 between (left out)."""
    import numpy as np

    (width, height), (rows, cols) = size, grid
    x0, y0, x1, y1 = box
    ys, xs = (np.arange(rows) + 0.5) / rows * height, (np.arange(cols) + 0.5) / cols * width
    margin_x, margin_y = (1 - core) / 2 * (x1 - x0), (1 - core) / 2 * (y1 - y0)
    inside = ((ys[:, None] > y0) & (ys[:, None] < y1)) & ((xs[None] > x0) & (xs[None] < x1))
    middle = ((ys[:, None] > y0 + margin_y) & (ys[:, None] < y1 - margin_y)) & ((xs[None] > x0 + margin_x) & (xs[None] < x1 - margin_x))
    return np.where(middle, 1, np.where(inside, -1, 0))


def cell_energy(pixels: Any, cell: int = 28) -> Any:
    """Per ``cell x cell`` block of an ``H x W x C`` image (H, W multiples of ``cell``): the mean
    squared 3 x 3 high-pass (the pixel minus its 3 x 3 mean, edges replicated) of each channel;
    shape ``(H / cell * W / cell, C)``, rows in raster order (the vision tower's token order)."""
    import numpy as np
    from scipy.ndimage import uniform_filter

    image = np.asarray(pixels, np.float64)
    high = image - np.stack([uniform_filter(image[..., c], 3, mode="nearest") for c in range(image.shape[-1])], -1)
    rows, cols = image.shape[0] // cell, image.shape[1] // cell
    return (high**2).reshape(rows, cell, cols, cell, -1).mean((1, 3)).reshape(rows * cols, -1)


def gland_probe(texture: str, tiles: int, budgets: list[int]) -> dict[str, dict[int, float]]:
    """Held-out balanced accuracy, gland token vs stroma token, per probe and budget (see the
    module's docstring)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from transformers import Qwen2_5_VLForConditionalGeneration

    from pathreason.api import resize_to_budget
    from pathreason.plugins.datasets.synthpath.generator import LEVELS, make_sample
    from pathreason.plugins.models.tiny import build_image_processor, tiny_path

    processor = build_image_processor()
    vision = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_path()).eval().model.visual
    rows: dict[str, dict[int, list[Any]]] = {"pixels": {b: [] for b in budgets}, "tower": {b: [] for b in budgets}}
    labels: dict[int, list[Any]] = {b: [] for b in budgets}
    tile_of: dict[int, list[Any]] = {b: [] for b in budgets}
    medium = [i for i in range(3 * tiles + 3) if LEVELS[i % 3] == "medium"][:tiles]
    for k, index in enumerate(medium):
        sample = make_sample("train", "detection", index, gland_texture=texture)
        image = sample.load_image()
        for budget in budgets:
            shown = resize_to_budget(image, budget)
            tokens, grid = tower_tokens(vision, processor, shown)
            rows["tower"][budget].append(tokens)
            rows["pixels"][budget].append(np.log(cell_energy(np.asarray(shown, np.float64) / 255.0) + 1e-6))
            labels[budget].append(cell_labels(sample.boxes[0], image.size, grid).reshape(-1))
            tile_of[budget].append(np.full(grid[0] * grid[1], k))
    scores: dict[str, dict[int, float]] = {name: {} for name in rows}
    for budget in budgets:
        y, tile = np.concatenate(labels[budget]), np.concatenate(tile_of[budget])
        keep, fit = y >= 0, tile < len(medium) // 2
        for name, per_budget in rows.items():
            x = np.concatenate(per_budget[budget])
            train, held = keep & fit, keep & ~fit
            mean, spread = x[train].mean(0), x[train].std(0) + 1e-6
            model = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit((x[train] - mean) / spread, y[train])
            scores[name][budget] = balanced_accuracy(model.predict((x[held] - mean) / spread), y[held])
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("subtyping", "detection"), default="subtyping",
                        help="subtyping: a tile vs its look-alike (pooled tokens); detection: a gland's tokens vs stroma's")
    parser.add_argument("--texture", choices=TEXTURES, action="append", help="medium texture (default: each)")
    parser.add_argument("--pairs", type=int, default=80, help="medium tiles (subtyping: each with its look-alike; half fit, half scored)")
    parser.add_argument("--budgets", default="32,64,128,256", help="budgets scored (comma-separated)")
    parser.add_argument("--fit-budgets", default="64,256", help="budgets the probe is fitted at")
    args = parser.parse_args(argv)
    if args.pairs < 4:
        raise SystemExit(f"--pairs: at least 4, got {args.pairs}")
    budgets, fit_budgets = parse_budgets(args.budgets), parse_budgets(args.fit_budgets)
    if args.task == "detection":
        print("held-out balanced accuracy, a medium gland's tokens vs stroma's (0.50 = chance; fitted at each budget)")
        print("| texture | probe | " + " | ".join(str(b) for b in budgets) + " |")
        print("|---|---|" + "---|" * len(budgets))
        for texture in args.texture or TEXTURES:
            for name, row in gland_probe(texture, args.pairs, budgets).items():
                print(f"| {texture} | {name} | " + " | ".join(f"{row[b]:.2f}" for b in budgets) + " |", flush=True)
        return
    print(f"held-out accuracy, medium tile vs its look-alike (0.50 = chance; fitted at {fit_budgets})")
    print("| texture | class | " + " | ".join(str(b) for b in budgets) + " |")
    print("|---|---|" + "---|" * len(budgets))
    for texture in args.texture or TEXTURES:
        for name, row in probe(texture, args.pairs, budgets, fit_budgets).items():
            print(f"| {texture} | {name} | " + " | ".join(f"{row[b]:.2f}" for b in budgets) + " |", flush=True)


if __name__ == "__main__":
    main()
