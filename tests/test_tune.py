"""`kerasdl tune`: the tune section's checks, the search, resume, refusal, distribution."""

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from kerasdl.cli import main
from kerasdl.errors import RecipeError
from kerasdl.recipe.resolve import load_recipe, resolve
from kerasdl.tune import settings as tuning
from tests.conftest import RECIPES, ROOT, tensorboard_summaries

DENSE = str(ROOT / "recipes" / "dense.yaml")
# Real Fashion-MNIST, a few hundred images, a small MLP: about a second a trial.
TINY_DENSE = [
    "data.max_train_examples=1000",
    "data.max_test_examples=200",
    "training.epochs=2",
    "training.batch_size=64",
]
SPACE = {
    "model.units": [[16], [32]],
    "model.dropout_rate": {"type": "float", "min": 0.0, "max": 0.4, "step": 0.2},
    "optimizer.learning_rate": {"type": "float", "min": 1e-3, "max": 1e-2, "sampling": "log"},
}


def _sets(assignments):
    return [item for assignment in assignments for item in ("--set", assignment)]


def _settings(tune=None, training=None, **extra):
    raw = {
        "model": {"builder": "dense"},
        "optimizer": {"learning_rate": 0.001},
        "training": training or {},
        "tune": {"objective": "val_accuracy", "space": SPACE} if tune is None else tune,
        **extra,
    }
    return tuning.load_settings(resolve(raw, "r.yaml"))


@pytest.mark.parametrize("path", [p for p in RECIPES if "tune" in load_recipe(p).values],
                         ids=lambda path: path.name)
def test_every_shipped_tune_section_validates(path):
    settings = tuning.load_settings(load_recipe(path))
    assert settings.space.keys and settings.max_trials >= 6


def test_a_valid_section_resolves_with_defaults():
    settings = _settings()
    assert settings.algorithm == "bayesian"
    assert settings.direction == "max"  # Inferred for accuracy.
    assert settings.space.get("model.units").labelled  # Lists travel as labels.
    assert settings.space.get("optimizer.learning_rate").sampling == "log"


def test_nested_space_mappings_read_as_dotted_keys():
    settings = _settings({"space": {"model": {"dropout_rate": [0.1, 0.2]}, "training.batch_size": [32, 64]}})
    assert settings.space.keys == ["model.dropout_rate", "training.batch_size"]


def test_conditions_put_parents_first():
    settings = _settings({"space": {
        "model.l2": {"type": "float", "min": 1e-5, "max": 1e-3, "sampling": "log", "when": {"model.batch_norm": False}},
        "model.batch_norm": {"type": "boolean"},
    }})
    assert settings.space.keys == ["model.batch_norm", "model.l2"]


