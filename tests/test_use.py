"""Using a trained model without code: kerasdl evaluate, predict and export
(other formats, TFLite quantization), on a small CNN trained once."""

from __future__ import annotations

import filecmp
import io
import json
import shutil

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kerasdl.cli import main
from tests.conftest import ROOT, run_cli_here

CNN = str(ROOT / "recipes" / "cnn.yaml")
SMALL = [
    "data.max_train_examples=3000", "data.max_test_examples=1000", "training.epochs=3",
    "optimizer.learning_rate.warmup_steps=20",
]


def _sets(*assignments: str) -> list[str]:
    return [part for assignment in assignments for part in ("--set", assignment)]


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory):
    """One run of the CNN recipe on 3,000 images: (folder, its summary)."""
    folder = tmp_path_factory.mktemp("use")
    summary = _json(run_cli_here("run", CNN, "--json", "--quiet", *_sets(*SMALL), cwd=folder))
    return folder, summary


@pytest.fixture
def workdir_with_model(trained_cnn, tmp_path):
    """A copy of the trained run and export, so a test may add versions."""
    folder, summary = trained_cnn
    for name in ("runs", "saved_models"):
        shutil.copytree(folder / name, tmp_path / name)
    return tmp_path, summary


def test_evaluate_reproduces_the_runs_test_accuracy(workdir_with_model):
    folder, summary = workdir_with_model
    for model in ("saved_models/cnn", summary["run_dir"]):
        result = _json(run_cli_here("evaluate", model, "--json", cwd=folder))
        assert result["test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"], abs=1e-6)
        assert result["test_examples"] == 1000
        written = folder / result["output"]
        assert json.loads((written / "metrics.json").read_text())["test"] == result["test"]
        matrix = np.array(result["confusion_matrix"])
        assert matrix.sum() == 1000 and np.trace(matrix) / 1000 == pytest.approx(result["test"]["accuracy"])
        with Image.open(written / "confusion_matrix.png") as image:
            assert image.size[0] > 300
        # The run's calibration, from the same test probabilities.
        assert result["expected_calibration_error"] == pytest.approx(
            summary["classifier"]["expected_calibration_error"], abs=1e-6)
        assert (written / "calibration.png").is_file() and not (written / "roc_pr.png").exists()  # Ten classes.


def test_evaluate_attack_reports_robust_beside_clean_accuracy(workdir_with_model):
    folder, summary = workdir_with_model
    result = _json(run_cli_here("evaluate", "saved_models/cnn", "--attack", "pgd", "--epsilon", "0.1", "--steps",
                                "5", "--set", "data.max_test_examples=300", "--json", cwd=folder))
    attack = result["attack"]
    assert attack["method"] == "pgd" and attack["steps"] == 5 and attack["step_size"] == pytest.approx(0.05)
    assert result["test"]["accuracy"] > 0.6
    assert attack["test"]["accuracy"] < result["test"]["accuracy"] - 0.3  # The attack works on the export too.
    assert attack["accuracy_lost"] == pytest.approx(result["test"]["accuracy"] - attack["test"]["accuracy"])
    written = folder / result["output"]
    assert json.loads((written / "metrics.json").read_text())["attack"] == attack
    with Image.open(written / "attacked_examples.png") as image:
        assert image.size[0] > 600


def test_predict_names_the_class_of_a_test_image_png(workdir_with_model):
    from kerasdl.data.images import load_fashion_mnist

    folder, _ = workdir_with_model
    data = load_fashion_mnist()
    images = data.x_test[:20]
    np.save(folder / "batch.npy", images)
    batch = _json(run_cli_here("predict", "saved_models/cnn", "batch.npy", "--json", "--top", "1", cwd=folder))
    best = [entry["top"][0]["index"] for entry in batch["predictions"]]
    right = [index for index in range(20) if best[index] == data.y_test[index]]
    assert len(right) >= 12  # The model is right on most of them (about 80% on the test split).
    paths = []
    for index in right[:3]:
        Image.fromarray(images[index, :, :, 0]).save(folder / f"test{index}.png")
        paths.append(f"test{index}.png")
    result = run_cli_here("predict", "saved_models/cnn", *paths, cwd=folder)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line, index in zip(lines, right[:3]):
        assert line.startswith(f"test{index}.png: {data.class_names[data.y_test[index]]} ")
        assert line.count("%") == 3  # The top three with probabilities.


