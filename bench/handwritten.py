"""The baseline: the same model trained by a hand-written ``model.fit``.

What a Keras user would write without kerasdl (keras-io style): arrays in
memory, ``validation_split``, the same builder, optimizer and batch size.
Prints one JSON line with the training samples/s of the epochs after the
first (the first includes tracing), measured like ``kerasdl run`` does.
"""

import json
import sys
import time

import keras

from kerasdl.builders import build_cnn
from kerasdl.data.images import load_fashion_mnist
from kerasdl.recipe import load_recipe


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_test_begin(self, logs=None):  # Validation is not training time.
        self.times.append(time.perf_counter() - self.start)

    def on_train_begin(self, logs=None):
        self.times = []


def main(recipe_path: str, epochs: int) -> None:
    recipe = load_recipe(recipe_path)
    keras.utils.set_random_seed(42)
    data = load_fashion_mnist()
    model = build_cnn(data.input_shape, data.num_classes, **recipe.builder_arguments())
    # The recipe's optimizer class and arguments, written out by hand.
    section = dict(recipe["optimizer"])
    name, rate = section.pop("name"), section.pop("learning_rate")
    initial = rate["initial_learning_rate"] if isinstance(rate, dict) else rate
    optimizer = type(keras.optimizers.get(name))(
        learning_rate=keras.optimizers.schedules.CosineDecay(initial, 6000), **section
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    timer = EpochTimer()
    model.fit(
        data.x_train, data.y_train, batch_size=recipe["training"]["batch_size"], epochs=epochs,
        validation_split=recipe["training"]["validation_split"], callbacks=[timer], verbose=0,
    )
    examples = int(len(data.x_train) * (1 - recipe["training"]["validation_split"]))
    timed = timer.times[1:]
    print(json.dumps({"train_samples_per_second": examples * len(timed) / sum(timed)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
