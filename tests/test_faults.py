"""Fault injection: a run killed at any stage loses nothing, a live run has
one owner, bad input gets one message and writes nothing, and files from
elsewhere stay untrusted (issue 20; docs/runs.md#exit-codes, docs/using.md
"Loading models you did not train")."""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from kerasdl.cli import BAD_INPUT, BUSY, FAILED, main
from kerasdl.errors import DataError, RecipeError, RunBusy, TrainingError
from kerasdl.recipe.resolve import load_recipe
from kerasdl.recipe.yaml_text import MAX_VALUES, dump_yaml
from kerasdl.runtime import atomic, faults, progress, runs
from kerasdl.runtime.checkpoint import Checkpoint
from tests.conftest import ROOT, TINY, run_cli

CNN = str(ROOT / "recipes" / "cnn.yaml")
DENSE = str(ROOT / "recipes" / "dense.yaml")
EPOCHS = 3


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


def _command(*settings):
    """``kerasdl run`` of a tiny CNN (its arguments from index 3)."""
    return [sys.executable, "-m", "kerasdl", "run", CNN, "--json", "--quiet",
            *_sets(TINY + [f"training.epochs={EPOCHS}", *settings])]


def _run(command, workdir, fault=None):
    env = {**os.environ, faults.VARIABLE: fault} if fault else {
        key: value for key, value in os.environ.items() if key != faults.VARIABLE}
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, env=env)


def _hidden(folder):
    return [path.name for path in folder.rglob(".tmp*")]


# -- Resume from any stage ----------------------------------------------------


def test_a_row_torn_in_its_epoch_number_is_trimmed_not_joined(tmp_path):
    """Killed writing epoch 12's row after its first character, checkpoint at
    epoch 12: "1" would read as epoch 1 and the next row would join it."""
    (tmp_path / runs.HISTORY).write_text("epoch,loss\n" + "".join(f"{epoch},0.5\n" for epoch in range(12)) + "1")
    runs.trim_history(tmp_path, 12)
    assert (tmp_path / runs.HISTORY).read_text() == "epoch,loss\n" + "".join(f"{epoch},0.5\n" for epoch in range(12))


def test_a_history_row_torn_by_the_kill_is_dropped_on_resume(workdir):
    """What a kill -9 as the first epoch ends leaves, in CSVLogger's write of
    its row and before its checkpoint: the run folder with its recipe, the
    row cut mid-line, no checkpoint. The rerun resumes it from epoch 0 (it
    reads the history before taking the lock: a torn row read as numbers
    stopped it), and the rows it appends start on their own line
    (``runs.trim_history`` drops the torn one)."""
    settings = [*TINY, "training.epochs=2", "export.enabled=false"]
    folder = workdir / "runs" / "cnn" / "20260101-000000"
    folder.mkdir(parents=True)
    (folder / runs.RECIPE).write_text(load_recipe(CNN, settings).to_yaml())
    header = "epoch,accuracy,loss,seconds,val_accuracy,val_loss"  # As CSVLogger writes it.
    (folder / runs.HISTORY).write_text(f"{header}\n0,0.41,1.6")
    done = CliRunner().invoke(main, ["run", CNN, "--json", "--quiet", *_sets(settings)])
    assert done.exit_code == 0, done.output[-3000:]
    assert f"Resuming unfinished run {folder.relative_to(workdir)} after epoch 0" in done.stderr
    rows = (folder / runs.HISTORY).read_text().splitlines()
    assert [row.split(",")[rows[0].split(",").index("epoch")] for row in rows[1:]] == ["0", "1"]
    assert all(len(row.split(",")) == len(rows[0].split(",")) for row in rows)

