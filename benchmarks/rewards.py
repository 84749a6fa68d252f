"""Throughput of the built-in rewards on realistic GRPO batches, on one CPU core.

Each batch is 1,024 completions: 128 prompts × 8 generations, as TRL passes them (answers and
ground truth repeated within a group). Every repeat scores a freshly generated batch (so caches
keyed on references start cold), and the figure printed is the median over the repeats. Time is
the process's CPU time (single-threaded), so other load on the machine does not distort it.

- format: think/answer completions, about half of them malformed in some way;
- vqa: a third multiple choice (PathMMU-style ``"A) text"`` options), a third yes/no, a third
  open questions (1-6 word answers, smoothed sentence BLEU-4);
- subtyping: six classes, answered by letter, ``"(B)"`` or class name;
- detection: 1-30 ground-truth boxes per image and 1-30 predicted boxes per completion
  (jittered truths and random boxes, some invalid) in a 448-pixel frame.

``--hostile`` times one adversarial completion per reward instead (the caps of
docs/concepts/rewards.md keep each to a few milliseconds), at 1 MB and just under the 64 Ki-character
cap: a well-formed completion for format, an open answer of that size for vqa, a class name of that
size for subtyping, a token count of that many digits for the allocation rule and a box list of that
size (about 50,000 boxes at 1 MB) for detection; the figure is the median wall time of ``--repeats``
calls.

Run: ``python benchmarks/rewards.py [--repeats 7] [--batch 1024] [--hostile]``.
"""

from __future__ import annotations

import os

# One core: no BLAS/OpenMP threads (set before numpy is imported).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

GROUP = 8
WORDS = ["gland", "tumor", "cell", "nuclei", "stroma", "benign", "malignant", "adenoma", "carcinoma", "mucosa", "lumen",
         "epithelium", "necrosis", "mitosis", "fibrosis", "inflammation", "colon", "tissue", "of", "the", "with", "and",
         "in"]
CLASSES = ["NORM", "HP", "TA.HG", "TA.LG", "TVA.HG", "TVA.LG"]
FRAME = 448


def _think(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 60)))


def _wrap(rng: random.Random, answer: str) -> str:
    """A completion around ``answer``; one in four is malformed (no think, trailing text, no tags)."""
    style = rng.random()
    if style < 0.75:
        return f"<think>{_think(rng)}</think>\n<answer>{answer}</answer>"
    if style < 0.85:
        return f"<answer>{answer}</answer>"
    if style < 0.95:
        return f"<think>{_think(rng)}</think><answer>{answer}</answer> I hope this helps."
    return f"{_think(rng)} {answer}"


def _group(n: int, make: Callable[[int], dict[str, Any]]) -> dict[str, list[Any]]:
    """Columns of ``n`` completions, one prompt per ``GROUP`` consecutive completions."""
    columns: dict[str, list[Any]] = {}
    for start in range(0, n, GROUP):
        row = make(start)
        for key, value in row.items():
            if key == "completions":
                columns.setdefault(key, []).extend(value)
            else:
                columns.setdefault(key, []).extend([value] * len(row["completions"]))
    return columns


def format_batch(rng: random.Random, n: int) -> dict[str, list[Any]]:
    def make(_: int) -> dict[str, Any]:
        return {"completions": [_wrap(rng, rng.choice(WORDS)) for _ in range(GROUP)], "task": "vqa"}

    return _group(n, make)


def vqa_batch(rng: random.Random, n: int) -> dict[str, list[Any]]:
    def make(i: int) -> dict[str, Any]:
        kind = (i // GROUP) % 3
        if kind == 0:
            texts = rng.sample(WORDS, 4)
            options = [f"{'ABCD'[k]}) {t}" for k, t in enumerate(texts)]
            gold = rng.choice(options)
            preds = [rng.choice(["B", "(C)", "A) " + texts[0], texts[rng.randrange(4)], gold]) for _ in range(GROUP)]
        elif kind == 1:
            options, gold = [], rng.choice(["yes", "no"])
            preds = [rng.choice(["Yes", "no.", "yes", "No", "maybe"]) for _ in range(GROUP)]
        else:
            options = []
            gold = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
            preds = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) for _ in range(GROUP)]
        return {"completions": [_wrap(rng, p) for p in preds], "answer": gold, "options": options, "task": "vqa"}

    return _group(n, make)


def subtyping_batch(rng: random.Random, n: int) -> dict[str, list[Any]]:
    def make(_: int) -> dict[str, Any]:
        gold = rng.choice(CLASSES)
        preds = [rng.choice([rng.choice(CLASSES), "B", "(D)", gold.lower(), f"C) {CLASSES[2]}"]) for _ in range(GROUP)]
        return {"completions": [_wrap(rng, p) for p in preds], "answer": gold, "options": CLASSES,
                "task": "subtyping"}

    return _group(n, make)


