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


def test_epoch_curves_write_keras_epoch_curves_and_graph_without_per_batch_calls(tmp_path):
    """kerasdl's TensorBoard callback writes what Keras's does with
    update_freq="epoch" (the same events, the graph), but skips the
    summary calls Keras makes after every batch for nothing."""
    import keras
    import numpy as np
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from kerasdl.runtime import summaries
    from tests.conftest import tensorboard_summaries

    calls = []

    class Counted:  # The callback's tf.summary, counting scalar calls.
        def __init__(self, module):
            self.module = module

        def __getattr__(self, name):
            return getattr(self.module, name)

        def scalar(self, name, *args, **kwargs):
            calls.append(name)
            return self.module.scalar(name, *args, **kwargs)

    x, y = np.random.default_rng(0).normal(size=(64, 4)), np.arange(64) % 2
    written = {}
    for name, callback in (("keras", keras.callbacks.TensorBoard(str(tmp_path / "keras"))),
                           ("kerasdl", summaries.EpochCurves(str(tmp_path / "kerasdl")))):
        callback._summary_module = Counted(tf.summary)
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        calls.clear()
        model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, callbacks=[callback], verbose=0)
        written[name] = list(calls), {
            split: {tag: [step for step, _ in values] for tag, (_, values) in
                    tensorboard_summaries(tmp_path / name / split).items()}
            for split in ("train", "validation")
        }
    (keras_calls, keras_events), (our_calls, our_events) = written["keras"], written["kerasdl"]
    assert sum(call.startswith("batch_") for call in keras_calls) == 2 * 6 * 2  # 2 epochs, 6 batches, 2 metrics.
    assert [call for call in keras_calls if not call.startswith("batch_")] == our_calls
    assert our_events == keras_events  # The same tags at the same epochs.
    assert our_events["train"]["epoch_loss"] == [0, 1] and "epoch_accuracy" in our_events["validation"]
    graphs = {name: EventAccumulator(str(tmp_path / name / "train")).Reload().Tags()["graph"] for name in written}
    assert graphs["kerasdl"] == graphs["keras"]  # The graph write of the first batch kept as Keras has it.
