"""Using a saved run: eval, plot, predict, and resuming an interrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nnfw_cli.cli import main
from nnfw_cli.config import load_config
from nnfw_cli.experiment import load_data
from nnfw_cli.nn import Model


@pytest.fixture
def run_dir(runner, small_config, tmp_path):
    """A finished small run, `outputs/r`."""
    result = runner.invoke(main, ["train", str(small_config), "--quiet", "--name", "r"])
    assert result.exit_code == 0, result.stderr
    return tmp_path / "outputs" / "r"


def _eval(runner, *args):
    result = runner.invoke(main, ["eval", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_eval_reproduces_the_training_metrics_exactly(runner, run_dir):
    trained = json.loads((run_dir / "metrics.json").read_text())
    evaluated = _eval(runner, str(run_dir))
    assert evaluated["metrics"]["roc_auc"] == trained["roc_auc"]
    assert evaluated["metrics"]["accuracy"] == trained["accuracy"]
    counts = evaluated["metrics"]
    assert counts["tn"] + counts["fp"] + counts["fn"] + counts["tp"] == trained["n_test"]
    assert json.loads((run_dir / "eval.json").read_text()) == evaluated["metrics"]
    assert (run_dir / "roc_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_defaults_to_the_newest_run(runner, run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outputs/ lies here
    assert _eval(runner)["run_dir"].endswith("r")


def test_eval_never_overwrites_an_earlier_evaluation(runner, run_dir):
    first = _eval(runner, str(run_dir))["eval_file"]
    second = _eval(runner, str(run_dir))["eval_file"]
    fresh = _eval(runner, str(run_dir), "--seed", "123", "--n-samples", "500")
    assert len({first, second, fresh["eval_file"]}) == 3
    assert fresh["eval_file"].endswith("eval-seed123-n500-noise0.05.json")
    assert fresh["metrics"]["n_samples"] == 500 and fresh["metrics"]["data"] == "fresh"


def test_eval_table_for_people(runner, run_dir):
    result = runner.invoke(main, ["eval", str(run_dir)])
    assert result.exit_code == 0
    assert "ROC AUC" in result.stdout and "actual 1" in result.stdout


@pytest.mark.parametrize("what", ["all", "loss", "boundary", "roc"])
def test_plot_recreates_the_pictures(runner, run_dir, what):
    names = {"loss": ["loss_curve.png"], "boundary": ["decision_boundary.png"], "roc": ["roc_curve.png"]}
    expected = sum(names.values(), []) if what == "all" else names[what]
    for name in expected:
        (run_dir / name).unlink(missing_ok=True)
    result = runner.invoke(main, ["plot", str(run_dir), "--what", what, "--dpi", "50"])
    assert result.exit_code == 0, result.stderr
    for name in expected:
        with Image.open(run_dir / name) as image:
            assert image.format == "PNG" and image.size[0] == 6 * 50 or image.size[0] == 320


def test_plot_formats(runner, run_dir):
    result = runner.invoke(main, ["plot", str(run_dir), "--what", "loss", "--format", "svg"])
    assert result.exit_code == 0
    assert (run_dir / "loss_curve.svg").read_text().lstrip().startswith("<?xml")


def test_predict_matches_the_model(runner, run_dir, tmp_path):
    data = load_data(load_config(run_dir / "config.yaml"))
    points = tmp_path / "points.csv"
    pd.DataFrame(data.X_test, columns=["x", "y"]).to_csv(points, index=False, float_format="%.17g")
    result = runner.invoke(main, ["predict", str(run_dir), str(points), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.stderr
    scored = pd.read_csv(tmp_path / "out.csv")
    expected = Model.load(run_dir / "model.npz").predict(data.X_test)[:, 0]
    np.testing.assert_allclose(scored["probability"], expected, rtol=0, atol=1e-12)
    assert list(scored["label"]) == list((expected >= 0.5).astype(int))


def test_predict_by_position_to_stdout(runner, run_dir, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("a,b\n0,0\n1.5,0\n")
    result = runner.invoke(main, ["predict", str(run_dir), str(points)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "a,b,probability,label" and len(lines) == 3


def test_predict_names_the_bad_cell(runner, run_dir, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,y\n0,0\n1,abc\n")
    result = runner.invoke(main, ["predict", str(run_dir), str(points)])
    assert result.exit_code == 2
    assert "row 2 (line 3), column 'y': 'abc' is not a finite number" in result.stderr


def _train_in_process(small_config, tmp_path, name, epochs):
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["train", str(small_config), "--quiet", "--name", name,
                                       "--set", f"training.epochs={epochs}", "--set", "training.batch_size=null"])
    assert result.exit_code == 0, result.stderr
    return tmp_path / "outputs" / name


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_then_resumed_equals_uninterrupted(small_config, tmp_path, sig, code):
    epochs = 15000
    process = subprocess.Popen(
        [sys.executable, "-m", "nnfw_cli", "train", str(small_config), "--name", "cut",
         "--set", f"training.epochs={epochs}", "--set", "training.batch_size=null"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first_line = process.stderr.readline()  # the first progress line: training is under way
    assert first_line.startswith("epoch"), first_line
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    cut = tmp_path / "outputs" / "cut"
    assert "nnfw train --resume" in stderr and "Traceback" not in stderr
    metrics = json.loads((cut / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["epochs"] < epochs
    assert (cut / "checkpoint.npz").exists() and (cut / "loss_curve.png").exists()

    resumed = subprocess.run([sys.executable, "-m", "nnfw_cli", "train", "--resume", str(cut), "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert not (cut / "checkpoint.npz").exists()
    whole = _train_in_process(small_config, tmp_path, "whole", epochs)
    with np.load(cut / "model.npz") as a, np.load(whole / "model.npz") as b:
        assert a.files == b.files
        assert all(np.array_equal(a[key], b[key]) for key in a.files)
    history = [pd.read_csv(folder / "history.csv") for folder in (cut, whole)]
    pd.testing.assert_frame_equal(*history)


def test_periodic_checkpoints_survive_a_kill(runner, small_config, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "nnfw_cli", "train", str(small_config), "--name", "killed",
         "--set", "training.epochs=15000", "--set", "training.batch_size=null",
         "--set", "training.checkpoint_every=1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    process.stderr.readline()
    process.kill()
    process.communicate(timeout=60)
    killed = tmp_path / "outputs" / "killed"
    assert (killed / "checkpoint.npz").exists()
    result = runner.invoke(main, ["train", "--resume", str(killed), "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((killed / "metrics.json").read_text())["epochs"] == 15000
