"""The command line, end to end, as a user runs it."""

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl.builders import build_cnn
from kerasdl.cli import main
from kerasdl.tasks.loop import METRICS_KEYS
from tests.conftest import RECIPES, ROOT, TINY, run_cli, tensorboard_summaries

CNN = str(ROOT / "recipes" / "cnn.yaml")


def _sets(*assignments):
    return [item for assignment in assignments for item in ("--set", assignment)]


def test_help_does_not_import_tensorflow():
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from kerasdl.cli import main
        result = CliRunner().invoke(main, ["--help"])
        assert result.exit_code == 0, result.output
        print("tensorflow" in sys.modules, "keras" in sys.modules)
    """)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["False", "False"]


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    for name, command in main.commands.items():
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output, f"`kerasdl {name} --help` shows no example"


def test_python_dash_m_and_version():
    result = run_cli("--version")
    assert result.returncode == 0 and "kerasdl" in result.stdout


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.name)
def test_every_recipe_dry_runs_without_writing(path, workdir, tmp_path_factory):
    options = []
    if "builder: transfer" in path.read_text():
        # Its backbone is what another recipe trains: a small stand-in.
        backbone = tmp_path_factory.mktemp("backbone") / "cnn.keras"
        build_cnn((28, 28, 1), 5, filters=[4, 8], convs_per_block=1, dense_units=[16], head="flatten").save(backbone)
        options = ["--set", f"model.backbone={backbone}"]
    if "distillation:" in path.read_text() and "teacher:" in path.read_text():
        # Its teacher too: an untrained stand-in of the same inputs and classes.
        teacher = tmp_path_factory.mktemp("teacher") / "teacher.keras"
        build_cnn((28, 28, 1), 10, filters=[4], convs_per_block=1, dense_units=[8], head="flatten").save(teacher)
        options = ["--set", f"training.distillation.teacher={teacher}"]
    result = CliRunner().invoke(main, ["run", str(path), "--dry-run", *options])
    assert result.exit_code == 0, result.output
    assert "Total params" in result.output and "builder:" in result.output
    assert list(workdir.iterdir()) == []


BAD_RUNS = [
    (["--set", "model.filtrs=[8]"], "model.filtrs is not an argument of builder 'cnn' (did you mean 'filters'?)"),
    (["--set", "training.epochs=zero"], "training.epochs must be an integer"),
    (["--set", "model.dropout_rate=1.5"], "model.dropout_rate"),  # Caught by the builder.
    (["--set", "data.dataset=cifar"], "data.dataset is invalid: Unknown dataset 'cifar'"),
    (["--set", "oops"], "--set expects KEY=VALUE"),
]


@pytest.mark.parametrize("options, message", BAD_RUNS, ids=[m for _, m in BAD_RUNS])
def test_bad_input_exits_2_with_one_message_and_writes_nothing(options, message, workdir):
    result = CliRunner().invoke(main, ["run", CNN, *options])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(workdir.iterdir()) == []  # No run folder, no SavedModel.


def test_missing_recipe_file(workdir):
    result = CliRunner().invoke(main, ["run", "nope.yaml"])
    assert result.exit_code == 2 and "nope.yaml: no such recipe file" in result.output


def test_missing_data_file_is_a_clean_error(workdir):
    result = CliRunner().invoke(main, ["run", CNN, *_sets("data.dataset=csv", "data.path=absent.csv")])
    assert result.exit_code == 2
    assert "CSV file not found: absent.csv" in result.output and "Traceback" not in result.output
    assert list(workdir.iterdir()) == []


def test_run_end_to_end_exports_a_servable_savedmodel(workdir):
    result = run_cli("run", CNN, "--json", "--quiet", *_sets(*TINY), cwd=workdir)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {*METRICS_KEYS, "classifier"} and summary["task"] == "classifier"
    assert summary["epochs"] == 2
    # Learned (chance is 0.1), and the accuracy is the confusion matrix's diagonal share of the 200 test images.
    matrix = np.array(summary["classifier"]["confusion_matrix"])
    assert summary["test"]["accuracy"] > 0.3 and summary["test"]["accuracy"] == pytest.approx(np.trace(matrix) / 200)
    assert summary["export_max_difference"] <= 1e-4

    run_dir = workdir / summary["run_dir"]
    for name in ("recipe.yaml", "history.csv", "metrics.json", "learning_curve.png", "calibration.png"):
        assert (run_dir / name).is_file(), name
    # Ten classes: calibrated or not, but no two-class ranking.
    assert 0 <= summary["classifier"]["expected_calibration_error"] <= 1 and "roc_auc" not in summary["classifier"]
    assert not (run_dir / "roc_pr.png").exists()
    assert json.loads((run_dir / "metrics.json").read_text()) == summary
    assert not (run_dir / "backup").exists()  # Removed once training finished.
    export = workdir / summary["export_path"]
    assert export == workdir / "saved_models" / "cnn" / "1"
    assert (export / "assets.extra" / "class_names.txt").read_text().splitlines()[0] == "T-shirt/top"
    assert [p.name for p in export.parent.iterdir()] == ["1"]  # No temporary left.
    # What produced it, in the run folder and beside the export.
    environment = json.loads((run_dir / "environment.json").read_text())
    assert json.loads((export / "assets.extra" / "environment.json").read_text()) == environment
    import keras
    import tensorflow as tf

    assert environment["versions"]["tensorflow"] == tf.__version__
    assert environment["versions"]["keras"] == keras.__version__
    assert environment["strategy"] == "default" and environment["precision"] == "float32"
    assert environment["command"][:2] == ["kerasdl", "run"]
    shipped = environment["data"]["directory"]["files"]
    assert shipped["t10k-labels-idx1-ubyte.gz"]["sha256"] == hashlib.sha256(
        Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read_bytes()).hexdigest()

    # Served in another process, on raw pixels, through the documented signature.
    serve = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        from kerasdl.data.images import load_fashion_mnist
        data = load_fashion_mnist()
        model = tf.saved_model.load({str(export)!r})
        out = model.signatures["serving_default"](inputs=tf.constant(data.x_test[:8], tf.float32))
        print(out["probabilities"].shape, float(tf.reduce_sum(out["probabilities"][0])))
    """)
    served = subprocess.run([sys.executable, "-c", serve], capture_output=True, text=True)
    assert served.returncode == 0, served.stderr
    shape, total = served.stdout.strip().rsplit(" ", 1)
    assert shape == "(8, 10)" and abs(float(total) - 1.0) < 1e-4

    # The saved recipe reruns as it is, and a second export is version 2.
    again = run_cli("run", str(run_dir / "recipe.yaml"), "--json", "--quiet", cwd=workdir)
    assert again.returncode == 0, again.stderr
    rerun = json.loads(again.stdout)
    assert rerun["export_path"] == str(Path("saved_models") / "cnn" / "2")
    # It reproduces the run: the same seed, data and versions (environment.json).
    assert rerun["test"] == pytest.approx(summary["test"], abs=1e-6)


