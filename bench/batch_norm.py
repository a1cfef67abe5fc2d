"""What batch norm costs on this CPU, Keras's ``BatchNormalization``
against ``models.fused.FusedBatchNormalization`` (TensorFlow's fused
kernel in training) and no batch norm, side by side in one run:

- a step of one conv3x3-BN-ReLU layer at 28x28x32, batch 128 (the issue's
  measure), and at 14x14x64;
- an epoch of 10,000 Fashion-MNIST images through recipes/cnn.yaml's and
  cnn_bn.yaml's networks, end to end with ``fit``.

Prints medians over ``--repeats`` interleaved timings and each one's ratio
to Keras's batch norm.

    python bench/batch_norm.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BATCH = 128
KINDS = ("keras", "fused", "none")


def _norm(kind: str):
    import keras

    from kerasdl.models.fused import FusedBatchNormalization

    return {"keras": keras.layers.BatchNormalization, "fused": FusedBatchNormalization}[kind]


def layer_model(kind: str, size: int, channels: int):
    import keras

    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=kind == "none")(inputs)
    if kind != "none":
        x = _norm(kind)(momentum=0.9)(x)
    x = keras.layers.Activation("relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


def recipe_model(kind: str, recipe: str):
    from kerasdl.builders import build_cnn, options
    from kerasdl.recipe.resolve import load_recipe

    arguments = {key: value for key, value in load_recipe(ROOT / "recipes" / f"{recipe}.yaml")["model"].items()
                 if key != "builder"}
    if kind == "none":
        return build_cnn((28, 28, 1), 10, **{**arguments, "batch_norm": False})
    original = options.batch_normalization
    options.batch_normalization = lambda momentum, name=None: _norm(kind)(momentum=momentum, name=name)
    try:
        return build_cnn((28, 28, 1), 10, **arguments)
    finally:
        options.batch_normalization = original


def timed(models: dict, images, labels, repeats: int, steps: int = 0) -> dict:
    """The median, least and most seconds of a ``fit`` epoch (``steps``
    batches, or all) per model, interleaved."""
    count = steps * BATCH if steps else len(images)
    for model in models.values():
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(images[:count], labels[:count], batch_size=BATCH, epochs=1, verbose=0)
    found = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(images[:count], labels[:count], batch_size=BATCH, epochs=1, verbose=0)
            found[name].append((time.perf_counter() - start) / (steps or 1))
    return {name: (statistics.median(values), min(values), max(values)) for name, values in found.items()}


def report(title: str, found: dict, unit: str, scale: float) -> None:
    print(f"{title}")
    for name, (median, low, high) in found.items():
        print(f"  {name:<6} {median * scale:9.3f} {unit} (range {low * scale:.3f}-{high * scale:.3f})  "
              f"{median / found['keras'][0]:.3f}x Keras's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    rng = np.random.default_rng(0)
    for size, channels in ((28, 32), (14, 64)):
        images = rng.normal(size=(20 * BATCH, size, size, channels)).astype("float32")
        labels = rng.integers(0, 10, len(images))
        found = timed({kind: layer_model(kind, size, channels) for kind in KINDS}, images, labels,
                      arguments.repeats, steps=20)
        report(f"conv3x3-BN-ReLU at {size}x{size}x{channels}, batch {BATCH} (median of {arguments.repeats})", found,
               "ms/step", 1000)
    from kerasdl.data.images import load_fashion_mnist

    data = load_fashion_mnist()
    for recipe in ("cnn", "cnn_bn"):
        found = timed({kind: recipe_model(kind, recipe) for kind in KINDS}, data.x_train[:10_000].astype("float32"),
                      data.y_train[:10_000], arguments.repeats)
        report(f"{recipe}.yaml's network, an epoch of 10,000 images (median of {arguments.repeats})", found,
               "s/epoch", 1)


if __name__ == "__main__":
    main()
