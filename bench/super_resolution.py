"""What the adversarial term buys a super-resolution model
(docs/super_resolution.md), pair by pair, from a ``kerasdl compare``'s
JSON: each run's restorations of the whole test split scored by PSNR and
SSIM (what the compare itself reports) and by two scores of realism in
the GAN judge's feature space (kerasdl/evaluation/judge.py): FID against
the real test images, and the share of restorations the judge classifies
as the garment they are (the judge's accuracy on the originals is the
ceiling). The adversarial term is meant to trade a little PSNR for
images that look real: these say whether it did.

Usage:
    kerasdl compare recipes/super_resolution.yaml recipes/super_resolution_content.yaml --seeds 3 --json > c.json
    python bench/super_resolution.py c.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("compare", help="The JSON `kerasdl compare ... --json` printed.")
    parser.add_argument("--judge-epochs", type=int, default=4, help="A new judge's epochs (the GAN recipes').")
    arguments = parser.parse_args()

    from kerasdl.artifacts import trained
    from kerasdl.commands.compare import paired_statistics
    from kerasdl.data.images import load_fashion_mnist
    from kerasdl.evaluation import judge, restoration

    result = json.loads(Path(arguments.compare).read_text())
    data = load_fashion_mnist()
    referee = judge.load_or_train(data, "runs/judges", arguments.judge_epochs, seed=42)
    real = data.x_test.astype(np.float32)
    real_features, _ = referee.look(real)
    labels = np.asarray(data.y_test)
    print(f"Judge: {referee.path}, test accuracy {referee.test_accuracy:.4f}")

    def scored(run: str) -> dict:
        restorer = trained.locate(run).keras_model()  # The run's Restorer: downscales, then restores.
        restored = np.clip(restorer.predict(real, batch_size=256, verbose=0), 0, 255)
        return {**restoration.scores(real, restored), **realism(restored)}

    def realism(restored: np.ndarray) -> dict:
        features, classes = referee.look(restored)
        return {"fid": judge.frechet_distance(features, real_features),
                "judge_accuracy": float(np.mean(classes == labels))}

    scale = int(trained.locate(result["pairs"][0]["first_run"]).keras_model().scale)
    for method in restoration.BASELINES:  # What the restorations start from.
        upscaled = restoration.upscaled(real, scale, method)
        found = {**restoration.scores(real, upscaled), **realism(upscaled)}
        print(f"{method} ({scale}x): " + "; ".join(f"{key} {value:.4f}" for key, value in found.items()))

    rows = []
    for pair in result["pairs"]:
        first, second = scored(pair["first_run"]), scored(pair["second_run"])
        rows.append((pair["seed"], first, second))
        print(f"seed {pair['seed']}: " + "; ".join(
            f"{key} {first[key]:.4f} vs {second[key]:.4f}" for key in first))
    names = result["first"]["name"], result["second"]["name"]
    print(f"\n{names[0]} minus {names[1]}, {len(rows)} paired seeds:")
    for key, lower in (("psnr", False), ("ssim", False), ("fid", True), ("judge_accuracy", False)):
        stats = paired_statistics([row[1][key] for row in rows], [row[2][key] for row in rows],
                                  lower_is_better=lower)
        interval = stats["interval_95"]
        span = f"[{interval[0]:+.4f}, {interval[1]:+.4f}]" if interval else "(no interval)"
        print(f"  {key:15s} median {stats['median_difference']:+.4f}, mean {stats['mean_difference']:+.4f} {span}, "
              f"{names[0]} better in {stats['first_wins']} of {len(rows)} ({'lower' if lower else 'higher'} is better)")


if __name__ == "__main__":
    main()