def _kill_at_each(workdir, stages):
    """Runs the tiny CNN recipe, killed (SIGKILL) at each of ``stages`` in
    turn, then to the end; checks each rerun went on where the last
    stopped, and returns the final summary and run folder."""
    command = _command()
    for number, point in enumerate(stages):
        killed = _run(command, workdir, fault=point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-2000:])
        (folder,) = (workdir / "runs" / "cnn").iterdir()
        if number == 0:
            assert "Run folder" in killed.stderr
            checkpointed = runs.checkpointed_epoch(folder)
            assert checkpointed == 1  # Killed in the second epoch.
            _a_second_command_is_refused(folder)
        elif number == 1:
            # Trains on after the last whole epoch, in the same folder.
            assert f"Resuming unfinished run {folder.relative_to(workdir)} after epoch {checkpointed}." in killed.stderr
        else:
            trained = stages[number - 1] != "trained"  # Killed before its training was recorded.
            said = "with its training done" if trained else f"after epoch {EPOCHS}"
            assert said in killed.stderr, (point, killed.stderr[-2000:])

    done = _run(command, workdir)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    (folder,) = (workdir / "runs" / "cnn").iterdir()
    assert summary["run_dir"] == str(folder.relative_to(workdir))
    assert summary["resumed_from_epoch"] == EPOCHS and summary["epochs"] == EPOCHS
    # Every epoch trained once: the row of the epoch killed mid-way was never written.
    rows = (folder / runs.HISTORY).read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == [str(epoch) for epoch in range(EPOCHS)]
    # One export, found again after the kill that followed its rename.
    assert sorted(path.name for path in (workdir / "saved_models" / "cnn").iterdir()) == ["1"]
    assert summary["export_path"] == "saved_models/cnn/1"
    # What only a resume needs is gone; nothing hidden is left behind.
    for name in (runs.BACKUP, runs.TRAINED, runs.PROGRESS, runs.LOCK):
        assert not (folder / name).exists(), name
    assert _hidden(workdir / "saved_models") == [] and _hidden(folder) == []
    assert summary["train_samples_per_second"] > 0  # Over the epochs of both processes.
    return summary


def _a_second_command_is_refused(folder):
    """While the run's lock is held (a live run), the same command exits 3
    and changes nothing."""
    before = (folder / runs.HISTORY).read_text()
    lock = runs.Lock(folder)
    try:
        busy = CliRunner().invoke(main, _command()[3:])  # In this process: the lock is another open file.
    finally:
        lock.release()
    assert busy.exit_code == BUSY, busy.output
    assert "in progress in process" in busy.output and "--fresh" in busy.output
    assert isinstance(busy.exception, SystemExit)
    assert (folder / runs.HISTORY).read_text() == before


def test_killed_in_training_the_test_and_after_the_export_the_run_completes_in_its_folder(workdir):
    """kill -9 mid-epoch, in the test, and after the export was renamed into
    place (every stage: the slow test below); a live run refuses a second
    command."""
    summary = _kill_at_each(workdir, ["epoch:2", "evaluate", "published"])
    assert summary["test"]["loss"] < 2.3  # Trained: chance is ln 10.


@pytest.mark.slow
def test_killed_at_every_stage_the_run_completes_as_an_uninterrupted_one(workdir):
    """kill -9 inside each stage in turn: mid-epoch, after training, in the
    test, in saving, in the export before and after its rename, before
    metrics.json; the scores match an uninterrupted run's within noise
    (the epoch replayed after the kill sees another shuffle)."""
    reference = _run(_command("name=reference"), workdir)
    assert reference.returncode == 0, reference.stderr
    expected = json.loads(reference.stdout)
    summary = _kill_at_each(workdir, ["epoch:2", "trained", "evaluate", "save", "export", "published", "report"])
    assert abs(summary["test"]["accuracy"] - expected["test"]["accuracy"]) < 0.1
    assert summary["test"]["loss"] == pytest.approx(expected["test"]["loss"], rel=0.2)


