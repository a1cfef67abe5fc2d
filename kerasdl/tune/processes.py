"""Which processes run a search's trials: this one until ``Recycle``, then a
fresh one that continues the same search (memory stays flat, see
``tuners.Recycle``); or several sharing one search (distributed).

A continuing process is the same command line, re-executed with two
environment variables: that it continues, and the deadline of
``--time-budget`` (a ``time.time()``), which counts from the first start.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, NoReturn, Optional

from kerasdl.errors import InputError

_CONTINUING = "KERASDL_TUNE_RECYCLED"
_DEADLINE = "KERASDL_TUNE_DEADLINE"


def join(tuner_id: Optional[str], oracle_ip: Optional[str], oracle_port: Optional[int]) -> None:
    """Sets Keras Tuner's environment for a distributed search when an
    address is given (all three are needed then); nothing otherwise."""
    if oracle_ip is None and oracle_port is None:
        return
    if None in (tuner_id, oracle_ip, oracle_port):
        raise InputError("A distributed search needs --tuner-id, --oracle-ip and --oracle-port together "
                         "(or KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT).")
    os.environ.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=oracle_ip,
                      KERASTUNER_ORACLE_PORT=str(oracle_port))


def start(time_budget: Optional[float]) -> tuple[bool, Optional[float]]:
    """Whether this process continues a search an earlier one of the same
    command started, and the deadline (None: no budget), kept in the
    environment for the processes that continue this one."""
    continuing = bool(os.environ.pop(_CONTINUING, None))
    if continuing:
        deadline = float(os.environ[_DEADLINE]) if _DEADLINE in os.environ else None
    else:
        deadline = time.time() + time_budget if time_budget else None
        os.environ.pop(_DEADLINE, None)
    if deadline is not None:
        os.environ[_DEADLINE] = repr(deadline)
    return continuing, deadline


def continue_in_fresh_process(reason: str, log: Callable[[str], None]) -> NoReturn:
    """Replaces this process by the same command, which goes on with the search."""
    log(f"Continuing the search in a fresh process ({reason}; this keeps memory flat).")
    sys.stdout.flush()
    sys.stderr.flush()
    os.environ[_CONTINUING] = "1"
    os.execv(sys.executable, sys.orig_argv)
