"""Median wall time of ``import pathreason`` and of ``pathreason plugins`` (fresh processes).

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def _median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    baseline = _median_seconds([sys.executable, "-c", "pass"], args.runs)
    imp = _median_seconds([sys.executable, "-c", "import pathreason"], args.runs)
    cli = shutil.which("pathreason")
    plugins_cmd = [cli, "plugins"] if cli else [sys.executable, "-m", "pathreason", "plugins"]
    plug = _median_seconds(plugins_cmd, args.runs)
    print(f"python startup (baseline)   median of {args.runs}: {baseline * 1000:7.1f} ms")
    print(f"import pathreason           median of {args.runs}: {imp * 1000:7.1f} ms")
    print(f"pathreason plugins          median of {args.runs}: {plug * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
