"""What pruning and distillation save (docs/compression.md): for each
export, its weights, the SavedModel's size and gzipped size, the TFLite
int8 model's (written by ``kerasdl export --format tflite --quantize
int8``, which also scores it on the test split) and gzipped size, and the
latency of the exported graph: the median of 200 calls on one image, and
images per second in batches of 256.

Zeros cost as much as any float in a SavedModel or a TFLite file; they
compress. gzip -9 of the files (the variables and the graph; assets.extra,
which holds a copy of the model as .keras, left out) stands in for what a
download or an app bundle compresses.

Usage: python bench/compression.py saved_models/cnn saved_models/cnn_pruned [...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def sizes(folder: Path, skip: str = "assets.extra") -> tuple[int, int]:
    """Bytes of the files under ``folder`` (``skip`` left out), and of each gzipped (-9)."""
    files = [path for path in sorted(folder.rglob("*")) if path.is_file() and skip not in path.parts]
    raw = sum(path.stat().st_size for path in files)
    return raw, sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in files)


def newest(folder: Path) -> Path:
    versions = sorted((int(path.name) for path in folder.iterdir() if path.name.isdigit()))
    return folder / str(versions[-1]) if versions else folder


def int8(export: Path, scratch: str) -> tuple[int, int, float]:
    """The TFLite int8 model of an export: bytes, gzipped bytes, test accuracy."""
    done = subprocess.run([sys.executable, "-m", "kerasdl", "export", str(export), "--format", "tflite",
                           "--quantize", "int8", "--directory", scratch, "--json"],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    tflite = Path(result["output"]) / "model.tflite"
    raw = tflite.stat().st_size
    accuracy = result["test"]["accuracy"]
    return raw, len(gzip.compress(tflite.read_bytes(), compresslevel=9)), accuracy


def latency(export: Path) -> tuple[int, float, float]:
    """The export's weights, its median milliseconds on one image and its
    images per second in batches of 256 (the SavedModel's own graph: this
    machine made it)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(export))
    serve = loaded.signatures["serving_default"]
    weights = int(sum(np.prod(variable.shape) for variable in loaded.variables if variable.trainable))
    one, batch = tf.zeros((1, 28, 28, 1)), tf.zeros((256, 28, 28, 1))
    for _ in range(20):
        serve(inputs=one)
        serve(inputs=batch)
    times = []
    for _ in range(200):
        start = time.perf_counter()
        serve(inputs=one)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(20):
        serve(inputs=batch)
    return weights, 1000 * float(np.median(times)), 20 * 256 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path)
    options = parser.parse_args()
    print(f"{'export':<28} {'weights':>9} {'SavedModel':>11} {'gzipped':>9} {'int8 TFLite':>12} {'gzipped':>9} "
          f"{'int8 acc':>9} {'ms/image':>9} {'images/s':>9}")
    with tempfile.TemporaryDirectory() as scratch:
        for export in options.exports:
            version = newest(export)
            raw, packed = sizes(version)
            lite, lite_packed, accuracy = int8(version, scratch)
            weights, one, throughput = latency(version)
            print(f"{str(export):<28} {weights:>9,} {raw / 1e6:>9.2f}MB {packed / 1e6:>7.2f}MB {lite / 1e6:>10.2f}MB "
                  f"{lite_packed / 1e6:>7.2f}MB {accuracy:>9.4f} {one:>9.2f} {throughput:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
