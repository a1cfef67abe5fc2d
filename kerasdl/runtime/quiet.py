"""A quiet start: TensorFlow's C++ start-up lines kept off the screen.

Importing TensorFlow on a machine without a GPU writes C++ log lines to
file descriptor 2 (``WARNING: All log messages before
absl::InitializeLog()``, oneDNN's note, ``cudart_stub``, ``cuInit``), some
twice, before absl's logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does
not hold them back. ``import_tensorflow`` imports it with descriptor 2
turned to a file, then writes back every line that is not such a log line
(a Python warning, say). What matters from them, that no GPU was found,
the strategy line says (``devices.Placement.describe``).

This module imports nothing of TensorFlow's at its own import.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

# absl's prefix (severity, date, time, thread, file:line]) and its notices.
NATIVE_LINE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)"
)


def import_tensorflow(debug: bool = False) -> None:
    """Imports TensorFlow without its C++ start-up lines on stderr (all of
    them with ``debug``). Later C++ lines below FATAL stay quiet through
    ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user set the variable."""
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if debug or "tensorflow" in sys.modules:  # Nothing to hide, or nothing left to hide.
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # The CUDA probe logs on first use.
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not NATIVE_LINE.match(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
