"""Data at scale: ``kerasdl run`` on a folder of JPEGs against the same model
fed by Keras's own ``keras.utils.image_dataset_from_directory``, side by side.

For each size, the script writes that many Fashion-MNIST images as 128x128
RGB JPEGs in class folders (upscaled, the 70k images cycled; cached under
``bench/results/``), then runs, each in a fresh process:

- ``kerasdl run recipes/cnn.yaml`` with ``data.dataset: image_folder`` on
  the folder, one epoch, no validation, no export;
- the hand-written Keras pipeline: ``image_dataset_from_directory`` (10%
  held out for testing, as kerasdl's ``test_fraction``), ``prefetch``,
  the same model (``build_cnn`` with the recipe's arguments) and optimizer,
  one epoch;
- each input pipeline alone: every training image decoded and batched once,
  no model (kerasdl: its loader and ``tf.data`` pipeline; Keras: the
  dataset above).

It prints peak RSS (``wait4``), wall time, training samples/s and the
pipeline's images/s for both, and their ratios.

Usage: python bench/data.py [--sizes 5000 20000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

from measure import run_measured

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "cnn.yaml"
RESULTS = ROOT / "bench" / "results"
SIZE = 128
BATCH_SIZE = 128
TEST_FRACTION = 0.1
SEED = 42


# -- The images ------------------------------------------------------------

def _write_chunk(job: tuple) -> None:
    from PIL import Image

    folder, names, start, images, labels = job
    for offset, (pixels, label) in enumerate(zip(images, labels)):
        picture = Image.fromarray(pixels).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
        picture.save(folder / names[label] / f"{start + offset:06d}.jpg", quality=90)


def write_images(count: int) -> Path:
    """``count`` Fashion-MNIST images as 128x128 RGB JPEGs, one folder per
    class; written once and reused."""
    import numpy as np

    folder = RESULTS / f"images-{count}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    sys.path.insert(0, str(ROOT))
    from kerasdl.data.images import load_fashion_mnist

    data = load_fashion_mnist()
    images = np.concatenate([data.x_train, data.x_test])[..., 0]
    labels = np.concatenate([data.y_train, data.y_test])
    order = np.arange(count) % len(images)
    names = [f"{index}_{name.lower().replace('/', '_').replace(' ', '_')}"
             for index, name in enumerate(data.class_names)]
    for name in names:
        (folder / name).mkdir(parents=True, exist_ok=True)
    chunk = 2000
    jobs = [(folder, names, start, images[order[start:start + chunk]], labels[order[start:start + chunk]])
            for start in range(0, count, chunk)]
    with Pool(2) as pool:
        pool.map(_write_chunk, jobs)
    done.write_text(f"{count}\n")
    return folder


def raw_bytes(count: int) -> int:
    return count * SIZE * SIZE * 3


# -- The contenders, each run in its own process -----------------------------

def kerasdl_settings(folder: Path) -> list[str]:
    """The recipe overrides of both contenders: the folder, one epoch, no validation, no export."""
    data = (f"data={{dataset: image_folder, path: {folder}, image_size: [{SIZE}, {SIZE}], color_mode: rgb, "
            f"test_fraction: {TEST_FRACTION}}}")
    settings = [data, "name=bench_data", "training.epochs=1", "training.validation_split=0",
                f"training.batch_size={BATCH_SIZE}", f"training.seed={SEED}", "export.enabled=false",
                "training.resume=false", "tune=null"]
    return settings


def kerasdl_run(folder: Path, scratch: Path) -> tuple[dict, float, float]:
    sets = [item for setting in kerasdl_settings(folder) for item in ("--set", setting)]
    return run_measured([sys.executable, "-m", "kerasdl", "run", str(RECIPE), "--json", "--quiet", *sets], scratch)


def keras_fit(folder: Path, scratch: Path) -> tuple[dict, float, float]:
    return run_measured([sys.executable, __file__, "--contender", "keras-fit", str(folder)], scratch)


def pipeline_alone(which: str, folder: Path, scratch: Path) -> tuple[dict, float, float]:
    return run_measured([sys.executable, __file__, "--contender", f"{which}-pipeline", str(folder)], scratch)


def _keras_datasets(folder: Path):
    import keras
    import tensorflow as tf

    train, test = keras.utils.image_dataset_from_directory(
        folder, image_size=(SIZE, SIZE), color_mode="rgb", batch_size=BATCH_SIZE, seed=SEED,
        validation_split=TEST_FRACTION, subset="both", verbose=False,
    )
    return train.prefetch(tf.data.AUTOTUNE), test.prefetch(tf.data.AUTOTUNE), len(train.file_paths)


def _kerasdl_pipeline(folder: Path):
    sys.path.insert(0, str(ROOT))
    from kerasdl.data import catalogue, pipeline

    data = catalogue.load("image_folder", {"path": str(folder), "image_size": [SIZE, SIZE], "color_mode": "rgb",
                                           "test_fraction": TEST_FRACTION}, SEED)
    return data.pipelines(pipeline.Feed(BATCH_SIZE, SEED, cache="auto"), validation_split=0.0).train


def contender(name: str, folder: Path) -> None:
    """One contender, in this process; prints one JSON line."""
    import keras

    start = time.perf_counter()
    if name.endswith("-pipeline"):
        dataset = _keras_datasets(folder)[0] if name == "keras-pipeline" else _kerasdl_pipeline(folder)
        images = sum(int(batch[0].shape[0]) for batch in dataset)
        print(json.dumps({"images": images, "images_per_second": images / (time.perf_counter() - start)}))
        return
    sys.path.insert(0, str(ROOT))
    from kerasdl.builders import build_cnn
    from kerasdl.recipe import load_recipe
    from kerasdl.runtime.optimizers import build_optimizer

    recipe = load_recipe(RECIPE, kerasdl_settings(folder))
    keras.utils.set_random_seed(SEED)
    train, test, train_images = _keras_datasets(folder)
    steps = int(train.cardinality())
    model = build_cnn((SIZE, SIZE, 3), 10, **recipe.builder_arguments())
    model.compile(optimizer=build_optimizer(recipe["optimizer"], steps, 1), loss=recipe["loss"],
                  metrics=list(recipe["metrics"]))
    fit_start = time.perf_counter()
    model.fit(train, epochs=1, verbose=0)
    fit_seconds = time.perf_counter() - fit_start
    accuracy = model.evaluate(test, verbose=0, return_dict=True)["accuracy"]
    print(json.dumps({"train_samples_per_second": train_images / fit_seconds, "test": {"accuracy": accuracy}}))


# -- The table ---------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000],
                        help="images per folder (default 5000 20000; the streaming target is 100000)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each contender per size (medians)")
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("folder", nargs="?", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.contender:
        contender(arguments.contender, Path(arguments.folder))
        return

    rows = []
    for count in arguments.sizes:
        folder = write_images(count)
        scratch = RESULTS / f"scratch-{count}"
        scratch.mkdir(parents=True, exist_ok=True)
        runs: dict[str, list] = {key: [] for key in ("kerasdl", "keras", "kerasdl-pipeline", "keras-pipeline")}
        for _ in range(arguments.repeats):  # Alternated, so that machine noise hits both alike.
            runs["kerasdl"].append(kerasdl_run(folder, scratch))
            runs["keras"].append(keras_fit(folder, scratch))
            runs["kerasdl-pipeline"].append(pipeline_alone("kerasdl", folder, scratch))
            runs["keras-pipeline"].append(pipeline_alone("keras", folder, scratch))

        def median(key: str, pick) -> float:
            return statistics.median(pick(run) for run in runs[key])

        row = {
            "images": count,
            "raw_gb": raw_bytes(count) / 1e9,
            **{f"{key}_peak_gb": median(key, lambda run: run[2]) for key in runs},
            **{f"{key}_wall": median(key, lambda run: run[1]) for key in ("kerasdl", "keras")},
            **{f"{key}_samples_per_second": median(key, lambda run: run[0]["train_samples_per_second"])
               for key in ("kerasdl", "keras")},
            **{f"{key}_images_per_second": median(key, lambda run: run[0]["images_per_second"])
               for key in ("kerasdl-pipeline", "keras-pipeline")},
            **{f"{key}_accuracy": median(key, lambda run: run[0]["test"]["accuracy"]) for key in ("kerasdl", "keras")},
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    print()
    print("| images | raw uint8 | kerasdl peak RSS | Keras peak RSS | ratio | kerasdl wall | Keras wall "
          "| training samples/s kerasdl / Keras | ratio | pipeline alone images/s kerasdl / Keras "
          "| pipeline peak RSS kerasdl / Keras | test accuracy kerasdl / Keras |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['images']:,} | {row['raw_gb']:.2f} GB | {row['kerasdl_peak_gb']:.2f} GB "
              f"| {row['keras_peak_gb']:.2f} GB | {row['kerasdl_peak_gb'] / row['keras_peak_gb']:.2f}× "
              f"| {row['kerasdl_wall']:.0f} s | {row['keras_wall']:.0f} s "
              f"| {row['kerasdl_samples_per_second']:,.0f} / {row['keras_samples_per_second']:,.0f} "
              f"| {row['kerasdl_samples_per_second'] / row['keras_samples_per_second']:.2f}× "
              f"| {row['kerasdl-pipeline_images_per_second']:,.0f} / {row['keras-pipeline_images_per_second']:,.0f} "
              f"| {row['kerasdl-pipeline_peak_gb']:.2f} / {row['keras-pipeline_peak_gb']:.2f} GB "
              f"| {row['kerasdl_accuracy']:.3f} / {row['keras_accuracy']:.3f} |")


if __name__ == "__main__":
    main()
