"""What a training step of each image architecture costs on this CPU, side
by side in one run: ResNet-18 (``build_resnet``) at the paper's widths, at
half and at a quarter of them (recipes/resnet18.yaml's), against the
network of recipes/cnn.yaml, on batches of 128 Fashion-MNIST-sized images.

Prints the median milliseconds a step over ``--repeats`` timings of
``--steps`` steps each (after one warm-up epoch) and what an epoch of the
recipes' 54,000 training images would take, and each one's ratio to cnn.yaml.

    python bench/architectures.py [--steps 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

BATCH = 128
EPOCH_IMAGES = 54_000


def contenders() -> dict:
    from kerasdl.builders import build_cnn, build_resnet
    from kerasdl.recipe.resolve import load_recipe

    cnn = {key: value for key, value in load_recipe(Path(__file__).resolve().parent.parent / "recipes" / "cnn.yaml")
           ["model"].items() if key != "builder"}
    return {
        "cnn.yaml": lambda: build_cnn((28, 28, 1), 10, **cnn),
        "resnet18, filters 64-512 (the paper's)": lambda: build_resnet((28, 28, 1), 10),
        "resnet18, filters 32-256": lambda: build_resnet((28, 28, 1), 10, filters=(32, 64, 128, 256)),
        "resnet18, filters 16-128 (resnet18.yaml)": lambda: build_resnet((28, 28, 1), 10, filters=(16, 32, 64, 128)),
    }


def step_seconds(build, steps: int, repeats: int) -> float:
    """The median seconds of one training step of the model ``build`` makes."""
    import keras

    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (BATCH * steps, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 10, BATCH * steps)
    model.fit(images[:2 * BATCH], labels[:2 * BATCH], batch_size=BATCH, epochs=1, verbose=0)  # Traces the step.
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(images, labels, batch_size=BATCH, epochs=1, verbose=0)
        timings.append((time.perf_counter() - start) / steps)
    keras.backend.clear_session()
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    found = {name: step_seconds(build, arguments.steps, arguments.repeats) for name, build in contenders().items()}
    base = found["cnn.yaml"]
    print(f"{'architecture':<42} {'ms/step':>8} {'min/epoch':>10} {'vs cnn.yaml':>12}")
    for name, seconds in found.items():
        print(f"{name:<42} {seconds * 1000:8.0f} {seconds * EPOCH_IMAGES / BATCH / 60:10.1f} {seconds / base:11.1f}x")


if __name__ == "__main__":
    main()
