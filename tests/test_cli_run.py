"""Using a saved run: eval, plot, predict, and resuming an interrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nnfw_cli import experiment
from nnfw_cli.cli import main
from nnfw_cli.config import load_config
from nnfw_cli.experiment import load_data
from nnfw_cli.nn import Model


def _eval(runner, *args):
    result = runner.invoke(main, ["eval", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_eval_reproduces_the_training_metrics_exactly(runner, run_dir):
    trained = json.loads((run_dir / "metrics.json").read_text())
    evaluated = _eval(runner, str(run_dir))
    assert evaluated["metrics"]["roc_auc"] == trained["roc_auc"]
    assert evaluated["metrics"]["accuracy"] == trained["accuracy"]
    counts = evaluated["metrics"]
    assert counts["tn"] + counts["fp"] + counts["fn"] + counts["tp"] == trained["n_test"]
    assert json.loads((run_dir / "eval.json").read_text()) == evaluated["metrics"]
    assert (run_dir / "roc_curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_eval_defaults_to_the_newest_run(runner, run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outputs/ lies here
    assert _eval(runner)["run_dir"].endswith("r")


@pytest.mark.slow
def test_eval_never_overwrites_an_earlier_evaluation(runner, run_dir):
    first = _eval(runner, str(run_dir))["eval_file"]
    second = _eval(runner, str(run_dir))["eval_file"]
    fresh = _eval(runner, str(run_dir), "--seed", "123", "--n-samples", "500")
    assert len({first, second, fresh["eval_file"]}) == 3
    assert fresh["eval_file"].endswith("eval-seed123-n500-noise0.05.json")
    assert fresh["metrics"]["n_samples"] == 500 and fresh["metrics"]["data"] == "fresh"


@pytest.mark.slow
def test_eval_table_for_people(runner, run_dir):
    result = runner.invoke(main, ["eval", str(run_dir)])
    assert result.exit_code == 0
    assert "ROC AUC" in result.stdout and "actual 1" in result.stdout


@pytest.mark.slow
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


@pytest.mark.slow
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
    assert list(scored["predicted"]) == list((expected >= 0.5).astype(int))


def test_predict_by_position_to_stdout(runner, run_dir, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("a,b\n0,0\n1.5,0\n")
    result = runner.invoke(main, ["predict", str(run_dir), str(points)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "a,b,probability,predicted" and len(lines) == 3


def test_predict_names_the_bad_cell(runner, run_dir, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,y\n0,0\n1,abc\n")
    result = runner.invoke(main, ["predict", str(run_dir), str(points)])
    assert result.exit_code == 2
    assert "row 2 (line 3), column 'y': 'abc' is not a finite number" in result.stderr


# -- interrupting and resuming ----------------------------------------------------------------

# Mini-batches and dropout: a resumed run must restore the shuffling and dropout streams too.
RESUMABLE = {
    "training.epochs": 12,
    "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "dropout", "rate": 0.2},
                     {"type": "linear", "units": 1, "init": "xavier"}, "sigmoid"],
}


class Crash(Exception):
    """Stands for the process dying at once (a kill, a power cut): nothing more is written."""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, config_writer) -> Path:
    """The RESUMABLE config trained in one go, for interrupted runs to be compared with."""
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("uninterrupted")
    config = config_writer(root / "resumable.yaml", root / "outputs", RESUMABLE)
    result = CliRunner().invoke(main, ["train", str(config), "--quiet", "--name", "whole"])
    assert result.exit_code == 0, result.stderr
    return root / "outputs" / "whole"


def _assert_same_training(resumed: Path, whole: Path) -> None:
    """The two runs' weights, history, final metrics and boundary snapshots are the same."""
    for name in ("model.npz", "snapshots.npz"):
        with np.load(resumed / name) as a, np.load(whole / name) as b:
            assert a.files == b.files
            for key in a.files:
                assert np.array_equal(a[key], b[key], equal_nan=a[key].dtype.kind == "f"), f"{name}: {key}"
    pd.testing.assert_frame_equal(pd.read_csv(resumed / "history.csv"), pd.read_csv(whole / "history.csv"))
    metrics = [json.loads((folder / "metrics.json").read_text()) for folder in (resumed, whole)]
    for m in metrics:
        del m["data_seconds"], m["train_seconds"], m["provenance"]  # the resumed run's also records the command that resumed it
    assert metrics[0] == metrics[1]


