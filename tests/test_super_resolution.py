"""Super-resolution (issue 36): the generator and the Restorer, PSNR and
SSIM against bicubic and nearest upscaling, and recipes/super_resolution.yaml
from the command line to an export that ``kerasdl predict`` and
``evaluate`` use (docs/super_resolution.md)."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.builders import build_super_resolution, build_super_resolution_generator
from kerasdl.errors import BuilderArgumentError
from kerasdl.evaluation import restoration
from kerasdl.models.restoration import degrade
from kerasdl.runtime import faults
from tests.conftest import ROOT, run_cli_here, tensorboard_summaries

RECIPE = str(ROOT / "recipes" / "super_resolution.yaml")
# A thousand real garments and a small generator: seconds a run.
TINY = ["data.max_train_examples=1000", "data.max_test_examples=200", "training.epochs=2", "training.batch_size=16",
        "model.filters=8", "model.blocks=1", "model.discriminator_filters=[8, 16]", "optimizer.learning_rate=0.003"]


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


def _garments(count=16):
    from kerasdl.data.images import load_fashion_mnist

    return load_fashion_mnist().x_test[:count].astype(np.float32)


# -- The networks --------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4])
def test_the_untrained_generator_is_bicubic_upscaling_of_any_size(scale):
    images = _garments()
    restorer = build_super_resolution((28, 28, 1), scale=scale, filters=8, blocks=1)
    np.testing.assert_allclose(restorer(images).numpy(), restoration.upscaled(images, scale, "bicubic"), atol=1e-3)
    generator = build_super_resolution_generator(3, scale=scale, filters=4, blocks=0)
    assert generator(np.zeros((2, 5, 9, 3), np.float32)).shape == (2, 5 * scale, 9 * scale, 3)


def test_answers_are_clipped_to_pixels_but_training_sees_the_values_outside():
    generator = build_super_resolution_generator(1, filters=4, blocks=0)
    kernel, bias = generator.get_layer("residual").get_weights()
    generator.get_layer("residual").set_weights([kernel, bias + 2.0])  # Two whole ranges above white.
    images = np.full((1, 4, 4, 1), 128.0, np.float32)
    assert float(np.max(generator(images, training=False))) == 255.0
    # The content loss must see (and pull back) what lies outside: a clip in training stopped it.
    assert float(np.min(generator(images, training=True))) > 255.0


@pytest.mark.parametrize("arguments, argument", [
    (dict(scale=3), "scale"),
    (dict(scale=8), "scale"),  # 28 does not divide by 8.
    (dict(content_loss="l1"), "content_loss"),
    (dict(adversarial_weight=-1), "adversarial_weight"),
    (dict(blocks=-1), "blocks"),
    (dict(negative_slope=1.5), "negative_slope"),
])
def test_bad_builder_arguments_are_refused_naming_the_argument(arguments, argument):
    with pytest.raises(BuilderArgumentError) as error:
        build_super_resolution((28, 28, 1), **arguments)
    assert error.value.argument == argument


def test_scores_of_a_copy_and_of_nearest_upscaling_as_computed_by_hand():
    images = _garments(64)
    copied = restoration.scores(images, images)
    assert copied["ssim"] == pytest.approx(1.0) and copied["psnr"] > 100
    # Nearest upscaling of a 2x2 mean is each square's mean repeated.
    means = images.reshape(-1, 14, 2, 14, 2, 1).mean(axis=(2, 4))
    repeated = means.repeat(2, axis=1).repeat(2, axis=2)
    error = np.mean(np.square(images - repeated), axis=(1, 2, 3))
    nearest = restoration.baselines(images, 2)["nearest"]
    assert nearest["psnr"] == pytest.approx(np.mean(10 * np.log10(255.0**2 / error)), abs=1e-3)
    np.testing.assert_allclose(np.asarray(degrade(images, 2)), means, atol=1e-4)
    with pytest.raises(ValueError, match="cannot be scored"):
        restoration.scores(images, repeated[:, :27])


@pytest.mark.parametrize("weight", [1e-3, 0.0])
def test_the_restorer_trains_both_networks_or_the_generator_alone_and_reloads_in_safe_mode(tmp_path, weight):
    images = _garments(64)
    restorer = build_super_resolution((28, 28, 1), filters=8, blocks=1, discriminator_filters=(8,),
                                      adversarial_weight=weight)
    restorer.compile(keras.optimizers.Adam(3e-3), keras.optimizers.Adam(3e-3))
    before = [np.array(value) for value in restorer.discriminator.get_weights()]
    logged = restorer.fit(images, np.zeros(64), batch_size=16, epochs=2, verbose=0).history
    assert ("d_loss" in logged) == (weight > 0) and {"loss", "content", "psnr"} <= set(logged)
    moved = [not np.allclose(old, new) for old, new in zip(before, restorer.discriminator.get_weights())]
    assert any(moved) == (weight > 0)  # An idle discriminator is not trained.
    assert np.abs(restorer.generator.get_layer("residual").get_weights()[0]).max() > 0  # It left bicubic.
    restorer.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded(images).numpy(), restorer(images).numpy(), atol=1e-4)


# -- The recipe, the export, predict and evaluate ---------------------------------


def test_the_recipe_beats_bicubic_and_its_export_upscales_images_through_predict(workdir):
    result = run_cli_here("run", RECIPE, "--json", *_sets(TINY), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["task"] == "super_resolution"
    test, baselines = summary["test"], summary["baselines"]
    assert set(baselines) == {"bicubic", "nearest"}
    # The untrained generator is bicubic exactly: one that learns nothing fails here (2 epochs of
    # 1,000 images give about +0.7 dB; the whole recipe +5).
    assert test["psnr"] > baselines["bicubic"]["psnr"] + 0.3 and test["ssim"] > baselines["bicubic"]["ssim"], summary
    run = workdir / summary["run_dir"]
    assert (run / "restorations.png").is_file() and (run / "restorations" / "epoch_002.png").is_file()
    grid = tf.io.decode_png((run / "restorations.png").read_bytes()).numpy()
    assert grid.shape[0] > 4 * 28 * 2  # Four rows (nearest, bicubic, restored, original), drawn twice as large.
    plugin, grids = tensorboard_summaries(run / "logs" / "samples")["restorations"]
    assert plugin == "images" and [step for step, _ in grids] == [0, 1]  # TensorBoard's slider: one an epoch.
    np.testing.assert_array_equal(tf.io.decode_png(grids[-1][1]).numpy(), grid)  # The last epoch's is the file's.

    export = workdir / summary["export_path"]
    assert json.loads((export / "assets.extra" / "super_resolution.json").read_text())["scale"] == 2
    images = _garments(2)
    low = np.asarray(degrade(images, 2))
    served = tf.saved_model.load(str(export)).signatures["serving_default"]
    restored = served(inputs=tf.constant(low))["restored"].numpy()
    assert restored.shape == (2, 28, 28, 1)
    odd = served(inputs=tf.zeros((1, 9, 5, 1)))["restored"]
    assert odd.shape == (1, 18, 10, 1)  # Any size.
    (workdir / "shoe.png").write_bytes(tf.io.encode_png(low[0].round().astype(np.uint8)).numpy())
    np.save(workdir / "two.npy", low)
    for model, trust in ((summary["export_path"], []), (summary["export_path"], ["--trust-savedmodel"]),
                         (summary["run_dir"], [])):
        output = workdir / f"out-{len(trust)}-{model.split('/')[0]}"
        predicted = run_cli_here("predict", model, "shoe.png", "two.npy", "--output", str(output), "--json",
                                 *trust, cwd=workdir)
        assert predicted.returncode == 0, predicted.stderr[-2000:]
        entries = json.loads(predicted.stdout)["predictions"]
        assert [entry["shape"] for entry in entries] == [[28, 28, 1]] * 3
        written = [tf.io.decode_png((output / name).read_bytes()).numpy() for name in
                   ("shoe.png", "two_0.png", "two_1.png")]
        expected = np.clip(np.round(restored), 0, 255)
        # shoe.png holds the first image rounded to whole pixels: a level or two apart at most.
        assert np.abs(written[0].astype(int) - expected[0]).max() <= 3
        np.testing.assert_allclose(np.stack(written[1:]), expected, atol=1)
    again = run_cli_here("predict", summary["export_path"], "shoe.png", "--output", str(output), cwd=workdir)
    assert again.returncode == 2 and "already holds files" in again.stderr and "Traceback" not in again.stderr
    text = run_cli_here("predict", summary["export_path"], "shoe.png", cwd=workdir).stdout
    assert text.startswith("shoe.png: 28x28 image, predictions/super_resolution/")
    evaluated = run_cli_here("evaluate", summary["export_path"], "--json", cwd=workdir)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["test"]["psnr"] == pytest.approx(test["psnr"], abs=1e-3)


def test_kill_9_in_the_export_then_the_run_finishes_once(workdir):
    command = [sys.executable, "-m", "kerasdl", "run", RECIPE, "--json", "--quiet",
               *_sets(TINY + ["training.epochs=1", "data.max_train_examples=300"])]
    killed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600,
                            env={**os.environ, faults.VARIABLE: "export"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    exports = workdir / "saved_models" / "super_resolution"
    assert not exports.exists() or not any(path.name.isdigit() for path in exports.iterdir())
    env = {key: value for key, value in os.environ.items() if key != faults.VARIABLE}
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["resumed_from_epoch"] == 1 and summary["export_path"] == "saved_models/super_resolution/1"


@pytest.mark.parametrize("settings, message", [
    (["metrics=[mae]"], "metrics: a super-resolution model trains on model.content_loss"),
    (["loss=mse"], "loss: a super-resolution model"),
    (["model.scale=3"], "model.scale"),
    (["model.scale=8"], "must divide by `scale`"),
    (["training.pruning=0.5"], "training.pruning"),
])
def test_bad_super_resolution_recipes_fail_cleanly_before_writing(workdir, settings, message):
    result = run_cli_here("run", RECIPE, "--set", "tune=null", *_sets(settings), cwd=workdir)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not (workdir / "runs").exists() and not (workdir / "saved_models").exists()
