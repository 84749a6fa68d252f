"""How fast is the synthpath generator? Prints the median seconds per 1,000 samples.

    python benchmarks/synthpath.py [--samples 1000] [--runs 5] [--task TASK] [--tile 448] [--real-background]

The target (issue 4) is under 10 s per 1,000 samples of 448x448 on one core. The default mix is
all three tasks round-robin, as ``get_dataset("synthpath")(split="train")`` makes it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# One core, as the target says (numpy's BLAS would otherwise use them all).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


def main() -> None:
    from pathreason.plugins.datasets.synthpath.generator import generate

    parser = argparse.ArgumentParser(description="Time the synthpath generator.")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--task", default=None, choices=["subtyping", "vqa", "detection"])
    parser.add_argument("--tile", type=int, default=448)
    parser.add_argument("--real-background", action="store_true")
    args = parser.parse_args()

    generate("train", n=12, tile=args.tile, real_background=args.real_background, progress=False)  # warm caches
    wall, cpu = [], []
    for run in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        generate("train", n=args.samples, seed=run, task=args.task, tile=args.tile,
                 real_background=args.real_background, progress=False)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    per_1000 = 1000 / args.samples
    print(
        f"synthpath: {statistics.median(wall) * per_1000:.2f} s per 1,000 samples (median of {args.runs} runs; "
        f"cpu {statistics.median(cpu) * per_1000:.2f} s; task={args.task or 'mixed'}, tile={args.tile}, "
        f"real_background={args.real_background})"
    )


if __name__ == "__main__":
    main()
