"""Strategies, workers and precision, exercised on a machine with no GPU:
two logical CPU devices for MirroredStrategy, two worker processes on
127.0.0.1 for MultiWorkerMirroredStrategy."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from kerasdl.artifacts import savedmodel as export
from kerasdl.builders import build_cnn, build_gan
from kerasdl.cli import main
from kerasdl.errors import ExportError, RecipeError
from kerasdl.recipe import load_recipe
from kerasdl.runtime import devices, runs
from kerasdl.tasks.loop import prepared as Prepared
from tests.conftest import ROOT, TINY, run_cli

DENSE = str(ROOT / "recipes" / "dense.yaml")
# Small and deterministic: no dropout, so that replicas draw no randomness.
SMALL_DENSE = [
    "data.max_train_examples=2000", "data.max_test_examples=500", "training.epochs=2",
    "model.dropout_rate=0", "training.batch_size=128",
]
TWO_CPUS = "training.devices=[/cpu:0, /cpu:1]"


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def _run_json(workdir, recipe, settings, env=None):
    result = run_cli("run", recipe, "--json", "--quiet", *_sets(settings), cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _run_json_together(workdir, *runs):
    """``_run_json`` of several ``(recipe, settings)`` at once, each in a
    folder of its own: their TensorFlow start-ups overlap."""
    processes = []
    for index, (recipe, settings) in enumerate(runs):
        folder = workdir / f"run{index}"
        folder.mkdir()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "kerasdl", "run", recipe, "--json", "--quiet", *_sets(settings)],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    results = [process.communicate(timeout=600) for process in processes]
    for process, (_, err) in zip(processes, results):
        assert process.returncode == 0, err[-3000:]
    return [json.loads(out) for out, _ in results]


# --- Placement rules ---------------------------------------------------------

def _tf_config(monkeypatch, cluster, kind, index):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))


def test_tf_config_decides_the_chief(monkeypatch):
    workers = {"worker": ["a:1", "b:2", "c:3"]}
    _tf_config(monkeypatch, workers, "worker", 0)
    assert devices._task(devices.cluster()) == (("worker", 0), True, 3)
    _tf_config(monkeypatch, workers, "worker", 2)
    assert devices._task(devices.cluster()) == (("worker", 2), False, 3)
    with_chief = {"chief": ["a:1"], "worker": ["b:2"]}
    _tf_config(monkeypatch, with_chief, "worker", 0)
    assert devices._task(devices.cluster()) == (("worker", 0), False, 2)
    _tf_config(monkeypatch, with_chief, "chief", 0)
    assert devices._task(devices.cluster()) == (("chief", 0), True, 2)
    monkeypatch.delenv("TF_CONFIG")
    assert devices.cluster() is None and devices._task(None) == (None, True, 1)


@pytest.mark.parametrize("text", ["{not json", '{"cluster": {"worker": ["a:1"]}}',
                                  '{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}'])
def test_a_bad_tf_config_is_refused_with_an_example(monkeypatch, text):
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(RecipeError, match='TF_CONFIG must be JSON like {"cluster"'):
        devices.cluster()


def test_batch_scope():
    placement = devices.Placement(tf.distribute.get_strategy(), "mirrored", 4, 1, None, True, "float32")
    assert placement.global_batch_size(32, "global") == 32
    assert placement.global_batch_size(32, "per_replica") == 128


def test_mixed_precision_follows_the_device(monkeypatch, tmp_path):
    strategy = tf.distribute.get_strategy()
    assert devices.resolve_precision("float32", strategy) == "float32"
    assert devices.resolve_precision("mixed_float16", strategy) == "mixed_float16"
    flags = tmp_path / "cpuinfo"
    monkeypatch.setattr(devices, "CPU_FLAGS", flags)
    flags.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert devices.cpu_supports_bfloat16() and devices.resolve_precision("mixed", strategy) == "mixed_bfloat16"
    flags.write_text("flags\t\t: fpu sse avx2 avx512f\n")
    assert not devices.cpu_supports_bfloat16()
    with pytest.raises(RecipeError, match="mixed found no GPU and a CPU without bfloat16"):
        devices.resolve_precision("mixed", strategy)


# --- Mixed precision, in this process ----------------------------------------

def _mixed(precision):
    return devices.Placement(tf.distribute.get_strategy(), "default", 1, 1, None, True, precision)


def test_a_bfloat16_cnn_computes_in_bfloat16_and_answers_in_float32():
    with devices.building(_mixed("mixed_bfloat16")):
        model = build_cnn((28, 28, 1), 10, filters=(4, 8), convs_per_block=1)
    assert keras.config.dtype_policy().name == "float32"  # Restored.
    convolution = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert convolution.compute_dtype == "bfloat16" and convolution.variable_dtype == "float32"
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 255, (64, 28, 28, 1)).astype("float32")
    history = model.fit(images, np.arange(64) % 10, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model(images[:2]).dtype == "float32"


def test_a_float16_gan_scales_both_losses():
    with devices.building(_mixed("mixed_float16")):
        gan = build_gan((28, 28, 1), 10, latent_dim=8, generator_filters=(8, 4), discriminator_filters=(4, 8))
        gan.compile(discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                    generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    for optimizer in (gan.discriminator_optimizer, gan.generator_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    images = np.random.default_rng(0).integers(0, 255, (64, 28, 28, 1)).astype("uint8")
    history = gan.fit(images, epochs=1, batch_size=32, verbose=0)
    assert all(np.isfinite(values[0]) for values in history.history.values())
    assert int(gan.discriminator_optimizer.iterations) == int(gan.generator_optimizer.iterations) == 2
    assert gan.generator(np.zeros((1, 8), "float32")).dtype == "float32"


def test_a_bfloat16_export_is_verified_within_bfloat16_rounding(tmp_path):
    # Seeded: with the random state an earlier test left (tests/test_tasks.py run first), class 0
    # had 0.02 probability on every image and the shifted bias moved it by 0.015, inside the tolerance.
    keras.utils.set_random_seed(0)
    with devices.building(_mixed("mixed_bfloat16")):
        model = build_cnn((28, 28, 1), 10, filters=(4, 8), convs_per_block=1)
        other = build_cnn((28, 28, 1), 10, filters=(4, 8), convs_per_block=1)
    other.set_weights(model.get_weights())
    head = other.layers[-1]
    head.bias.assign(np.eye(10, dtype="float32")[0] * 0.5)  # Class 0 gets ~0.05 more probability.
    sample = np.random.default_rng(0).integers(0, 255, (16, 28, 28, 1)).astype("float32")
    path, difference = export.export_savedmodel(model, str(tmp_path), "m", sample, {}, precision="mixed_bfloat16")
    assert difference <= export.TOLERANCES["mixed_bfloat16"][0]
    with pytest.raises(ExportError, match="does not reproduce"):
        export.verify(path, other, sample, precision="mixed_bfloat16")


def test_jit_compile_and_steps_per_execution_reach_compile():
    recipe = load_recipe(ROOT / "recipes" / "cnn.yaml",
                         TINY + ["training.jit_compile=true", "training.steps_per_execution=4"])
    prepared = Prepared(recipe)
    assert prepared.model.jit_compile is True and prepared.model.steps_per_execution == 4
    default = Prepared(load_recipe(ROOT / "recipes" / "cnn.yaml", TINY))
    assert default.model.jit_compile is False  # auto: no XLA on a CPU-only machine


# --- Workers' folders --------------------------------------------------------

def test_a_worker_writes_only_to_a_scratch_folder_that_goes_away(tmp_path):
    recipe = load_recipe(ROOT / "recipes" / "cnn.yaml", TINY + [f"training.runs_dir={tmp_path / 'runs'}"])
    with runs.workspace(recipe, True, print) as (chief_folder, resumed):
        (chief_folder / runs.BACKUP).mkdir()
        (chief_folder / runs.BACKUP / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    assert resumed is None
    # The chief was killed: its folder is unfinished. A worker restarting
    # with it starts from the chief's checkpoint, in a folder of its own.
    with runs.workspace(recipe, False, print) as (folder, resumed):
        assert resumed == 3 and folder != chief_folder
        assert (folder / runs.BACKUP / "training_metadata.json").is_file()
        scratch = folder.parent
    assert not scratch.exists()
    assert sorted(p.name for p in (tmp_path / "runs" / "cnn").iterdir()) == [chief_folder.name]


# --- Several devices and workers, each in fresh processes --------------------

def test_mirrored_over_two_cpus_matches_one_device(workdir):
    one, two, per_replica = _run_json_together(
        workdir,
        (DENSE, SMALL_DENSE + ["training.devices=[/cpu:0]", "export.enabled=false"]),
        (DENSE, SMALL_DENSE + [TWO_CPUS, "export.enabled=false"]),
        (DENSE, SMALL_DENSE + [TWO_CPUS, "training.batch_size=64", "training.batch_scope=per_replica",
                               "export.enabled=false"]),
    )
    assert (one["strategy"], one["replicas"]) == ("one_device", 1)
    assert (two["strategy"], two["replicas"], two["global_batch_size"]) == ("mirrored", 2, 128)
    assert two["test"]["loss"] == pytest.approx(one["test"]["loss"], rel=1e-4)
    assert two["test"]["accuracy"] == pytest.approx(one["test"]["accuracy"], abs=0.005)
    assert per_replica["global_batch_size"] == 128
    assert per_replica["test"]["loss"] == pytest.approx(one["test"]["loss"], rel=1e-4)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_word2vec_over_two_cpus_matches_one_device(workdir, architecture):
    from tests.test_word2vec import RECIPE, SMALL

    settings = SMALL + ["export.enabled=false", f"model.architecture={architecture}"]
    one, two = _run_json_together(workdir, (RECIPE, settings), (RECIPE, settings + [TWO_CPUS]))
    assert two["replicas"] == 2 and one["replicas"] == 1
    assert np.allclose(two["word2vec"]["loss"], one["word2vec"]["loss"], rtol=1e-4)


def test_gan_replicas_draw_their_own_noise_and_train(workdir):
    script = textwrap.dedent("""
        import json, tensorflow as tf
        from kerasdl.runtime import devices
        from kerasdl.builders import build_gan
        devices.split_cpu(2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            gan = build_gan((28, 28, 1), 10, latent_dim=4, generator_filters=(4,), discriminator_filters=(4,), seed=1)
        noise = tf.function(lambda: strategy.run(gan._noise, args=(3,)))()
        first, second = (value.numpy() for value in strategy.experimental_local_results(noise))
        print(json.dumps({"same": bool((first == second).all()), "shape": list(first.shape)}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"same": False, "shape": [3, 4]}
    from tests.test_gan import TINY_GAN

    summary = _run_json(workdir, str(ROOT / "recipes" / "cgan.yaml"), TINY_GAN + [TWO_CPUS, "quality.enabled=false"])
    assert summary["replicas"] == 2 and summary["epochs"] == 2
    images = tf.saved_model.load(str(workdir / summary["export_path"])).signatures["serving_default"](
        latent=tf.zeros((2, 8)), class_id=tf.constant([0, 1], tf.int32))["images"]
    assert images.dtype == tf.uint8


def test_two_workers_on_loopback_train_and_the_chief_alone_writes(workdir):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "kerasdl", "run", DENSE, "--json", "--quiet", *_sets(SMALL_DENSE)],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    chief, worker = (json.loads(stdout) for stdout, _ in outputs)
    assert (chief["role"], chief["strategy"], chief["replicas"], chief["workers"]) == ("chief", "multi_worker", 2, 2)
    assert (worker["role"], worker["run_dir"], worker["export_path"]) == ("worker", None, None)
    # Both trained the same model: the same test scores.
    assert worker["test"] == chief["test"]
    # One run folder and one export, the chief's.
    assert len(list((workdir / "runs" / "dense").iterdir())) == 1
    assert sorted(p.name for p in (workdir / "saved_models" / "dense").iterdir()) == ["1"]
    assert chief["epochs"] == 2 and chief["export_max_difference"] <= 1e-4
    # The same recipe on one device of one process: within tolerance.
    alone = _run_json(workdir, DENSE, SMALL_DENSE + ["training.devices=[/cpu:0]", "export.enabled=false"])
    assert chief["test"]["loss"] == pytest.approx(alone["test"]["loss"], rel=1e-4)


@pytest.mark.parametrize("settings, env, message", [
    (["training.devices=[/gpu:0]"], {}, "training.devices: /gpu:0 does not exist here"),
    (["training.devices=[cpu0]"], {}, "training.devices: 'cpu0' is not a device name"),
    (["training.strategy=multi_worker"], {}, "multi_worker needs TF_CONFIG"),
    (["training.strategy=default", TWO_CPUS], {}, "the default strategy takes no devices"),
    ([], {"TF_CONFIG": "{oops"}, "TF_CONFIG must be JSON like"),
    (["training.precision=half"], {}, "training.precision must be one of: float32, mixed"),
    (["training.jit_compile=maybe"], {}, "training.jit_compile must be one of: auto, true, false"),
])
def test_bad_device_settings_fail_cleanly_before_writing(workdir, monkeypatch, settings, env, message):
    # In-process: each is refused before a device is set up, so no fresh
    # TensorFlow is needed (a clean exit is a SystemExit, never another error).
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["run", DENSE, *_sets(settings)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "dense.yaml" in result.stderr
    assert list(workdir.iterdir()) == []
