"""kerasdl benchmarks, measured side by side in one run; prints medians and ratios.

1. Runner overhead: ``kerasdl run`` of ``recipes/cnn.yaml`` and of
   ``recipes/cnn_bn.yaml`` (batch norm) against a hand-written
   ``model.fit`` of the same model on the same data (bench/handwritten.py),
   in ``--repeats`` pairs. Each pair runs both, the order alternating from
   pair to pair, so that machine noise and warm caches hit both alike; the
   ratio is taken within each pair and the median of those ratios printed.
2. Peak memory (max RSS) of the ``kerasdl run`` processes.
3. ``kerasdl --help`` latency.

Usage: python bench/run.py [--repeats 5] [--epochs 3] [--recipes cnn cnn_bn]
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


def help_latency(repeats: int = 10) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kerasdl", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kerasdl_speed(recipe: Path, epochs: int, scratch: str) -> tuple[float, float]:
    """Training samples/s of ``kerasdl run`` (epochs after the first) and its peak RSS in GB."""
    summary, _, peak = run_measured(
        [sys.executable, "-m", "kerasdl", "run", str(recipe), "--json", "--quiet",
         "--set", f"training.epochs={epochs}", "--set", "export.enabled=false",
         "--set", "training.resume=false"],
        scratch,
    )
    return summary["train_samples_per_second"], peak


def handwritten_speed(recipe: Path, epochs: int, scratch: str) -> float:
    baseline, _, _ = run_measured(
        [sys.executable, str(ROOT / "bench" / "handwritten.py"), str(recipe), str(epochs)], scratch,
    )
    return baseline["train_samples_per_second"]


def compare(recipe: Path, repeats: int, epochs: int, scratch: str) -> dict:
    ours, theirs, ratios, peaks = [], [], [], []
    for repeat in range(repeats):
        if repeat % 2 == 0:
            speed, peak = kerasdl_speed(recipe, epochs, scratch)
            baseline = handwritten_speed(recipe, epochs, scratch)
        else:
            baseline = handwritten_speed(recipe, epochs, scratch)
            speed, peak = kerasdl_speed(recipe, epochs, scratch)
        ours.append(speed)
        theirs.append(baseline)
        ratios.append(speed / baseline)
        peaks.append(peak)
        print(f"{recipe.stem} pair {repeat + 1}: kerasdl {speed:.0f} samples/s, hand-written fit "
              f"{baseline:.0f} samples/s, ratio {ratios[-1]:.3f}, kerasdl peak RSS {peak:.2f} GB", flush=True)
    return dict(ours=statistics.median(ours), theirs=statistics.median(theirs),
                ratio=statistics.median(ratios), ratios=ratios, peak=statistics.median(peaks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="pairs of runs per recipe (default 5)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is not timed")
    parser.add_argument("--recipes", nargs="+", default=["cnn", "cnn_bn"], help="recipes/<name>.yaml to time")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.recipes:
            results[name] = compare(ROOT / "recipes" / f"{name}.yaml", args.repeats, args.epochs, scratch)
    latency = help_latency()
    print()
    print(f"| median of {args.repeats} alternated pairs, {args.epochs - 1} timed epochs each "
          "| kerasdl run | hand-written model.fit | ratio (within pairs) | pairs |")
    print("| --- | --- | --- | --- | --- |")
    for name, result in results.items():
        pairs = ", ".join(f"{ratio:.3f}" for ratio in result["ratios"])
        print(f"| recipes/{name}.yaml training samples/s | {result['ours']:.0f} | {result['theirs']:.0f} "
              f"| **{result['ratio']:.3f}** | {pairs} |")
    for name, result in results.items():
        print(f"| peak RSS of `kerasdl run recipes/{name}.yaml` | {result['peak']:.2f} GB | | | |")
    print(f"| `kerasdl --help` wall time | {latency * 1000:.0f} ms | | | |")


if __name__ == "__main__":
    main()
