"""environment.json: what produced a run (issue 21); end to end in
tests/test_cli.py (the run folder's and the export's, the rerun)."""

import hashlib
import json
import subprocess

from kerasdl.runtime import provenance


def test_data_files_and_small_folders_are_hashed_large_folders_listed(tmp_path):
    (tmp_path / "table.csv").write_text("a,label\n1,0\n")
    few = tmp_path / "few"
    few.mkdir()
    (few / "x.bin").write_bytes(b"abc")
    many = tmp_path / "many"
    many.mkdir()
    for index in range(provenance.FOLDER_FILES + 1):
        (many / f"{index:03d}.png").write_bytes(b"p")
    found = provenance.data_fingerprints({
        "dataset": "csv", "path": str(tmp_path / "table.csv"), "test_path": str(tmp_path / "gone.csv"),
        "directory": str(few), "other_path": str(many), "seed": 1,
    })
    assert found["path"]["sha256"] == hashlib.sha256(b"a,label\n1,0\n").hexdigest()
    assert found["test_path"] == {"path": str(tmp_path / "gone.csv"), "missing": True}
    assert found["directory"]["files"]["x.bin"]["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert found["other_path"]["files"] == provenance.FOLDER_FILES + 1
    assert len(found["other_path"]["listing_sha256"]) == 64
    assert set(found) == {"path", "test_path", "directory", "other_path"}


def test_the_git_commit_and_whether_files_differ(tmp_path):
    assert provenance.git_state(tmp_path) is None  # Not a repository.
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "recipe.yaml").write_text("model: {builder: dense}\n")
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "a"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert provenance.git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "recipe.yaml").write_text("model: {builder: cnn}\n")
    assert provenance.git_state(tmp_path) == {"commit": head, "dirty": True}


def test_a_resumed_run_adds_its_process_and_the_export_carries_the_file(tmp_path):
    first = provenance.record(tmp_path, {"versions": {"keras": "3"}, "time": "1"})
    assert first == {"versions": {"keras": "3"}, "time": "1"}
    provenance.record(tmp_path, {"versions": {"keras": "3"}, "time": "2"})
    content = json.loads((tmp_path / provenance.FILE).read_text())
    assert content["time"] == "1" and [entry["time"] for entry in content["resumed"]] == ["2"]
    assert provenance.asset(tmp_path) == {provenance.FILE: (tmp_path / provenance.FILE).read_text()}
    assert provenance.asset(tmp_path / "none") == {}