BAD_SECTIONS = [
    # An unknown key path, in the model, in a section name, in the tune section.
    ({"space": {"model.dropout_rat": [0.1, 0.2]}},
     "r.yaml: tune.space.model.dropout_rat is not an argument of builder 'dense' (did you mean 'dropout_rate'?)"),
    ({"space": {"trainig.epochs": [1, 2]}}, "tune.space.trainig is not a recipe section (did you mean 'training'?)"),
    ({"space": SPACE, "max_trails": 3}, "tune.max_trails is not a key of section 'tune' (did you mean 'max_trials'?)"),
    ({"space": {"optimizer.learning_rate.initial_learning_rate": [1e-3, 1e-2]}},
     "'optimizer.learning_rate' is a value"),
    # Empty or repeated choices, values the recipe rejects.
    ({"space": {"model.units": []}}, "tune.space.model.units.values must be a non-empty list"),
    ({"space": {"model.units": {"type": "choice", "values": [[8], [8]]}}}, "lists [8] more than once"),
    ({"space": {"model.units": [[16], "big"]}}, "tune.space.model.units must be a list of integers"),
    ({"space": {"name": ["a", "b"]}}, "tune.space.name cannot be searched"),
    # Ranges: min > max, log scale reaching 0, wrong types, misspelt keys.
    ({"space": {"model.dropout_rate": {"type": "float", "min": 0.5, "max": 0.1}}},
        "needs min < max. Received: min=0.5, max=0.1"),
    ({"space": {"optimizer.learning_rate": {"type": "float", "min": 0.0, "max": 0.1, "sampling": "log"}}},
     "tune.space.optimizer.learning_rate.min must be > 0 with log sampling"),
    ({"space": {"training.epochs": {"type": "int", "min": 1.5, "max": 4}}}, "training.epochs.min must be an integer"),
    ({"space": {"model.dropout_rate": {"type": "float", "min": 0.1, "max": 0.5, "stepp": 0.1}}},
     "model.dropout_rate.stepp is not a key of a 'float' search space (did you mean 'step'?)"),
    ({"space": {"model.dropout_rate": {"type": "floot", "min": 0.1, "max": 0.5}}},
     "tune.space.model.dropout_rate.type must be one of: int, float, choice, boolean (did you mean 'float'?)"),
    ({"space": {"optimizer.learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "lgo"}}},
     "tune.space.optimizer.learning_rate.sampling must be one of: linear, log, reverse_log (did you mean 'log'?)"),
    ({"space": {"model.dropout_rate": 0.3}}, "must be a list of choices or a mapping"),
    ({"space": {}}, "tune.space must map recipe keys"),
    # Conditions.
    ({"space": {"model.l2": {"type": "float", "min": 1e-5, "max": 1e-3, "when": {"model.batch_norm": True}}}},
     "model.l2.when.model.batch_norm must name another searched key"),
    ({"space": {"model.batch_norm": {"type": "boolean"},
                "model.l2": {"type": "float", "min": 1e-5, "max": 1e-3, "when": {"model.batch_norm": "yes"}}}},
     "lists a value 'model.batch_norm' never takes"),
    # The objective, the algorithm and its options.
    ({"objective": "val_auc", "space": SPACE}, "tune.objective is never logged by this recipe's training"),
    ({"objective": "val_acuracy", "space": SPACE}, "(did you mean 'val_accuracy'?)"),
    ({"algorithm": "annealing", "space": SPACE}, "tune.algorithm must be one of: random, bayesian, hyperband, grid"),
    ({"algorithm": "bayesian", "options": {"num_initial_point": 2}, "space": SPACE},
     "tune.options.num_initial_point is not an option of the 'bayesian' algorithm (did you mean "
     "'num_initial_points'?)"),
    ({"algorithm": "grid", "space": {"model.dropout_rate": {"type": "float", "min": 0.1, "max": 0.5}}},
     "needs a step: grid search"),
    ({"algorithm": "hyperband", "space": {"training.epochs": [2, 4]}}, "cannot be searched with hyperband"),
    ({"algorithm": "hyperband", "options": {"factor": 1}, "space": SPACE}, "tune.options.factor must be >= 2"),
    ({"max_trials": 0, "space": SPACE}, "tune.max_trials is out of range"),
]


@pytest.mark.parametrize("tune, message", BAD_SECTIONS, ids=[m[:40] for _, m in BAD_SECTIONS])
def test_bad_tune_section_names_file_and_key(tune, message):
    with pytest.raises(RecipeError) as caught:
        _settings(tune)
    assert message in str(caught.value)
    assert str(caught.value).startswith("r.yaml: ")


def test_validation_objective_needs_a_validation_split():
    with pytest.raises(RecipeError, match="needs validation data: set training.validation_split > 0"):
        _settings(training={"validation_split": 0.0})


def test_missing_tune_section_shows_an_example():
    with pytest.raises(RecipeError, match="tune is missing"):
        tuning.load_settings(resolve({"model": {"builder": "dense"}}, "r.yaml"))


def test_class_named_metrics_are_logged_under_their_own_name():
    recipe = resolve({"model": {"builder": "dense"}, "metrics": ["accuracy", "AUC"]}, "r.yaml")
    assert "val_auc" in tuning.logged_names(recipe)


@pytest.mark.parametrize("assignment, message", [
    # A key under a --set section is named as set with --set.
    ("tune.space.model.dropout_rate={type: float, min: 0.9, max: 0.1}",
        "--set tune.space.model.dropout_rate needs min < max"),
    ("tune.objective=val_precision", "tune.objective is never logged"),
    ("tune.space.model.unit=[[8]]", "did you mean 'units'?"),
    # Caught by the builder itself, built once per searched value before any trial.
    ("tune.space.model.dropout_rate={min: 0.5, max: 1.0}",
     "model.dropout_rate: `dropout_rate` is a fraction of units to drop and must be in [0, 1). Received: "
     "dropout_rate=1.0 (the builder rejects 1.0, a value of tune.space.model.dropout_rate)"),
])
def test_bad_tune_section_on_the_command_line_exits_2_and_writes_nothing(workdir, assignment, message):
    result = CliRunner().invoke(main, ["tune", DENSE, "--set", assignment])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(workdir.iterdir()) == []


def _tune(*extra, space=SPACE, trials=3, algorithm="random"):
    command = [
        sys.executable, "-m", "kerasdl", "tune", DENSE, "--quiet", "--algorithm", algorithm,
        "--max-trials", str(trials), *_sets(TINY_DENSE + [f"tune.space={json.dumps(space)}"]), *extra,
    ]
    return command


def _in_process(command):
    """A ``_tune`` command run in this process (no TensorFlow start-up): for
    searches that never re-execute themselves (--trials-per-process 0)."""
    return CliRunner().invoke(main, [*command[3:], "--trials-per-process", "0"])


def test_search_prints_table_writes_csv_and_a_runnable_best_recipe(workdir):
    result = _in_process(_tune("--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [row["status"] for row in summary["trials"]] == ["COMPLETED"] * 3
    project = workdir / "tuning" / "dense"
    csv_lines = (project / "trials.csv").read_text().splitlines()
    assert csv_lines[0].startswith("trial,status,val_accuracy,model.units,model.dropout_rate,optimizer.learning_rate")
    assert len(csv_lines) == 4

    best = summary["best"]
    assert best["score"] == max(row["val_accuracy"] for row in summary["trials"])
    recipe = load_recipe(summary["best_recipe"])
    for key, value in best["values"].items():
        section, name = key.split(".")
        assert recipe[section][name] == value
    assert "tune" not in recipe.values

    # TensorBoard's HParams dashboard: the searched keys as hyperparameters,
    # the objective's score as metric, one session per trial with its values.
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    def hparams_data(folder):
        events = EventAccumulator(str(folder), size_guidance={TENSORS: 0})
        events.Reload()
        return {tag: plugin_data_pb2.HParamsPluginData.FromString(events.SummaryMetadata(tag).plugin_data.content)
                for tag in events.Tags()["tensors"] if events.SummaryMetadata(tag).plugin_data.plugin_name == "hparams"}

    logs = project / "logs"
    experiment = hparams_data(logs)["_hparams_/experiment"].experiment
    assert [info.name for info in experiment.hparam_infos] == list(SPACE)
    assert [info.name.tag for info in experiment.metric_infos] == ["trial_score"]
    for row in summary["trials"]:
        session = hparams_data(logs / f"trial_{row['trial']}")["_hparams_/session_start_info"].session_start_info
        assert session.hparams["model.dropout_rate"].number_value == pytest.approx(row["model.dropout_rate"])
        assert session.hparams["model.units"].string_value == str(row["model.units"])
        plugin, [(_, score)] = tensorboard_summaries(logs / f"trial_{row['trial']}")["trial_score"]
        assert plugin == "scalars" and score == pytest.approx(row["val_accuracy"])

    # `kerasdl run` on the best recipe as written reproduces the trial's objective.
    # No --quiet: the progress lines go to stderr, stdout is the JSON alone.
    run = CliRunner().invoke(main, ["run", summary["best_recipe"], "--json", "--set", "export.enabled=false"])
    assert run.exit_code == 0, run.output
    history = (workdir / json.loads(run.stdout)["run_dir"] / "history.csv").read_text().splitlines()
    column = history[0].split(",").index("val_accuracy")
    reproduced = max(float(line.split(",")[column]) for line in history[1:])
    assert reproduced == pytest.approx(best["score"], abs=1e-6)


def test_changed_search_is_refused_until_overwrite(workdir):
    first = _in_process(_tune(trials=1))
    assert first.exit_code == 0, first.output

    changed = dict(SPACE, **{"model.units": [[8], [16]]})
    # The refusals come before any training: run in this process (the workdir is the cwd).
    for command, what in [
        (_tune(space=changed, trials=2), "the search space (model.units"),
        (_tune("--set", "training.epochs=3", trials=2), "the recipe (training.epochs: 2 -> 3)"),
        (_tune(trials=2, algorithm="bayesian"), "the algorithm ('random' -> 'bayesian')"),
    ]:
        refused = CliRunner().invoke(main, command[3:])  # Without "python -m kerasdl".
        assert refused.exit_code == 2, refused.output
        assert what in refused.stderr and "--overwrite" in refused.stderr

    fresh = _in_process(_tune("--overwrite", "--export-best", "--json", space=changed, trials=1))
    assert fresh.exit_code == 0, fresh.output
    summary = json.loads(fresh.stdout)
    assert summary["best"]["values"]["model.units"] in ([8], [16])
    # --export-best retrained the best recipe and exported it as `kerasdl run` does.
    export = summary["export"]
    assert export["export_path"] == "saved_models/dense/1" and export["export_max_difference"] < 1e-5
    assert (workdir / export["export_path"] / "saved_model.pb").is_file()
    assert export["epochs"] == 2


def _records(project):
    return {path.parent.name: path.read_text() for path in project.glob("trial_*/kerasdl-trial.json")}


def test_keras_tuner_state_files_are_written_whole(tmp_path, monkeypatch):
    """Keras Tuner wrote oracle.json in place: a kill mid-write left a torn
    file that the resumed search could not reload. Interrupted before it is
    complete, a write now leaves the old file as it was."""
    import os

    from keras_tuner.src import utils as kt_utils

    import kerasdl.tune.tuners  # noqa: F401  (it makes Keras Tuner's writes whole)

    state = tmp_path / "oracle.json"
    kt_utils.save_json(str(state), {"trials": 1})

    def killed(*_):
        raise KeyboardInterrupt  # Stands for the kill: the new content is never put in place.

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        kt_utils.save_json(str(state), {"trials": 2, "padding": "x" * 100_000})
    assert kt_utils.load_json(str(state)) == {"trials": 1}


def test_kill_9_then_same_command_resumes_without_repeating_trials(workdir):
    trials = 4
    # Slower trials (more epochs), so that the kill lands inside one.
    command = _tune("--json", trials=trials) + ["--set", "training.epochs=6"]
    project = workdir / "tuning" / "dense"
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while (len(_records(project)) < 1 or not (project / "trial_1" / "trial.json").exists()) \
            and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    finished_before = _records(project)
    assert 1 <= len(finished_before) < trials

    resumed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming the search" in resumed.stderr
    summary = json.loads(resumed.stdout)
    assert [row["status"] for row in summary["trials"]] == ["COMPLETED"] * trials
    after = _records(project)
    # Finished trials were not run again: their records are untouched.
    assert {name: after[name] for name in finished_before} == finished_before
    assert len(after) == trials


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # Three processes and an oracle server: about 40 s (make test-all).
def test_chief_and_two_workers_share_one_search(workdir):
    port = str(_free_port())
    trials = 6
    base = _tune(trials=trials) + ["--oracle-ip", "127.0.0.1", "--oracle-port", port]
    env = dict(os.environ)
    chief = subprocess.Popen(base + ["--tuner-id", "chief"], cwd=workdir, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = [
        subprocess.Popen(base + ["--tuner-id", f"worker{index}"], cwd=workdir, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for index in range(2)
    ]
    outputs = []
    try:
        for process in [*workers, chief]:
            outputs.append(process.communicate(timeout=600))
    finally:
        for process in [*workers, chief]:
            process.kill()
    for process, (out, err) in zip([*workers, chief], outputs):
        assert process.returncode == 0, err

    project = workdir / "tuning" / "dense"
    records = {name: json.loads(text) for name, text in _records(project).items()}
    assert len(records) == trials
    by_worker = {record["worker"] for record in records.values()}
    assert by_worker == {"worker0", "worker1"}, "the trials were not shared out"
    ran = [out for out, _ in outputs[:2]]
    assert all(out.startswith(f"Worker worker{index} ran trials: ") for index, out in enumerate(ran))
    # Each trial ran once: the workers' lists do not overlap and cover all.
    lists = [out.split(": ", 1)[1].strip().rstrip(".").split(", ") for out in ran]
    assert sorted(lists[0] + lists[1], key=int) == [str(i) for i in range(trials)]
    # The chief alone writes the results.
    chief_out = outputs[2][0]
    assert "Best recipe:" in chief_out and all("Best recipe" not in out for out in ran)
    assert (project / "best_recipe.yaml").is_file()
    csv_lines = (project / "trials.csv").read_text().splitlines()
    assert len(csv_lines) == trials + 1 and all(",COMPLETED," in line for line in csv_lines[1:])


def test_long_search_goes_on_in_fresh_processes(workdir):
    command = _tune("--json", "--overwrite", trials=3) + ["--trials-per-process", "1"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    # A fresh process after each trial but the last: a recycled process recycles again.
    assert result.stderr.count("Continuing the search in a fresh process") == 2
    summary = json.loads(result.stdout)  # One JSON object, from the last process.
    assert [row["status"] for row in summary["trials"]] == ["COMPLETED"] * 3
    assert len({row["process"] for row in summary["trials"]}) == 3
    # --overwrite started the search once; it did not wipe it on each restart.
    assert len(_records(workdir / "tuning" / "dense")) == 3


# -- Robust searches (issue 21) ------------------------------------------------------

GRID = {"model.units": [[16], [32]], "optimizer.learning_rate": [0.001, 0.003]}
# The grid's combinations in Keras Tuner's order (the last key varies fastest).
GRID_ORDER = [([16], 0.001), ([16], 0.003), ([32], 0.001), ([32], 0.003)]


def _space_values(summary):
    return [(row["model.units"], row["optimizer.learning_rate"]) for row in summary["trials"]]


def test_a_failed_trial_is_reported_recorded_and_skipped(workdir):
    """A trial whose loss becomes NaN (learning rate 1e30) fails at once with
    its error on the terminal and in trials.csv; the search goes on; three
    failures in a row stop it with exit 1 and the last error."""
    diverging = {"model.units": [[16]], "optimizer.learning_rate": [0.001, 1e30, 0.003]}
    result = _in_process(_tune("--json", space=diverging, trials=3, algorithm="grid"))
    assert result.exit_code == 0, result.output
    assert re.search(r"Trial 1 failed: .*dense.yaml: the training loss became nan in epoch 1, batch \d+: the weights "
                     r"diverged\. Lower optimizer.learning_rate \(now 1e\+30\).* The search goes on", result.stderr)
    assert "Traceback" not in result.stderr  # Keras Tuner's traceback stays in trial.json.
    summary = json.loads(result.stdout)
    assert [row["status"] for row in summary["trials"]] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert summary["best"]["values"]["optimizer.learning_rate"] in (0.001, 0.003)
    with open(workdir / "tuning" / "dense" / "trials.csv") as table:
        rows = list(csv.DictReader(table))
    assert [bool(row["error"]) for row in rows] == [False, True, False]
    assert "the training loss became nan" in rows[1]["error"] and rows[1]["val_accuracy"] == ""

    hopeless = {"model.units": [[16]], "optimizer.learning_rate": [1e30, 1e31, 1e32, 0.001]}
    result = _in_process(_tune("--overwrite", space=hopeless, trials=4, algorithm="grid"))
    assert result.exit_code == 1, result.output
    assert re.search(r"3 trials in a row failed, so the search stopped \(tune.options.max_consecutive_failed_trials\)"
                     r"\. The last error: .*\(now 1e\+32\).* Each trial's error is in tuning/dense/trials.csv",
                     result.stderr)
    assert (workdir / "tuning" / "dense" / "trials.csv").read_text().count("loss became nan") == 3


def test_a_time_budget_starts_no_trial_after_it(workdir, monkeypatch):
    from kerasdl.tune import tuners

    monkeypatch.delenv("KERASDL_TUNE_DEADLINE", raising=False)  # Undone at the end: the CLI sets it.
    start = time.time()
    ticks = iter(range(1000))
    monkeypatch.setattr(tuners, "clock", lambda: start + 100 * next(ticks))  # 100 s pass before each trial.
    result = _in_process(_tune("--json", "--time-budget", "2m30s", space=GRID, trials=4, algorithm="grid"))
    assert result.exit_code == 0, result.output
    assert "The time budget is spent: no new trial started (2 finished)." in result.stderr
    summary = json.loads(result.stdout)
    assert _space_values(summary) == GRID_ORDER[:2]  # The first two, then no third.
    bad = CliRunner().invoke(main, ["tune", DENSE, "--time-budget", "soon"])
    assert bad.exit_code == 2
    assert "'soon' is not a duration: give seconds (900) or units (90s, 45m, 2h, 1h30m)" in bad.output


def _kill_during_trial(command, workdir, after):
    """Starts a search and SIGKILLs it in the trial after ``after`` finished ones."""
    project = workdir / "tuning" / "dense"
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_records(project)) < after + 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    # In the next trial: its folder exists, its record not yet.
    while not any(not (folder / "kerasdl-trial.json").exists() for folder in project.glob("trial_*")) \
            and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    return _records(project)


def test_a_grid_search_resumes_where_it_stopped(workdir):
    """Keras Tuner's grid oracle keeps its place in the grid in memory only:
    reloaded (a fresh process, a rerun after kill -9), it used to end the
    search after the trials already run. Here the reload happens in this
    process; the slow test below kills and recycles real processes."""
    from kerasdl.tune import search, tuners

    recipe = load_recipe(DENSE, [*TINY_DENSE, f"tune.space={json.dumps(GRID)}", "tune.algorithm=grid",
                                 "tune.max_trials=10"])
    settings = tuning.load_settings(recipe)
    with pytest.raises(tuners.Recycle):
        search.search(settings, trials_per_process=2, verbose=0, log=lambda line: None)
    summary = search.search(settings, verbose=0, log=lambda line: None)
    assert _space_values(summary) == GRID_ORDER  # Every combination once, in grid order, then the end.
    assert [row["status"] for row in summary["trials"]] == ["COMPLETED"] * 4
    assert len({row["process"] for row in summary["trials"]}) == 1  # One process: the reload was in memory.


@pytest.mark.slow  # Two searches of each algorithm, one killed and recycled: about 2 minutes.
@pytest.mark.parametrize("algorithm, options", [
    ("grid", {}), ("hyperband", {"factor": 2}), ("random", {}), ("bayesian", {"num_initial_points": 2}),
])
def test_an_interrupted_search_ends_with_the_trials_of_an_uninterrupted_one(workdir, algorithm, options):
    space = dict(GRID, **{"model.dropout_rate": [0.0, 0.2]})
    command = _tune("--json", space=space, trials=12, algorithm=algorithm) + \
        ["--set", "training.epochs=4", "--set", f"tune.options={json.dumps(options)}"]
    reference = subprocess.run([*command, "--trials-per-process", "0", "--set", "tune.directory=reference"],
                               cwd=workdir, capture_output=True, text=True, timeout=900)
    assert reference.returncode == 0, reference.stderr

    interrupted = [*command, "--trials-per-process", "3"]
    _kill_during_trial(interrupted, workdir, after=4)
    resumed = subprocess.run(interrupted, cwd=workdir, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    assert "Continuing the search in a fresh process" in resumed.stderr

    def trials(summary):
        return [(row["trial"], row["status"], row["model.units"], row["model.dropout_rate"],
                 row["optimizer.learning_rate"], row.get("epochs")) for row in summary["trials"]]

    assert trials(json.loads(resumed.stdout)) == trials(json.loads(reference.stdout))