@pytest.mark.slow
def test_twenty_kills_at_random_times_lose_nothing(workdir):
    """20 of 20: a run killed at a random moment of its life, rerun, ends in
    one folder with every epoch once, one export, and the scores of an
    uninterrupted run within noise."""
    start = time.monotonic()
    reference = _run(_command("name=reference"), workdir)
    lifetime = time.monotonic() - start
    assert reference.returncode == 0, reference.stderr
    expected = json.loads(reference.stdout)
    rng, killed, trial = random.Random(20), [], 0
    while len(killed) < 20:
        trial += 1
        command = _command(f"name=trial{trial}")
        process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.2, 1.0) * lifetime)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        reached = _stage_reached(workdir / "runs" / f"trial{trial}")
        if process.returncode != -signal.SIGKILL or reached == "done":
            continue  # It finished first: not a trial.
        killed.append(reached)
        done = _run(command, workdir)
        assert done.returncode == 0, (trial, done.stderr[-2000:])
        summary = json.loads(done.stdout)
        folders = list((workdir / "runs" / f"trial{trial}").iterdir())
        assert len(folders) == 1, (trial, killed[-1], [sorted(p.name for p in f.iterdir()) for f in folders])
        rows = (folders[0] / runs.HISTORY).read_text().splitlines()[1:]
        assert [row.split(",")[0] for row in rows] == [str(epoch) for epoch in range(EPOCHS)], (trial, killed[-1])
        assert [path.name for path in (workdir / "saved_models" / f"trial{trial}").iterdir()] == ["1"], trial
        assert _hidden(workdir / "saved_models") == [] and _hidden(folders[0]) == [], trial
        assert abs(summary["test"]["accuracy"] - expected["test"]["accuracy"]) < 0.1, (trial, killed[-1])
    print(f"\n20 kills at random times, each rerun completed; killed at: {killed}")


def _stage_reached(parent):
    """Where a killed run was: before its folder, in epoch N, or after a stage."""
    folders = list(parent.iterdir()) if parent.is_dir() else []
    if not folders:
        return "start-up"
    folder = folders[0]
    if (folder / runs.METRICS).exists():
        return "done"
    if (folder / runs.PROGRESS).exists():
        return "after " + "+".join(json.loads((folder / runs.PROGRESS).read_text()))
    return f"epoch {runs.checkpointed_epoch(folder) + 1}"


@pytest.mark.slow
def test_two_commands_started_together_never_share_a_folder(workdir):
    command = _command("training.epochs=12", "data.max_train_examples=6000")  # Long enough to overlap.
    first = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((workdir / "runs").glob("cnn/*/backup")) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = _run(command, workdir)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode == BUSY, second.stderr
    (folder,) = (workdir / "runs" / "cnn").iterdir()
    rows = (folder / runs.HISTORY).read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == [str(epoch) for epoch in range(12)]


@pytest.mark.slow
def test_a_gan_killed_while_judged_resumes_without_training_again(workdir):
    from tests.test_gan import TINY_GAN

    command = [sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / "gan.yaml"), "--json", "--quiet",
               *_sets(TINY_GAN)]
    killed = _run(command, workdir, fault="judge")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (folder,) = (workdir / "runs" / "gan").iterdir()
    trained_at = (folder / runs.TRAINED).stat().st_mtime
    done = _run(command, workdir)
    assert done.returncode == 0, done.stderr
    assert "training done" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["gan"]["quality"]["fid"] > 0
    rows = (folder / runs.HISTORY).read_text().splitlines()[1:]
    assert len(rows) == summary["epochs"]  # No epoch trained again.
    assert not (folder / runs.TRAINED).exists() and trained_at


def test_a_lock_is_exclusive_and_freed_when_its_process_dies(tmp_path):
    lock = runs.Lock(tmp_path)
    with pytest.raises(RunBusy, match="in progress in process"):
        runs.Lock(tmp_path)
    lock.release()
    runs.Lock(tmp_path).release()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from kerasdl.runtime.runs import Lock; "
        f"held = Lock(Path({str(tmp_path)!r})); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunBusy):
        runs.Lock(tmp_path)
    holder.kill()
    holder.wait()
    runs.Lock(tmp_path).release()  # The stale lock is taken over.


