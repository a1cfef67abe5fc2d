"""Running one benchmark contender in a child process and measuring it.

Every bench script that times a whole command uses ``run_measured``: the
child's last stdout line is its JSON result, ``wait4`` gives the child's
own peak RSS, and both pipes are read on the side so that a chatty child
never blocks on a full pipe before it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional, Union

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def run_measured(command: list[str], cwd: Optional[Union[str, Path]] = None) -> tuple[dict, float, float]:
    """Runs ``command``; returns its last JSON line, its wall seconds and its
    peak RSS in GB. Exits with the child's stderr when it fails."""
    result, seconds, peak, _ = run_with_usage(command, cwd)
    return result, seconds, peak


def run_with_usage(command: list[str], cwd: Optional[Union[str, Path]] = None) -> tuple[dict, float, float, float]:
    """``run_measured``, and the child's CPU seconds (user + system, all its threads) last."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
    output: dict[str, str] = {}
    readers = [threading.Thread(target=lambda name=name: output.__setitem__(name, getattr(process, name).read()))
               for name in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    # wait4 rather than Popen.wait: it also gives this child's own peak RSS.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.exit(f"benchmark command failed: {' '.join(map(str, command))}\n{output['stderr'][-3000:]}")
    result = json.loads(output["stdout"].strip().splitlines()[-1])
    return result, seconds, usage.ru_maxrss / 1e6, usage.ru_utime + usage.ru_stime  # ru_maxrss on Linux: kB.
