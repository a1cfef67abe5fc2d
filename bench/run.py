"""kerasdl benchmarks, measured side by side in one run; prints medians and ratios.

1. Training throughput: ``kerasdl run recipes/cnn.yaml`` against a
   hand-written ``model.fit`` of the same model on the same data, run
   alternately (``--repeats`` pairs) so that machine noise hits both alike.
2. Peak memory (max RSS) of the ``kerasdl run`` processes.
3. ``kerasdl --help`` latency.

Usage: python bench/run.py [--repeats 3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import run_measured

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "cnn.yaml"


def help_latency(repeats: int = 10) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kerasdl", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs (default 3)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run; the first is not timed")
    args = parser.parse_args()

    kerasdl_speeds, handwritten_speeds, peaks = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            summary, _, peak = run_measured(
                [sys.executable, "-m", "kerasdl", "run", str(RECIPE), "--json", "--quiet",
                 "--set", f"training.epochs={args.epochs}", "--set", "export.enabled=false",
                 "--set", "training.resume=false"],
                scratch,
            )
            kerasdl_speeds.append(summary["train_samples_per_second"])
            peaks.append(peak)
            baseline, _, _ = run_measured(
                [sys.executable, str(ROOT / "bench" / "handwritten.py"), str(RECIPE), str(args.epochs)],
                scratch,
            )
            handwritten_speeds.append(baseline["train_samples_per_second"])
            print(f"pair {repeat + 1}: kerasdl {kerasdl_speeds[-1]:.0f} samples/s, "
                  f"hand-written fit {handwritten_speeds[-1]:.0f} samples/s, "
                  f"kerasdl peak RSS {peak:.2f} GB", flush=True)

    ours, theirs = statistics.median(kerasdl_speeds), statistics.median(handwritten_speeds)
    latency = help_latency()
    print()
    print(f"| measure (median of {args.repeats}) | kerasdl run | hand-written model.fit | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| CNN recipe training samples/s, Fashion-MNIST | {ours:.0f} | {theirs:.0f} | {ours / theirs:.3f} |")
    print(f"| peak RSS of `kerasdl run recipes/cnn.yaml` | {statistics.median(peaks):.2f} GB | | |")
    print(f"| `kerasdl --help` wall time | {latency * 1000:.0f} ms | | |")


if __name__ == "__main__":
    main()