def _tiny_model():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_a_checkpoint_falls_back_to_the_previous_epoch_then_names_the_files(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 2
    backup = tmp_path / "backup"
    _tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[Checkpoint(str(backup))])
    state = json.loads((backup / "training_metadata.json").read_text())
    assert state["epoch"] == 3 and (backup / state["weights"]).is_file()
    assert len(list(backup.glob("*.weights.h5"))) == 2  # This epoch's and the one before.

    # The latest weights truncated (a kill or a full disk mid-write): the previous epoch's load.
    latest = backup / state["weights"]
    latest.write_bytes(latest.read_bytes()[:100])
    model = _tiny_model()
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[Checkpoint(str(backup))])
    assert history.epoch == [2, 3]

    # A crash (a full disk) in the middle of writing an epoch: the half
    # file was never made current, so the rerun resumes after the epoch before.
    def half_written(path, overwrite=True):
        open(path, "wb").write(b"\x89HDF half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    model = _tiny_model()
    model.save_weights = half_written
    with pytest.raises(OSError, match="No space left"):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[Checkpoint(str(backup))])
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 4
    history = _tiny_model().fit(x, y, epochs=5, verbose=0, callbacks=[Checkpoint(str(backup))])
    assert history.epoch == [4]

    # Both unreadable: one message naming them and --fresh.
    for path in backup.glob("*.weights.h5"):
        path.write_bytes(b"")
    with pytest.raises(DataError, match=r"cannot be read: .*training_metadata.json.*--fresh"):
        _tiny_model().fit(x, y, epochs=5, verbose=0, callbacks=[Checkpoint(str(backup))])


def test_unreadable_progress_and_trained_weights_name_the_file_and_fresh(tmp_path):
    (tmp_path / runs.PROGRESS).write_text('{"train": {"seconds"')
    with pytest.raises(DataError, match=r"progress.json.*--fresh"):
        progress.Progress(tmp_path)
    (tmp_path / runs.TRAINED).write_bytes(b"\x89HDF\r\n")
    with pytest.raises(DataError, match=r"trained.weights.h5.*--fresh"):
        runs.load_trained(tmp_path, _tiny_model())


def test_a_diverging_loss_stops_training_with_a_message(workdir):
    from kerasdl.tasks import loop

    recipe = load_recipe(DENSE, ["data.max_train_examples=256", "data.max_test_examples=64", "training.epochs=3",
                                 "optimizer.name=sgd", "optimizer.learning_rate=1e12", "export.enabled=false"])
    with pytest.raises(TrainingError, match=r"became (nan|inf) in epoch \d, batch \d+.*optimizer.learning_rate"):
        loop.run(recipe, verbose=0, log=lambda line: None)
    (folder,) = (workdir / "runs" / "dense").iterdir()
    assert not (folder / runs.METRICS).exists() and not list(workdir.glob("saved_models/*"))


def test_staging_folders_left_by_a_kill_are_removed_and_outputs_keep_the_usual_mode(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f".tmp-export-{dead.stdout.strip()}-abcd"
    left.mkdir()
    live = tmp_path / f".tmp-export-{os.getpid()}-live"  # Another export in progress: kept.
    live.mkdir()
    old = os.umask(0o022)
    try:
        atomic.write_folder(tmp_path / "out", lambda folder: (folder / "a").write_text("a"))
        staging = atomic.staging_folder(tmp_path, "export")
    finally:
        os.umask(old)
    assert not left.exists() and live.exists() and staging.exists()
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


# -- Preflight -----------------------------------------------------------------


@pytest.mark.parametrize("setting, message", [
    ("training.runs_dir=taken", "training.runs_dir: taken is a file, not a folder"),
    ("training.runs_dir=taken/below", "training.runs_dir: taken is a file, not a folder"),
    ("export.directory=taken", "export.directory: taken is a file, not a folder"),
    ('training.runs_dir="a\\0b"', "training.runs_dir: is not a usable folder name"),
    ("export.directory=/proc/kerasdl", "export.directory: /proc cannot be written"),
])
def test_output_folders_are_checked_before_any_data_is_read(workdir, setting, message):
    (workdir / "taken").write_text("a file")
    for extra in ([], ["--dry-run"]):
        result = CliRunner().invoke(main, ["run", DENSE, "--set", setting, *extra])
        assert result.exit_code == BAD_INPUT, result.output
        assert message in result.output and "Traceback" not in result.output
    assert sorted(path.name for path in workdir.iterdir()) == ["taken"]


def _wide_dense():
    """``kerasdl run`` of dense.yaml with 407,050 parameters, on a few examples."""
    return [sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / "dense.yaml"), "--json", "--quiet", *_sets([
        "data.max_train_examples=600", "data.max_test_examples=200", "training.epochs=2", "model.units=[512]"])]


