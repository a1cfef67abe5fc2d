"""A quiet start: on a machine without a GPU, no command prints
TensorFlow's C++ start-up lines before (or among) kerasdl's own, unless
``--debug`` or ``KERASDL_DEBUG`` asks for them."""

import os

import pytest

from kerasdl.runtime.quiet import NATIVE_LINE
from tests.conftest import ROOT, run_cli

CNN = str(ROOT / "recipes" / "cnn.yaml")


@pytest.mark.parametrize("args", [("run", CNN, "--dry-run"), ("list",)])
def test_stderr_holds_kerasdl_lines_only(workdir, args):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TF_CPP_MIN_LOG_LEVEL", "KERASDL_DEBUG")}
    result = run_cli(*args, cwd=workdir, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == "", result.stderr[-2000:]  # Neither command has a line of its own for stderr.
    assert "Model builders:" in result.stdout or "Dry run: nothing trained or written." in result.stdout


def test_debug_shows_the_native_lines_that_a_quiet_start_keeps_back(workdir):
    """What the quiet start hides is there to hide (oneDNN's note on this
    CPU): the test above would see it."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = run_cli("--debug", "list", cwd=workdir, env=environment)
    assert result.returncode == 0 and any(NATIVE_LINE.match(line) for line in result.stderr.splitlines()), result.stderr


def test_the_strategy_line_says_there_is_no_gpu():
    from kerasdl.recipe.resolve import load_recipe
    from kerasdl.runtime import devices

    placement = devices.place(load_recipe(CNN)["training"])
    assert placement.describe().endswith(", 1 replica, CPU only (no GPU found); precision float32.")
