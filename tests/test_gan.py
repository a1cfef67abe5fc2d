"""The GAN family: builders, the GAN's training step and saving, the judge's
scores, the generator export, and runs through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.artifacts import generator as export
from kerasdl.builders import GAN, build_discriminator, build_gan, build_generator
from kerasdl.data.images import FASHION_MNIST_CLASSES, load_fashion_mnist
from kerasdl.errors import BuilderArgumentError, ExportError
from kerasdl.evaluation import judge
from kerasdl.runtime import runs
from kerasdl.tasks.loop import METRICS_KEYS
from tests.conftest import ROOT, kill_after_epochs, run_cli, run_cli_here, tensorboard_summaries

# Tiny networks on a few hundred real images: seconds per run.
TINY_GAN = [
    "data.max_train_examples=384",
    "data.max_test_examples=200",
    "training.epochs=2",
    "model.latent_dim=8",
    "model.generator_filters=[8, 4]",
    "model.discriminator_filters=[4, 8]",
    "quality.samples=200",
    "quality.judge_epochs=1",
]


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


def _tiny_gan(conditional=False, **options):
    gan = build_gan((28, 28, 1), 10, latent_dim=8, conditional=conditional, generator_filters=(8, 4),
                    discriminator_filters=(4, 8), seed=3, **options)
    gan.compile(
        discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    return gan


@pytest.fixture(scope="module")
def fashion():
    return load_fashion_mnist()


@pytest.fixture(scope="module")
def small_fashion(fashion):
    return fashion.limited(1000, 300)


def test_generator_and_discriminator_are_functional_and_work_in_pixel_units():
    generator = build_generator(16, (28, 28, 1), filters=(8, 4), value_range=(0, 255))
    discriminator = build_discriminator((28, 28, 1), filters=(4, 8))
    assert generator.__class__.__name__ == discriminator.__class__.__name__ == "Functional"
    images = generator(tf.random.normal((5, 16)), training=False).numpy()
    assert images.shape == (5, 28, 28, 1) and images.min() >= 0.0 and images.max() <= 255.0
    assert discriminator(images).shape == (5, 1)
    # The same network in [-1, 1] units: the range moves, the tanh stays.
    signed = build_generator(16, (28, 28, 1), filters=(8, 4), value_range=(-1, 1))
    signed.set_weights(generator.get_weights())
    latent = tf.random.normal((3, 16), seed=1)
    np.testing.assert_allclose(
        (signed(latent).numpy() + 1.0) * 127.5, generator(latent).numpy(), rtol=1e-5, atol=1e-3
    )


def test_conditional_networks_take_class_ids():
    generator = build_generator(16, (28, 28, 1), num_classes=10, filters=(8, 4))
    discriminator = build_discriminator((28, 28, 1), num_classes=10, filters=(4, 8))
    assert set(generator.input) == {"latent", "class_id"} and set(discriminator.input) == {"images", "class_id"}
    latent = tf.repeat(tf.random.normal((1, 16), seed=2), 2, axis=0)
    images = generator({"latent": latent, "class_id": tf.constant([0, 7])})
    assert not np.allclose(images[0], images[1]), "the class id changes the image"
    same = tf.repeat(images[:1], 2, axis=0)
    logits = discriminator({"images": same, "class_id": tf.constant([0, 7])}, training=False)
    assert not np.isclose(logits[0, 0], logits[1, 0]), "the projection makes the logit depend on the class"


@pytest.mark.parametrize("options, argument", [
    ({"generator_filters": [8, 8, 8]}, "generator_filters"),  # 28 is not a multiple of 8
    ({"discriminator_filters": [0]}, "discriminator_filters"),
    ({"negative_slope": 1.5}, "negative_slope"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"dropout_rate": 1.0}, "dropout_rate"),
    ({"value_range": [255, 0]}, "value_range"),
    ({"input_shape": (784,)}, "input_shape"),
])
def test_builder_errors_name_the_recipe_argument(options, argument):
    arguments = {"input_shape": (28, 28, 1), "num_classes": 10, **options}
    with pytest.raises(BuilderArgumentError) as raised:
        build_gan(**arguments)
    assert raised.value.argument == argument


def test_discriminator_loss_is_one_sided_smoothed_cross_entropy():
    gan = _tiny_gan(label_smoothing=0.1)
    real, fake = np.array([[2.0], [-1.0]], np.float32), np.array([[0.5], [-3.0]], np.float32)
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    expected = np.mean(-0.9 * np.log(sigmoid(real)) - 0.1 * np.log(1 - sigmoid(real))) + np.mean(
        -np.log(1 - sigmoid(fake))
    )
    np.testing.assert_allclose(float(gan._discriminator_loss(real, fake)), expected, rtol=1e-5)


def test_fit_updates_both_networks_with_their_own_optimizers(small_fashion):
    gan = _tiny_gan(conditional=True)
    generator_before = [w.copy() for w in gan.generator.get_weights()]
    discriminator_before = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(small_fashion.x_train[:256], small_fashion.y_train[:256], batch_size=64, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(0.0 < history.history[key][0] < 1.0 for key in ("d_real", "d_fake"))
    assert int(gan.discriminator_optimizer.iterations) == int(gan.generator_optimizer.iterations) == 4
    assert gan.optimizer is None  # No third optimizer.
    for before, after in ((generator_before, gan.generator.get_weights()),
                          (discriminator_before, gan.discriminator.get_weights())):
        assert any(not np.array_equal(b, a) for b, a in zip(before, after))


def test_a_conditional_gan_asks_for_class_ids_and_generates_the_classes_it_is_given(small_fashion):
    gan = _tiny_gan(conditional=True)
    with pytest.raises(ValueError, match=r"fit\(images, class_ids\)"):
        gan.fit(small_fashion.x_train[:64], batch_size=64, epochs=1, verbose=0)
    images = gan({"latent": keras.random.normal((10, 8)), "class_id": keras.ops.arange(10)})
    assert tuple(images.shape) == (10, 28, 28, 1)
    # Same noise, other classes: other images.
    latent = keras.random.normal((2, 8), seed=1)
    first = gan({"latent": latent, "class_id": keras.ops.array([0, 0])})
    second = gan({"latent": latent, "class_id": keras.ops.array([9, 9])})
    assert not np.allclose(keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(second))


def test_saved_gan_keeps_both_optimizers_and_the_noise_state(small_fashion, tmp_path):
    gan = _tiny_gan()
    gan.fit(small_fashion.x_train[:256], batch_size=64, epochs=1, verbose=0)
    # What BackupAndRestore writes and reads: the weights file.
    gan.save_weights(tmp_path / "backup.weights.h5")
    restored = _tiny_gan()
    restored.load_weights(tmp_path / "backup.weights.h5")
    for name in ("discriminator_optimizer", "generator_optimizer"):
        saved, loaded = getattr(gan, name).variables, getattr(restored, name).variables
        assert len(saved) == len(loaded) > 1
        for a, b in zip(saved, loaded):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_array_equal(gan.seed_generator.state.numpy(), restored.seed_generator.state.numpy())
    # The whole model as a .keras file: config, weights and compile state.
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")
    assert isinstance(loaded, GAN) and loaded.label_smoothing == gan.label_smoothing
    latent = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(loaded(latent).numpy(), gan(latent).numpy(), atol=1e-5)
    assert int(loaded.generator_optimizer.iterations) == 4
    loaded.fit(small_fashion.x_train[:128], batch_size=64, epochs=1, verbose=0)
    assert int(loaded.generator_optimizer.iterations) == 6


def test_frechet_distance_matches_the_matrix_square_root_formula():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6)) + 0.5
    covariance_a, covariance_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(covariance_a @ covariance_b).real
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(covariance_a + covariance_b - 2 * root)
    np.testing.assert_allclose(judge.frechet_distance(a, b), expected, rtol=1e-6)


def test_frechet_distance_known_cases():
    a = np.random.default_rng(1).standard_normal((300, 4))
    assert judge.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    assert judge.frechet_distance(a, a + shift) == pytest.approx(np.sum(shift ** 2), rel=1e-6)
    with pytest.raises(ValueError):
        judge.frechet_distance(a, a[:, :3])


def test_coverage_summary():
    assert judge.coverage_summary(np.full(10, 0.1)) == {"classes_covered": 10, "evenness": pytest.approx(1.0)}
    collapsed = judge.coverage_summary(judge.class_shares(np.zeros(50, int), 10))
    assert collapsed == {"classes_covered": 1, "evenness": 0.0}


def test_judge_is_trained_once_and_scores_real_and_broken_generators(small_fashion, tmp_path):
    messages = []
    referee = judge.load_or_train(small_fashion, str(tmp_path), epochs=2, seed=0, log=messages.append)
    again = judge.load_or_train(small_fashion, str(tmp_path), epochs=2, seed=0, log=messages.append)
    assert "cached" in messages[-1] and again.test_accuracy == referee.test_accuracy > 0.5
    assert len(list(tmp_path.iterdir())) == 1
    assert judge.fingerprint(small_fashion, 3, 0) != judge.fingerprint(small_fashion, 2, 0)

    data = small_fashion
    by_class = {label: data.x_train[data.y_train == label] for label in range(10)}

    def real_images(latent, class_id):  # A perfect conditional generator: real images of the class.
        return np.stack([by_class[label][index % len(by_class[label])] for index, label in enumerate(class_id)])

    def gray(latent, class_id):  # A collapsed generator.
        return np.full((len(latent), 28, 28, 1), 128, np.uint8)

    def one_per_class(latent, class_id):  # Every class, drawn one way only (a partial collapse).
        return np.stack([by_class[label][0] for label in class_id])

    good = judge.score(real_images, referee, data, latent_dim=4, conditional=True, samples=300, seed=0)
    bad = judge.score(gray, referee, data, latent_dim=4, conditional=False, samples=300, seed=0)
    assert good["samples"] == bad["samples"] == 300
    assert good["fid"] < 2 * good["fid_floor"] < bad["fid"] / 5
    assert good["agreement"] > 0.7 and good["classes_covered"] >= 8
    assert bad["classes_covered"] == 1 and bad["evenness"] == 0.0
    assert good["fid_floor"] == bad["fid_floor"]  # The floor does not depend on the generator.
    # Within-class diversity: real images vary as real images do; one image
    # per class has none, though the judge finds every class.
    repeated = judge.score(one_per_class, referee, data, latent_dim=4, conditional=True, samples=300, seed=0)
    assert 0.8 < good["diversity"] < 1.2 and repeated["diversity"] < 0.05
    assert repeated["agreement"] > 0.7 and repeated["classes_covered"] >= 8
    assert set(good["diversity_per_class"]) == set(data.class_names)
    assert good["real_within_class_distance"] == repeated["real_within_class_distance"] > 0
    lines = judge.report(good)
    assert any("Requested-class agreement" in line for line in lines)
    assert any(line.startswith("Within-class diversity") for line in lines)


def test_within_class_diversity_compares_mean_distances_per_class():
    real = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [10.0, 4.0]])  # Class 0 spread 2, class 1 spread 4.
    fake = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [5.0, 5.0], [7.0, 7.0]])
    result = judge.within_class_diversity(fake, np.array([0, 0, 1, 1, 1]), real, np.array([0, 0, 1, 1]), ["a", "b"])
    expected_b = (0 + 2 * np.sqrt(8) * 2) / 6 / 4  # Three images: two equal, one sqrt(8) from each.
    assert result["diversity_per_class"] == {"a": pytest.approx(0.5), "b": pytest.approx(expected_b)}
    assert result["diversity"] == pytest.approx((0.5 + expected_b) / 2)
    # A class with fewer than 2 images on either side is left out, not zero.
    lonely = judge.within_class_diversity(fake[:3], np.array([0, 0, 1]), real, np.array([0, 0, 1, 1]), ["a", "b"])
    assert lonely["diversity_per_class"]["b"] is None and lonely["diversity"] == pytest.approx(0.5)
    assert judge.within_class_diversity(fake[:1], np.array([0]), real, np.array([0, 0, 1, 1]), ["a", "b"])[
        "diversity"] is None


def test_mode_seeking_pairs_a_batch_and_rewards_images_as_far_apart_as_their_noise():
    gan = _tiny_gan(conditional=True, mode_seeking=1.0)
    assert gan.mode_seeking == 1.0 and GAN.from_config(gan.get_config()).mode_seeking == 1.0
    from kerasdl.models.gan import _paired
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(_paired(keras.ops.array([3, 1, 4, 1, 5]))),
                                  [3, 1, 3, 1, 5])
    latent = keras.ops.array([[0.0, 0.0], [2.0, 2.0]])  # Latent distance 2.
    same = keras.ops.zeros((2, 4, 4, 1))
    apart = keras.ops.stack([keras.ops.zeros((4, 4, 1)), keras.ops.full((4, 4, 1), 255.0)])  # Image distance 1.
    assert float(gan._mode_seeking_loss(latent, apart)) == pytest.approx(2.0, rel=1e-4)
    assert float(gan._mode_seeking_loss(latent, same)) > 1e4  # Identical images: the term is huge.
    with pytest.raises(BuilderArgumentError, match="mode_seeking"):
        build_gan((28, 28, 1), 10, mode_seeking=-1.0)


def test_fit_with_mode_seeking_trains_a_conditional_gan(small_fashion):
    """The same first step from the same weights, noise and batch (paired
    as mode seeking pairs it), with the term at weight 1 and at a weight too
    small to count: the discriminators end the same (the term is the
    generator's), the generators do not."""
    def stepped(mode_seeking):
        keras.utils.set_random_seed(0)
        gan = _tiny_gan(conditional=True, mode_seeking=mode_seeking)
        history = gan.fit(small_fashion.x_train[:64], small_fashion.y_train[:64], batch_size=64, epochs=1, verbose=0,
                          shuffle=False)
        assert np.isfinite(history.history["g_loss"][0]) and int(gan.generator_optimizer.iterations) == 1
        return ([w.numpy() for w in gan.discriminator.trainable_weights],
                [w.numpy() for w in gan.generator.trainable_weights])

    (discriminator, generator), (plain_discriminator, plain_generator) = stepped(1.0), stepped(1e-12)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(discriminator, plain_discriminator))
    assert max(float(np.abs(a - b).max()) for a, b in zip(generator, plain_generator)) > 1e-5


