"""Command behaviours the README promises that had no test: kerasdl list,
--fresh, Ctrl-C's exit code and advice, and the output folders of evaluate
and export checked before anything is read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_cli_here

from kerasdl.registry import BUILDERS, DATASETS
from kerasdl.runtime import runs

DENSE = str(ROOT / "recipes" / "dense.yaml")
EXPORT = str(ROOT / "tests" / "fixtures" / "main-31405d4" / "cnn_export" / "1")
SMALL = ["--set", "data.max_train_examples=256", "--set", "data.max_test_examples=64", "--set", "training.epochs=1",
         "--set", "export.enabled=false"]


def test_list_names_every_builder_and_dataset_with_its_summary():
    result = run_cli_here("list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Model builders:" and "Datasets:" in lines
    for registry in (BUILDERS, DATASETS):
        for name in registry.names():
            summary = registry.get(name).__doc__.strip().splitlines()[0]
            assert any(line.split()[:1] == [name] and line.endswith(summary) for line in lines), name


def test_fresh_starts_a_new_folder_beside_an_unfinished_run(workdir):
    first = run_cli_here("run", DENSE, "--json", "--quiet", *SMALL, cwd=workdir)
    assert first.returncode == 0, first.stderr[-2000:]
    folder = workdir / json.loads(first.stdout)["run_dir"]
    (folder / runs.METRICS).unlink()  # Now an unfinished run of the same recipe.
    fresh = run_cli_here("run", DENSE, "--json", "--quiet", "--fresh", *SMALL, cwd=workdir)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "Resuming" not in fresh.stderr
    assert sorted(path.name for path in folder.parent.iterdir()) == sorted(
        [folder.name, json.loads(fresh.stdout)["run_dir"].rsplit("/", 1)[-1]])
    assert not (folder / runs.METRICS).exists()  # The unfinished one is left as it was.


def test_ctrl_c_exits_130_with_advice_that_holds(workdir):
    """SIGINT once the first epoch is checkpointed: exit 130, the advice,
    and the folder holds what the rerun resumes from."""
    command = [sys.executable, "-m", "kerasdl", "run", DENSE, "--quiet", "--set", "data.max_train_examples=4000",
               "--set", "data.max_test_examples=64", "--set", "training.epochs=50", "--set", "export.enabled=false"]
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        folders = list((workdir / "runs" / "dense").glob("*")) if (workdir / "runs" / "dense").is_dir() else []
        if folders and runs.checkpoint_epochs(folders[0]):
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "Interrupted. Rerun the same command to resume where it stopped." in stderr and "Traceback" not in stderr
    (folder,) = (workdir / "runs" / "dense").iterdir()
    assert runs.checkpoint_epochs(folder) >= 1 and not (folder / runs.METRICS).exists()


def test_evaluate_output_and_export_directory_are_checked_before_anything_is_read(workdir):
    (workdir / "taken").write_text("a file")
    for command, key in ((["evaluate", EXPORT, "--output", "taken/scores"], "--output"),
                         (["export", EXPORT, "--directory", "taken/exports"], "--directory")):
        result = run_cli_here(*command, cwd=workdir)
        assert result.returncode == 2, result.stderr[-2000:]
        assert f"Error: kerasdl {command[0]}: {key}: taken is a file, not a folder." in result.stderr
        assert "Scoring" not in result.stdout + result.stderr  # Refused before the data was read.
    assert os.listdir(workdir) == ["taken"]