class _Stopped(Exception):
    """Raised at a fault point in place of the kill, in this process."""


def test_the_disk_space_a_run_needs_is_estimated_from_what_a_run_writes(workdir, monkeypatch):
    """The estimate against the bytes a real run has on disk at its peak
    (stopped after its export, before metrics.json ends it and removes the
    checkpoints), for a model large enough that the fixed files (logs,
    graphs) are a small part."""
    from kerasdl.runtime import preflight

    def stop_at_report(name):
        if name == "report":
            raise _Stopped

    monkeypatch.setattr(faults, "point", stop_at_report)
    stopped = CliRunner().invoke(main, _wide_dense()[3:])
    assert isinstance(stopped.exception, _Stopped), stopped.output[-2000:]
    written = sum(path.stat().st_size for path in workdir.rglob("*") if path.is_file())
    (model_file,) = workdir.glob("runs/dense/*/model.keras")
    parameters = keras.saving.load_model(model_file).count_params()
    assert parameters > 400_000
    said = []
    needed = preflight.check_space([str(workdir / "runs")], parameters, said.append)
    assert written - 2**20 <= needed <= 1.5 * written, (needed, written)  # Fixed files: under 1 MiB.
    assert said == []  # This disk has room.
    preflight.check_space([str(workdir / "runs")], 10**15, said.append)
    assert "Warning" in said[0] and "MiB free" in said[0]


def test_a_file_the_disk_will_not_take_gets_one_message_exit_1_and_the_rerun_resumes(workdir):
    """A real run in a process whose files may grow to 500 kB
    (RLIMIT_FSIZE: what a full disk does to the first large write, the
    epoch's checkpoint): one message, exit 1, and the advice is true."""
    import resource

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, 500_000))

    command = _wide_dense()
    env = {key: value for key, value in os.environ.items() if key != faults.VARIABLE}
    failed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, env=env,
                            preexec_fn=small_files)
    assert failed.returncode == FAILED, failed.stderr[-2000:]
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: File too large. Free space or fix the folder, then rerun the same command: the run "
                      "resumes where it stopped."], failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr
    (folder,) = (workdir / "runs" / "dense").iterdir()
    done = CliRunner().invoke(main, command[3:])  # Without the limit, in this process.
    assert done.exit_code == 0, done.output[-2000:]
    assert f"Resuming unfinished run {folder.relative_to(workdir)}" in done.stderr
    assert json.loads(done.stdout)["run_dir"] == str(folder.relative_to(workdir))  # Resumed in its folder.


@pytest.mark.parametrize("how", [["--debug"], "KERASDL_DEBUG"])
def test_debug_shows_the_error_itself(workdir, how):
    """--debug (or KERASDL_DEBUG=1) lets the error through, for its traceback."""
    arguments, env = (how, {}) if isinstance(how, list) else ([], {how: "1"})
    result = CliRunner().invoke(main, [*arguments, "run", "missing.yaml"], env=env)
    assert isinstance(result.exception, RecipeError) and "missing.yaml: no such recipe file" in str(result.exception)
    plain = CliRunner().invoke(main, ["run", "missing.yaml"], env={"KERASDL_DEBUG": ""})
    assert plain.exit_code == BAD_INPUT and isinstance(plain.exception, SystemExit)


# -- The recipe ------------------------------------------------------------------


