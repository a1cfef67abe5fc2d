"""A classifier's probabilities scored beyond the class it picks (issue 35):
ROC AUC and average precision for two classes, checked against
scikit-learn; the expected calibration error of any classifier; both in a
run's metrics.json with their figures; and a Keras metric that cannot score
the model's outputs refused before training."""

import json

import keras
import numpy as np
import pytest
from sklearn import metrics

from kerasdl.evaluation import probabilities
from tests.conftest import ROOT, run_cli_here

DENSE = str(ROOT / "recipes" / "dense.yaml")
TWO_CLASSES = ["data.classes=[0, 6]", "data.max_train_examples=600", "data.max_test_examples=300",
               "training.epochs=2", "training.batch_size=64", "export.enabled=false"]


def _sets(*assignments):
    return [item for assignment in assignments for item in ("--set", assignment)]


@pytest.mark.parametrize("seed", range(4))
def test_ranking_scores_match_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    positive = rng.integers(0, 2, 400).astype(bool)
    scores = np.round(rng.random(400) * 0.6 + positive * 0.3, 2)  # Rounded: many ties.
    assert probabilities.roc_auc(positive, scores) == pytest.approx(metrics.roc_auc_score(positive, scores))
    assert probabilities.average_precision(positive, scores) == pytest.approx(
        metrics.average_precision_score(positive, scores))
    false_rate, true_rate = probabilities.roc_curve(positive, scores)
    expected_false, expected_true, _ = metrics.roc_curve(positive, scores, drop_intermediate=False)
    np.testing.assert_allclose(false_rate, expected_false)
    np.testing.assert_allclose(true_rate, expected_true)


@pytest.mark.parametrize("seed", range(3))
def test_the_decision_threshold_is_youdens_j_as_scikit_learn_finds_it(seed):
    rng = np.random.default_rng(seed)
    positive = rng.integers(0, 2, 500).astype(bool)
    scores = np.clip(rng.normal(0.3 + 0.3 * positive, 0.15), 0, 1)
    false_rate, true_rate, thresholds = metrics.roc_curve(positive, scores)
    assert probabilities.decision_threshold(positive, scores) == pytest.approx(
        thresholds[np.argmax(true_rate - false_rate)])
    assert probabilities.decision_threshold(np.ones(5, bool), scores[:5]) == 0.5  # One class: nothing to rank.


