"""Memory across tuning trials, side by side in one run (keras-tuner #873).

1. ``kerasdl tune recipes/cnn_bn.yaml`` (its shipped search space, random
   search, a small budget per trial), reading the resident memory that each
   trial records when it ends; as it runs by default (a fresh process every
   5 trials) and with ``--trials-per-process 0`` (one process throughout).
2. A hand-written Keras Tuner search as its guide writes it: a ``build(hp)``
   function making a CNN of the same kind, ``RandomSearch.search(x, y)`` on
   the same images, memory read at the end of each trial by a callback.

Prints, for each, the resident and peak memory after trial 5 and after the
last trial, and the growth per trial in between: flat memory means a growth
near 0 MiB/trial and a 20/5 ratio near 1.

Usage: python bench/tune_memory.py [--trials 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
EXAMPLES = 3000
BUDGET = [f"data.max_train_examples={EXAMPLES}", "data.max_test_examples=500", "training.epochs=1"]


def kerasdl_search(trials: int, folder: str, *options: str) -> list[dict]:
    """Runs ``kerasdl tune`` and returns its per-trial records."""
    command = [sys.executable, "-m", "kerasdl", "tune", str(ROOT / "recipes" / "cnn_bn.yaml"),
               "--algorithm", "random", "--max-trials", str(trials), "--quiet", "--json", "--overwrite", *options]
    for assignment in BUDGET:
        command += ["--set", assignment]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        sys.exit(f"kerasdl tune failed:\n{result.stderr[-3000:]}")
    summary = json.loads(result.stdout)
    with open(summary["trials_csv"] if os.path.isabs(summary["trials_csv"])
              else os.path.join(folder, summary["trials_csv"])) as handle:
        return [{key: float(row[key]) for key in ("rss_mib", "peak_rss_mib")} for row in csv.DictReader(handle)]


HANDWRITTEN = r'''
import json, sys
import keras, keras_tuner as kt, numpy as np
from kerasdl.data import catalogue

data = catalogue.load("fashion_mnist", {}, 42)
x, y = data.x_train[:EXAMPLES].astype("float32") / 255.0, data.y_train[:EXAMPLES]

def memory():
    found = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            found["rss_mib" if line.startswith("VmRSS") else "peak_rss_mib"] = int(line.split()[1]) / 1024
    return found

def build(hp):
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for width in (32, 64, 128):
        for _ in range(hp.Int("convs_per_block", 1, 2)):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(hp.Choice("dense_units", [128, 256, 512]), activation="relu")(x)
    x = keras.layers.Dropout(hp.Float("dropout_rate", 0.1, 0.5, step=0.05))(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(hp.Float("learning_rate", 5e-4, 5e-3, sampling="log")),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

class Memory(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        records.append(memory())

records = []
tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=TRIALS, seed=42,
                        directory="handwritten", project_name="cnn", overwrite=True)
tuner.search(x, y, validation_split=0.1, epochs=1, batch_size=128, callbacks=[Memory()], verbose=0)
print(json.dumps(records))
'''


def handwritten_search(trials: int, folder: str) -> list[dict]:
    code = HANDWRITTEN.replace("EXAMPLES", str(EXAMPLES)).replace("TRIALS", str(trials))
    result = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        sys.exit(f"hand-written search failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def describe(name: str, records: list[dict], early: int) -> str:
    last = len(records)
    rss_early, rss_last = records[early - 1]["rss_mib"], records[-1]["rss_mib"]
    peak_early, peak_last = records[early - 1]["peak_rss_mib"], records[-1]["peak_rss_mib"]
    growth = (rss_last - rss_early) / (last - early)
    return (f"{name:28s} {rss_early:9.0f} {rss_last:9.0f} {peak_early:10.0f} {peak_last:10.0f} "
            f"{growth:+10.1f} {peak_last / peak_early:9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per search (default 20)")
    parser.add_argument("--early", type=int, default=5, help="the early trial to compare with (default 5)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours = kerasdl_search(arguments.trials, folder)
        one_process = kerasdl_search(arguments.trials, folder, "--trials-per-process", "0")
        theirs = handwritten_search(arguments.trials, folder)
    early, last = arguments.early, arguments.trials
    print(f"Memory across {last} random-search trials of a Fashion-MNIST CNN ({EXAMPLES} images, 1 epoch each), MiB")
    print(f"{'search':28s} {'RSS@' + str(early):>9s} {'RSS@' + str(last):>9s} {'peak@' + str(early):>10s} "
          f"{'peak@' + str(last):>10s} {'MiB/trial':>10s} {'peak ratio':>9s}")
    print(describe("kerasdl tune", ours, early))
    print(describe("kerasdl tune, one process", one_process, early))
    print(describe("hand-written Keras Tuner", theirs, early))


if __name__ == "__main__":
    main()
