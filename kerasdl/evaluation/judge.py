"""The judge: a classifier of the GAN's own dataset that scores generated images.

Inception-based FID needs ImageNet weights (a download) and sees 28x28
garments through 299x299 eyes; kerasdl instead trains a small CNN on the
recipe's training images and measures in its feature space:

- FID (Heusel et al., 2017): the Fréchet distance between Gaussians fitted
  to the judge's penultimate-layer features of generated and of real test
  images. Its floor is the same distance between real training and real
  test images (as many of each): no generator can be expected to beat it.
- Class coverage: the shares of generated images the judge assigns to each
  class (a GAN that collapses onto a few classes shows it here).
- For a conditional GAN, agreement: the share of images the judge assigns
  to the class they were generated for. The judge's own accuracy on real
  test images is the ceiling.
- Within-class diversity: how far apart a class's images lie (the mean
  distance between two of them in the judge's feature space), generated
  against real, averaged over the classes. 1 is as varied as real images;
  a generator that draws each class in only a few ways (a partial mode
  collapse that FID, dominated by the classes' means, barely shows) scores
  well below. Generated images are grouped by the class asked for in a
  conditional GAN, by the class the judge sees in an unconditional one.

The judge is trained once per dataset and cached in
``<runs_dir>/judges/<fingerprint>/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Callable, Optional

import keras
import numpy as np

from kerasdl.builders.cnn import build_cnn
from kerasdl.data import pipeline
from kerasdl.runtime import atomic

# The judge's architecture: the CNN builder, small and without batch norm
# (which costs 2.3x the training time on a CPU for no accuracy here);
# 4 epochs reach ~91% on Fashion-MNIST in about a minute on 2 cores.
ARCHITECTURE = dict(
    filters=(32, 64), convs_per_block=1, batch_norm=False, head="flatten", dense_units=(128,), dropout_rate=0.25,
)
# The layer whose output is the feature space: the 128 units before the softmax.
FEATURES = "dense1"
LEARNING_RATE = 1e-3
BATCH_SIZE = 128
MODEL_FILE = "judge.keras"
INFO_FILE = "judge.json"


@dataclasses.dataclass
class Judge:
    """A trained classifier and its feature extractor.

    Attributes:
        classifier: Images in the data's units to class probabilities.
        features: The same images to the feature vectors FID uses.
        test_accuracy: On the dataset's real test images.
        path: The cached model file.
    """

    classifier: keras.Model
    features: keras.Model
    test_accuracy: float
    path: Path

    def look(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features and predicted classes of a batch of images."""
        features, probabilities = self._both.predict(images, batch_size=512, verbose=0)
        return features.astype(np.float64), np.argmax(probabilities, axis=1)

    def __post_init__(self) -> None:
        self._both = keras.Model(
            self.classifier.inputs, [self.features.output, self.classifier.output], name="judge_both"
        )


def fingerprint(data, epochs: int, seed: int) -> str:
    """What the judge depends on: the training images and labels, the
    architecture, the epochs and the seed."""
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train):
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps([ARCHITECTURE, FEATURES, LEARNING_RATE, BATCH_SIZE, epochs, seed],
                             sort_keys=True).encode())
    return digest.hexdigest()[:16]


def load_or_train(data, directory: str, epochs: int, seed: int, log: Callable[[str], None] = print) -> Judge:
    """The cached judge of this data, or a new one trained and cached.

    Args:
        data: A ``data.dataset.Dataset`` of labelled images.
        directory: The cache, e.g. ``runs/judges``.
        epochs: Training epochs of a new judge.
        seed: Its weights' and shuffling's seed.
    """
    folder = Path(directory) / fingerprint(data, epochs, seed)
    if (folder / MODEL_FILE).is_file() and (folder / INFO_FILE).is_file():
        classifier = keras.saving.load_model(folder / MODEL_FILE)
        info = json.loads((folder / INFO_FILE).read_text())
        log(f"Judge: {folder / MODEL_FILE} (cached; test accuracy {info['test_accuracy']:.4f}).")
        return _judge(classifier, info["test_accuracy"], folder / MODEL_FILE)

    log(f"Judge: training a CNN classifier on the {len(data.x_train):,} training images ({epochs} epochs) "
        "to score generated images...")
    keras.utils.set_random_seed(seed)
    classifier = build_cnn(data.input_shape, data.num_classes, **ARCHITECTURE)
    classifier.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    classifier.fit(
        pipeline.make_dataset(data.x_train, data.y_train, BATCH_SIZE, shuffle=True, seed=seed),
        epochs=epochs, shuffle=False, verbose=0,  # The pipeline shuffles.
    )
    test_accuracy = float(
        classifier.evaluate(pipeline.make_dataset(data.x_test, data.y_test, 512), verbose=0,
                            return_dict=True)["accuracy"]
    )
    log(f"Judge: test accuracy {test_accuracy:.4f}; cached in {folder}.")
    _cache(folder, classifier, {"test_accuracy": test_accuracy, "epochs": epochs, "seed": seed, "source": data.source})
    return _judge(classifier, test_accuracy, folder / MODEL_FILE)


