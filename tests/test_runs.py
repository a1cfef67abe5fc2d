"""`kerasdl runs list | show | diff` (issue 22): real run folders of the
shipped cnn and cnn_bn recipes at a tiny size, and an unfinished and a
running one."""

import json
import shutil

import pytest
from click.testing import CliRunner

from kerasdl.cli import main
from kerasdl.commands import runs as run_folders
from kerasdl.recipe.resolve import load_recipe
from kerasdl.runtime import atomic, runs
from kerasdl.tasks import loop
from tests.conftest import ROOT, TINY

SMALL = [*TINY, "export.enabled=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished run of cnn.yaml and one of cnn_bn.yaml, same tiny
    settings, in a folder the module's tests share (trained once)."""
    folder = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        done = [loop.run(load_recipe(ROOT / "recipes" / f"{name}.yaml", SMALL), verbose=0, log=lambda line: None)
                for name in ("cnn", "cnn_bn")]
    return folder, done


@pytest.fixture
def two_runs(trained, monkeypatch):
    """``trained``'s run folders (relative to the working folder, made its
    own) and summaries."""
    folder, done = trained
    monkeypatch.chdir(folder)
    return [folder / summary["run_dir"] for summary in done], done


def test_list_shows_every_run_newest_first_with_its_status(two_runs):
    (cnn, cnn_bn), summaries = two_runs
    # An unfinished run (killed: no metrics.json), and one a process holds.
    killed = cnn.parent / "20000101-000000"
    shutil.copytree(cnn, killed)
    (killed / runs.METRICS).unlink()
    busy = cnn.parent / "20000101-000001"
    shutil.copytree(killed, busy)
    lock = runs.Lock(busy)
    try:
        listed = CliRunner().invoke(main, ["runs", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.output)
        assert [(row["name"], row["status"]) for row in rows] == [
            ("cnn_bn", "finished"), ("cnn", "finished"), ("cnn", "running"), ("cnn", "unfinished"),
        ]
        finished = {row["name"]: row for row in rows if row["status"] == "finished"}
        assert finished["cnn"]["test"] == summaries[0]["test"] and finished["cnn"]["epochs"] == 2
        assert finished["cnn_bn"]["scores"] == {key: value for key,
                                                value in summaries[1]["test"].items() if key != "loss"}
        table = CliRunner().invoke(main, ["runs", "list", "--name", "cnn"]).output.splitlines()
        assert table[0].split() == ["name", "started", "status", "epochs", "test", "export", "train", "time"]
        assert [line.split()[3] for line in table[1:]] == ["finished", "running", "unfinished"]
        assert "accuracy 0." in table[1] and "macro_f1 0." in table[1]
    finally:
        lock.release()
    assert run_folders.read_run(busy).status == "unfinished"  # The lock is free: the same command resumes it.


def test_diff_of_cnn_and_cnn_bn_shows_only_the_keys_that_differ(two_runs):
    (cnn, cnn_bn), summaries = two_runs
    result = CliRunner().invoke(main, ["runs", "diff", "cnn", "cnn_bn", "--json"])
    assert result.exit_code == 0, result.output
    compared = json.loads(result.output)
    keys = [row["key"] for row in compared["recipe"]]
    assert {"name", "model.dropout_rate", "model.test_time_flip"} <= set(keys)
    # The same data and training; cnn.yaml's AdamW against the base's Adam (the
    # small settings fix the rate); their search spaces differ (an entry is one value).
    others = [key for key in keys if not key.startswith(("model.", "tune.space.")) and key != "name"]
    assert others == ["optimizer.name", "optimizer.weight_decay"]
    assert "tune.space.model.residual" in keys and "tune.space.model.residual.type" not in keys
    assert all(row["first"] != row["second"] for row in compared["recipe"])
    assert compared["test"]["accuracy"] == [summaries[0]["test"]["accuracy"], summaries[1]["test"]["accuracy"]]
    plot = cnn.parent.parent.parent / compared["plot"]
    assert plot.is_file() and plot.parent == cnn.parent.parent / "diffs"
    text = CliRunner().invoke(main, ["runs", "diff", str(cnn), str(cnn_bn), "--output", "curves.png"]).output
    assert "model.test_time_flip" in text and "training.epochs" not in text
    assert (plot.parent.parent.parent / "curves.png").is_file()
    assert text.splitlines()[:2] == [f"A: {cnn}", f"B: {cnn_bn}"]
    same = CliRunner().invoke(main, ["runs", "diff", str(cnn), str(cnn)]).output
    assert "(the resolved recipes are the same)" in same


def test_show_and_bad_references(two_runs):
    (cnn, _), summaries = two_runs
    shown = CliRunner().invoke(main, ["runs", "show", "cnn"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"Run: {summaries[0]['run_dir']} (finished, started ")
    assert "  model:\n    builder: cnn\n" in shown.output and "Epochs: 2" in shown.output
    for arguments, message in [
        (["runs", "show", "nothing"], "nothing: not a run folder, nor a recipe name with a finished run under runs/. "
                                      "Give a run folder (runs/NAME/TIMESTAMP) or a name: cnn, cnn_bn."),
        (["runs", "list", "--runs-dir", "elsewhere"], "elsewhere: no such folder of runs."),
        (["runs", "diff", "cnn", "cnn_bm"], "cnn_bm: not a run folder"),
    ]:
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_results_of_one_second_get_folders_of_their_own(tmp_path, monkeypatch):
    """`kerasdl evaluate` and `compare` name their folders by the second: a
    second result in that second gets `-1` (evaluate used to refuse it)."""
    import datetime

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 11, 26, 18, 4, 41)

    monkeypatch.setattr(runs.datetime, "datetime", Frozen)
    names = []
    for _ in range(3):
        folder = atomic.unused_stamp(tmp_path)
        folder.mkdir()
        names.append(folder.name)
    assert names == ["20261126-180441", "20261126-180441-1", "20261126-180441-2"]