def test_tensorboard_logs_load_with_tensorboards_reader(workdir):
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = CliRunner().invoke(
        main, ["run", CNN, "--quiet", *_sets(*TINY, "export.enabled=false")]
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (workdir / "runs" / "cnn").iterdir()
    for split, tag in (("train", "epoch_loss"), ("validation", "epoch_accuracy")):
        events = EventAccumulator(str(run_dir / "logs" / split))
        events.Reload()
        assert tag in events.Tags()["tensors"], events.Tags()
        values = [np.asarray(event.tensor_proto.float_val) for event in events.Tensors(tag)]
        assert len(values) == 2  # One scalar per epoch.
    assert not (workdir / "saved_models").exists()
    # The test split beside the curves (step 2: after the second epoch): the
    # scores, the confusion matrix as an image, each class's accuracy.
    metrics = json.loads((run_dir / "metrics.json").read_text())
    logged = tensorboard_summaries(run_dir / "logs" / "evaluation")
    assert logged["test/accuracy"] == ("scalars", [(2, pytest.approx(metrics["test"]["accuracy"]))])
    plugin, [(step, png)] = logged["test/confusion_matrix"]
    assert plugin == "images" and step == 2
    picture = tf.io.decode_png((run_dir / "confusion_matrix.png").read_bytes()).numpy()
    assert np.array_equal(tf.io.decode_png(png).numpy(), picture) and picture.shape[0] > 300
    per_class = metrics["classifier"]["per_class_accuracy"]
    assert logged["test/per_class_accuracy/T-shirt-top"][1] == [(2, pytest.approx(per_class["T-shirt/top"]))]
    plugin, [(_, table)] = logged["test/per_class_accuracy"]
    assert plugin == "text" and "| Ankle boot | " in table
