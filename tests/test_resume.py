"""A run killed with SIGKILL resumes from its last finished epoch."""

import json
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, TINY

EPOCHS = 40


def _history_rows(workdir):
    files = list((workdir / "runs" / "cnn").glob("*/history.csv"))
    if not files:
        return []
    return [line for line in files[0].read_text().splitlines()[1:] if line]


def test_kill_9_then_same_command_resumes(workdir):
    command = [
        sys.executable, "-m", "kerasdl", "run", str(ROOT / "recipes" / "cnn.yaml"), "--json", "--quiet",
        *[item for s in TINY + [f"training.epochs={EPOCHS}", "export.enabled=false"] for item in ("--set", s)],
    ]
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_history_rows(workdir)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = len(_history_rows(workdir))
    assert 3 <= done_before < EPOCHS

    resumed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"after epoch {done_before}" in resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["resumed_from_epoch"] == done_before
    # One run folder, whose history covers every epoch once, in order.
    assert len(list((workdir / "runs" / "cnn").iterdir())) == 1
    epochs = [int(row.split(",")[0]) for row in _history_rows(workdir)]
    assert epochs == list(range(EPOCHS))
    assert summary["epochs"] == EPOCHS
