"""Anomaly detection (issue 36): the autoencoder builder, normal and
abnormal data, the scores and baselines, and recipes/anomaly.yaml from the
command line to a SavedModel and ``kerasdl predict`` (docs/anomaly.md)."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.builders import build_autoencoder
from kerasdl.data import anomalies as normal_and_abnormal
from kerasdl.data.dataset import Dataset
from kerasdl.errors import BuilderArgumentError
from kerasdl.evaluation import anomalies
from kerasdl.models import anomaly
from kerasdl.runtime import faults
from tests.conftest import ROOT, run_cli_here

RECIPE = str(ROOT / "recipes" / "anomaly.yaml")
# A thousand real garments against 300 real digits: seconds a run.
TINY = ["data.max_train_examples=1000", "data.max_test_examples=300", "training.epochs=3",
        "training.batch_size=64", "model.filters=[8, 16]", "model.code_size=16", "optimizer.learning_rate=0.003"]


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


# -- The builder and the detector ---------------------------------------------


@pytest.mark.parametrize("architecture", ["conv", "dense"])
@pytest.mark.parametrize("shape", [(28, 28, 1), (30, 30, 3), (8, 8, 1)])
def test_an_autoencoder_rebuilds_inputs_of_their_own_shape(architecture, shape):
    model = build_autoencoder(shape, architecture=architecture, filters=(4, 8), units=(16,), code_size=5)
    assert model.output_shape == (None, *shape)  # 30 does not halve twice: padded and cropped back.
    assert model.get_layer("code").units == 5
    outputs = model.predict(np.full((2, *shape), 255.0, np.float32), verbose=0)
    assert 0 <= outputs.min() and outputs.max() <= 255.0  # The data's units: a sigmoid scaled back.


def test_a_convolutional_autoencoder_of_a_table_is_refused_naming_the_argument():
    with pytest.raises(BuilderArgumentError, match="architecture: dense") as error:
        build_autoencoder((12,), architecture="conv")
    assert error.value.argument == "architecture"
    assert build_autoencoder((12,), architecture="dense", rescale=None).output_shape == (None, 12)


def test_the_detector_scores_the_mean_squared_error_and_reloads_in_safe_mode(tmp_path):
    autoencoder = build_autoencoder((8, 8, 1), filters=(4,), code_size=3)
    detector = anomaly.detector(autoencoder, 1 / 255)
    images = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 1)).astype(np.float32)
    rebuilt = autoencoder.predict(images, verbose=0)
    expected = np.mean(np.square((images - rebuilt) / 255).reshape(4, -1), axis=1)
    np.testing.assert_allclose(detector.predict(images, verbose=0), expected, rtol=1e-5)
    served = anomaly.with_verdict(detector, float(np.median(expected)))
    verdicts = served(images)
    np.testing.assert_array_equal(verdicts["anomalous"], expected > np.median(expected))
    detector.compile(optimizer="adam", loss=anomaly.MeanScore())
    detector.save(tmp_path / "detector.keras")
    reloaded = keras.saving.load_model(tmp_path / "detector.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), expected, rtol=1e-5)


def test_fitting_the_detector_lowers_the_reconstruction_error():
    keras.utils.set_random_seed(0)
    detector = anomaly.detector(build_autoencoder((8, 8, 1), filters=(8,), code_size=8), 1 / 255)
    detector.compile(optimizer=keras.optimizers.Adam(3e-3), loss=anomaly.MeanScore())
    images = np.tile(np.linspace(0, 255, 64, dtype=np.float32).reshape(1, 8, 8, 1), (256, 1, 1, 1))
    before = float(np.mean(detector.predict(images, verbose=0)))
    detector.fit(images, np.zeros(256), epochs=5, batch_size=32, verbose=0)  # The targets are not read.
    assert float(np.mean(detector.predict(images, verbose=0))) < before / 4


# -- Normal and abnormal data ------------------------------------------------


def _data(classes=3, per_class=4, shape=(2, 2, 1)):
    labels = np.repeat(np.arange(classes), per_class)
    x = np.arange(len(labels) * int(np.prod(shape)), dtype=np.float32).reshape(len(labels), *shape)
    return Dataset(x, labels, x + 0.5, labels.copy(), [f"c{index}" for index in range(classes)], "tiny")


@pytest.mark.parametrize("held_out", [1, "c1"])
def test_one_class_out_trains_without_the_class_and_marks_its_test_examples(held_out):
    data = normal_and_abnormal.one_class_out(_data(), held_out)
    assert data.class_names == ["normal", "abnormal"] and len(data.x_train) == 8
    assert not np.isin(data.x_train[:, 0, 0, 0], _data().x_train[4:8, 0, 0, 0]).any()
    np.testing.assert_array_equal(data.y_test, np.repeat([0, 1, 0], 4))
    assert set(data.y_train) == {0}


def test_another_dataset_joins_the_test_split_as_the_abnormal_inputs():
    data = normal_and_abnormal.against(_data(), _data(classes=2), max_test=5)
    assert len(data.x_train) == 12 and set(data.y_train) == {0}
    np.testing.assert_array_equal(data.y_test, [0] * 12 + [1] * 5)
    with pytest.raises(ValueError, match=r"shape \(3, 3, 1\)"):
        normal_and_abnormal.against(_data(), _data(shape=(3, 3, 1)))


# -- Scores and baselines ----------------------------------------------------


def test_ranking_threshold_and_verdicts():
    abnormal = np.array([0, 0, 0, 1, 1], bool)
    assert anomalies.ranking(abnormal, np.array([0.1, 0.2, 0.3, 0.4, 0.5])) == {"roc_auc": 1.0, "pr_auc": 1.0}
    assert anomalies.ranking(abnormal, np.array([0.5, 0.4, 0.3, 0.2, 0.1]))["roc_auc"] == 0.0
    assert anomalies.threshold(np.arange(101.0), 0.05) == pytest.approx(95.0)
    found = anomalies.at_threshold(abnormal, np.array([0.1, 0.2, 0.6, 0.4, 0.7]), 0.35)
    assert found["true_positive_rate"] == 1.0 and found["false_positive_rate"] == pytest.approx(1 / 3)
    assert found["precision"] == pytest.approx(2 / 3) and found["f1"] == pytest.approx(0.8)


def test_pca_errors_vanish_in_the_span_and_grow_outside_it():
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((2, 10))
    normal = rng.standard_normal((500, 2)) @ basis + 3.0
    outside = normal[:5] + 4.0 * np.eye(10)[:5]
    errors = anomalies.pca_errors(normal, np.concatenate([normal[:5], outside]), components=2)
    assert np.all(errors[:5] < 1e-6) and np.all(errors[5:] > 1.0)


def test_an_isolation_forest_ranks_outliers_first():
    rng = np.random.default_rng(0)
    normal = rng.standard_normal((400, 4))
    scores = anomalies.isolation_forest(normal, np.concatenate([normal[:50], normal[:50] + 8.0]), seed=0)
    assert anomalies.ranking(np.r_[np.zeros(50), np.ones(50)], scores)["roc_auc"] > 0.99


# -- From the command line ---------------------------------------------------


def test_the_anomaly_recipe_detects_digits_among_garments_and_exports_score_and_verdict(workdir):
    result = run_cli_here("run", RECIPE, "--json", *_sets(TINY), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["task"] == "anomaly"
    # Chance is 0.5; a score that ignores the input (a constant) or the reconstruction fails.
    assert summary["test"]["roc_auc"] > 0.7, summary["test"]
    assert set(summary["baselines"]) == {"pca_16", "isolation_forest"}
    own = summary["anomaly"]
    assert own["test_examples"] == {"normal": 300, "abnormal": 300}
    assert own["mean_score"]["abnormal"] > own["mean_score"]["normal"]
    decision = own["decision"]
    assert decision["validation_examples"] == 100 and decision["false_alarm_rate"] == 0.05
    run = workdir / summary["run_dir"]
    assert (run / "anomaly_scores.png").is_file() and (run / "roc_pr.png").is_file()
    export = workdir / summary["export_path"]
    assert json.loads((export / "assets.extra" / "anomaly_threshold.json").read_text()) == decision
    from kerasdl.data.images import load_fashion_mnist, load_mnist

    garment, digit = load_fashion_mnist().x_test[:1], load_mnist().x_test[:1]
    images = np.concatenate([garment, digit]).astype(np.float32)
    serve = tf.saved_model.load(str(export)).signatures["serving_default"]
    answered = serve(inputs=tf.constant(images))
    scores = answered["score"].numpy()
    np.testing.assert_array_equal(answered["anomalous"].numpy(), scores > decision["threshold"])

    np.save(workdir / "two.npy", images)
    for model in (summary["run_dir"], summary["export_path"]):
        predicted = run_cli_here("predict", model, "two.npy", "--json", cwd=workdir)
        assert predicted.returncode == 0, predicted.stderr[-2000:]
        entries = json.loads(predicted.stdout)["predictions"]
        np.testing.assert_allclose([entry["score"] for entry in entries], scores, rtol=1e-4)
        assert [entry["anomalous"] for entry in entries] == list(scores > decision["threshold"])
    evaluated = run_cli_here("evaluate", summary["export_path"], "--json", cwd=workdir)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["test"]["roc_auc"] == pytest.approx(summary["test"]["roc_auc"], abs=1e-5)
    text = run_cli_here("predict", summary["export_path"], "two.npy", cwd=workdir).stdout
    assert "two.npy[1]: anomaly score" in text and "(threshold" in text
    # TFLite keeps the threshold beside it, and is scored as the run was (AUROC).
    converted = run_cli_here("export", summary["run_dir"], "--format", "tflite", "--json", cwd=workdir)
    assert converted.returncode == 0, converted.stderr[-2000:]
    written = json.loads(converted.stdout)
    assert written["test"]["roc_auc"] == pytest.approx(summary["test"]["roc_auc"], abs=1e-3)
    lite = json.loads(run_cli_here("predict", written["output"], "two.npy", "--json", cwd=workdir).stdout)
    np.testing.assert_allclose([entry["score"] for entry in lite["predictions"]], scores, rtol=1e-3)
    assert [entry["anomalous"] for entry in lite["predictions"]] == list(scores > decision["threshold"])


def test_kill_9_in_evaluation_and_in_export_then_the_run_finishes_once(workdir):
    command = [sys.executable, "-m", "kerasdl", "run", RECIPE, "--json", "--quiet",
               *_sets(TINY + ["training.epochs=2"])]
    for point in ("evaluate", "export"):
        killed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600,
                                env={**os.environ, faults.VARIABLE: point})
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-2000:])
    (folder,) = (workdir / "runs" / "anomaly").iterdir()
    assert (folder / "anomaly_threshold.json").is_file()  # Written whole before the export began.
    assert not (workdir / "saved_models" / "anomaly").exists() or not any(
        path.name.isdigit() for path in (workdir / "saved_models" / "anomaly").iterdir())
    env = {key: value for key, value in os.environ.items() if key != faults.VARIABLE}
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["resumed_from_epoch"] == 2 and summary["export_path"] == "saved_models/anomaly/1"
    threshold = json.loads((folder / "anomaly_threshold.json").read_text())["threshold"]
    assert summary["anomaly"]["decision"]["threshold"] == threshold


@pytest.mark.parametrize("recipe, settings, message", [
    ("anomaly.yaml", ["anomaly.abnormal_dataset=null"], "anomaly: an autoencoder learns what is normal"),
    ("anomaly.yaml", ["anomaly.held_out_class=Bag"], "abnormal_dataset and held_out_class each say"),
    ("anomaly.yaml", ["anomaly.abnormal_dataset=mnsit"], "anomaly.abnormal_dataset: Unknown dataset 'mnsit' "
                                                         "(did you mean 'mnist'?)"),
    ("anomaly.yaml", ["anomaly.abnormal_dataset=image_folder"], "'image_folder' reads files or downloads"),
    ("anomaly.yaml", ["anomaly.abnormal_dataset=null", "anomaly.held_out_class=Handbag"],
     "anomaly.held_out_class: 'Handbag' is not a class of the data"),
    ("anomaly.yaml", ["anomaly.abnormal_dataset=null", "anomaly.held_out_class=10"],
     "anomaly.held_out_class: the data has classes 0 to 9"),
    ("anomaly.yaml", ["anomaly.false_alarm_rate=1"], "anomaly.false_alarm_rate"),
    ("anomaly.yaml", ["loss=mse"], "loss: an autoencoder trains on its reconstruction error"),
    ("anomaly.yaml", ["training.validation_split=0"], "training.validation_split: the threshold is chosen"),
    ("anomaly.yaml", ["model.architecture=lstm"], "model.architecture"),
    ("cnn.yaml", ["anomaly.abnormal_dataset=mnist"], "anomaly: says what an autoencoder must flag"),
])
def test_bad_anomaly_recipes_fail_cleanly_before_writing(workdir, recipe, settings, message):
    result = run_cli_here("run", str(ROOT / "recipes" / recipe), "--set", "tune=null", *_sets(settings), cwd=workdir)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not (workdir / "runs").exists() and not (workdir / "saved_models").exists()
