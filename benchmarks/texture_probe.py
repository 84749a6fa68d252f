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
where a performer takes a quarter of an hour): on the default 2-pixel checkerboard it gives 1.00 at 64
and 256 tokens and 0.50 at 128, where the subtyping performer fails too; on ``clump_texture: band``
0.95 / 0.95 / 1.00 at 64 / 128 / 256 and 0.50 at 32 (docs: the token allocator's page). A linear
probe on pooled tokens is a lower bound on what a trained performer can read, not a forecast of it.
"""

from __future__ import annotations

import argparse
import os
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


def pooled_features(vision: Any, processor: Any, image: Any) -> Any:
    """The vision tower's output tokens for ``image``, pooled: each channel's mean and spread."""
    import numpy as np
    import torch

    inputs = processor(images=[image], return_tensors="pt")
    with torch.no_grad():
        out = vision(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"])
    tokens = (out.pooler_output if hasattr(out, "pooler_output") else out).float().numpy()
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texture", choices=TEXTURES, action="append", help="medium texture (default: each)")
    parser.add_argument("--pairs", type=int, default=80, help="medium tiles, each with its look-alike (half fit, half scored)")
    parser.add_argument("--budgets", default="32,64,128,256", help="budgets scored (comma-separated)")
    parser.add_argument("--fit-budgets", default="64,256", help="budgets the probe is fitted at")
    args = parser.parse_args(argv)
    if args.pairs < 4:
        raise SystemExit(f"--pairs: at least 4, got {args.pairs}")
    budgets, fit_budgets = parse_budgets(args.budgets), parse_budgets(args.fit_budgets)
    print(f"held-out accuracy, medium tile vs its look-alike (0.50 = chance; fitted at {fit_budgets})")
    print("| texture | class | " + " | ".join(str(b) for b in budgets) + " |")
    print("|---|---|" + "---|" * len(budgets))
    for texture in args.texture or TEXTURES:
        for name, row in probe(texture, args.pairs, budgets, fit_budgets).items():
            print(f"| {texture} | {name} | " + " | ".join(f"{row[b]:.2f}" for b in budgets) + " |", flush=True)


if __name__ == "__main__":
    main()
