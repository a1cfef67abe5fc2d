"""Fine-tuning against training from scratch, by number of labels and seed,
side by side in one run.

Trains the backbone once (``recipes/cnn_0to4.yaml``: Fashion-MNIST classes
0-4), then, for each number of labelled images of classes 5-9 and each
seed, ``recipes/transfer_5to9.yaml`` (that backbone, a new head, 5 frozen
epochs and 25 fine-tuning ones) and ``recipes/scratch_5to9.yaml`` (the same
network from scratch, 30 epochs), each ``kerasdl run`` in a fresh process
and scored on the 5,000 test images of classes 5-9. The seed changes the
initial weights, the order of the batches and which images of the first N
are held out for validation. Prints per-seed test accuracies, the medians,
and on how many seeds the fine-tuned model won. About 6 minutes for the
backbone, then ~25 s a pair on 2 cores.

    python bench/transfer.py [--labels 500 200 100] [--seeds 42 1 2 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"


def kerasdl_run(recipe: str, folder: str, *overrides: str) -> dict:
    """``kerasdl run RECIPE --json`` in ``folder``; its summary."""
    command = [sys.executable, "-m", "kerasdl", "run", str(RECIPES / recipe), "--json", "--quiet"]
    for override in overrides:
        command += ["--set", override]
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    if result.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[500, 200, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        backbone = kerasdl_run("cnn_0to4.yaml", folder)
        print(f"backbone (cnn_0to4.yaml, classes 0-4): test accuracy {backbone['test']['accuracy']:.4f}\n")
        print("| labelled images | seed | fine-tuned | from scratch | difference (points) |")
        print("| --- | --- | --- | --- | --- |")
        rows = []
        for labels in arguments.labels:
            pair = {"transfer": [], "scratch": []}
            for seed in arguments.seeds:
                overrides = (f"data.max_train_examples={labels}", f"training.seed={seed}", "export.enabled=false")
                for side, recipe in (("transfer", "transfer_5to9.yaml"), ("scratch", "scratch_5to9.yaml")):
                    pair[side].append(kerasdl_run(recipe, folder, *overrides)["test"]["accuracy"])
                gap = 100 * (pair["transfer"][-1] - pair["scratch"][-1])
                print(f"| {labels} | {seed} | {pair['transfer'][-1]:.4f} | {pair['scratch'][-1]:.4f} | {gap:+.2f} |",
                      flush=True)
            rows.append((labels, pair))
    print("\n| labelled images | fine-tuned, median | from scratch, median | difference | seeds won |")
    print("| --- | --- | --- | --- | --- |")
    for labels, pair in rows:
        transfer, scratch = statistics.median(pair["transfer"]), statistics.median(pair["scratch"])
        won = sum(t > s for t, s in zip(pair["transfer"], pair["scratch"]))
        print(f"| {labels} | {transfer:.4f} | {scratch:.4f} | {100 * (transfer - scratch):+.2f} points "
              f"| {won} of {len(pair['transfer'])} |")


if __name__ == "__main__":
    main()