def _random_box(rng: random.Random) -> list[float]:
    w, h = rng.uniform(15, 120), rng.uniform(15, 120)
    x, y = rng.uniform(0, FRAME - w), rng.uniform(0, FRAME - h)
    return [round(x, 1), round(y, 1), round(x + w, 1), round(y + h, 1)]


def detection_batch(rng: random.Random, n: int) -> dict[str, list[Any]]:
    def predict(truth: list[list[float]]) -> str:
        boxes = []
        for _ in range(rng.randint(1, 30)):
            r = rng.random()
            if r < 0.6 and truth:
                x1, y1, x2, y2 = rng.choice(truth)
                d = rng.uniform(-8, 8)
                boxes.append([round(x1 + d), round(y1 - d), round(x2 + d), round(y2 + d)])
            elif r < 0.95:
                boxes.append([round(v) for v in _random_box(rng)])
            else:
                boxes.append([50, 50, 40, 60])  # inverted: an invalid prediction
        return "[" + ", ".join(f"[{a}, {b}, {c}, {d}]" for a, b, c, d in boxes) + "]"

    def make(_: int) -> dict[str, Any]:
        truth = [_random_box(rng) for _ in range(rng.randint(1, 30))]
        return {"completions": [_wrap(rng, predict(truth)) for _ in range(GROUP)], "answer": "", "boxes": truth,
                "options": [], "task": "detection"}

    return _group(n, make)


def measure(reward: Callable[..., list[Any]], make: Callable[[random.Random, int], dict[str, list[Any]]],
            n: int, repeats: int) -> float:
    """Median completions per CPU-second over ``repeats`` fresh batches."""
    rates = []
    for seed in range(repeats):
        columns = make(random.Random(seed), n)
        completions = columns.pop("completions")
        start = time.process_time()
        out = reward(completions, prompts=[None] * n, **columns)
        elapsed = time.process_time() - start
        assert len(out) == n
        rates.append(n / elapsed)
    return statistics.median(rates)


def hostile_cases(size: int) -> dict[str, tuple[str, dict[str, list[Any]]]]:
    """One adversarial completion of about ``size`` characters per reward, with its columns."""
    words = " ".join(f"{WORDS[i % len(WORDS)]}{i}" for i in range(size // 4))[:size - 40]
    boxes, total = [], 2
    while total < size - 40:
        i = len(boxes)
        boxes.append(f"[{i % 400}, {i % 300}, {i % 400 + 20}, {i % 300 + 20}]")
        total += len(boxes[-1]) + 2
    return {
        "format": (f"<think>{words}</think><answer>gland</answer>", {"task": ["vqa"]}),
        "vqa": (f"<think>x</think><answer>{words}</answer>", {"answer": ["gland of the colon"], "options": [[]],
                                                             "task": ["vqa"]}),
        "subtyping": (f"<think>x</think><answer>{words}</answer>", {"answer": ["HP"], "options": [CLASSES],
                                                                   "task": ["subtyping"]}),
        "detection": (f"<think>x</think><answer>[{', '.join(boxes)}]</answer>",
                      {"boxes": [[[0, 0, 20, 20]] * 30], "task": ["detection"]}),
        "eq10": (f"<think>x</think><answer>{'9' * (size - 40)}</answer>", {"n0": [256], "native_tokens": [1024],
                                                                           "performer_score": [1.0]}),
    }


def measure_hostile(repeats: int) -> None:
    """Median milliseconds of one call on each adversarial completion (wall time, one completion),
    for 1 MB completions and for completions just under the 64 Ki-character cap."""
    from pathreason import get_reward

    print(f"{'reward':<12}{'chars':>12}{'ms per completion':>20}   (median of {repeats} calls)")
    for size in (1_000_000, 65_000):
        for name, (completion, columns) in hostile_cases(size).items():
            reward = get_reward(name)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                reward([completion], **columns)
                times.append(time.perf_counter() - start)
            print(f"{name:<12}{len(completion):>12,}{1000 * statistics.median(times):>20.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024, help="completions per batch (default 1024)")
    parser.add_argument("--repeats", type=int, default=7, help="fresh batches per reward (default 7)")
    parser.add_argument("--hostile", action="store_true", help="time adversarial completions (1 MB, 60,000 boxes)")
    args = parser.parse_args()
    if args.hostile:
        measure_hostile(args.repeats)
        return

    from pathreason import get_reward

    batches = {"format": format_batch, "vqa": vqa_batch, "subtyping": subtyping_batch, "detection": detection_batch}
    print(f"{'reward':<12}{'completions/s':>16}   (median of {args.repeats} batches of {args.batch}, one core)")
    for name, make in batches.items():
        reward = get_reward(name)
        reward(["<answer>warm-up</answer>"], answer=["x"], boxes=[[]], options=[[]])
        print(f"{name:<12}{measure(reward, make, args.batch, args.repeats):>16,.0f}")


if __name__ == "__main__":
    main()