def _signal_during_training(monkeypatch, epoch: int, sig: int) -> None:
    """Make `nnfw train` send this process ``sig`` at the end of ``epoch``, as Ctrl-C or kill would."""
    train = experiment.train

    def train_and_signal(config, stem="run", name=None, progress=None, stop=None, **options):
        def progress_then_signal(logs: dict) -> None:
            if progress is not None:
                progress(logs)
            if logs["epoch"] == epoch:
                os.kill(os.getpid(), sig)

        return train(config, stem, name, progress_then_signal, stop, **options)

    monkeypatch.setattr(experiment, "train", train_and_signal)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_then_resumed_equals_uninterrupted(runner, make_config, tmp_path, monkeypatch, signal_guard,
                                                       uninterrupted, sig, code):
    _signal_during_training(monkeypatch, 4, sig)
    result = runner.invoke(main, ["train", str(make_config(RESUMABLE)), "--name", "cut"])
    assert result.exit_code == code, result.output + result.stderr
    assert signal_guard == []  # the command took the signal itself
    cut = tmp_path / "outputs" / "cut"
    assert f"nnfw train --resume {cut}" in result.stderr and "Traceback" not in result.stderr
    metrics = json.loads((cut / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["epochs"] == 5  # the epoch under way is finished
    assert len(pd.read_csv(cut / "history.csv")) == 5
    assert (cut / "checkpoint.npz").exists() and (cut / "loss_curve.png").exists()

    resumed = runner.invoke(main, ["train", "--resume", str(cut), "--quiet"])
    assert resumed.exit_code == 0, resumed.stderr
    assert not (cut / "checkpoint.npz").exists()
    _assert_same_training(cut, uninterrupted)


def _crash_at_epoch_8(run_config: Path, tmp_path: Path) -> Path:
    """Train with a checkpoint every 3 epochs and crash during epoch 8; returns the run folder."""
    config = load_config(run_config)

    def crash(logs: dict) -> None:
        if logs["epoch"] == 8:
            raise Crash

    with pytest.raises(Crash):
        experiment.train(config, "resumable", "crashed", crash)
    return tmp_path / "outputs" / "crashed"


@pytest.mark.slow
def test_periodic_checkpoints_survive_a_crash(runner, make_config, tmp_path):
    crashed = _crash_at_epoch_8(make_config({**RESUMABLE, "training.checkpoint_every": 3}), tmp_path)
    assert (crashed / "checkpoint.npz").exists() and not (crashed / "metrics.json").exists()
    assert not list(crashed.glob(".*.tmp"))
    result = runner.invoke(main, ["train", "--resume", str(crashed), "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((crashed / "metrics.json").read_text())["epochs"] == 12
    assert not (crashed / "checkpoint.npz").exists()


@pytest.mark.slow
def test_a_run_resumed_from_a_periodic_checkpoint_equals_uninterrupted(runner, make_config, tmp_path, uninterrupted):
    crashed = _crash_at_epoch_8(make_config({**RESUMABLE, "training.checkpoint_every": 3}), tmp_path)
    result = runner.invoke(main, ["train", "--resume", str(crashed)])
    assert result.exit_code == 0, result.stderr
    progress = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert progress[0] == "7/12"  # what the crash lost: the epochs since the last checkpoint, at 6
    _assert_same_training(crashed, uninterrupted)


@pytest.mark.slow  # a fresh interpreter imports numpy, scikit-learn and matplotlib, then trains 300 epochs
def test_ctrl_c_stops_a_training_process_that_can_then_resume(runner, make_config, tmp_path):
    # The first progress line comes a tenth of the way in; the rest of the run leaves time for the
    # signal to arrive while the process still trains.
    config = make_config({"training.epochs": 3000, "training.batch_size": None})
    # A shell that starts the suite in the background (`pytest &`) has it ignore SIGINT, and a child
    # keeps an ignored signal ignored, as nnfw does on purpose: give the child Ctrl-C as a terminal would.
    process = subprocess.Popen([sys.executable, "-m", "nnfw_cli", "train", str(config), "--name", "cut"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first_line = process.stderr.readline()  # the first progress line: training is under way
        assert first_line.startswith("epoch"), first_line
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    cut = tmp_path / "outputs" / "cut"
    assert f"nnfw train --resume {cut}" in stderr and "Traceback" not in stderr
    assert json.loads((cut / "metrics.json").read_text())["status"] == "interrupted"
    assert (cut / "checkpoint.npz").exists()
    result = runner.invoke(main, ["train", "--resume", str(cut), "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((cut / "metrics.json").read_text())["epochs"] == 3000