def test_explain_writes_an_overlay_per_image_and_checks_the_maps(workdir_with_model):
    from kerasdl.data.images import load_fashion_mnist

    folder, summary = workdir_with_model
    images = load_fashion_mnist().x_test[:2]
    for index in range(2):
        Image.fromarray(images[index, :, :, 0]).save(folder / f"test{index}.png")
    result = _json(run_cli_here("explain", "saved_models/cnn", "test0.png", "test1.png", "--test", "60", "--json",
                                cwd=folder))
    written = folder / result["output"]
    assert result["layer"] == "block3_act1"
    predicted = _json(run_cli_here("predict", "saved_models/cnn", "test0.png", "test1.png", "--top", "1", "--json",
                                   cwd=folder))
    for entry, answer in zip(result["explanations"], predicted["predictions"]):
        # The class explained is the one predict gives, with its probability.
        assert (entry["class"], entry["index"]) == (answer["top"][0]["class"], answer["top"][0]["index"])
        assert entry["probability"] == pytest.approx(answer["top"][0]["probability"], abs=1e-4)
        with Image.open(written / entry["png"]) as image:
            assert image.size[0] > 200
    assert [entry["png"] for entry in result["explanations"]] == ["test0_gradcam.png", "test1_gradcam.png"]
    checks = result["checks"]
    assert checks["masking"]["images"] == 60 and checks["randomized_weights"]["images"] == 60
    assert (written / "grad_cam.png").is_file()
    assert json.loads((written / "explanations.json").read_text()) == result
    # --class explains another class than the predicted one.
    other = _json(run_cli_here("explain", "saved_models/cnn", "test0.png", "--class", "Bag", "--method", "hirescam",
                               "--json", cwd=folder))
    assert other["explanations"][0]["class"] == "Bag" and other["explanations"][0]["predicted"] != "Bag"
    assert other["method"] == "hirescam"


def test_a_run_shows_grad_cam_of_test_images_in_tensorboard(trained_cnn):
    from tests.conftest import tensorboard_summaries

    folder, summary = trained_cnn
    run = folder / summary["run_dir"]
    with Image.open(run / "grad_cam.png") as image:
        assert image.size[0] > 600
    plugin, [(_, png)] = tensorboard_summaries(run / "logs" / "evaluation")["test/grad_cam"]
    decoded = [np.asarray(Image.open(io.BytesIO(picture))) for picture in (png, (run / "grad_cam.png").read_bytes())]
    assert plugin == "images" and np.array_equal(*decoded)


def test_predict_resizes_an_rgb_image_to_the_models_input(workdir_with_model):
    """A 56x56 RGB PNG, two flat halves: the model must see 28x28 grey
    pixels, each half its colour's luma (ITU-R 601, as training's
    decoding), computed here without TensorFlow."""
    folder, _ = workdir_with_model
    left, right = (200, 100, 50), (10, 250, 30)
    image = np.zeros((56, 56, 3), np.uint8)
    image[:, :28], image[:, 28:] = left, right
    Image.fromarray(image).save(folder / "big.png")
    result = _json(run_cli_here("predict", "saved_models/cnn", "big.png", "--top", "10", "--json", cwd=folder))
    answered = {choice["index"]: choice["probability"] for choice in result["predictions"][0]["top"]}
    luma = [round(0.299 * red + 0.587 * green + 0.114 * blue) for red, green, blue in (left, right)]
    expected = np.zeros((1, 28, 28, 1), np.float32)
    expected[:, :, :14], expected[:, :, 14:] = luma
    model = keras.saving.load_model(folder / "saved_models" / "cnn" / "1" / "assets.extra" / "model.keras")
    probabilities = model.predict(expected, verbose=0)[0]
    assert [answered[index] for index in range(10)] == pytest.approx(probabilities.tolist(), abs=2e-3)
    red_only = np.zeros_like(expected)
    red_only[:, :, :14], red_only[:, :, 14:] = left[0], right[0]  # What reading one channel would have given.
    assert np.abs(model.predict(red_only, verbose=0)[0] - probabilities).max() > 2e-2


