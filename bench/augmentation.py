"""Where augmentation is faster on this CPU: in the model (as kerasdl runs
the recipe's ``model.augmentation`` layers, and ``training.label_mixing``
in the training step) or in the tf.data pipeline (a ``map`` over batches,
run by tf.data's threads ahead of the step), side by side in one run.

Each contender trains recipes/cnn.yaml's network on 10,000 Fashion-MNIST
images for an epoch, after one epoch of warm-up, ``--repeats`` times;
prints the median seconds an epoch and each one's ratio to the same
network without augmentation:

- none: no augmentation layer;
- layers in the model: cnn_augmented.yaml's (random erasing, translation,
  Gaussian noise), after the flip;
- layers in the pipeline: the same layers, mapped over the batches;
- mixup in the step: ``models.mixing.mixing_step``, as a run does;
- mixup in the pipeline: the same layer, mapped over the batches.

    python bench/augmentation.py [--repeats 3] [--examples 10000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 128


def _recipe_model(name: str) -> dict:
    from kerasdl.recipe.resolve import load_recipe

    return {key: value for key, value in load_recipe(ROOT / "recipes" / f"{name}.yaml")["model"].items()
            if key != "builder"}


def contenders(images, labels) -> dict:
    """Name -> (model, dataset) for one epoch of each way."""
    import tensorflow as tf

    from kerasdl.builders import augmentations, build_cnn
    from kerasdl.models import mixing

    plain = {key: value for key, value in _recipe_model("cnn").items() if key != "augmentation"}
    layers_spec = _recipe_model("cnn_augmented")["augmentation"]

    def dataset(mapped=None):
        data = tf.data.Dataset.from_tensor_slices((images, labels)).cache().shuffle(len(images), seed=0).batch(BATCH)
        if mapped is not None:
            data = data.map(mapped, num_parallel_calls=tf.data.AUTOTUNE)
        return data.prefetch(tf.data.AUTOTUNE)

    def compiled(model, loss="sparse_categorical_crossentropy"):
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        return model

    # In the pipeline the images are scaled to [0, 1] first, as the model's
    # Rescaling does before its augmentation layers: the same layers, the same values.
    pipeline_layers = augmentations.build(layers_spec, (28, 28, 1), (0.0, 1.0))

    def augment(x, y):
        x = x / 255.0
        for layer in pipeline_layers:
            x = layer(x, training=True)
        return x, y

    in_step = compiled(build_cnn((28, 28, 1), 10, **plain), "categorical_crossentropy")
    keras_step = type(in_step).train_step.__get__(in_step)
    in_step.train_step = mixing.mixing_step(mixing.mixer("mix_up", seed=0), 10, keras_step)
    mix_layer = mixing.mixer("mix_up", seed=0)

    def mix(x, y):
        return mixing.mix(mix_layer, x, mixing.one_hot(y, 10))

    return {
        "none": (compiled(build_cnn((28, 28, 1), 10, **plain)), dataset()),
        "layers in the model": (compiled(build_cnn((28, 28, 1), 10, **plain, augmentation=layers_spec)), dataset()),
        "layers in the pipeline": (compiled(build_cnn((28, 28, 1), 10, **{**plain, "rescale": None})),
                                   dataset(augment)),
        "mixup in the step": (in_step, dataset()),
        "mixup in the pipeline": (compiled(build_cnn((28, 28, 1), 10, **plain), "categorical_crossentropy"),
                                  dataset(mix)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, default=10_000)
    arguments = parser.parse_args()
    from kerasdl.data.images import load_fashion_mnist

    data = load_fashion_mnist()
    images = data.x_train[:arguments.examples].astype("float32")
    labels = data.y_train[:arguments.examples]
    found = contenders(images, labels)
    for model, dataset in found.values():
        model.fit(dataset, epochs=1, verbose=0)  # Traces the step and fills the cache.
    timings: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(arguments.repeats):
        for name, (model, dataset) in found.items():  # Interleaved: a busy spell hits every contender.
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0)
            timings[name].append(time.perf_counter() - start)
    base = statistics.median(timings["none"])
    print(f"{'contender':<24} {'s/epoch':>8} {'vs none':>8} {'range':>14}   ({arguments.examples} images, median of "
          f"{arguments.repeats})")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:<24} {median:8.3f} {median / base:7.3f}x {min(values):6.3f}-{max(values):6.3f}")


if __name__ == "__main__":
    main()
