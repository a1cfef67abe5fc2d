"""`kerasdl compare A.yaml B.yaml --seeds N` (issue 22): paired seeds, the
paired difference's statistics, reuse of finished runs, bad input."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl.cli import main
from kerasdl.commands.compare import paired_statistics, report
from kerasdl.evaluation.intervals import t_interval
from kerasdl.recipe.resolve import load_recipe
from tests.conftest import ROOT

DENSE = ROOT / "recipes" / "dense.yaml"
SMALL = ["data.max_train_examples=500", "data.max_test_examples=200", "training.epochs=1", "training.batch_size=64"]


def test_paired_statistics():
    first, second = np.array([0.90, 0.92, 0.91, 0.95]), np.array([0.89, 0.93, 0.88, 0.95])
    statistics = paired_statistics(first, second, lower_is_better=False)
    assert statistics["mean_difference"] == pytest.approx(0.0075)
    assert statistics["median_difference"] == pytest.approx(0.005)
    assert (statistics["first_wins"], statistics["second_wins"], statistics["ties"]) == (2, 1, 1)
    # The paired t interval, by hand: differences 0.01, -0.01, 0.03, 0 have
    # s = sqrt(0.000875 / 3); t(0.975, 3 degrees of freedom) = 3.182446.
    half = 3.182446 * np.sqrt(0.000875 / 3) / 2
    assert statistics["interval_95"] == pytest.approx([0.0075 - half, 0.0075 + half], abs=1e-6)
    assert statistics["interval_method"] == "paired t" and statistics["decided"] is False  # It holds 0.
    assert paired_statistics(first, second, lower_is_better=False) == statistics  # A rerun says the same.
    # For a loss, lower wins.
    assert paired_statistics(first, second, lower_is_better=True)["first_wins"] == 1
    # One pair has no spread, so no interval; pairs all on one side decide.
    assert paired_statistics(first[:1], second[:1], lower_is_better=False)["interval_95"] is None
    assert paired_statistics(first + 0.05, second, lower_is_better=False)["decided"] is True


def test_the_report_says_whether_the_seeds_tell_the_recipes_apart():
    first, second = np.array([0.90, 0.92, 0.91]), np.array([0.88, 0.91, 0.89])

    def said(a, b, lower_is_better=False):
        result = {**paired_statistics(a, b, lower_is_better=lower_is_better), "metric": "m",
                  "lower_is_better": lower_is_better, "first": {"name": "A"}, "second": {"name": "B"},
                  "recipe_differences": [], "pairs": [
                      {"seed": seed, "first": x, "second": y, "difference": x - y}
                      for seed, (x, y) in enumerate(zip(a, b))]}
        return "\n".join(report(result))

    assert "A is better: the interval lies on one side of 0." in said(first, second)
    assert "B is better" in said(first, second, lower_is_better=True)  # A's higher loss loses.
    assert "The interval holds 0: 3 seeds cannot tell A from B." in said(first, second[::-1])
    assert "One pair cannot tell the two apart" in said(first[:1], second[:1])


def _coverage(interval, pairs: int, comparisons: int = 4000) -> float:
    """How often ``interval`` (differences -> [low, high]) covers the true
    mean difference over synthetic comparisons: differences of accuracy-like
    size, normal around a known mean."""
    rng = np.random.default_rng(pairs)
    truth, spread = 0.004, 0.006
    covered = 0
    for _ in range(comparisons):
        low, high = interval(rng.normal(truth, spread, pairs))
        covered += low <= truth <= high
    return covered / comparisons


def _percentile_bootstrap(differences: np.ndarray) -> list[float]:
    """The interval kerasdl printed before issue 35, for the contrast."""
    rng = np.random.default_rng(0)
    means = differences[rng.integers(0, len(differences), (2000, len(differences)))].mean(axis=1)
    return [np.percentile(means, 2.5), np.percentile(means, 97.5)]


@pytest.mark.parametrize("pairs", [3, 5, 10])
def test_the_95_interval_covers_the_true_difference_95_percent_of_the_time(pairs):
    # 4,000 comparisons: the binomial standard error of a 95 % coverage is 0.34 points.
    assert 0.94 <= _coverage(t_interval, pairs) <= 0.96


def test_the_percentile_bootstrap_at_3_pairs_covers_far_less_than_it_says():
    """What the coverage test guards against: the interval printed before,
    the range of the resampled means, at 3 pairs."""
    assert _coverage(_percentile_bootstrap, 3, comparisons=1000) < 0.85


def test_compare_trains_paired_seeds_then_reuses_the_runs(workdir):
    wide = workdir / "dense_wide.yaml"
    wide.write_text(f"base: {DENSE}\nname: dense_wide\nmodel:\n  units: [64]\n")
    arguments = ["compare", str(DENSE), str(wide), "--seeds", "2", "--json", *[
        item for setting in SMALL for item in ("--set", setting)]]
    first = CliRunner().invoke(main, arguments)
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert [pair["seed"] for pair in result["pairs"]] == [42, 43]
    for pair in result["pairs"]:  # Each pair trained both recipes on its seed.
        for side in ("first_run", "second_run"):
            assert load_recipe(workdir / pair[side] / "recipe.yaml")["training"]["seed"] == pair["seed"]
        metrics = json.loads((workdir / pair["first_run"] / "metrics.json").read_text())
        assert pair["first"] == metrics["test"]["accuracy"]
        assert pair["difference"] == pytest.approx(pair["first"] - pair["second"])
    assert result["metric"] == "accuracy" and result["first_wins"] + result["second_wins"] + result["ties"] == 2
    assert [row["key"] for row in result["recipe_differences"]] == ["model.units"]
    folder = workdir / result["folder"]
    assert sorted(path.name for path in folder.iterdir()) == ["boxplot.png", "comparison.csv", "runs", "summary.json"]
    links = sorted(folder.glob("runs/*"))
    assert [link.name for link in links] == ["dense-seed42", "dense-seed43", "dense_wide-seed42", "dense_wide-seed43"]
    assert all((link / "metrics.json").is_file() for link in links)
    assert len((folder / "comparison.csv").read_text().splitlines()) == 3
    assert not (workdir / "saved_models").exists()  # A comparison scores; it does not export.

    again = CliRunner().invoke(main, arguments)
    assert again.exit_code == 0, again.output
    assert again.stderr.count("reusing") == 4 and "training" not in again.stderr
    assert json.loads(again.stdout)["pairs"] == result["pairs"]
    assert len(list((workdir / "runs" / "dense").iterdir())) == 2
    # A score the runs do not report is refused, naming those they do (the runs reused).
    refused = CliRunner().invoke(main, [*arguments, "--metric", "rmse"])
    assert refused.exit_code == 2, refused.output
    assert ("--metric rmse: not a test score of both recipes' runs. Both report: accuracy, loss, macro_f1."
            in refused.output)


def test_compare_refuses_two_recipes_of_one_name(workdir):
    same = CliRunner().invoke(main, ["compare", str(DENSE), str(DENSE), "--seeds", "1"])
    assert same.exit_code == 2 and "are both named 'dense': their runs would share runs/dense/" in same.output
    assert not (workdir / "runs").exists()