@pytest.mark.parametrize("setting, message", [
    ("optimizer.learning_rate=.nan", "optimizer.learning_rate must be a finite number"),
    ("optimizer.learning_rate=.inf", "optimizer.learning_rate must be a finite number"),
    ("training.validation_split=.nan", "training.validation_split must be a finite number"),
    ("model.dropout_rate=-.inf", "model.dropout_rate must be a finite number"),
    ("training.epochs=1000000000000", "training.epochs is out of range"),
    ("training.batch_size=10000000", "training.batch_size is out of range"),
    ("optimizer.learning_rate.initial_learning_rate=2e3-zz", "initial_learning_rate must be a number"),
    ("optimizer.learning_rate.decay_steps=many", "decay_steps must be a number"),
    ("name=..", "name names the run's and the export's folders"),
    ("name=.", "name names the run's and the export's folders"),
    ("name=a/b", "name names the run's and the export's folders"),
])
def test_values_that_are_not_finite_bounded_or_typed_are_refused(setting, message):
    with pytest.raises(RecipeError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_recipe(CNN, [setting])


def _recipe_file(tmp_path, content: bytes):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(content)
    return str(path)


def test_duplicate_keys_alias_bombs_and_undecodable_recipes_are_refused(tmp_path):
    duplicate = _recipe_file(tmp_path, b"model:\n  builder: dense\ntraining:\n  epochs: 2\n  epochs: 3\n")
    with pytest.raises(RecipeError, match=r"line 5, column 3: the key 'epochs' is given twice .*line 4"):
        load_recipe(duplicate)
    levels = [b"a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]".encode() for i in range(8)]
    bomb = _recipe_file(tmp_path, b"\n".join(levels) + b"\nmodel: {builder: dense}\n")
    assert len(open(bomb, "rb").read()) < 500
    with pytest.raises(RecipeError, match=f"more than {MAX_VALUES:,} values"):
        load_recipe(bomb)
    latin = _recipe_file(tmp_path, "name: café\n".encode("latin-1"))
    with pytest.raises(RecipeError, match=r"not UTF-8 text .*Save the recipe as UTF-8"):
        load_recipe(latin)
    anchors = _recipe_file(tmp_path, b"model: &m {builder: dense}\ndata: {dataset: fashion_mnist}\n")
    assert load_recipe(anchors)["model"]["builder"] == "dense"  # Aliases within budget are fine.


def test_run_says_it_ignores_a_tune_section_that_tune_would_refuse(tmp_path):
    flat = load_recipe(CNN).to_yaml()  # cnn.yaml has a base; this copy is flat.
    text = flat.replace("objective: val_accuracy", "objective: val_acuracy")
    assert text != flat
    result = CliRunner().invoke(main, ["run", _recipe_file(tmp_path, text.encode()), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Warning: kerasdl run ignores the tune section, and kerasdl tune would refuse it" in result.output
    assert "tune.objective" in result.output and "did you mean 'val_accuracy'" in result.output
    clean = CliRunner().invoke(main, ["run", CNN, "--dry-run"])
    assert clean.exit_code == 0 and "Warning" not in clean.output


# -- Data --------------------------------------------------------------------------


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((10, 4)), "y_train": np.linspace(0, 1, 10)}, "not class numbers 0, 1, 2"),
    ({"x_train": np.zeros((10, 4)), "y_train": np.arange(8) % 2}, "x_train holds 10 examples but y_train 8"),
    ({"x_train": np.array([[1], [2]], dtype=object), "y_train": np.arange(2)}, "Object arrays"),
    (None, "not a NumPy .npz archive"),
])
def test_bad_npz_files_get_one_message_naming_the_recipe_and_the_file(workdir, arrays, message):
    path = workdir / "data.npz"
    if arrays is None:
        path.write_text("not a zip")
    else:
        np.savez(path, **arrays)
    result = CliRunner().invoke(main, ["run", DENSE, "--set", "data.dataset=npz", "--set", f"data.path={path}"])
    assert result.exit_code == BAD_INPUT, result.output
    assert f"{DENSE}: data.dataset npz" in result.output and str(path) in result.output and message in result.output
    assert "Traceback" not in result.output and not (workdir / "runs").exists()


def test_float_labels_in_a_csv_are_refused_unless_integral(tmp_path):
    from kerasdl.data.tables import load_csv

    table = tmp_path / "table.csv"
    table.write_text("a,b,label\n" + "".join(f"{i},{i + 1},{i % 3}.0\n" for i in range(30)))
    assert load_csv(str(table)).class_names == ["0", "1", "2"]  # 1.0 is class 1.
    table.write_text("a,b,label\n" + "".join(f"{i},{i + 1},{i / 7:.3f}\n" for i in range(30)))
    with pytest.raises(DataError, match=r"column 'label': the labels are numbers but not class numbers"):
        load_csv(str(table))


