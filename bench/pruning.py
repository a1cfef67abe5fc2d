"""What pruning saves on disk (docs/compression.md): for each export, the
SavedModel's size and gzipped size, and the TFLite int8 model's (written by
``kerasdl export --format tflite --quantize int8``, which also scores it on
the test split) and gzipped size.

Zeros cost as much as any float in a SavedModel or a TFLite file; they
compress. gzip -9 of the files (the variables and the graph; assets.extra,
which holds a copy of the model as .keras, left out) stands in for what a
download or an app bundle compresses.

Usage: python bench/pruning.py saved_models/cnn saved_models/cnn_pruned [...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path)
    options = parser.parse_args()
    print(f"{'export':<28} {'SavedModel':>11} {'gzipped':>9} {'int8 TFLite':>12} {'gzipped':>9} {'int8 acc':>9}")
    with tempfile.TemporaryDirectory() as scratch:
        for export in options.exports:
            version = newest(export)
            raw, packed = sizes(version)
            lite, lite_packed, accuracy = int8(version, scratch)
            print(f"{str(export):<28} {raw / 1e6:>9.2f}MB {packed / 1e6:>7.2f}MB {lite / 1e6:>10.2f}MB "
                  f"{lite_packed / 1e6:>7.2f}MB {accuracy:>9.4f}", flush=True)


if __name__ == "__main__":
    main()
