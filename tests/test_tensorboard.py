"""TensorBoard as a user opens it (issue 22): a CNN, a GAN, a Word2Vec run
and a small search, served by `tensorboard --logdir` on 127.0.0.1, asked
through TensorBoard's own HTTP API, and photographed by headless Chromium.
The summaries themselves are read with TensorBoard's reader in the tests
of each family (test_cli, test_gan, test_lstm, test_word2vec, test_tune)."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from kerasdl.cli import main
from tests.conftest import ROOT, TINY
from tests.test_gan import TINY_GAN
from tests.test_word2vec import RECIPE as WORD2VEC
from tests.test_word2vec import SMALL as SMALL_WORD2VEC


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


def _get(port, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


@pytest.mark.slow  # Four runs, a TensorBoard server and a browser: about a minute.
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_tensorboard_shows_the_confusion_matrix_samples_projector_and_hparams(workdir):
    from PIL import Image

    recipes = ROOT / "recipes"
    for arguments in (
        ["run", str(recipes / "cnn.yaml"), *_sets([*TINY, "export.enabled=false"])],
        ["run", str(recipes / "gan.yaml"), *_sets([*TINY_GAN, "export.enabled=false"])],
        ["run", WORD2VEC, *_sets([*SMALL_WORD2VEC, "export.enabled=false"])],
        ["tune", str(recipes / "dense.yaml"), "--max-trials", "2", "--algorithm", "random", "--trials-per-process", "0",
         "--set", "tune.directory=runs/tuning", *_sets(["data.max_train_examples=500", "training.epochs=2"])],
    ):
        result = CliRunner().invoke(main, [*arguments, "--quiet"])
        assert result.exit_code == 0, result.output
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", "runs", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                images = _get(port, "/data/plugin/images/tags")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "TensorBoard did not start"
                time.sleep(1)
        # What each dashboard serves, through TensorBoard's own API.
        tags = {run: set(run_tags) for run, run_tags in images.items()}
        assert any(run.endswith("logs/evaluation") and "test/confusion_matrix" in found for run, found in tags.items())
        assert any(run.endswith("logs/samples") and "samples" in found for run, found in tags.items())
        projected = _get(port, "/data/plugin/projector/runs")
        assert any(run.endswith("logs/projector") for run in projected)
        experiment = _get(port, "/data/plugin/hparams/experiment", {"experimentName": ""})
        assert {info["name"] for info in experiment["hparamInfos"]} == {
            "model.units", "model.dropout_rate", "model.activation", "optimizer.learning_rate.initial_learning_rate",
            "training.batch_size"}
        # What a user sees: each dashboard photographed, and not blank.
        for dashboard in ("images", "hparams", "projector", "scalars"):
            shot = workdir / f"{dashboard}.png"
            subprocess.run(
                ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--window-size=1400,1000", "--virtual-time-budget=20000", f"--screenshot={shot}",
                 f"http://127.0.0.1:{port}/?darkMode=false#{dashboard}"],
                capture_output=True, timeout=120, check=True,
            )
            colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 200, f"{dashboard}: a nearly blank page"
    finally:
        server.kill()
        server.wait()