def _judge(classifier: keras.Model, test_accuracy: float, path: Path) -> Judge:
    features = keras.Model(classifier.inputs, classifier.get_layer(FEATURES).output, name="judge_features")
    return Judge(classifier, features, test_accuracy, path)


def _cache(folder: Path, classifier: keras.Model, info: dict) -> None:
    """Writes the judge whole, so a kill never leaves a half-written judge
    to be loaded next time."""

    def write(temporary: Path) -> None:
        classifier.save(temporary / MODEL_FILE)
        (temporary / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")

    try:
        atomic.write_folder(folder, write)
    except OSError:  # Another run cached the same judge meanwhile.
        if not (folder / MODEL_FILE).is_file():
            raise


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of feature rows:
    ``|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``.

    ``tr((C_a C_b)^(1/2))`` is the sum of the square roots of the
    eigenvalues of ``C_a^(1/2) C_b C_a^(1/2)`` (symmetric, positive
    semi-definite, and similar to ``C_a C_b``), so two symmetric
    eigendecompositions give it without a general matrix square root.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"Expected two sets of at least 2 feature rows of one width. Received: {a.shape}, {b.shape}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    covariance_a, covariance_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(covariance_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root_a @ covariance_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(covariance_a) + np.trace(covariance_b) - 2.0 * trace_root
    return float(max(distance, 0.0))


def class_shares(classes: np.ndarray, num_classes: int) -> np.ndarray:
    """The share of images assigned to each class."""
    return np.bincount(classes, minlength=num_classes) / max(len(classes), 1)


def coverage_summary(shares: np.ndarray) -> dict:
    """Coverage in two numbers: the classes holding at least half of a fair
    share (1/K), and the shares' entropy over log K (1: perfectly even)."""
    num_classes = len(shares)
    present = shares[shares > 0]
    return {
        "classes_covered": int(np.sum(shares >= 0.5 / num_classes)),
        # + 0.0 turns the -0.0 of a single class into 0.0.
        "evenness": float(-np.sum(present * np.log(present)) / math.log(num_classes)) + 0.0 if num_classes > 1 else 1.0,
    }


def mean_pairwise_distance(features: np.ndarray) -> Optional[float]:
    """The mean Euclidean distance between two different rows; None for fewer than 2."""
    count = len(features)
    if count < 2:
        return None
    squares = np.sum(features ** 2, axis=1)
    distances = np.sqrt(np.clip(squares[:, None] + squares[None, :] - 2.0 * features @ features.T, 0.0, None))
    return float(distances.sum() / (count * (count - 1)))


def within_class_diversity(
    fake_features: np.ndarray, fake_classes: np.ndarray, real_features: np.ndarray, real_classes: np.ndarray,
    class_names: list,
) -> dict:
    """Generated against real images' mean within-class distance, per class
    and averaged over the classes that both have 2 images or more of.

    Returns:
        ``diversity`` (generated / real, averaged over those classes),
        ``diversity_per_class`` (class name -> ratio), ``within_class_distance``
        and ``real_within_class_distance`` (their distances averaged); None
        for what could not be measured.
    """
    per_class, generated, real = {}, [], []
    for index, name in enumerate(class_names):
        fake_distance = mean_pairwise_distance(fake_features[fake_classes == index])
        real_distance = mean_pairwise_distance(real_features[real_classes == index])
        measured = fake_distance is not None and real_distance
        per_class[name] = fake_distance / real_distance if measured else None
        if measured:
            generated.append(fake_distance)
            real.append(real_distance)
    ratios = [ratio for ratio in per_class.values() if ratio is not None]
    return {
        "diversity": float(np.mean(ratios)) if ratios else None,
        "diversity_per_class": per_class,
        "within_class_distance": float(np.mean(generated)) if generated else None,
        "real_within_class_distance": float(np.mean(real)) if real else None,
    }


def score(
    generate: Callable[[np.ndarray, Optional[np.ndarray]], np.ndarray],
    judge: Judge,
    data,
    *,
    latent_dim: int,
    conditional: bool,
    samples: int,
    seed: int,
) -> dict:
    """Scores a generator against real images, all in the judge's eyes.

    Args:
        generate: ``(latent, class_ids or None) -> images`` in the data's units.
        judge: From ``load_or_train`` on the same data.
        data: The dataset the GAN trained on.
        latent_dim: The generator's latent length.
        conditional: Whether ``generate`` takes class ids (asked for in
            equal numbers).
        samples: Images generated; the real sets are cut to the same size,
            since FID depends on the sample size.
        seed: Draws the latent vectors and the real training subset.

    Returns:
        ``fid``, ``fid_floor`` (real training vs real test images),
        ``fid_ratio``, ``samples``, ``class_shares`` (class name -> share),
        ``classes_covered``, ``evenness``, the same two for the real test
        images, ``judge_test_accuracy``, the ``within_class_diversity``
        keys (``diversity`` first); and for a conditional GAN,
        ``agreement`` and ``agreement_per_class``.
    """
    count = min(samples, len(data.x_test), len(data.x_train))
    rng = np.random.default_rng(seed)
    test_features, test_classes = judge.look(data.x_test[:count])
    train_rows = np.sort(rng.choice(len(data.x_train), count, replace=False))
    train_features, _ = judge.look(data.x_train[train_rows])
    latent = rng.standard_normal((count, latent_dim)).astype(np.float32)
    requested = np.arange(count) % data.num_classes if conditional else None
    generated = generate(latent, requested)
    fake_features, fake_classes = judge.look(generated)

    fid = frechet_distance(fake_features, test_features)
    floor = frechet_distance(train_features, test_features)
    shares = class_shares(fake_classes, data.num_classes)
    real = coverage_summary(class_shares(test_classes, data.num_classes))
    result = {
        "fid": fid,
        "fid_floor": floor,
        "fid_ratio": fid / floor if floor > 0 else math.inf,
        "samples": count,
        "class_shares": {name: float(share) for name, share in zip(data.class_names, shares)},
        **coverage_summary(shares),
        "real_classes_covered": real["classes_covered"],
        "real_evenness": real["evenness"],
        "judge_test_accuracy": judge.test_accuracy,
        **within_class_diversity(
            fake_features, requested if conditional else fake_classes,
            test_features, data.y_test[:count], list(data.class_names),
        ),
    }
    if conditional:
        hits = fake_classes == requested
        result["agreement"] = float(np.mean(hits))
        result["agreement_per_class"] = {
            name: float(np.mean(hits[requested == index])) for index, name in enumerate(data.class_names)
        }
    return result


def report(result: dict) -> list[str]:
    """The lines ``kerasdl run`` prints about a GAN's samples."""
    lines = [
        f"FID {result['fid']:.2f} against a floor of {result['fid_floor']:.2f} (real training vs real test images; "
        f"{result['samples']:,} images each, judge's features; ratio {result['fid_ratio']:.1f}).",
        f"Class coverage: {result['classes_covered']} of {len(result['class_shares'])} classes hold at least half "
        f"a fair share; evenness {result['evenness']:.3f} (real test images: {result['real_evenness']:.3f}).",
        "  " + ", ".join(f"{name} {share:.1%}" for name, share in result["class_shares"].items()),
    ]
    if result["diversity"] is not None:
        lines.append(
            f"Within-class diversity {result['diversity']:.2f} (mean distance between two images of a class in the "
            f"judge's features: {result['within_class_distance']:.2f} generated, "
            f"{result['real_within_class_distance']:.2f} real; 1 is as varied as real images)."
        )
        lines.append("  " + ", ".join(f"{name} {'-' if ratio is None else f'{ratio:.2f}'}"
                                      for name, ratio in result["diversity_per_class"].items()))
    if "agreement" in result:
        lines.append(
            f"Requested-class agreement: {result['agreement']:.1%} of the samples are judged the class asked for "
            f"(the judge's accuracy on real test images: {result['judge_test_accuracy']:.1%})."
        )
        lines.append("  " + ", ".join(f"{name} {share:.0%}" for name, share in result["agreement_per_class"].items()))
    return lines
