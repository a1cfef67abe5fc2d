"""LSTM recipes against their baselines, and what a whole run costs.

Runs ``kerasdl run recipes/lstm.yaml`` and ``recipes/lstm_forecast.yaml``
as a user would (a fresh process each, ``--json``), once per seed. The
seed changes the weights and shuffling, and for the tweets also the
stratified test split, so each seed is a fresh test of "the LSTM beats the
baselines on the same split". Prints, per recipe, the model's and the
baselines' scores for every seed with their medians, the ratio of the
model's score to the best baseline's, and the wall time and peak memory of
the whole command (median). Exports go to a temporary folder.

Usage: python bench/lstm.py [--seeds 42 1 2] [--recipes lstm lstm_forecast]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from measure import run_measured

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
# The score compared, and whether higher is better.
SCORES = {"lstm": ("accuracy", "macro_f1"), "lstm_forecast": ("rmse", "rmse_at_horizon")}


def run(recipe: str, seed: int, folder: Path) -> tuple[dict, float, float]:
    """One ``kerasdl run``: its summary, wall seconds and peak RSS in GB."""
    command = [
        sys.executable, "-m", "kerasdl", "run", str(RECIPES / f"{recipe}.yaml"), "--json", "--quiet",
        "--set", f"training.seed={seed}", "--set", f"training.runs_dir={folder / 'runs'}",
        "--set", f"export.directory={folder / 'saved_models'}",
    ]
    summary, seconds, peak = run_measured(command)
    return summary, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--recipes", nargs="+", default=list(SCORES), choices=list(SCORES))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kerasdl-bench-lstm-") as scratch:
        for recipe in arguments.recipes:
            rows: dict[str, list[dict]] = {}
            seconds, peaks = [], []
            for seed in arguments.seeds:
                summary, wall, peak = run(recipe, seed, Path(scratch))
                seconds.append(wall)
                peaks.append(peak)
                rows.setdefault("model", []).append(summary["test"])
                for name, scores in summary["baselines"].items():
                    rows.setdefault(name, []).append(scores)
            keys = SCORES[recipe]
            print(f"\n{recipe}.yaml, seeds {' '.join(map(str, arguments.seeds))}: per seed, then the median")
            for name, results in rows.items():
                cells = [" / ".join(f"{scores[key]:.4f}" for key in keys) for scores in results]
                medians = " / ".join(f"{statistics.median(s[key] for s in results):.4f}" for key in keys)
                print(f"  {name:28s} {'  '.join(cells)}   median {medians}   ({' / '.join(keys)})")
            model = statistics.median(s[keys[0]] for s in rows["model"])
            higher = keys[0] != "rmse"
            best = (max if higher else min)(
                statistics.median(s[keys[0]] for s in results) for name, results in rows.items() if name != "model"
            )
            print(f"  model / best baseline ({keys[0]}): {model / best:.3f}"
                  f" ({'higher' if higher else 'lower'} is better)")
            print(f"  whole command: median {statistics.median(seconds):.0f} s wall"
                  f" (max {max(seconds):.0f} s), peak RSS median {statistics.median(peaks):.2f} GB")


if __name__ == "__main__":
    main()
