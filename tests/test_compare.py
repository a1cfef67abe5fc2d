"""`kerasdl compare A.yaml B.yaml --seeds N` (issue 22): paired seeds, the
paired difference's statistics, reuse of finished runs, bad input."""

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from kerasdl.cli import main
from kerasdl.commands.compare import paired_statistics
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
    # The bootstrap's 95% interval: the 2.5th and 97.5th percentiles of the
    # means of all 4**4 equally likely resamples, computed exactly here; the
    # means step by 0.0025, so the 10,000 drawn resamples land on the same
    # steps (the extremes, -0.01 and 0.03, or a 90% interval's 0.02 would not).
    resampled = [np.mean([(first - second)[index] for index in draw]) for draw in itertools.product(range(4), repeat=4)]
    exact = np.percentile(resampled, 2.5), np.percentile(resampled, 97.5)
    assert exact == pytest.approx((-0.005, 0.0225))
    assert statistics["interval_95"] == pytest.approx(exact, abs=0.00125)
    assert paired_statistics(first, second, lower_is_better=False) == statistics  # Seeded: a rerun says the same.
    # For a loss, lower wins.
    assert paired_statistics(first, second, lower_is_better=True)["first_wins"] == 1


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