def test_a_conditional_gan_needs_its_class_count():
    with pytest.raises(BuilderArgumentError, match="num_classes=10, conditional=True") as raised:
        build_gan((28, 28, 1), conditional=True)
    assert raised.value.argument == "num_classes"


def test_generator_export_returns_uint8_images_and_is_verified(tmp_path):
    generator = build_generator(8, (28, 28, 1), num_classes=10, filters=(8, 4))
    sample = {"latent": np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32),
              "class_id": np.arange(6, dtype=np.int32)}
    path, difference = export.export_generator(generator, str(tmp_path), "g", sample, {"generator.json": "{}\n"})
    assert difference <= 1 and (path / "assets.extra" / "generator.json").is_file()
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    images = serve(latent=tf.constant(sample["latent"]), class_id=tf.constant(sample["class_id"]))["images"]
    assert images.dtype == tf.uint8 and images.shape == (6, 28, 28, 1)
    expected = export.to_uint8(generator({"latent": sample["latent"], "class_id": sample["class_id"]}))
    assert np.max(np.abs(images.numpy().astype(int) - expected.numpy().astype(int))) <= 1
    # Another generator's images fail the verification.
    other = build_generator(8, (28, 28, 1), num_classes=10, filters=(8, 4))
    with pytest.raises(ExportError, match="does not reproduce the generator"):
        export.verify_generator(path, other, sample)


