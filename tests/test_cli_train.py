"""`nnfw train`, `check` and `schema` through click's CliRunner and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nnfw_cli.cli import main
from nnfw_cli.nn import Model

RUN_FILES = {"config.yaml", "model.npz", "history.csv", "metrics.json", "loss_curve.png", "decision_boundary.png"}


def _train(runner, config, *args):
    result = runner.invoke(main, ["train", str(config), "--quiet", *args])
    assert result.exit_code == 0, result.output + result.stderr
    return result


@pytest.mark.slow
def test_train_writes_every_file_of_the_run_folder(runner, small_config, tmp_path):
    result = runner.invoke(main, ["train", str(small_config), "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    run_dir = tmp_path / "outputs" / payload["run_dir"].split(os.sep)[-1]
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert list(metrics)[0] == "roc_auc" and 0.5 <= metrics["roc_auc"] <= 1
    assert metrics["status"] == "completed" and metrics["epochs"] == 5
    assert {"roc_auc_thresholded", "accuracy", "loss", "train_seconds"} <= set(metrics)
    assert payload["metrics"]["roc_auc"] == metrics["roc_auc"]
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3, 4, 5]
    assert history["test_roc_auc"].notna().iloc[-1]  # no validation split: the test split is scored as it trains
    assert list(history.columns) == ["epoch", "train_loss", "test_loss", "test_roc_auc", "test_accuracy", "lr"]
    for png in ("loss_curve.png", "decision_boundary.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "outputs" / "latest").resolve() == run_dir.resolve()


def test_saved_model_reproduces_the_metrics(run_dir):
    model = Model.load(run_dir / "model.npz")
    assert model.get_config()[0] == {"type": "linear", "in_features": 2, "out_features": 8, "init": "he"}
    from nnfw_cli.config import load_config
    from nnfw_cli.experiment import load_data
    from nnfw_cli.metrics import roc_auc

    data = load_data(load_config(run_dir / "config.yaml"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert roc_auc(data.y_test, model.predict(data.X_test)) == metrics["roc_auc"]


@pytest.mark.slow
def test_same_seed_same_metrics(runner, small_config, run_dir, tmp_path):
    _train(runner, small_config, "--name", "b")  # run_dir, "r", is the same config trained earlier
    first, second = (json.loads((tmp_path / "outputs" / n / "metrics.json").read_text()) for n in ("r", "b"))
    for metrics in (first, second):
        assert metrics.pop("train_seconds") > 0 and metrics.pop("data_seconds") > 0
        assert metrics.pop("provenance")["seed"] == 3  # and the command lines, which differ in --name
    assert first == second
    weights = [np.load(tmp_path / "outputs" / n / "model.npz")["0.weight"] for n in ("r", "b")]
    assert np.array_equal(*weights)


@pytest.mark.slow
def test_seed_option_changes_the_run(runner, small_config, run_dir, tmp_path):
    _train(runner, small_config, "--name", "b", "--seed", "11")
    weights = [np.load(tmp_path / "outputs" / n / "model.npz")["0.weight"] for n in ("r", "b")]
    assert not np.array_equal(*weights)
    assert "seed: 11" in (tmp_path / "outputs" / "b" / "config.yaml").read_text()


@pytest.mark.slow
def test_set_changes_what_it_should(runner, small_config, tmp_path):
    _train(runner, small_config, "--name", "s", "--set", "training.epochs=3", "--set", "model.layers[0].units=12")
    run_dir = tmp_path / "outputs" / "s"
    assert json.loads((run_dir / "metrics.json").read_text())["epochs"] == 3
    assert np.load(run_dir / "model.npz")["0.weight"].shape == (2, 12)
    saved = (run_dir / "config.yaml").read_text()
    assert "epochs: 3" in saved and "units: 12" in saved


@pytest.mark.slow
def test_output_dir_option(runner, small_config, tmp_path):
    result = _train(runner, small_config, "--output-dir", str(tmp_path / "elsewhere"), "--name", "x")
    assert (tmp_path / "elsewhere" / "x" / "model.npz").exists()
    assert "elsewhere" in result.stdout


def test_a_run_name_is_never_reused(runner, small_config, run_dir):
    before = (run_dir / "model.npz").read_bytes()
    result = runner.invoke(main, ["train", str(small_config), "--name", run_dir.name])
    assert result.exit_code == 2
    assert "a run of that name exists" in result.stderr and "Traceback" not in result.output
    assert (run_dir / "model.npz").read_bytes() == before


@pytest.mark.slow
def test_runs_without_name_get_distinct_folders(runner, small_config, tmp_path):
    _train(runner, small_config)
    _train(runner, small_config)
    runs = [p for p in (tmp_path / "outputs").iterdir() if p.name != "latest"]
    assert len(runs) == 2 and all(p.name.startswith("small-") for p in runs)


@pytest.mark.slow
def test_plain_output_lists_folder_and_metrics(runner, small_config):
    result = runner.invoke(main, ["train", str(small_config)])
    assert result.exit_code == 0
    assert result.stdout.startswith("run folder: ")
    assert "roc_auc" in result.stdout.splitlines()[1]
    progress = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert progress and "\r" not in result.stderr  # plain lines when not on a terminal


def test_bad_config_exits_2_without_traceback(runner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  epochs: 0\n")
    result = runner.invoke(main, ["train", str(path)])
    assert result.exit_code == 2
    assert "training.epochs: must be >= 1 (got 0)" in result.stderr and "bad.yaml:2:11" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "outputs").exists()


def test_check_prints_the_resolved_config(runner, small_config):
    result = runner.invoke(main, ["check", str(small_config), "--set", "training.epochs=9"])
    assert result.exit_code == 0
    assert "epochs: 9" in result.stdout and "beta1: 0.9" in result.stdout


def test_schema_is_json(runner):
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "Config"


@pytest.mark.slow  # a fresh interpreter imports numpy, scikit-learn and matplotlib to train
def test_as_a_process_json_is_the_only_stdout(small_config, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nnfw_cli", "train", str(small_config), "--json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"run_dir", "metrics"}


@pytest.mark.slow
@pytest.mark.parametrize(("args", "code", "stdout", "stderr"), [
    (["--version"], 0, "nnfw 0.1.0\n", ""),
    (["schema"], 0, '"title": "Config"', ""),
    (["check", "missing.yaml"], 2, "", "missing.yaml: no such file"),
    (["train"], 2, "", "give a CONFIG"),
    (["no-such-command"], 2, "", "No such command"),
])
def test_as_a_process_exit_codes_and_output_arrive_whole(tmp_path, args, code, stdout, stderr):
    result = subprocess.run([sys.executable, "-m", "nnfw_cli", *args], capture_output=True, text=True, cwd=tmp_path,
                            timeout=60)
    assert result.returncode == code, result.stderr
    assert stdout in result.stdout and stderr in result.stderr
    assert "Traceback" not in result.stderr
    if args == ["schema"]:  # a long output, flushed in full before the process ends
        assert json.loads(result.stdout)["title"] == "Config"


LIGHT_COMMANDS = [["--help"], ["train", "--help"], ["check", "CONFIG"], ["schema"]]


@pytest.mark.slow
def test_light_commands_do_not_import_heavy_libraries(small_config):
    # One process runs them all in turn: a heavy import by any of them stays in sys.modules
    # and shows in the report after it.
    commands = [[str(small_config) if a == "CONFIG" else a for a in args] for args in LIGHT_COMMANDS]
    code = f"""if True:
        import sys
        from nnfw_cli.cli import main
        for args in {commands!r}:
            try:
                main(args, standalone_mode=False)
            finally:
                heavy = sorted(m for m in ('sklearn', 'matplotlib', 'pandas') if m in sys.modules)
                print('heavy after', args[0], args[-1], heavy, file=sys.stderr)
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = [line for line in result.stderr.splitlines() if line.startswith("heavy after")]
    assert len(report) == len(LIGHT_COMMANDS) and all(line.endswith(" []") for line in report), report
