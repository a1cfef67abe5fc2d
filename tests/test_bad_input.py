"""The audit's inputs (issue 33), each one message naming the file and the
key or line, exit code 2, no traceback, and nothing written."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from conftest import ROOT, run_cli_here

DENSE = str(ROOT / "recipes" / "dense.yaml")
FIXTURES = ROOT / "tests" / "fixtures" / "main-31405d4"
EXPORT = FIXTURES / "cnn_export" / "1"


def files(folder) -> set:
    return {path.relative_to(folder) for path in folder.rglob("*")}


def refused(workdir, *args, says: str) -> str:
    """Runs the command; asserts exit 2, one ``Error:`` line containing
    ``says``, no traceback, and no file added to ``workdir``."""
    before = files(workdir)
    result = run_cli_here(*args, cwd=workdir)
    assert result.returncode == 2, (args, result.stdout[-1000:], result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert files(workdir) == before, files(workdir) - before
    return errors[0]


RECIPES = {
    "900 nested brackets": ("a: " + "[" * 900 + "]" * 900 + "\n",
        "line 1, column 23: mappings and lists nest more than 20"),
    "a 5000-digit integer": ("training: {epochs: " + "9" * 5000 + "}\n", "an integer of 5,000 digits"),
    "a '?' mapping key": ("? [a, b]\n: 1\n", "line 1, column 3: a key is a name, not a list or a mapping"),
    "a huge file": ("# " + "x" * 1_000_001 + "\n", "characters; a recipe has at most 1,000,000"),
}


@pytest.mark.parametrize("case", sorted(RECIPES))
def test_a_recipe_that_breaks_the_yaml_reader(workdir, case):
    text, says = RECIPES[case]
    (workdir / "bad.yaml").write_text(text)
    message = refused(workdir, "run", "bad.yaml", "--dry-run", says=says)
    assert message.startswith("Error: bad.yaml: ")


@pytest.mark.parametrize("setting, says", [
    ("training.seed=4294967296", "--set training.seed is out of range: expected a value in [0, 4294967295]"),
    ("data.max_test_examples=10000000000000000", "--set data.max_test_examples is out of range"),
    ("model.units=[100000000000000000000]", "--set model.units[0] is out of range: integers in a recipe fit in 64 "
                                            "bits"),
    ("model.units=[10000000000]", "model: the model has 7,950,000,000,010 parameters"),
    (f"training.runs_dir={'r' * 300}", "training.runs_dir: is a name of 300 bytes"),
])
def test_a_size_or_count_out_of_bounds(workdir, setting, says):
    message = refused(workdir, "run", DENSE, "--dry-run", "--set", setting, "--set", "data.max_train_examples=200",
                      says=says)
    assert f"{DENSE}: " in message


def test_an_encoding_python_does_not_know(workdir):
    (workdir / "t.csv").write_text("t,y\nhello,a\nbye,b\n")
    refused(workdir, "run", str(ROOT / "recipes" / "lstm.yaml"), "--dry-run", "--set",
            "data={dataset: text_csv, path: t.csv, text_column: t, label_column: y, encoding: klingon}",
            says="data.encoding: 'klingon' is not a text encoding Python knows")


def test_a_csv_field_beyond_the_readers_limit(workdir):
    (workdir / "huge.csv").write_text('t,y\n"' + "x" * (17 * 2**20) + '",a\n')
    refused(workdir, "run", str(ROOT / "recipes" / "lstm.yaml"), "--dry-run", "--set",
            "data={dataset: text_csv, path: huge.csv, text_column: t, label_column: y}",
            says="huge.csv: Python's CSV reader cannot read it (field larger than field limit")


def test_an_npz_of_single_numbers(workdir):
    np.savez(workdir / "zero.npz", x_train=np.array(1.0), y_train=np.array(2))
    refused(workdir, "run", DENSE, "--dry-run", "--set", "data={dataset: npz, path: zero.npz}",
            says="zero.npz: array 'x_train' is a single number (0-d)")


@pytest.fixture
def batches(workdir):
    np.savez(workdir / "archive.npz", a=np.zeros((1, 28, 28, 1)))
    os.rename(workdir / "archive.npz", workdir / "renamed.npy")
    np.save(workdir / "strings.npy", np.array([["a"] * 28] * 28))
    np.save(workdir / "empty.npy", np.zeros((0, 28, 28, 1), np.float32))
    shutil.copytree(EXPORT, workdir / "short")
    names = (workdir / "short" / "assets.extra" / "class_names.txt").read_text().splitlines()
    (workdir / "short" / "assets.extra" / "class_names.txt").write_text("\n".join(names[:3]) + "\n")
    return workdir


@pytest.mark.parametrize("model, given, says", [
    (str(EXPORT), "renamed.npy", "renamed.npy: is an .npz archive, not one .npy array"),
    (str(EXPORT), "strings.npy", "strings.npy: holds <U1 values; the model takes numbers"),
    (str(EXPORT), "empty.npy", "empty.npy: holds no examples (shape (0, 28, 28, 1))"),
    ("short", str(FIXTURES / "inputs.npy"), "short: its class_names.txt names 3 classes, but the model answers "
                                            "with 10"),
    (str(FIXTURES / "gan.keras"), str(FIXTURES / "inputs.npy"), "gan.keras: is a GAN without one input tensor"),
])
def test_predict_on_inputs_it_cannot_use(batches, model, given, says):
    refused(batches, "predict", model, given, says=says)


def test_runs_list_marks_torn_and_foreign_files_and_goes_on(workdir):
    for name in ("foreign", "row", "torn", "fine"):
        folder = workdir / "runs" / name / "20260101-000000"
        folder.mkdir(parents=True)
        (folder / "recipe.yaml").write_text(f"name: {name}\n")
    (workdir / "runs" / "foreign" / "20260101-000000" / "metrics.json").write_text('{"test": [1]}')
    (workdir / "runs" / "row" / "20260101-000000" / "history.csv").write_text("epoch,loss\n0,abc\n1,0.5\n")
    (workdir / "runs" / "torn" / "20260101-000000" / "history.csv").write_text("epoch,loss\n0,0.6\n1,0.5\n2,0.")
    (workdir / "runs" / "fine" / "20260101-000000" / "metrics.json").write_text('{"test": {"accuracy": 0.9}}')
    result = run_cli_here("runs", "list", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["foreign"]["status"] == "unreadable"
    assert "metrics.json: has a 'test' of type list" in rows["foreign"]["problem"]
    assert rows["row"]["status"] == "unreadable"
    assert "history.csv: line 2 is not a row of numbers" in rows["row"]["problem"]
    assert rows["torn"]["status"] == "unfinished" and rows["torn"]["epochs"] == 2  # The torn row is left out.
    assert rows["fine"]["status"] == "finished" and rows["fine"]["test"] == {"accuracy": 0.9}
    table = run_cli_here("runs", "list", cwd=workdir)
    assert table.returncode == 0 and "Unreadable: " in table.stdout and "Traceback" not in table.stderr


def test_runs_diff_of_long_names_writes_a_plot_of_a_short_name(workdir):
    folders = []
    for letter in "ab":
        folder = workdir / "runs" / (letter * 200) / "20260101-000000"
        folder.mkdir(parents=True)
        (folder / "recipe.yaml").write_text("name: x\n")
        (folder / "history.csv").write_text("epoch,loss\n0,0.5\n1,0.4\n")
        folders.append(str(folder))
    result = run_cli_here("runs", "diff", *folders, cwd=workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    (plot,) = (workdir / "runs" / "diffs").iterdir()
    assert len(plot.name) <= 200 and plot.name.startswith("a" * 60 + "_vs_" + "b" * 60 + "-")