def test_to_uint8_maps_the_value_range():
    values = tf.constant([-1.0, -0.999, 0.0, 1.0, 1.5])
    assert export.to_uint8(values, (-1.0, 1.0)).numpy().tolist() == [0, 0, 128, 255, 255]


def test_gan_run_end_to_end(workdir):
    result = run_cli("run", str(ROOT / "recipes" / "gan.yaml"), "--json", *_sets(TINY_GAN), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert set(summary) == {*METRICS_KEYS, "gan"}  # One metrics.json schema: the common keys, the task's section.
    assert summary["task"] == "gan" and summary["gan"]["samples"] == str(Path(summary["run_dir"]) / "samples.png")
    quality = summary["gan"]["quality"]
    assert {"fid", "fid_floor", "class_shares", "classes_covered", "evenness"} <= set(quality)
    assert "agreement" not in quality and quality["samples"] == 200
    assert sum(quality["class_shares"].values()) == pytest.approx(1.0)
    assert "FID" in result.stderr and "Class coverage" in result.stderr
    run = workdir / summary["run_dir"]
    assert json.loads((run / "quality.json").read_text())["fid"] == quality["fid"]
    for name in ("samples.png", "samples/epoch_001.png", "samples/epoch_002.png"):
        picture = tf.io.decode_png((run / name).read_bytes()).numpy()
        assert picture.shape == (2 * (10 * 30 + 2), 2 * (10 * 30 + 2), 1)
    assert (run / "samples.png").read_bytes() == (run / "samples/epoch_002.png").read_bytes()
    # TensorBoard: each epoch's grid as an image (steps 0 and 1, as Keras counts
    # epochs in its curves), the judge's scores beside them.
    plugin, grids = tensorboard_summaries(run / "logs" / "samples")["samples"]
    assert plugin == "images" and [step for step, _ in grids] == [0, 1]
    saved = tf.io.decode_png((run / "samples.png").read_bytes()).numpy().tolist()
    assert tf.io.decode_png(grids[1][1]).numpy().tolist() == saved
    judged = tensorboard_summaries(run / "logs" / "evaluation")
    assert judged["quality/fid"] == ("scalars", [(2, pytest.approx(quality["fid"]))])
    # CSVLogger writes NA in val_ columns when there is no validation: the
    # history leaves them out, and the learning curves are drawn.
    history = runs.read_history(run)
    assert set(history) == {"epoch", "d_fake", "d_loss", "d_real", "g_loss", "seconds"} and len(history["epoch"]) == 2
    assert (run / "learning_curve.png").is_file()
    # The judge is cached beside the runs; a second run reuses it.
    assert len(list((workdir / "runs" / "judges").iterdir())) == 1
    export_path = workdir / summary["export_path"]
    info = json.loads((export_path / "assets.extra" / "generator.json").read_text())
    assert info == {"latent_dim": 8, "conditional": False, "image_shape": [28, 28, 1],
                    "latent_distribution": "standard normal"}
    serve = tf.saved_model.load(str(export_path)).signatures["serving_default"]
    images = serve(latent=tf.random.normal((3, 8)))["images"]
    assert images.dtype == tf.uint8 and images.shape == (3, 28, 28, 1)


def test_conditional_run_reports_agreement_and_exports_class_ids(workdir):
    result = run_cli("run", str(ROOT / "recipes" / "cgan.yaml"), "--json", *_sets(TINY_GAN), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    quality = summary["gan"]["quality"]
    assert set(quality["agreement_per_class"]) == set(FASHION_MNIST_CLASSES)
    # Every class asked for alike (the samples cycle through them): the overall share is the classes' mean.
    assert quality["agreement"] == pytest.approx(np.mean(list(quality["agreement_per_class"].values())), abs=1e-6)
    assert "Requested-class agreement" in result.stderr
    export_path = workdir / summary["export_path"]
    assert (export_path / "assets.extra" / "class_names.txt").read_text().split("\n")[0] == "T-shirt/top"
    serve = tf.saved_model.load(str(export_path)).signatures["serving_default"]
    images = serve(latent=tf.random.normal((2, 8)), class_id=tf.constant([1, 9], tf.int32))["images"]
    assert images.shape == (2, 28, 28, 1)


def test_kill_9_then_the_same_command_resumes_a_gan(workdir):
    epochs = 30
    command = [
        sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / "gan.yaml"), "--json", "--quiet",
        *_sets(TINY_GAN + [f"training.epochs={epochs}", "export.enabled=false", "quality.enabled=false",
                           "data.max_train_examples=128"]),
    ]
    done_before = kill_after_epochs(command, workdir, "gan", 3)
    assert 3 <= done_before < epochs

    resumed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from_epoch"] == done_before and summary["epochs"] == epochs
    run = workdir / summary["run_dir"]
    assert runs.read_history(run)["epoch"] == list(range(epochs))
    assert len(list((run / "samples").glob("epoch_*.png"))) == epochs


@pytest.mark.parametrize("recipe, settings, message", [
    ("gan.yaml", ["training.early_stopping=true"], "training.early_stopping: a GAN's losses"),
    ("gan.yaml", ["model.generator_filters=[8, 8, 8]"], "model.generator_filters"),
    ("gan.yaml", ["data={dataset: tweet_sentiment}"], "'gan' does not train on labelled texts"),
    ("cnn.yaml", ["quality.samples=100"], "quality: scores the samples of a GAN"),
])
def test_bad_gan_recipes_fail_cleanly_before_writing(workdir, recipe, settings, message):
    result = run_cli_here("run", str(ROOT / "recipes" / recipe), "--set", "tune=null", *_sets(settings), cwd=workdir)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (workdir / "runs").exists() and not (workdir / "saved_models").exists()


def test_tune_refuses_a_gan(workdir):
    result = run_cli_here("tune", str(ROOT / "recipes" / "gan.yaml"), cwd=workdir)
    assert result.returncode == 2 and "has no objective" in result.stderr and "Traceback" not in result.stderr
