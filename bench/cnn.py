"""The Fashion-MNIST CNN recipes against the keras-io convnet, each trained
to the end as a whole command, side by side in one run.

Contenders, each a fresh process timed from start to exit (wall time and
CPU time from ``wait4``) on the 10,000 test images:

- ``keras-io convnet``: keras-io/examples/vision/mnist_convnet.py as
  written (bench/precision.py: ``model.fit`` on arrays, batch 128, 15
  epochs, validation_split 0.1), on Fashion-MNIST;
- ``kerasdl run recipes/<name>.yaml`` for each recipe asked for (by
  default cnn, the one ``make run`` trains, and cnn_best), exported as
  the recipe says.

Prints test accuracy, wall and CPU minutes, accuracy per CPU-minute, and
the issue's targets for cnn.yaml (>= 0.925 within 3 minutes, ahead of the
keras-io convnet in no more time) and cnn_best.yaml (>= 0.94 within 10).

    python bench/cnn.py [--recipes cnn cnn_bn cnn_best] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from measure import run_with_usage

ROOT = Path(__file__).resolve().parent.parent
KERAS_IO = "keras-io convnet"
TARGETS = {"cnn": (0.925, 180.0), "cnn_best": (0.94, 600.0)}


def keras_io_child() -> None:
    """The keras-io example trained to the end (bench/precision.py's);
    prints its test accuracy as JSON."""
    from precision import keras_io_to_the_end

    print(json.dumps(keras_io_to_the_end()))


def contender(name: str, scratch: str) -> dict:
    if name == KERAS_IO:
        command = [sys.executable, __file__, "--keras-io-child"]
    else:
        command = [sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / f"{name}.yaml"), "--json", "--quiet",
                   "--set", "training.resume=false"]
    result, wall, _, cpu = run_with_usage(command, scratch)
    accuracy = result["accuracy"] if name == KERAS_IO else result["test"]["accuracy"]
    return {"accuracy": accuracy, "wall": wall, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["cnn", "cnn_best"], help="recipes/<name>.yaml to run")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each contender, taken in turn (medians)")
    parser.add_argument("--keras-io-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_io_child:
        keras_io_child()
        return

    names = [KERAS_IO, *args.recipes]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for name in names:
                runs[name].append(contender(name, scratch))
                last = runs[name][-1]
                print(f"run {repeat + 1}, {name}: test accuracy {last['accuracy']:.4f}, {last['wall']:.0f} s wall, "
                      f"{last['cpu'] / 60:.1f} CPU-minutes", flush=True)

    print()
    print(f"| whole command, median of {args.repeats} | test accuracy | wall time | CPU-minutes "
          "| accuracy per CPU-minute | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    reference = {key: statistics.median(run[key] for run in runs[KERAS_IO]) for key in ("accuracy", "wall", "cpu")}
    for name in names:
        median = {key: statistics.median(run[key] for run in runs[name]) for key in ("accuracy", "wall", "cpu")}
        verdict = ""
        if name in TARGETS:
            accuracy, seconds = TARGETS[name]
            met = median["accuracy"] >= accuracy and median["wall"] <= seconds
            verdict = f">= {accuracy} within {seconds / 60:.0f} min: {'met' if met else 'MISSED'}"
            if name == "cnn":
                ahead = median["accuracy"] > reference["accuracy"] and median["wall"] <= reference["wall"]
                verdict += f"; ahead of the keras-io convnet in no more time: {'met' if ahead else 'MISSED'}"
        label = KERAS_IO if name == KERAS_IO else f"`kerasdl run recipes/{name}.yaml`"
        print(f"| {label} | {median['accuracy']:.4f} | {median['wall'] / 60:.2f} min | {median['cpu'] / 60:.2f} "
              f"| {median['accuracy'] / (median['cpu'] / 60):.4f} | {verdict} |")


if __name__ == "__main__":
    main()
