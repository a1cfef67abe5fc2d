"""One-class-out anomaly detection over every class (docs/anomaly.md).

Runs ``recipes/anomaly.yaml`` once per Fashion-MNIST class with that class
held out of training (``anomaly.held_out_class``; its test images are the
abnormal ones), and prints each class's AUROC and AUPR for the autoencoder,
PCA and the isolation forest, then their mean and their worst class.

Usage: python bench/anomaly.py [--epochs 10] [--classes 0 1 ...] [--set KEY=VALUE ...]
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
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def held_out(index: int, epochs: int, settings: list[str], scratch: str) -> dict:
    """The summary of one run with class ``index`` held out."""
    extra = [item for setting in settings for item in ("--set", setting)]
    done = subprocess.run(
        [sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / "anomaly.yaml"), "--json", "--quiet",
         "--set", "anomaly.abnormal_dataset=null", "--set", f"anomaly.held_out_class={index}",
         "--set", f"training.epochs={epochs}", "--set", "export.enabled=false", "--set", "training.resume=false",
         "--set", f"name=anomaly_{index}", *extra],
        cwd=scratch, capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--classes", type=int, nargs="*", default=list(range(len(CLASSES))))
    parser.add_argument("--set", dest="settings", action="append", default=[])
    options = parser.parse_args()
    rows: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        print(f"{'held out':<12} {'detector':<18} {'roc_auc':>8} {'pr_auc':>8}")
        for index in options.classes:
            summary = held_out(index, options.epochs, options.settings, scratch)
            scored = {"autoencoder": summary["test"], **summary["baselines"]}
            for name, scores in scored.items():
                name = "pca" if name.startswith("pca_") else name
                for key in ("roc_auc", "pr_auc"):
                    rows.setdefault(name, {}).setdefault(key, []).append(scores[key])
                print(f"{CLASSES[index]:<12} {name:<18} {scores['roc_auc']:>8.4f} {scores['pr_auc']:>8.4f}", flush=True)
    print(f"\nOver {len(options.classes)} classes held out in turn ({options.epochs} epochs):")
    print(f"{'detector':<18} {'mean roc_auc':>12} {'worst':>8} {'mean pr_auc':>12} {'worst':>8}")
    for name, scores in rows.items():
        print(f"{name:<18} {statistics.mean(scores['roc_auc']):>12.4f} {min(scores['roc_auc']):>8.4f} "
              f"{statistics.mean(scores['pr_auc']):>12.4f} {min(scores['pr_auc']):>8.4f}")


if __name__ == "__main__":
    main()
