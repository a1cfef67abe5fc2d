"""How a run folder's history and checkpoint say where a killed run resumes
(kill -9 end to end, at every stage: tests/test_faults.py)."""

import pytest

from kerasdl.runtime import atomic, runs


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
        atomic.write_folder(target, fail)
    assert list(tmp_path.iterdir()) == []  # Neither the folder nor the staging one.
    target.mkdir()  # An empty folder is replaced...
    atomic.write_folder(target, write)
    assert [path.name for path in target.iterdir()] == ["a.txt"]
    with pytest.raises(OSError):  # ...one with files is not.
        atomic.write_folder(target, lambda folder: (folder / "b.txt").write_text("b"))
    assert [path.name for path in tmp_path.iterdir()] == ["out"]
    assert [path.name for path in target.iterdir()] == ["a.txt"]


def test_rows_of_epochs_past_the_checkpoint_are_dropped_on_resume(tmp_path):
    # Killed after epoch 2's row, before its checkpoint: epoch 2 is redone.
    (tmp_path / runs.HISTORY).write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.8\n")
    (tmp_path / runs.BACKUP / "fine_tune").mkdir(parents=True)
    (tmp_path / runs.BACKUP / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    assert runs.checkpointed_epoch(tmp_path) == 1
    (tmp_path / runs.BACKUP / "fine_tune" / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    assert runs.checkpointed_epoch(tmp_path) == 2  # A second phase's checkpoint counts.
    runs.trim_history(tmp_path, runs.checkpointed_epoch(tmp_path))
    assert (tmp_path / runs.HISTORY).read_text() == "epoch,loss\n0,1.0\n1,0.9\n"
