"""A run killed with SIGKILL resumes from its last finished epoch."""

import json
import subprocess
import sys

import pytest

from kerasdl.runtime import runs
from tests.conftest import ROOT, TINY, kill_after_epochs

EPOCHS = 40


def test_kill_9_then_same_command_resumes(workdir):
    command = [
        sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / "cnn.yaml"), "--json", "--quiet",
        *[item for s in TINY + [f"training.epochs={EPOCHS}", "export.enabled=false"] for item in ("--set", s)],
    ]
    done_before = kill_after_epochs(command, workdir, "cnn", 3)
    assert 3 <= done_before < EPOCHS

    resumed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"after epoch {done_before}" in resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from_epoch"] == done_before
    # One run folder, whose history covers every epoch once, in order (an
    # epoch redone after the kill counts once).
    folders = list((workdir / "runs" / "cnn").iterdir())
    assert len(folders) == 1
    assert runs.read_history(folders[0])["epoch"] == list(range(EPOCHS))
    assert summary["epochs"] == EPOCHS


def test_an_epoch_redone_after_a_kill_counts_once(tmp_path):
    # Killed after epoch 1's row but before its checkpoint: epoch 1 ran again.
    (tmp_path / runs.HISTORY).write_text(
        "epoch,accuracy,loss\n0,0.5,1.0\n1,0.6,0.9\n1,0.62,0.88\n2,0.7,0.8\n"
    )
    history = runs.read_history(tmp_path)
    assert history == {"epoch": [0, 1, 2], "accuracy": [0.5, 0.62, 0.7], "loss": [1.0, 0.88, 0.8]}


def test_the_resume_epoch_is_the_checkpoints(tmp_path):
    (tmp_path / runs.HISTORY).write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.8\n")
    assert runs.checkpointed_epoch(tmp_path) == 3  # no checkpoint metadata: the history
    (tmp_path / runs.BACKUP).mkdir()
    (tmp_path / runs.BACKUP / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    assert runs.checkpointed_epoch(tmp_path) == 2


def test_a_folder_is_written_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out"

    def write(folder):
        (folder / "a.txt").write_text("a")

    def fail(folder):
        (folder / "half.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        runs.write_folder_atomically(target, fail)
    assert list(tmp_path.iterdir()) == []  # Neither the folder nor the staging one.
    target.mkdir()  # An empty folder is replaced...
    runs.write_folder_atomically(target, write)
    assert [path.name for path in target.iterdir()] == ["a.txt"]
    with pytest.raises(OSError):  # ...one with files is not.
        runs.write_folder_atomically(target, lambda folder: (folder / "b.txt").write_text("b"))
    assert [path.name for path in tmp_path.iterdir()] == ["out"]
    assert [path.name for path in target.iterdir()] == ["a.txt"]