def test_calibration_error_is_near_zero_when_calibrated_and_the_gap_when_overconfident():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20000)
    right = rng.random(20000) < confidence  # Right as often as it says.
    labels = np.where(right, 0, 1)
    calibrated = np.stack([confidence, 1 - confidence], axis=1)
    assert probabilities.calibration(labels, calibrated)["expected_calibration_error"] < 0.01
    # The same answers claiming 0.1 more than they earn (capped at 1).
    bold = np.clip(confidence + 0.1, 0, 1)
    overconfident = np.stack([bold, 1 - bold], axis=1)
    found = probabilities.calibration(labels, overconfident)
    assert found["expected_calibration_error"] == pytest.approx(np.mean(bold - confidence), abs=0.01)
    assert sum(row["count"] for row in found["bins"]) == 20000


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_a_two_class_run_reports_auc_and_calibration_with_their_figures(head, workdir):
    settings = [*TWO_CLASSES, f"model.output_activation={head}"]
    result = run_cli_here("run", DENSE, "--json", "--quiet", *_sets(*settings), cwd=workdir)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    section = summary["classifier"]
    assert section["positive_class"] == {"index": 1, "name": "Shirt"}
    # The section's scores are the test probabilities' (the model reloaded answers them again).
    run_dir = workdir / summary["run_dir"]
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    # A sigmoid head is one unit, answered as the two classes' probabilities.
    assert model.get_layer("predictions").output.shape[-1] == 2
    assert (head == "sigmoid") == ("sigmoid" in [layer.name for layer in model.layers])
    if head == "sigmoid":
        assert model.get_layer("sigmoid").units == 1
    from kerasdl.data import catalogue
    from kerasdl.recipe.resolve import load_recipe

    data = catalogue.from_recipe(load_recipe(run_dir / "recipe.yaml"))
    predicted = model.predict(data.x_test, verbose=0)
    assert section["roc_auc"] == pytest.approx(metrics.roc_auc_score(data.y_test == 1, predicted[:, 1]), abs=1e-4)
    assert section["pr_auc"] == pytest.approx(
        metrics.average_precision_score(data.y_test == 1, predicted[:, 1]), abs=1e-4)
    assert 0.75 < section["roc_auc"] <= 1  # Learned: shirts from T-shirts is hard, not chance.
    assert 0 <= section["expected_calibration_error"] < 0.2
    for name in ("roc_pr.png", "calibration.png"):
        assert (run_dir / name).read_bytes()[:4] == b"\x89PNG", name
    if head == "sigmoid":  # Its answers are two columns like a softmax's: predict, export, evaluate read them alike.
        return
    # The decision threshold, chosen on the validation split, is in the run folder and decides predict.
    decision = json.loads((run_dir / "decision_threshold.json").read_text())
    assert decision == section["decision"] and 0 < decision["threshold"] < 1
    assert decision["validation_examples"] == 60 and decision["positive_class"] == "Shirt"
    np.save(workdir / "batch.npy", data.x_test[:40])
    probability = predicted[:40, 1]

    def decided(threshold):
        (run_dir / "decision_threshold.json").write_text(json.dumps({**decision, "threshold": threshold}))
        answered = run_cli_here("predict", str(run_dir), "batch.npy", "--json", cwd=workdir)
        assert answered.returncode == 0, answered.stderr
        return [entry["decision"]["class"] for entry in json.loads(answered.stdout)["predictions"]]

    for threshold in (decision["threshold"], 0.2, 0.8):
        expected = np.where(probability >= threshold, "Shirt", "T-shirt/top")
        assert decided(threshold) == list(expected), threshold
    (run_dir / "decision_threshold.json").write_text('{"threshold": 7, "positive_class": "Shirt"}')
    refused = run_cli_here("predict", str(run_dir), "batch.npy", cwd=workdir)
    assert refused.returncode == 2 and "decision_threshold.json: is not a decision threshold" in refused.stderr
    (run_dir / "decision_threshold.json").write_text(json.dumps(decision))
    exported = run_cli_here("export", str(run_dir), "--format", "keras", "--no-evaluate", "--json", cwd=workdir)
    assert exported.returncode == 0, exported.stderr
    copied = workdir / json.loads(exported.stdout)["output"] / "assets.extra" / "decision_threshold.json"
    assert json.loads(copied.read_text())["threshold"] == decision["threshold"]  # The export decides alike.
    # kerasdl evaluate scores the model again the same way, with the same figures.
    evaluated = run_cli_here("evaluate", str(run_dir), "--json", cwd=workdir)
    assert evaluated.returncode == 0, evaluated.stderr
    again = json.loads(evaluated.stdout)
    assert again["roc_auc"] == pytest.approx(section["roc_auc"], abs=1e-6)
    assert all((workdir / again["output"] / name).is_file() for name in ("roc_pr.png", "calibration.png"))


def test_a_metric_that_cannot_score_the_outputs_is_refused_before_training(workdir):
    result = run_cli_here("run", DENSE, "--dry-run", *_sets(*TWO_CLASSES, "metrics=[accuracy, auc]"), cwd=workdir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "dense.yaml: metrics[1]: auc cannot score this model's outputs (2 per example)" in result.stderr
    assert "reports roc_auc and pr_auc in metrics.json" in result.stderr and "Traceback" not in result.stderr
    assert list(workdir.iterdir()) == []
    # Keras's metrics that fit the labels pass.
    fitting = "metrics=[accuracy, sparse_top_k_categorical_accuracy]"
    fine = run_cli_here("run", DENSE, "--dry-run", *_sets(*TWO_CLASSES, fitting), cwd=workdir)
    assert fine.returncode == 0, fine.stderr
