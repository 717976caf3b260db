"""Seeds and sweeps: expanding a sweep file, validating every point first, running on local
workers or a Dask cluster with the results of runs made one by one, failures, resuming."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nnfw_cli import sweep as sweeps
from nnfw_cli.cli import main
from nnfw_cli.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = {"data_seconds", "train_seconds", "provenance"}  # what differs between two makings of the same run


def _sweep_file(tmp_path: Path, small_config: Path, **fields) -> Path:
    """A sweep file over the small config (runs of a fraction of a second), in ``tmp_path``."""
    spec = {"base": small_config.name, **fields}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _summary(folder: Path) -> list[dict[str, str]]:
    with open(folder / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _folder(result) -> Path:
    return Path(json.loads(result.stdout)["sweep_dir"])


def _metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {key: value for key, value in metrics.items() if key not in TIMINGS}


@contextlib.contextmanager
def _local(workers: int):
    runner = sweeps.LocalRunner(workers)
    try:
        yield runner
    finally:
        runner.close(cancel=True)


# -- seeds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seeds", [("0-9", list(range(10))), ("0,3,7", [0, 3, 7]), ("0-2,5", [0, 1, 2, 5]),
                                         ("4", [4]), ("1, 1,2", [1, 2]), ([2, 0], [2, 0]), (5, [5])])
def test_seed_lists_and_ranges(text, seeds):
    assert sweeps.parse_seeds(text) == seeds


@pytest.mark.parametrize("text, needle", [("3-1", "runs backwards"), ("a", "not a seed"), ("0-", "not a seed"),
                                          ([1, "x"], "whole number"), ([], "empty"), (True, "list of whole numbers"),
                                          ([-1], "whole number")])
def test_bad_seed_lists_say_what_is_wrong(text, needle):
    with pytest.raises(ValueError, match=needle):
        sweeps.parse_seeds(text)


# -- expanding a sweep ----------------------------------------------------------------------------


def test_each_progress_line_gives_the_time_since_the_start_and_the_time_left():
    point = sweeps.Point(index=0, group=0, overrides={"training.learning_rate": 0.1}, seed=0, id="a", name="p000-seed0",
                         config={})
    row = sweeps.Row(point)
    row.status, row.metrics, row.seconds = "completed", {"roc_auc": 0.9}, 1.25
    assert sweeps.progress_line(row, 1, 24, "roc_auc", 10.0) == \
        "[ 1/24] p000-seed0  roc_auc 0.9000  1.2 s  0:10 elapsed  training.learning_rate=0.1 seed=0"
    assert "  0:12 elapsed  ETA 2:12  " in sweeps.progress_line(row, 2, 24, "roc_auc", 12.0, 132.0)
    assert sweeps.progress_line(row, 24, 24, "roc_auc", 80.0, 0.0).endswith("  1:20 elapsed  training.learning_rate=0.1 seed=0")
    row.status, row.error = "failed", "boom\nmore"
    assert sweeps.progress_line(row, 2, 24, "roc_auc") == "[ 2/24] p000-seed0  failed: boom  (training.learning_rate=0.1 seed=0)"


@pytest.mark.parametrize("parallel", [1, 2, 4])
def test_the_time_left_is_that_of_the_runs_left(parallel):
    """Runs of 6 s on ``parallel`` workers that took 10 s to start, their first results together:
    after every result the time left is the time until the last result, give or take one run.
    (At the pace since the sweep started, 2 workers' second result promised 2:56 for 1:06.)"""
    run, total = 6.0, 24
    times = sorted(10.0 + (j + 1) * run + k * 0.01 for k in range(parallel) for j in range(total // parallel))
    for done in range(1, total):
        left = sweeps.time_left(done, total, parallel, run_seconds=done * run)
        assert abs(left - (times[-1] - times[done - 1])) <= run, (done, left)


def test_a_value_with_a_yaml_anchor_is_written_out_whole(tmp_path, small_config):
    """A sweep file may name a layer once (``&wide``) and use it again (``*wide``): its labels,
    summary columns and re-run commands write the layer out each time, not ``&id001``/``*id001``."""
    path = tmp_path / "sweep.yaml"
    path.write_text(f"base: {small_config.name}\ngrid:\n  model.layers:\n"
                    "    - [&wide {type: linear, units: 8}, relu, *wide, relu, {type: linear, units: 1}, sigmoid]\n")
    (point,) = sweeps.load_sweep(path).points
    text = sweeps.yaml_value(point.overrides["model.layers"])
    assert "&" not in point.label() and "*" not in point.label()
    assert text == "[{type: linear, units: 8}, relu, {type: linear, units: 8}, relu, {type: linear, units: 1}, sigmoid]"
    assert yaml.safe_load(text) == point.overrides["model.layers"]


def test_a_grid_is_every_combination_at_every_seed(tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.1],
                                                     "model.layers[0].units": [2, 4, 8]}, seeds=[0, 1])
    plan = sweeps.load_sweep(path)
    assert plan.name == "sweep" and plan.keys == ["training.learning_rate", "model.layers[0].units"]
    assert len(plan.points) == 12 and len({point.id for point in plan.points}) == 12
    combos = [(p.overrides["training.learning_rate"], p.overrides["model.layers[0].units"], p.seed) for p in plan.points]
    assert combos == [(lr, units, seed) for lr in (0.01, 0.1) for units in (2, 4, 8) for seed in (0, 1)]
    for point in plan.points:  # the resolved config carries the point's values
        assert point.config["training"]["learning_rate"] == point.overrides["training.learning_rate"]
        assert point.config["model"]["layers"][0]["units"] == point.overrides["model.layers[0].units"]
        assert point.config["seed"] == point.seed
    assert [p.name for p in plan.points[:3]] == ["p000-seed0", "p000-seed1", "p001-seed0"]


def _ranked(tmp_path: Path, small_config: Path, scores: dict[float, list[tuple[float, float]]], **fields):
    """A summary of a learning-rate sweep at seeds 0 and 1 whose runs scored ``scores[lr]``, a
    ``(roc_auc, loss)`` per seed; its best_lines."""
    plan = sweeps.load_sweep(_sweep_file(tmp_path, small_config, grid={"training.learning_rate": list(scores)},
                                         seeds=[0, 1], **fields))
    summary = sweeps.Summary(plan, tmp_path)
    for point in plan.points:
        auc, loss = scores[point.overrides["training.learning_rate"]][point.seed]
        row = summary.rows[point.id]
        row.status, row.metrics = "completed", {"roc_auc": auc, "loss": loss}
    return summary, sweeps.best_lines(summary, None)


def test_points_with_the_same_mean_rank_by_their_mean_loss(tmp_path, small_config):
    summary, lines = _ranked(tmp_path, small_config, {0.001: [(0.9, 0.3), (0.9, 0.3)],
                                                      0.01: [(1.0, 0.02), (1.0, 0.04)],
                                                      0.1: [(1.0, 0.001), (1.0, 0.003)]})
    assert [g.overrides["training.learning_rate"] for g in summary.groups()] == [0.1, 0.01, 0.001]
    assert "equal ones by their mean loss, lowest first" in lines[2]
    assert "loss 0.002 " in lines[3] and "training.learning_rate=0.1" in lines[3]
    assert "loss 0.03 " in lines[4] and "training.learning_rate=0.01" in lines[4]


def test_without_equal_means_the_best_points_show_no_loss(tmp_path, small_config):
    summary, lines = _ranked(tmp_path, small_config, {0.001: [(0.9, 0.001), (0.9, 0.001)],
                                                      0.01: [(0.95, 0.5), (0.97, 0.5)]})
    assert [g.overrides["training.learning_rate"] for g in summary.groups()] == [0.01, 0.001]
    assert "loss" not in "\n".join(lines[2:])
    summary, lines = _ranked(tmp_path, small_config, {0.001: [(0.2, 0.0), (0.2, 0.0)], 0.01: [(0.3, 0.0), (0.3, 0.0)]},
                             metric="loss", mode="min")  # the loss itself: nothing to break ties with
    assert "equal ones" not in lines[2]


def test_the_best_points_show_the_worst_seed_of_each(tmp_path, small_config):
    """Beside mean ± std, each point shows its unluckiest seed: the lowest score, or the highest
    loss when the sweep ranks by a loss (``mode: min``)."""
    scores = {0.01: [(0.99, 0.05), (0.93, 0.25)], 0.1: [(0.9, 0.3), (0.8, 0.5)]}
    _, lines = _ranked(tmp_path, small_config, scores)
    assert "(min 0.9300, 2 runs)  training.learning_rate=0.01" in lines[3]
    assert "(min 0.8000, 2 runs)  training.learning_rate=0.1" in lines[4]
    _, lines = _ranked(tmp_path, small_config, scores, metric="loss", mode="min")
    assert "best points by loss, lowest first" in lines[2]
    assert "0.1500 ± 0.1414  (max 0.2500, 2 runs)  training.learning_rate=0.01" in lines[3]
    assert "(max 0.5000, 2 runs)  training.learning_rate=0.1" in lines[4]


def test_random_draws_stay_in_their_ranges_and_are_the_same_each_time(tmp_path, small_config):
    space = {"training.learning_rate": {"low": 1.0e-4, "high": 0.3, "log": True},
             "model.layers[0].units": {"low": 2, "high": 64},
             "training.batch_size": [16, 32, None]}
    path = _sweep_file(tmp_path, small_config, random={"n": 40, "space": space})
    first, again = sweeps.load_sweep(path), sweeps.load_sweep(path)
    assert [p.overrides for p in first.points] == [p.overrides for p in again.points]
    rates = [p.overrides["training.learning_rate"] for p in first.points]
    units = [p.overrides["model.layers[0].units"] for p in first.points]
    assert all(1e-4 <= r <= 0.3 for r in rates) and all(isinstance(u, int) and 2 <= u <= 64 for u in units)
    assert sum(r < 0.0055 for r in rates) > 10  # log scale: about half below the geometric middle
    assert {p.overrides["training.batch_size"] for p in first.points} == {16, 32, None}
    assert all(float(f"{r:.4g}") == r for r in rates)  # rounded to 4 significant digits
    other = _sweep_file(tmp_path, small_config, random={"n": 40, "seed": 1, "space": space})
    assert [p.overrides for p in sweeps.load_sweep(other).points] != [p.overrides for p in first.points]


def test_grid_then_random_draws_with_fixed_settings_and_repeats_run_once(tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, set={"training.epochs": 3},
                       grid={"training.learning_rate": [0.01, 0.02, 0.01]},  # 0.01 twice: one run
                       random={"n": 3, "space": {"training.batch_size": [8, 16]}}, seeds="0-1")
    plan = sweeps.load_sweep(path)
    assert plan.dropped >= 2 and len({p.id for p in plan.points}) == len(plan.points)
    assert all(p.config["training"]["epochs"] == 3 for p in plan.points)
    assert plan.keys == ["training.learning_rate", "training.batch_size"]
    assert sum(1 for p in plan.points if "training.batch_size" in p.overrides) in (2, 4, 6)
    assert "training.epochs=3" in sweeps._task(plan, plan.points[0], "cmd").provenance["overrides"]


def test_an_inline_base_config_and_its_errors_point_into_the_sweep_file(tmp_path):
    path = tmp_path / "inline.yaml"
    path.write_text("base:\n  training:\n    epochs: 2\n    lerning_rate: 0.1\ngrid:\n  seed: [1, 2]\n")
    with pytest.raises(ConfigError) as error:
        sweeps.load_sweep(path)
    assert f"{path} (base):4:5: training.lerning_rate: unknown key; did you mean 'learning_rate'?" in str(error.value)
    path.write_text("base:\n  training:\n    epochs: 2\ngrid:\n  seed: [1, 2]\n")
    plan = sweeps.load_sweep(path)
    assert [p.config["seed"] for p in plan.points] == [1, 2] and plan.base is None


def test_a_path_key_inside_braces_is_told_to_be_quoted(tmp_path, small_config):
    """In YAML's { } a [ opens a list: ``{model.layers[0].units: [2, 4]}`` is not valid YAML."""
    path = tmp_path / "braces.yaml"
    path.write_text(f"base: {small_config.name}\ngrid: {{model.layers[0].units: [2, 4]}}\n")
    with pytest.raises(ConfigError) as error:
        sweeps.load_sweep(path)
    assert str(error.value).startswith(f"{path}:2:20: not valid YAML: expected ',' or '}}', but got '['; inside {{ }}, "
                                       'a key holding [ ] is quoted, as in {"model.layers[0].units": [2, 4]}')
    path.write_text(f'base: {small_config.name}\ngrid: {{"model.layers[0].units": [2, 4]}}\n')
    assert [point.overrides for point in sweeps.load_sweep(path).points] == [{"model.layers[0].units": 2},
                                                                             {"model.layers[0].units": 4}]


def test_a_base_file_not_there_is_reported_at_its_line_with_the_path_to_write(tmp_path, small_config, monkeypatch):
    """A base path is relative to the sweep file: one written from the current folder instead is
    reported at its place in the sweep file, with the path that names it from there."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweeps").mkdir()
    path = tmp_path / "sweeps" / "lr.yaml"
    path.write_text(f"name: lr\nbase: {small_config.name}\ngrid:\n  training.learning_rate: [0.1]\n")
    with pytest.raises(ConfigError) as error:
        sweeps.load_sweep(Path("sweeps/lr.yaml"))
    assert str(error.value) == (f"sweeps/lr.yaml:2:7: base: sweeps/{small_config.name}: no such file (a base path is "
                                f"relative to the sweep file's folder); for {small_config.name}, write base: "
                                f"../{small_config.name}")
    path.write_text(f"base: {tmp_path / 'gone.yaml'}\n")  # an absolute path: nothing to suggest
    with pytest.raises(ConfigError) as error:
        sweeps.load_sweep(path)
    assert str(error.value) == f"{path}:1:7: base: {tmp_path / 'gone.yaml'}: no such file"


def test_check_validates_each_run_of_a_sweep_file_and_lists_them(runner, tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.1]}, seeds=[0, 1])
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout) == {f"p00{p}-seed{s}": {"training.learning_rate": lr, "seed": s}
                                             for p, lr in enumerate([0.01, 0.1]) for s in (0, 1)}
    assert result.stderr == f"{path}: valid: a sweep of 4 runs (2 points), each a valid config\n"
    bad = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, -1.0]})
    result = runner.invoke(main, ["check", str(bad)])
    assert result.exit_code == 2 and "1 of 2 runs are not valid configs" in result.stderr
    assert "training.learning_rate: must be > 0 (got -1.0)" in result.stderr and "Traceback" not in result.stderr
    result = runner.invoke(main, ["check", str(path), "--set", "training.epochs=2"])
    assert result.exit_code == 2 and "a sweep file takes no --set" in result.stderr


def test_check_of_configs_and_sweeps_counts_files(runner, tmp_path, small_config):
    """A sweep file among the files checked is counted as a file, not called a config."""
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.1]})
    result = runner.invoke(main, ["check", str(small_config), str(path)])
    assert result.exit_code == 0 and result.stderr.endswith("\nall 2 files are valid\n"), result.stderr
    result = runner.invoke(main, ["check", str(small_config), str(path), str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and result.stderr.endswith("Error: 1 of 3 files are not valid\n"), result.stderr
    result = runner.invoke(main, ["check", str(small_config), str(small_config)])
    assert result.exit_code == 0 and result.stderr.endswith("\nall 2 configs are valid\n"), result.stderr


@pytest.mark.parametrize("fields, where", [
    ({"grid": {"seed": [0, 1, 2]}}, "grid"),
    ({"set": {"seed": 7}, "grid": {"training.learning_rate": [0.01, 0.1]}}, "set"),
    ({"random": {"n": 2, "space": {"seed": [1, 2, 3]}}}, "random.space"),
])
def test_seeds_and_a_seed_set_otherwise_are_refused_not_one_dropped(runner, tmp_path, small_config, fields, where):
    """seeds: would run each point once per seed, the seed set elsewhere silently lost (three grid points became one)."""
    path = _sweep_file(tmp_path, small_config, seeds=[5, 6], **fields)
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert f"seeds: sets each run's seed, and {where} sets seed too; drop seed from {where}, or drop seeds:" \
        in result.stderr, result.stderr


def test_train_seeds_refuses_a_seed_set_by_set(runner, small_config, tmp_path):
    result = runner.invoke(main, ["train", str(small_config), "--set", "seed=7", "--seeds", "0-1",
                                  "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2 and "--seeds sets each run's seed, and --set seed=... sets it too" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, needle", [
    (lambda plan: plan.pop("points"), "points.json: not a plan nnfw wrote: no 'points' in it"),
    (lambda plan: plan.update(metric="bogus"), "points.json: not a plan nnfw wrote: it ranks by 'bogus', 'max'"),
    (lambda plan: plan.update(points=7), "points.json: not a plan nnfw wrote: "),
], ids=["no-points", "unknown-metric", "points-not-a-list"])
def test_resume_of_a_plan_nnfw_did_not_write_is_one_message(runner, tmp_path, small_config, edit, needle):
    path = _sweep_file(tmp_path, small_config, grid=SMALL_GRID)
    folder = sweeps.create_sweep_dir(sweeps.load_sweep(path), tmp_path / "out", path)
    plan = json.loads((folder / "points.json").read_text())
    edit(plan)
    (folder / "points.json").write_text(json.dumps(plan))
    result = runner.invoke(main, ["sweep", "--resume", str(folder)])
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: {folder / 'points.json'}"), result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert not (folder / "runs").exists() or not any((folder / "runs").iterdir())
    result = runner.invoke(main, ["sweep", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and f"{tmp_path}: not a sweep folder (it has no points.json)" in result.stderr


def test_a_config_given_as_a_sweep_file_says_how_to_train_it(runner, small_config, tmp_path):
    result = runner.invoke(main, ["sweep", str(small_config), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.stderr == (
        f"Error: {small_config}: a config, not a sweep file (a sweep file names its config in `base:`): train it with "
        f"`nnfw train {small_config}`, or its seeds with `nnfw train {small_config} --seeds 0-4`\n")
    assert not (tmp_path / "out").exists()


def test_a_sweep_file_given_as_a_config_says_how_to_run_it(runner, tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.1]})
    result = runner.invoke(main, ["train", str(path), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {path}: a sweep file (it has `base:`), not a config: run it with `nnfw sweep "
                             f"{path}`; `nnfw check {path}` checks each of its runs\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_bad_sweep_file_is_reported_whole_with_lines_and_nothing_is_made(runner, tmp_path, small_config):
    path = tmp_path / "bad.yaml"
    path.write_text(f"base: {small_config.name}\ngrid:\n  training.learning_rate: 0.1\n  'bad key': [1]\n"
                    "random:\n  n: 2\n  space:\n    training.epochs: {low: 5, high: 2}\n"
                    "seeds: 3-1\nmetric: roc_aux\nmdoe: min\n")
    result = runner.invoke(main, ["sweep", str(path), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    for needle in (f"{path}:3:27: grid.training.learning_rate: must be a list (got 0.1)",
                   f"{path}:8:22: random.space.training.epochs: high must be >= low",
                   "seeds: the range '3-1' runs backwards", "did you mean 'roc_auc'?", "mdoe: unknown key; did you mean 'mode'?"):
        assert needle in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow  # starts the process the workers fork from (it imports nnfw) while it reads the sweep
def test_an_invalid_point_stops_the_sweep_before_any_run(runner, tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, -1.0],
                                                     "model.layers[0].units": [4, 8]}, seeds=[0, 1])
    result = runner.invoke(main, ["sweep", str(path), "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "4 of 8 runs are not valid configs; nothing was run" in result.stderr
    assert "run 5 (training.learning_rate=-1.0 model.layers[0].units=4 seed=0) and 3 more" in result.stderr
    assert "(--set training.learning_rate): training.learning_rate: must be > 0 (got -1.0)" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # starts a whole nnfw process, and the one its workers would fork from
def test_an_invalid_sweep_run_as_a_command_prints_its_error_and_nothing_else(tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, -1.0]}, seeds=[0])
    done = subprocess.run([sys.executable, "-m", "nnfw_cli", "sweep", str(path), "--output-dir", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: {path}: 1 of 2 runs are not valid configs; nothing was run")
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


# -- running --------------------------------------------------------------------------------------

DIVERGES = {"loss": "mean_squared_error", "training.optimizer": "sgd", "training.learning_rate": 1e6,
            "training.batch_size": None, "training.epochs": 60,
            "model.layers": [{"type": "linear", "units": 8, "init": "uniform"}, "relu",
                             {"type": "linear", "units": 1, "init": "uniform"}]}


def _one_task(config_path: Path) -> sweeps.Task:
    plan = sweeps.seed_plan(config_path, [], [0], pictures=False)
    point = plan.points[0]
    return sweeps._task(plan, point, "nnfw test")


def test_a_worker_sends_back_the_files_of_a_run_made_as_nnfw_train_makes_it(small_config):
    result = sweeps.run_task(_one_task(small_config))
    assert result.status == "completed" and result.error is None and result.seconds > 0
    assert {"config.yaml", "model.npz", "history.csv", "metrics.json", "transform.json"} <= set(result.files)
    assert not any(name.endswith(".png") for name in result.files)  # no pictures in sweeps by default
    assert json.loads(result.files["metrics.json"])["roc_auc"] == result.metrics["roc_auc"]
    assert result.metrics["provenance"]["rerun"] == f"nnfw train {small_config} --set seed=0"


def test_a_diverging_run_comes_back_with_its_files_and_its_message(make_config, tmp_path):
    result = sweeps.run_task(_one_task(make_config(DIVERGES)))
    assert result.status == "diverged" and "training diverged at epoch" in result.error
    assert {"history.csv", "metrics.json"} <= set(result.files)
    assert result.metrics["status"] == "diverged"
    # the message names the folder the client writes the run to, not the worker's temporary one, gone by now
    assert result.error.endswith(f"so far are in {sweeps.RUN_FOLDER}"), result.error
    plan = sweeps.Plan("s", "sweep", [], "roc_auc", "max", False, [sweeps.Point(0, 0, {}, None, id="x", name="d")])
    row = sweeps.Summary(plan, tmp_path).record(plan.points[0], dataclasses.replace(result, id="x"))
    assert row.error.endswith(f"so far are in {tmp_path / 'runs' / 'd'}") and (tmp_path / "runs" / "d").is_dir()


SMALL_GRID = {"training.learning_rate": [0.02, 0.05]}


@pytest.mark.slow  # starts worker processes
def test_two_local_workers_give_the_metrics_of_the_same_runs_made_one_by_one(runner, tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid=SMALL_GRID, seeds=[0, 1])
    result = runner.invoke(main, ["sweep", str(path), "--workers", "2", "--output-dir", str(tmp_path / "sweeps"),
                                  "--json"])
    assert result.exit_code == 0, result.stderr
    folder = _folder(result)
    rows = _summary(folder)
    assert len(rows) == 4 and {row["status"] for row in rows} == {"completed"}
    assert list(rows[0])[:4] == ["id", "training.learning_rate", "seed", "roc_auc"]
    assert list(rows[0])[-4:] == ["seconds", "status", "error", "run"]
    assert result.stderr.count("] p0") == 4  # a progress line per run
    for row in rows:
        run_dir = folder / "runs" / row["run"]
        assert {"config.yaml", "model.npz", "history.csv", "metrics.json"} <= {p.name for p in run_dir.iterdir()}
        provenance = json.loads((run_dir / "metrics.json").read_text())["provenance"]
        assert provenance["seed"] == int(row["seed"]) and provenance["command"].startswith("nnfw sweep ")
        assert f"training.learning_rate={row['training.learning_rate']}" in provenance["overrides"]
        assert {"nnfw", "numpy", "python"} <= set(provenance)
        alone = runner.invoke(main, ["train", str(small_config), "--quiet", "--json", "--seed", row["seed"],
                                     "--set", f"training.learning_rate={row['training.learning_rate']}",
                                     "--output-dir", str(tmp_path / "alone")])
        assert alone.exit_code == 0, alone.stderr
        assert _metrics(run_dir) == _metrics(Path(json.loads(alone.stdout)["run_dir"]))
        assert float(row["roc_auc"]) == _metrics(run_dir)["roc_auc"]


def _bad_csv(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    lines = [f"{x / 10},{(x * 7 % 10) / 10},{int(x % 3 == 0)}" for x in range(40)]
    good.write_text("a,b,label\n" + "\n".join(lines) + "\n")
    bad.write_text("a,b,label\n" + "\n".join(lines[:5]) + "\n0.5,,1\n" + "\n".join(lines[5:]) + "\n")
    return good, bad


def _csv_sweep(tmp_path: Path) -> Path:
    good, bad = _bad_csv(tmp_path)
    base = {"data": {"dataset": "csv", "target": "label"}, "training": {"epochs": 3, "batch_size": 8},
            "model": {"layers": [{"type": "linear", "units": 4}, "relu", {"type": "linear", "units": 1}, "sigmoid"]}}
    path = tmp_path / "csv.yaml"
    path.write_text(yaml.safe_dump({"name": "csv", "base": base, "grid": {"data.path": [good.name, bad.name]},
                                    "seeds": [0, 1]}))
    return path


@pytest.mark.slow  # starts worker processes
def test_a_failing_point_is_recorded_the_others_finish_and_the_exit_code_is_1(runner, tmp_path):
    path = _csv_sweep(tmp_path)
    result = runner.invoke(main, ["sweep", str(path), "--workers", "2", "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 1, result.stderr
    folder = next((tmp_path / "out").iterdir())
    rows = _summary(folder)
    assert [row["status"] for row in rows] == ["completed", "completed", "failed", "failed"]
    assert all("bad.csv: column 'b': 1 missing value, on line 7" in row["error"] for row in rows[2:])
    assert rows[2]["roc_auc"] == "" and rows[2]["run"] == ""
    assert "2 of 4 runs did not complete (2 failed, 0 diverged)" in result.stderr
    assert result.stderr.count("failed: ") == 2 and "best points by roc_auc" in result.stdout
    # --resume runs the failed points again, and only them
    again = runner.invoke(main, ["sweep", "--resume", str(folder), "--workers", "1"])
    assert again.exit_code == 1
    assert again.stderr.count("] p001-seed") == 2 and "p000" not in again.stderr
    assert sorted(p.name for p in (folder / "runs").iterdir()) == ["p000-seed0", "p000-seed1"]


@pytest.mark.slow  # starts worker processes
def test_fail_fast_starts_no_run_after_the_first_failure(runner, tmp_path):
    path = _csv_sweep(tmp_path)
    path.write_text(path.read_text().replace("- good.csv\n  - bad.csv", "- bad.csv\n  - good.csv"))
    result = runner.invoke(main, ["sweep", str(path), "--workers", "1", "--fail-fast", "--output-dir",
                                  str(tmp_path / "out")])
    assert result.exit_code == 1
    rows = _summary(next((tmp_path / "out").iterdir()))
    assert [row["status"] for row in rows] == ["failed", "pending", "pending", "pending"]


@pytest.mark.slow  # starts worker processes
def test_resume_runs_only_the_points_that_are_missing(runner, tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid=SMALL_GRID, seeds=[0, 1, 2])
    plan = sweeps.load_sweep(path)
    folder = sweeps.create_sweep_dir(plan, tmp_path / "out", path)
    stop, seen = sweeps.Stop(), []

    def report(row, done, total):  # summary.csv already holds each row when it is reported
        assert any(line["run"] == row.run and line["status"] == "completed" for line in _summary(folder))
        seen.append(row.point.name)
        if done == 2:
            stop.signum = signal.SIGINT  # as Ctrl-C does: no more runs start

    with _local(1) as pool:
        summary = sweeps.run_plan(plan, folder, pool, report, stop)
    # the third run had started when the second was reported (a worker starts its next run as the
    # client writes the last one's files): it finishes; no other starts
    assert seen == ["p000-seed0", "p000-seed1", "p000-seed2"] and summary.counts()["pending"] == 3
    before = {p.name: (p / "metrics.json").stat().st_mtime_ns for p in (folder / "runs").iterdir()}
    result = runner.invoke(main, ["sweep", "--resume", str(folder), "--workers", "2"])
    assert result.exit_code == 0, result.stderr
    assert f"sweep folder: {folder}  (6 runs, 3 left to run; 2 local workers)" in result.stderr
    assert sorted(line.split("] ")[1].split()[0] for line in result.stderr.splitlines() if line.startswith("[")) == \
        ["p001-seed0", "p001-seed1", "p001-seed2"]
    assert {p.name: (p / "metrics.json").stat().st_mtime_ns for p in (folder / "runs").iterdir()
            if p.name in before} == before
    assert [row["status"] for row in _summary(folder)] == ["completed"] * 6
    nothing = runner.invoke(main, ["sweep", "--resume", str(folder)])
    assert nothing.exit_code == 0 and "[" not in nothing.stderr
    assert f"sweep folder: {folder}  (6 runs, all finished: nothing to run)" in nothing.stderr
    # a run whose folder is gone, or whose metrics.json cannot be read, is not finished
    (folder / "runs" / "p000-seed0" / "metrics.json").write_text("")
    shutil.rmtree(folder / "runs" / "p001-seed1")
    again = runner.invoke(main, ["sweep", "--resume", str(folder), "--workers", "1"])
    assert again.exit_code == 0, again.stderr
    assert "(6 runs, 2 left to run; 1 local worker)" in again.stderr
    assert sorted(line.split("] ")[1].split()[0] for line in again.stderr.splitlines() if line.startswith("[")) == \
        ["p000-seed0", "p001-seed1"]
    assert {row["run"] for row in _summary(folder)} >= {"p000-seed0-2", "p001-seed1"}


@pytest.mark.slow  # starts a worker process
@pytest.mark.parametrize("damage", [
    lambda path: path.unlink(),
    lambda path: path.write_bytes(b"\xff\xfe\x00garbage"),  # not UTF-8
    lambda path: path.write_text('id,run\n"' + "a" * 200_000 + '",x\n'),  # a field the csv module refuses
    lambda path: path.write_text("nothing, of use\n1,2\n"),
], ids=["gone", "not-utf8", "huge-field", "other-columns"])
def test_resume_finds_the_finished_runs_in_their_folders_whatever_became_of_summary_csv(runner, tmp_path, small_config,
                                                                                       damage):
    path = _sweep_file(tmp_path, small_config, grid=SMALL_GRID, seeds=[0, 1])
    result = runner.invoke(main, ["sweep", str(path), "--workers", "1", "--output-dir", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.stderr
    folder = _folder(result)
    before = _summary(folder)
    damage(folder / "summary.csv")
    listed = runner.invoke(main, ["runs", str(tmp_path / "out")])
    assert listed.exit_code == 0 and "4 runs: 4 completed" in listed.stdout, listed.output
    again = runner.invoke(main, ["sweep", "--resume", str(folder)])
    assert again.exit_code == 0, again.stderr
    assert f"sweep folder: {folder}  (4 runs, all finished: nothing to run)" in again.stderr
    assert sorted(p.name for p in (folder / "runs").iterdir()) == sorted(row["run"] for row in before)
    after = _summary(folder)
    assert [(row["id"], row["status"], row["run"], row["roc_auc"]) for row in after] == \
        [(row["id"], row["status"], row["run"], row["roc_auc"]) for row in before]


def dies_once(task):
    """A run whose worker process dies the first time it starts p001 (as an out-of-memory kill would)."""
    marker = Path(task.config["output"]["dir"]).parent / f"died-{task.name}"
    if task.name.startswith("p001") and not marker.exists():
        marker.touch()
        os._exit(9)
    return sweeps.run_task(task)


def always_dies(task):
    if task.name.startswith("p001"):
        os._exit(9)
    return sweeps.run_task(task)


def edits_the_data_first(task):
    """A run that finds a row added to its data file before it reads it (the file changed during
    the sweep, or a Dask worker has another copy of it)."""
    if task.name != "seed-0":
        path = Path(task.config["data"]["path"])
        if not path.read_text().endswith("0.55,0.55,1\n"):
            path.write_text(path.read_text() + "0.55,0.55,1\n")
    return sweeps.run_task(task)


@pytest.mark.slow  # starts worker processes
def test_runs_that_read_another_version_of_the_data_file_are_recorded_as_failed(tmp_path):
    good, _ = _bad_csv(tmp_path)
    original = good.read_bytes()
    base = {"data": {"dataset": "csv", "target": "label", "path": str(good)},
            "training": {"epochs": 2, "batch_size": 8},
            "model": {"layers": [{"type": "linear", "units": 4}, "relu", {"type": "linear", "units": 1}, "sigmoid"]}}
    path = tmp_path / "csv.yaml"
    path.write_text(yaml.safe_dump({"name": "csv", "base": base, "seeds": [0, 1, 2]}))
    plan = sweeps.load_sweep(path)
    folder = sweeps.create_sweep_dir(plan, tmp_path / "out", path)
    with _local(1) as pool:
        summary = sweeps.run_plan(plan, folder, pool, lambda *args: None, function=edits_the_data_first)
    rows = {row.point.name: row for row in summary.rows.values()}
    assert [rows[name].status for name in ("seed-0", "seed-1", "seed-2")] == ["completed", "failed", "failed"]
    for name in ("seed-1", "seed-2"):
        assert f"{good}: this run read a version of it" in rows[name].error
        assert "other than the sweep's earlier runs" in rows[name].error
        assert (folder / "runs" / rows[name].run / "metrics.json").is_file()  # kept
    assert [row["status"] for row in _summary(folder)] == ["completed", "failed", "failed"]
    # resumed with the file still changed: the finished run's version is still the one to match
    with _local(1) as pool:
        again = sweeps.run_plan(plan, folder, pool, lambda *args: None)
    assert [row.status for row in again.rows.values()] == ["completed", "failed", "failed"]
    good.write_bytes(original)
    with _local(1) as pool:
        again = sweeps.run_plan(plan, folder, pool, lambda *args: None)
    assert [row.status for row in again.rows.values()] == ["completed"] * 3


@pytest.mark.slow  # starts worker processes
@pytest.mark.parametrize("function, status", [(dies_once, "completed"), (always_dies, "failed")])
def test_a_lost_worker_is_retried_once_then_recorded_as_failed(tmp_path, small_config, function, status):
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.02, 0.05, 0.1]})
    plan = sweeps.load_sweep(path)
    folder = sweeps.create_sweep_dir(plan, tmp_path / "out", path)
    with _local(2) as pool:
        summary = sweeps.run_plan(plan, folder, pool, lambda *args: None, function=function)
    rows = {row.point.name: row for row in summary.rows.values()}
    assert rows["p000"].status == rows["p002"].status == "completed"
    assert rows["p001"].status == status
    if status == "failed":
        assert "worker was lost twice" in rows["p001"].error


@pytest.mark.slow  # starts a whole nnfw process and its workers
def test_ctrl_c_lets_the_runs_in_progress_finish_and_says_how_to_resume(tmp_path, small_config):
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.02, 0.03, 0.04]},
                       seeds=[0, 1, 2], set={"training.epochs": 30})
    process = subprocess.Popen([sys.executable, "-m", "nnfw_cli", "sweep", str(path), "--workers", "1",
                                "--output-dir", str(tmp_path / "out")], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("[ 1/"):
            process.send_signal(signal.SIGINT)
            break
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130, "".join(lines) + rest
    assert "no more runs start" in rest and "Resume with: nnfw sweep --resume" in rest and "Traceback" not in rest
    assert "Warning" not in rest  # the pool leaves nothing behind (a resource tracker warns of leaked semaphores)
    rows = _summary(next((tmp_path / "out").iterdir()))
    done = [row for row in rows if row["status"] == "completed"]
    assert 1 <= len(done) <= 2 and all(row["status"] == "pending" for row in rows if row not in done)


# -- Dask -----------------------------------------------------------------------------------------


@pytest.mark.slow  # starts a Dask cluster of two worker processes
def test_a_dask_cluster_gives_the_same_metrics_as_local_workers(runner, tmp_path, small_config):
    distributed = pytest.importorskip("distributed", reason="Dask is not installed (pip install 'nnfw[dask]')")
    import dask

    path = _sweep_file(tmp_path, small_config, grid=SMALL_GRID, seeds=[0, 1])
    local = runner.invoke(main, ["sweep", str(path), "--workers", "2", "--output-dir", str(tmp_path / "local"),
                                 "--json"])
    assert local.exit_code == 0, local.stderr
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = runner.invoke(main, ["sweep", str(path), "--scheduler", cluster.scheduler_address,
                                      "--output-dir", str(tmp_path / "dask"), "--json"])
        lost = _lost_on_dask(tmp_path, small_config, cluster.scheduler_address)
    assert lost == {"p000": "completed", "p001": "completed", "p002": "completed"}
    assert remote.exit_code == 0, remote.stderr
    assert "Dask scheduler" in remote.stderr
    ran = [_summary(_folder(result)) for result in (local, remote)]
    drop = {"seconds", "data_seconds", "train_seconds", "run"}
    assert [{k: v for k, v in row.items() if k not in drop} for row in ran[0]] == \
        [{k: v for k, v in row.items() if k not in drop} for row in ran[1]]
    for row in ran[1]:  # the client wrote the files the workers sent
        assert (_folder(remote) / "runs" / row["run"] / "model.npz").is_file()


def test_a_dask_clusters_threads_are_asked_for_at_most_once_a_second(monkeypatch):
    """The window of runs in flight follows the cluster's threads as workers come and go, without
    a round trip to the scheduler at every run sent and every result."""
    distributed = pytest.importorskip("distributed", reason="Dask is not installed")

    class Client:  # the scheduler as the runner sees it, its answers counted
        def __init__(self, address, timeout):
            self.threads, self.asked = {"tcp://a:1": 1, "tcp://b:1": 1}, 0

        def nthreads(self):
            self.asked += 1
            return self.threads

        def get_executor(self, pure):
            return None

    now = [100.0]
    monkeypatch.setattr(distributed, "Client", Client)
    monkeypatch.setattr(sweeps.time, "monotonic", lambda: now[0])
    runner = sweeps.DaskRunner("tcp://scheduler:8786")
    assert [runner.window(5) for _ in range(50)] == [2] * 50 and runner.client.asked == 1
    runner.client.threads["tcp://c:1"] = 2  # a worker with two threads joins
    now[0] += sweeps.THREADS_SECONDS / 2
    assert runner.window(5) == 2 and runner.client.asked == 1
    now[0] += sweeps.THREADS_SECONDS / 2
    assert runner.window(5) == 4 and runner.client.asked == 2


def _lost_on_dask(tmp_path: Path, small_config: Path, address: str) -> dict[str, str]:
    """A sweep whose p001 kills its Dask worker the first time (the scheduler allows no retry of
    its own): nnfw submits it once more, and it completes."""
    path = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.02, 0.05, 0.1]}, name="lost")
    plan = sweeps.load_sweep(path)
    folder = sweeps.create_sweep_dir(plan, tmp_path / "lost", path)
    runner = sweeps.DaskRunner(address)
    try:
        summary = sweeps.run_plan(plan, folder, runner, lambda *args: None, function=dies_once)
    finally:
        runner.close()
    assert (folder / "died-p001").exists()
    return {row.point.name: row.status for row in summary.rows.values()}


@pytest.mark.slow
def test_a_scheduler_that_cannot_be_reached_is_one_message(runner, tmp_path, small_config, monkeypatch):
    pytest.importorskip("distributed", reason="Dask is not installed")
    monkeypatch.setattr(sweeps, "CONNECT_SECONDS", 1.0)
    path = _sweep_file(tmp_path, small_config, grid=SMALL_GRID)
    result = runner.invoke(main, ["sweep", str(path), "--scheduler", "tcp://127.0.0.1:9", "--output-dir",
                                  str(tmp_path / "out")])
    assert result.exit_code == 2 and "cannot reach the Dask scheduler" in result.stderr
    assert "Traceback" not in result.stderr



@pytest.mark.parametrize("address, reason", [("localhost", "missing port number"),
                                             ("http://localhost:8786", "unknown address scheme 'http'"),
                                             ("tcp://localhost:port", "invalid literal")])
def test_an_address_dask_cannot_use_is_one_message(runner, tmp_path, small_config, address, reason, monkeypatch):
    """Told without a Client made: one that fails half made lingers, and may trip up the next."""
    distributed = pytest.importorskip("distributed", reason="Dask is not installed")
    monkeypatch.setattr(distributed, "Client", lambda *args, **kwargs: pytest.fail("a Client was made"))
    path = _sweep_file(tmp_path, small_config, grid=SMALL_GRID)
    result = runner.invoke(main, ["sweep", str(path), "--scheduler", address, "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"--scheduler {address}: not an address Dask can connect to (" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()

# -- seeds of one config --------------------------------------------------------------------------


@pytest.mark.slow  # starts worker processes
def test_seeds_make_a_group_of_ordinary_runs_and_print_their_spread(runner, make_config, tmp_path):
    config = make_config()
    result = runner.invoke(main, ["train", str(config), "--seeds", "0-2", "--workers", "2"])
    assert result.exit_code == 0, result.stderr
    group = next((tmp_path / "outputs").glob("small-seeds-*"))
    assert sorted(p.name for p in (group / "runs").iterdir()) == ["seed-0", "seed-1", "seed-2"]
    for seed in range(3):
        run_dir = group / "runs" / f"seed-{seed}"
        assert {"model.npz", "metrics.json", "loss_curve.png", "decision_boundary.png"} <= {p.name for p in run_dir.iterdir()}
        assert f"seed: {seed}" in (run_dir / "config.yaml").read_text()
    aucs = [json.loads((group / "runs" / f"seed-{s}" / "metrics.json").read_text())["roc_auc"] for s in range(3)]
    mean = sum(aucs) / 3
    std = math.sqrt(sum((a - mean) ** 2 for a in aucs) / 2)
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("roc_auc "))
    assert f"{mean:.4f} ± {std:.4f}  ({min(aucs):.4f} .. {max(aucs):.4f})" in line
    assert (group / "sweep.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # starts worker processes
def test_seeds_flag_runs_that_collapsed(runner, make_config):
    zeros = [{"type": "linear", "units": 8, "init": "zeros"}, "relu", {"type": "linear", "units": 1, "init": "zeros"},
             "sigmoid"]
    config = make_config({"model.layers": zeros})  # nothing to learn from: the output stays 0.5
    result = runner.invoke(main, ["train", str(config), "--seeds", "0,5", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [run["collapsed"] for run in report["runs"]] == [True, True]
    text = runner.invoke(main, ["train", str(config), "--seeds", "0,5"])
    assert "collapsed: 2 of 2 runs learned (next to) nothing: seed 0 (ROC AUC 0.5000), seed 5" in text.stdout


@pytest.mark.parametrize("args, needle", [(["--seeds", "0-2", "--seed", "1"], "not both"),
                                          (["--workers", "2"], "--workers goes with --seeds"),
                                          (["--seeds", "2-1"], "runs backwards")])
def test_seed_options_that_do_not_go_together(runner, small_config, args, needle):
    result = runner.invoke(main, ["train", str(small_config), *args])
    assert result.exit_code == 2 and needle in result.stderr


@pytest.mark.slow
def test_train_records_how_it_was_asked_for(runner, small_config, tmp_path):
    result = runner.invoke(main, ["train", str(small_config), "--quiet", "--json", "--seed", "4",
                                  "--set", "training.epochs=2"])
    assert result.exit_code == 0, result.stderr
    provenance = json.loads((Path(json.loads(result.stdout)["run_dir"]) / "metrics.json").read_text())["provenance"]
    import numpy

    from nnfw_cli import __version__

    assert provenance["command"] == f"nnfw train {small_config} --quiet --json --seed 4 --set training.epochs=2"
    assert provenance["overrides"] == ["training.epochs=2"] and provenance["seed"] == 4
    assert provenance["nnfw"] == __version__ and provenance["numpy"] == numpy.__version__
    assert provenance["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.slow
def test_the_workers_forkserver_preloads_every_module_a_run_imports(small_config):
    """A worker forks with what ``pool.PRELOAD`` imported: a run then imports no module of nnfw,
    scikit-learn, SciPy or matplotlib of its own (each would cost every worker its first run)."""
    script = f"""
import sys
import time
from nnfw_cli.pool import PRELOAD
for name in PRELOAD:
    __import__(name)
before = set(sys.modules)
from nnfw_cli import sweep
from nnfw_cli.config import load_config
config = load_config({str(small_config)!r}).model_dump(mode="json")
result = sweep.run_task(sweep.Task("a", "r", config, {{}}, False))
assert result.status == "completed", result.error
print(sorted(name for name in set(sys.modules) - before
             if name.split(".")[0] in ("nnfw_cli", "sklearn", "scipy", "matplotlib")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _forkservers_marked(marker: str) -> list[str]:
    """The live forkserver processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"forkserver" in (entry / "cmdline").read_bytes() \
                    and marker.encode() in (entry / "environ").read_bytes():
                found.append(entry.name)
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("valid", [True, False], ids=["sweep", "sweep-found-wrong"])
def test_the_command_ends_its_forkserver_and_leaves_no_temporary_folder(tmp_path, short_tmp, small_config, valid):
    """The forkserver would otherwise outlive ``nnfw sweep`` (finishing or tearing down its
    imports) with the command's stdout and stderr open, and its socket's folder would stay."""
    grid = {"training.learning_rate": [0.01, 0.02] if valid else [0.01, -1.0]}
    sweep_file = _sweep_file(tmp_path, small_config, grid=grid)
    temporary, marker = short_tmp, f"nnfw-test-{os.getpid()}-{tmp_path.name}"
    env = {**os.environ, "TMPDIR": str(temporary), "NNFW_TEST_MARKER": marker}
    command = [sys.executable, "-m", "nnfw_cli", "sweep", str(sweep_file), "--workers", "1",
               "--output-dir", str(tmp_path / "out")]
    with open(tmp_path / "stdout", "w") as out, open(tmp_path / "stderr", "w") as err:  # not pipes: no waiting for them
        done = subprocess.run(command, env=env, stdout=out, stderr=err, timeout=120)
    assert done.returncode == (0 if valid else 2), (tmp_path / "stderr").read_text()
    assert _forkservers_marked(marker) == []  # checked at once: the command has just ended
    assert list(temporary.glob("pymp-*")) == []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads processes from /proc")
def test_a_client_killed_with_kill_9_leaves_no_worker_forkserver_or_temporary_folder(tmp_path, short_tmp, small_config):
    """Nothing of the client runs after SIGKILL: its workers see it gone, remove the folder of the
    forkserver's socket and end; the forkserver ends as its client's pipe closes."""
    sweep_file = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.02, 0.03, 0.04]},
                             seeds=[0, 1, 2], set={"training.epochs": 40})
    temporary, marker = short_tmp, f"nnfw-test-{os.getpid()}-{tmp_path.name}"
    env = {**os.environ, "TMPDIR": str(temporary), "NNFW_TEST_MARKER": marker}
    command = [sys.executable, "-m", "nnfw_cli", "sweep", str(sweep_file), "--workers", "2",
               "--output-dir", str(tmp_path / "out")]
    with open(tmp_path / "stderr", "w") as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 120
            while "[ 1/12]" not in (tmp_path / "stderr").read_text():
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr").read_text()
                time.sleep(0.05)
            assert list(temporary.glob("pymp-*")) != []  # the forkserver's socket, while the sweep runs
            process.kill()
        finally:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 20
    while (list(temporary.glob("pymp-*")) or _forkservers_marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(temporary.glob("pymp-*")) == [] and _forkservers_marked(marker) == []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads processes from /proc")
def test_a_client_killed_with_kill_9_before_any_worker_started_leaves_no_forkserver_or_folder(
        tmp_path, short_tmp, small_config):
    """Killed while its forkserver still imports, a client leaves no worker to clean up after it:
    the forkserver, which ends when its client's pipe closes, removes its socket's folder itself."""
    sweep_file = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.02]})
    marker = f"nnfw-test-{os.getpid()}-{tmp_path.name}"
    env = {**os.environ, "TMPDIR": str(short_tmp), "NNFW_TEST_MARKER": marker}
    process = subprocess.Popen([sys.executable, "-m", "nnfw_cli", "sweep", str(sweep_file), "--workers", "2",
                                "--output-dir", str(tmp_path / "out")], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (list(short_tmp.glob("pymp-*")) and _forkservers_marked(marker)):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        process.kill()
        process.wait()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("metrics.json"))  # no run began
    deadline = time.monotonic() + 20
    while (list(short_tmp.glob("pymp-*")) or _forkservers_marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(short_tmp.glob("pymp-*")) == [] and _forkservers_marked(marker) == []


@pytest.mark.slow  # starts a worker process
def test_a_sweep_of_one_run_speaks_of_one_run(runner, tmp_path, small_config):
    """A sweep file with only `base:` is the base config once: "1 run", not "1 runs"."""
    path = _sweep_file(tmp_path, small_config)
    result = runner.invoke(main, ["sweep", str(path), "--workers", "1", "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.stderr
    assert "(1 run; 1 local worker)" in result.stderr and "  1 run: 1 completed; summary.csv, sweep.png" in result.stdout
    assert "1 runs" not in result.stdout + result.stderr


@pytest.mark.slow  # starts worker processes
def test_a_temporary_folder_too_deep_for_a_socket_runs_the_sweep_on_spawned_workers(tmp_path, small_config):
    """A forkserver listens on a socket in the temporary folder, whose path a socket's address cannot
    hold when TMPDIR is deep: the workers are then spawned, each importing nnfw itself."""
    from nnfw_cli import pool

    sweep_file = _sweep_file(tmp_path, small_config, grid={"training.learning_rate": [0.01, 0.02]})
    deep = tmp_path / ("d" * max(1, pool.SOCKET_PATH + 10 - len(str(tmp_path))))  # too deep on Linux and macOS
    deep.mkdir()
    env = {**os.environ, "TMPDIR": str(deep)}
    done = subprocess.run([sys.executable, "-m", "nnfw_cli", "sweep", str(sweep_file), "--workers", "2", "--output-dir",
                           str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "2 runs: 2 completed" in done.stdout and "Traceback" not in done.stderr
    assert list(deep.iterdir()) == []
