"""Knowledge distillation (issue 36, ``training.distillation``,
models/distillation.py): the loss, a student that learns from its teacher
alone, and the bad recipes (docs/compression.md)."""

import json

import keras
import numpy as np
import pytest

from kerasdl.models import distillation
from tests.conftest import ROOT, TINY, run_cli_here

RECIPE = str(ROOT / "recipes" / "distill.yaml")


def _sets(settings):
    return [item for setting in settings for item in ("--set", setting)]


def test_softening_is_dividing_the_logits_by_the_temperature():
    logits = np.array([[2.0, 0.5, -1.0]], np.float32)
    softened = keras.ops.convert_to_numpy(distillation.soften(keras.ops.softmax(logits), 4.0))
    np.testing.assert_allclose(softened, keras.ops.convert_to_numpy(keras.ops.softmax(logits / 4.0)), rtol=1e-5)


def test_the_training_loss_is_the_weighted_hard_loss_plus_t_squared_kl():
    keras.utils.set_random_seed(0)

    def classifier():
        inputs = keras.Input((6,))
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))

    student, teacher = classifier(), classifier()
    student.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    distillation.distil(student, teacher, temperature=3.0, hard_label_weight=0.25)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0])
    p, t = (keras.ops.convert_to_numpy(model(x)) for model in (student, teacher))
    hard = -np.mean(np.log(p[np.arange(5), y]))

    def soft(q):
        q = q ** (1 / 3.0)
        return q / q.sum(axis=1, keepdims=True)

    kl = np.mean(np.sum(soft(t) * np.log(soft(t) / soft(p)), axis=1))
    trained = float(student.compute_loss(x=x, y=y, y_pred=p, training=True))
    assert trained == pytest.approx(0.25 * hard + 0.75 * 9.0 * kl, rel=1e-4)
    assert float(student.compute_loss(x=x, y=y, y_pred=p, training=False)) == pytest.approx(hard, rel=1e-4)


@pytest.fixture
def teacher_file(fashion_cnn, tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "teacher.keras"
    fashion_cnn[0].save(path)
    return path


def test_a_student_taught_by_the_teacher_alone_learns_the_classes(workdir, teacher_file):
    """hard_label_weight 0: the labels never reach the loss, only the
    teacher's answers do. A student that ignores the teacher stays at chance."""
    settings = [*TINY, "training.epochs=6", f"training.distillation.teacher={teacher_file}",
                "training.distillation.hard_label_weight=0", "model.dense_units=[16]", "export.enabled=false"]
    result = run_cli_here("run", RECIPE, "--json", *_sets(settings), cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["test"]["accuracy"] > 0.35, summary["test"]  # Chance is 0.1.
    assert set(summary["baselines"]) == {"teacher"}
    assert "Student " in result.stderr and "parameters, teacher" in result.stderr


@pytest.mark.parametrize("settings, message", [
    (["training.distillation.teacher=nowhere"], "training.distillation.teacher: nowhere: no such file or folder"),
    (["training.distillation={temperature: 2.0}"], "training.distillation.teacher is required"),
    (["training.distillation.temprature=2.0"], "training.distillation.temprature"),
    (["training.distillation.hard_label_weight=1.5"], "training.distillation.hard_label_weight"),
    (["data.classes=[0, 1]", "training.distillation.teacher=TEACHER"],
     "answers 10 probabilities; the student learns 2"),
    (["training.label_mixing=mix_up", "training.distillation.teacher=TEACHER"],
     "training.label_mixing mixes them; keep one"),
])
def test_bad_distillation_recipes_fail_cleanly_before_writing(workdir, teacher_file, settings, message):
    settings = [setting.replace("TEACHER", str(teacher_file)) for setting in settings]
    result = run_cli_here("run", RECIPE, "--set", "tune=null", *_sets(settings), cwd=workdir)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not (workdir / "runs").exists() and not (workdir / "saved_models").exists()


def test_a_gan_takes_no_teacher(workdir, teacher_file):
    result = run_cli_here("run", str(ROOT / "recipes" / "gan.yaml"), "--set", "tune=null",
                          "--set", f"training.distillation.teacher={teacher_file}", cwd=workdir)
    assert result.returncode == 2 and "training.distillation: a classifier learns from a teacher" in result.stderr
    assert not (workdir / "runs").exists()
