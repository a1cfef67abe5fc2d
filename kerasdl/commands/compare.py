"""``kerasdl compare A.yaml B.yaml --seeds N``: is recipe A better than B,
or was one run lucky?

Both recipes train on the same N seeds, in pairs: pair i sets
``training.seed`` to the first recipe's seed + i in both, so a pair shares
its validation split, shuffles and initial weights wherever the two
recipes build the same layers. The answer is the paired difference of a
test score (A − B): its mean with a paired t 95% interval, its median, and
in how many pairs A won. Each run is an ordinary run folder; a finished run
of the same resolved recipe is reused, so an interrupted comparison goes
on where it stopped. The result goes to ``comparisons/<A>_vs_<B>/<time>/``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from kerasdl.commands.runs import recipe_differences
from kerasdl.errors import InputError
from kerasdl.evaluation import figures
from kerasdl.evaluation.intervals import t_interval
from kerasdl.recipe.resolve import Recipe, load_recipe
from kerasdl.runtime import atomic, preflight, runs
from kerasdl.tasks import loop

# Scores where lower is better; any other is higher-better.
LOWER_IS_BETTER = ("loss", "rmse", "mae", "rmse_at_horizon", "mae_at_horizon", "fid")
# The score compared when none is given: the first of these a run reports.
PREFERRED = ("accuracy", "rmse", "analogy_accuracy", "psnr")
# Differing recipe keys printed (summary.json has them all).
SHOWN_KEYS = 12
TABLE = "comparison.csv"
SUMMARY = "summary.json"
BOXPLOT = "boxplot.png"
LINKS = "runs"


def compare(
    first: str, second: str, seeds: int, *, overrides: Sequence[str] = (), metric: Optional[str] = None,
    output_dir: str = "comparisons", log: Callable[[str], None] = print, verbose: Any = 0,
) -> dict:
    """Trains (or reuses) both recipes on ``seeds`` paired seeds and compares them.

    Args:
        first, second: Recipe files (A and B).
        seeds: Pairs of runs.
        overrides: ``--set`` assignments applied to both recipes.
        metric: The test score compared; by default accuracy, RMSE or the
            analogy accuracy, whichever the runs report.
        output_dir: The comparison folder goes to
            ``<output_dir>/<A>_vs_<B>/<timestamp>/``.

    Returns:
        The comparison: the pairs, the paired differences' statistics, the
        recipe keys that differ, the folder written.

    Raises:
        RecipeError: a recipe is invalid.
        InputError: both recipes have the same name (their runs would mix),
            or the score is not one both report.
    """
    recipes = [load_recipe(path, [*overrides, "export.enabled=false"]) for path in (first, second)]
    if recipes[0].name == recipes[1].name:
        raise InputError(
            f"{first} and {second} are both named '{recipes[0].name}': their runs would share runs/{recipes[0].name}/. "
            "Give one a different name: (the recipe's name key, or --set name=...)."
        )
    for recipe in recipes:
        preflight.check_outputs(recipe)
    preflight.writable_folder(output_dir, "--output-dir", first)
    base = recipes[0]["training"]["seed"]
    pairs = []
    for index in range(seeds):
        seed = base + index
        pair = {"seed": seed}
        for label, recipe in zip("ab", recipes):
            pair[label] = _run(recipe.with_values({"training.seed": seed}), f"pair {index + 1} of {seeds}", log,
                               verbose)
        pairs.append(pair)
    metric = metric or _default_metric(pairs)
    missing = [label for pair in pairs for label in "ab" if metric not in pair[label]["test"]]
    if missing:
        reported = sorted(set(pairs[0]["a"]["test"]) & set(pairs[0]["b"]["test"]))
        raise InputError(f"--metric {metric}: not a test score of both recipes' runs. Both report: "
                         f"{', '.join(reported)}.")
    lower = metric in LOWER_IS_BETTER
    scores = np.array([[pair["a"]["test"][metric], pair["b"]["test"][metric]] for pair in pairs], float)
    statistics = paired_statistics(scores[:, 0], scores[:, 1], lower_is_better=lower)
    differences = [  # What the pairs vary (the seed), the names and the search spaces (not trained) aside.
        row for row in recipe_differences(recipes[0].values, recipes[1].values)
        if row[0] not in ("name", "training.seed") and not row[0].startswith("tune.")
    ]
    result = {
        "first": {"recipe": first, "name": recipes[0].name},
        "second": {"recipe": second, "name": recipes[1].name},
        "metric": metric,
        "lower_is_better": lower,
        "pairs": [{"seed": pair["seed"], "first": float(score[0]), "second": float(score[1]),
                   "difference": float(score[0] - score[1]),
                   "first_run": pair["a"]["run_dir"], "second_run": pair["b"]["run_dir"]}
                  for pair, score in zip(pairs, scores)],
        **statistics,
        "recipe_differences": [{"key": key, "first": a, "second": b} for key, a, b in differences],
    }
    parent = Path(output_dir) / f"{recipes[0].name}_vs_{recipes[1].name}"
    parent.mkdir(parents=True, exist_ok=True)
    folder = atomic.unused_stamp(parent)
    atomic.write_folder(folder, lambda staging: _write(staging, result))
    result["folder"] = str(folder)
    return result


def paired_statistics(first: np.ndarray, second: np.ndarray, *, lower_is_better: bool) -> dict:
    """The paired differences ``first − second``: mean with its 95% interval
    (``t_interval``), median, how many pairs each side won (ties apart), and
    whether the interval tells the two apart (it does not hold 0)."""
    differences = np.asarray(first, float) - np.asarray(second, float)
    better = -differences if lower_is_better else differences
    interval = t_interval(differences)
    return {
        "mean_difference": float(differences.mean()),
        "interval_95": interval,
        "interval_method": "paired t",
        "decided": interval is not None and (interval[0] > 0 or interval[1] < 0),
        "median_difference": float(np.median(differences)),
        "first_wins": int((better > 0).sum()),
        "second_wins": int((better < 0).sum()),
        "ties": int((better == 0).sum()),
    }


def report(result: dict) -> list[str]:
    """The comparison as lines to print."""
    metric, pairs = result["metric"], result["pairs"]
    a, b = result["first"]["name"], result["second"]["name"]
    direction = "lower is better" if result["lower_is_better"] else "higher is better"
    lines = [f"Test {metric} ({direction}), {len(pairs)} paired seeds: A = {a}, B = {b}",
             f"{'seed':>6}  {'A':>8}  {'B':>8}  {'A - B':>8}"]
    lines += [f"{pair['seed']:>6}  {pair['first']:8.4f}  {pair['second']:8.4f}  "
              f"{pair['difference']:+8.4f}" for pair in pairs]
    lines += [
        f"Median of A - B: {result['median_difference']:+.4f}; mean {result['mean_difference']:+.4f}, "
        + _interval(result["interval_95"]),
        f"A better in {result['first_wins']} of {len(pairs)} pairs, B in {result['second_wins']}"
        + (f", {result['ties']} ties" if result["ties"] else "") + ".",
        _verdict(result, a, b),
    ]
    keys = result["recipe_differences"]
    lines.append("Recipe keys that differ (A | B):" if keys else "Recipe keys that differ: none (one recipe, two "
                                                                 "names).")
    lines += [f"  {row['key']}: {_short(row['first'])} | {_short(row['second'])}" for row in keys[:SHOWN_KEYS]]
    if len(keys) > SHOWN_KEYS:
        lines.append(f"  ... and {len(keys) - SHOWN_KEYS} more (summary.json lists them all)")
    if "folder" in result:
        lines.append(f"Comparison: {result['folder']}")
    return lines


def _interval(interval: Optional[list[float]]) -> str:
    if interval is None:
        return "no interval from one pair"
    low, high = interval
    return f"95% interval [{low:+.4f}, {high:+.4f}] (paired t)"


def _verdict(result: dict, a: str, b: str) -> str:
    """Whether these seeds tell A from B: the interval on one side of 0."""
    pairs = len(result["pairs"])
    if result["interval_95"] is None:
        return "One pair cannot tell the two apart: run --seeds 3 or more."
    if not result["decided"]:
        return (f"The interval holds 0: {pairs} seeds cannot tell {a} from {b}. More seeds narrow it "
                "(its width shrinks as 1/sqrt(seeds)), or the difference is too small to matter.")
    low, high = result["interval_95"]
    higher = a if low > 0 else b
    winner = higher if not result["lower_is_better"] else (b if higher == a else a)
    return f"{winner} is better: the interval lies on one side of 0."


def _run(recipe: Recipe, label: str, log: Callable[[str], None], verbose: Any) -> dict:
    """A finished run of ``recipe``: reused if one exists, else trained
    (resuming an unfinished one, as ``kerasdl run`` does)."""
    found = runs.find_finished(recipe["training"]["runs_dir"], recipe.name, recipe.to_yaml())
    if found is not None:
        log(f"{recipe.name}, {label}, seed {recipe['training']['seed']}: reusing {found}")
        return json.loads((found / runs.METRICS).read_text())
    log(f"{recipe.name}, {label}, seed {recipe['training']['seed']}: training")
    return loop.run(recipe, verbose=verbose, log=lambda line: None)


def _default_metric(pairs: list) -> str:
    reported = [key for key in pairs[0]["a"]["test"] if key in pairs[0]["b"]["test"]]
    for key in (*PREFERRED, *reported):
        if key in reported and key != "loss":
            return key
    return "loss"


def _write(folder: Path, result: dict) -> None:
    """The comparison folder: the pairs (CSV), the summary (JSON), a box
    plot of both recipes' scores with each pair joined, links to the runs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seed", f"{result['first']['name']} {result['metric']}",
                     f"{result['second']['name']} {result['metric']}", "difference", "first_run", "second_run"])
    for pair in result["pairs"]:
        writer.writerow([pair["seed"], pair["first"], pair["second"], pair["difference"], pair["first_run"],
                         pair["second_run"]])
    (folder / TABLE).write_text(buffer.getvalue())
    (folder / SUMMARY).write_text(json.dumps(result, indent=2, default=str) + "\n")
    (folder / LINKS).mkdir()
    for pair in result["pairs"]:
        for side in ("first", "second"):
            link = folder / LINKS / f"{result[side]['name']}-seed{pair['seed']}"
            link.symlink_to(Path(pair[f"{side}_run"]).resolve(), target_is_directory=True)
    figures.paired_scores(folder / BOXPLOT, result)


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