def test_export_tflite_int8_is_a_quarter_of_the_float_size_and_scores_alike(workdir_with_model):
    folder, summary = workdir_with_model
    result = _json(run_cli_here("export", "saved_models/cnn", "--format", "tflite", "--quantize", "int8", "--json",
                                cwd=folder))
    assert result["output"] == "saved_models/cnn-tflite-int8/1"
    assert (folder / result["output"] / "model.tflite").is_file()
    assert result["size_ratio_to_float_tflite"] <= 0.3
    assert result["bytes"] < 0.25 * result["float_savedmodel_bytes"]
    assert result["float_test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"], abs=1e-6)
    assert abs(result["test"]["accuracy"] - result["float_test"]["accuracy"]) <= 0.02
    # The TFLite model is a MODEL for evaluate and predict too.
    evaluated = _json(run_cli_here("evaluate", "saved_models/cnn-tflite-int8", "--json", cwd=folder))
    assert evaluated["format"] == "tflite"
    assert evaluated["test"]["accuracy"] == pytest.approx(result["test"]["accuracy"], abs=1e-6)
    # It has no gradients to attack with.
    refused = run_cli_here("evaluate", "saved_models/cnn-tflite-int8", "--attack", "fgsm", cwd=folder)
    assert refused.returncode == 2 and "--attack needs the model's gradients" in refused.stderr
    refused = run_cli_here("explain", "saved_models/cnn-tflite-int8", "x.png", cwd=folder)
    assert refused.returncode == 2 and "Grad-CAM needs the model's gradients" in refused.stderr


@pytest.mark.parametrize("options, file", [
    (["--format", "keras"], "model.keras"),
    pytest.param(["--format", "savedmodel"], "saved_model.pb", marks=pytest.mark.slow),
    (["--format", "tflite", "--quantize", "dynamic"], "model.tflite"),
    pytest.param(["--format", "tflite", "--quantize", "float16"], "model.tflite", marks=pytest.mark.slow),
])
def test_export_formats_score_as_the_float_model(options, file, workdir_with_model):
    folder, summary = workdir_with_model
    result = _json(run_cli_here("export", summary["run_dir"], *options, "--json", cwd=folder))
    assert (folder / result["output"] / file).is_file()
    assert (folder / result["output"] / "assets.extra" / "class_names.txt").is_file()
    if "tflite" in options:  # Quantized: close to the float model, not equal.
        assert abs(result["test"]["accuracy"] - summary["test"]["accuracy"]) <= 0.01
    else:  # The same model in another file: the run's score, reproduced.
        assert result["test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"], abs=1e-6)
    if "tflite" not in options:  # The run's model.keras, copied as it is.
        keras_file = folder / result["output"] / ("model.keras" if "keras" in options else "assets.extra/model.keras")
        assert filecmp.cmp(keras_file, folder / summary["run_dir"] / "model.keras", shallow=False)


def test_the_export_carries_the_runs_keras_file(trained_cnn):
    folder, summary = trained_cnn
    assert filecmp.cmp(folder / summary["export_path"] / "assets.extra" / "model.keras",
                       folder / summary["run_dir"] / "model.keras", shallow=False)