# -- Trust -------------------------------------------------------------------------------


def _image_classifier():
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


class _Writer(tf.Module):
    """A SavedModel whose serving function writes a file: what an attacker ships."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="inputs")])
    def serve(self, inputs):
        tf.io.write_file(self.target, "written by the model")
        return {"probabilities": tf.nn.softmax(tf.zeros([tf.shape(inputs)[0], 10]))}


def test_a_savedmodel_runs_its_own_graph_only_when_trusted(workdir):
    target = str(workdir / "pwned.txt")
    export = workdir / "evil" / "1"
    module = _Writer(target)
    tf.saved_model.save(module, str(export), signatures={"serving_default": module.serve})
    np.save(workdir / "batch.npy", np.zeros((2, 28, 28, 1), np.float32))
    for command in (["predict", str(export), "batch.npy"], ["evaluate", str(export), CNN],
                    ["export", str(export)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == BAD_INPUT, (command, result.output)
        assert not os.path.exists(target), command
    refused = CliRunner().invoke(main, ["predict", str(export), "batch.npy"])
    assert "--trust-savedmodel" in refused.output and "runs its own TensorFlow operations" in refused.output
    trusted = CliRunner().invoke(main, ["predict", str(export), "batch.npy", "--trust-savedmodel"])
    assert trusted.exit_code == 0, trusted.output
    assert os.path.exists(target)  # The flag is the one gate: with it the graph ran.

    # With kerasdl's model.keras beside it, that answers (in safe mode) and the graph never runs.
    os.remove(target)
    (export / "assets.extra").mkdir(exist_ok=True)
    _image_classifier().save(export / "assets.extra" / "model.keras")
    answered = CliRunner().invoke(main, ["predict", str(export), "batch.npy", "--json"])
    assert answered.exit_code == 0, answered.output
    assert not os.path.exists(target)


def test_a_keras_file_wrapping_a_savedmodel_is_refused_and_its_graph_never_runs(workdir):
    """A TFSMLayer inside a .keras file loads (and would run) the SavedModel
    it names: refused in safe mode (Keras >= 3.14, setup.cfg's floor) and
    by kerasdl's own look at the file's config before Keras reads it."""
    target = str(workdir / "pwned.txt")
    module = _Writer(target)
    tf.saved_model.save(module, str(workdir / "graph"), signatures={"serving_default": module.serve})
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.TFSMLayer(str(workdir / "graph"), call_endpoint="serving_default")(inputs)
    keras.Model(inputs, outputs["probabilities"]).save(workdir / "wrapped.keras")
    assert not os.path.exists(target)  # Building and saving it ran nothing.
    np.save(workdir / "batch.npy", np.zeros((1, 28, 28, 1), np.float32))
    (workdir / "run").mkdir()
    (workdir / "run" / "model.keras").write_bytes((workdir / "wrapped.keras").read_bytes())
    (workdir / "run" / "recipe.yaml").write_text((ROOT / "recipes" / "bases" / "fashion_mnist.yaml").read_text())
    for command in (["predict", "wrapped.keras", "batch.npy"], ["evaluate", "wrapped.keras", CNN],
                    ["export", "run", "--format", "keras", "--no-evaluate"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == BAD_INPUT, (command, result.output)
        assert "TFSMLayer" in result.output and "SavedModel" in result.output, result.output
        assert not os.path.exists(target), command
    assert not (workdir / "saved_models").exists() and not (workdir / "evaluations").exists()
    # Keras's own refusal, which kerasdl's look is in front of.
    with pytest.raises(ValueError, match="TFSMLayer"):
        keras.saving.load_model(workdir / "wrapped.keras", safe_mode=True)
    assert not os.path.exists(target)


def test_a_keras_file_with_code_is_refused_everywhere(workdir):
    inputs = keras.Input((28, 28, 1))
    evil = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    evil.save(workdir / "evil.keras")
    np.save(workdir / "batch.npy", np.zeros((1, 28, 28, 1), np.float32))
    for command in (["predict", "evil.keras", "batch.npy"], ["evaluate", "evil.keras", CNN],
                    ["export", "evil.keras", "--format", "keras"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == BAD_INPUT, (command, result.output)
        assert "safe_mode" in result.output or "Lambda" in result.output, result.output
    assert not (workdir / "saved_models").exists() and not (workdir / "evaluations").exists()


def test_a_truncated_tflite_file_is_refused_not_crashed_on(workdir):
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(_image_classifier()).convert()
    # (A whole file passes the probe: tests/test_use.py predicts and scores with TFLite files.)
    (workdir / "cut.tflite").write_bytes(flatbuffer[: len(flatbuffer) // 3])
    np.save(workdir / "batch.npy", np.zeros((2, 28, 28, 1), np.float32))
    result = CliRunner().invoke(main, ["predict", "cut.tflite", "batch.npy"])
    assert result.exit_code == BAD_INPUT, result.output
    assert "cut.tflite: the TFLite interpreter" in result.output and "truncated or corrupt" in result.output
    (workdir / "text.tflite").write_text("hello")
    result = CliRunner().invoke(main, ["predict", "text.tflite", "batch.npy"])
    assert result.exit_code == BAD_INPUT and "no TFL3 identifier" in result.output


def _recipe_body():
    """cnn.yaml, flat, without its name, tune and export sections."""
    values = load_recipe(CNN).values
    return dump_yaml({key: value for key, value in values.items() if key not in ("name", "tune", "export")})


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped", ".", ".."])
def test_a_models_recipe_never_chooses_where_kerasdl_writes(workdir, name):
    run = workdir / "given" / "run"
    run.mkdir(parents=True)
    _image_classifier().save(run / "model.keras")
    (run / "class_names.txt").write_text("\n".join(str(index) for index in range(10)) + "\n")
    (run / "recipe.yaml").write_text(f"name: {json.dumps(name)}\n{_recipe_body()}export:\n  directory: "
                                     "/tmp/elsewhere\n")
    for command in (["evaluate", str(run), "--set", "data.max_test_examples=50"],
                    ["export", str(run), "--no-evaluate"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == BAD_INPUT, result.output
        assert f"{run / 'recipe.yaml'}: " in result.output and "name" in result.output and "folder" in result.output
    assert sorted(path.name for path in workdir.iterdir()) == ["given"]


def test_export_writes_where_the_user_says_not_where_the_models_recipe_says(workdir):
    run = workdir / "given" / "run"
    run.mkdir(parents=True)
    _image_classifier().save(run / "model.keras")
    (run / "recipe.yaml").write_text(f"name: given\n{_recipe_body()}export:\n  directory: {workdir / 'elsewhere'}\n")
    result = CliRunner().invoke(main, ["export", str(run), "--format", "keras", "--no-evaluate"])
    assert result.exit_code == 0, result.output
    assert (workdir / "saved_models" / "given-keras" / "1" / "model.keras").is_file()
    assert not (workdir / "elsewhere").exists()


# -- Exit codes -----------------------------------------------------------------


def test_the_exit_code_table_is_the_codes_the_cli_uses():
    table = (ROOT / "docs" / "runs.md").read_text().split("## Exit codes")[1].split("\n## ")[0]
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "code" not in line}
    rows.discard("---")
    from kerasdl import cli

    assert rows == {"0", *(str(code) for code in (cli.FAILED, cli.BAD_INPUT, cli.BUSY, cli.INTERRUPTED))}
    assert "Exit codes: 0 done, 1 the work failed, 2 bad input, 3 the run is busy" in " ".join(
        CliRunner().invoke(main, ["--help"]).output.split())


def test_bad_input_through_the_real_process_has_no_traceback(workdir):
    result = run_cli("run", CNN, "--set", "optimizer.learning_rate=.nan", "--dry-run", cwd=workdir)
    assert result.returncode == BAD_INPUT and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: {CNN}: --set optimizer.learning_rate")