BAD = [
    (["evaluate", "nowhere"], "nowhere: no such file or folder"),
    (["evaluate", "runs"], "runs: holds no model kerasdl knows"),
    (["evaluate", "batch.txt"], "is not a model file kerasdl reads"),
    (["evaluate", "saved_models/cnn", "mnist"], "was trained on the classes"),
    (["predict", "saved_models/cnn", "batch.txt"], "unknown input type"),
    (["predict", "saved_models/cnn", "absent.png"], "absent.png: no such file"),
    (["predict", "saved_models/cnn", "wrong.npy"], "holds an array of shape (3, 5)"),
    (["predict", "saved_models/cnn", "batch.txt.png"], "cannot be read as an image"),
    (["export", "saved_models/cnn", "--format", "keras", "--quantize", "int8"], "quantization is for --format tflite"),
    (["evaluate", "saved_models/cnn", "--attack", "fgsm", "--epsilon", "0"], "--epsilon"),
    (["evaluate", "saved_models/cnn", "--attack", "fgsm", "--epsilon", "0.1", "mnist"], "was trained on the classes"),
    (["evaluate", "saved_models/cnn", "--attack", "fgsm", "--steps", "5"], "--steps counts PGD's steps"),
    (["evaluate", "saved_models/cnn", "--epsilon", "0.05"], "--epsilon sizes an attack"),
    (["explain", "saved_models/cnn"], "Give images to explain, or --test N"),
    (["explain", "saved_models/cnn", "absent.png"], "absent.png: no such file"),
    (["explain", "saved_models/cnn", "batch.txt.png"], "cannot be read as an image"),
    (["explain", "saved_models/cnn", "--test", "5", "--class", "Bags"], "--class Bags: saved_models/cnn"),
    (["explain", "saved_models/cnn", "--test", "5", "--layer", "block9"], "has no layer 'block9'"),
    (["explain", "saved_models/cnn", "--test", "5", "--data", "mnist"], "was trained on the classes"),
]


@pytest.mark.parametrize("arguments, message", BAD, ids=[message for _, message in BAD])
def test_bad_input_exits_2_with_one_message_and_writes_nothing(arguments, message, workdir_with_model, monkeypatch):
    folder, _ = workdir_with_model
    monkeypatch.chdir(folder)
    (folder / "batch.txt").write_text("not a model\n")
    (folder / "batch.txt.png").write_text("not an image\n")
    np.save(folder / "wrong.npy", np.zeros((3, 5)))
    before = sorted(path for path in folder.rglob("*"))
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert sorted(path for path in folder.rglob("*")) == before


def test_an_unfinished_run_is_not_a_model(workdir_with_model):
    folder, summary = workdir_with_model
    run = folder / summary["run_dir"]
    (run / "model.keras").unlink()
    result = CliRunner().invoke(main, ["predict", str(run), "x.png"])
    assert result.exit_code == 2 and "an unfinished run: it has no model yet" in result.output


def test_tflite_of_a_text_model_is_refused_and_writes_nothing(tmp_path, monkeypatch):
    summary = _json(run_cli_here(
        "run", str(ROOT / "recipes" / "lstm.yaml"), "--json", "--quiet",
        *_sets("data.max_train_examples=400", "data.max_test_examples=100", "training.epochs=1",
               "pretrain.enabled=false", "training.baselines=false"),
        cwd=tmp_path,
    ))
    before = sorted(tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)  # In this process from here: no TensorFlow start-up per command.
    for options, message in (
        ([], "--format tflite: TFLite conversion is not supported by this model's operations"),
        (["--quantize", "int8"], "int8 quantization calibrates on numeric inputs"),
    ):
        result = CliRunner().invoke(main, ["export", summary["export_path"], "--format", "tflite", *options])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
        assert sorted(tmp_path.rglob("*")) == before
    # The text model still answers strings.
    result = CliRunner().invoke(main, ["predict", summary["export_path"], "what a lovely day", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(answer["predictions"][0]["top"]) == 3
