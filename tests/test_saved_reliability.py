"""``eval`` and ``plot`` on saved runs: which run they use, the lock they take, valid JSON,
bounded work on huge requests, and clear messages for files that are not what they should be."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnfw_cli import saved as saved_runs
from nnfw_cli.cli import main
from nnfw_cli.config import load_config
from nnfw_cli.experiment import build_model
from nnfw_cli.nn import Linear, Model, ReLU, Sigmoid

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def run(finished_outputs, tmp_path) -> Path:
    """A copy of the run, ``tmp_path/D/r``, with ``D/latest`` leading to it."""
    shutil.copytree(finished_outputs, tmp_path / "D", symlinks=True)
    return tmp_path / "D" / "r"


def _invoke(*args: str):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def _refused(result, *needles: str) -> None:
    shown = f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exit_code == 2, shown
    assert "Traceback" not in result.stderr and "Error: " in result.stderr, shown
    for needle in needles:
        assert needle in result.stderr, shown


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# -- 3. a bare model file where a run folder is needed --------------------------------------------


@pytest.mark.parametrize("command", ["eval", "plot"])
def test_eval_and_plot_need_a_run_folder(tmp_path, command):
    Model([Linear(2, 3, rng=0), Sigmoid()]).save(str(tmp_path / "m.npz"))
    result = _invoke(command, tmp_path / "m.npz")
    _refused(result, f"{tmp_path / 'm.npz'}: is a file, not a run folder", f"{command} needs a run folder",
             "nnfw predict")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


# -- 4. which run, and the run's lock --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", [["eval"], ["plot", "--what", "loss"]])
def test_the_newest_run_is_named_on_stderr(run, command):
    root = run.parent
    result = _invoke(*command, "--output-dir", root)
    assert result.exit_code == 0, result.stderr
    assert f"using the newest run in {root}: {run}" in result.stderr
    result = _invoke(*command, root / "latest")
    assert result.exit_code == 0, result.stderr
    assert f"{root / 'latest'} is {run}" in result.stderr


def test_predict_takes_the_newest_run_of_an_output_dir(run, tmp_path):
    (tmp_path / "p.csv").write_text("x,y\n0.1,0.2\n")
    result = _invoke("predict", "--output-dir", run.parent, tmp_path / "p.csv")
    assert result.exit_code == 0, result.stderr
    assert f"using the newest run in {run.parent}: {run}" in result.stderr
    assert result.stdout.splitlines()[0] == "x,y,probability,predicted"


def test_predict_without_an_input_names_it(run):
    result = _invoke("predict", run)
    assert result.exit_code == 2 and "INPUT.csv" in result.stderr, result.stderr


@pytest.mark.parametrize("command", [["eval"], ["plot"], ["plot", "--neurons"]])
def test_eval_and_plot_wait_for_no_one_and_change_nothing_in_a_run_in_use(run, command):
    lock = run / ".lock"
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}) + "\n")
    before = _files(run)
    result = _invoke(*command, run)
    _refused(result, str(run), "in use by another nnfw process", f"pid {os.getppid()}")
    assert _files(run) == before


@pytest.mark.slow
def test_eval_leaves_no_lock_behind(run):
    result = _invoke("eval", run)
    assert result.exit_code == 0, result.stderr
    assert not (run / ".lock").exists() and (run / "eval.json").exists()


# -- 5. valid JSON ------------------------------------------------------------------------------


def _no_nan(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def test_eval_json_is_valid_json_when_a_metric_is_undefined(run):
    config = run / "config.yaml"  # xor: two fresh points drawn with seed 3 are both of class 1
    config.write_text(config.read_text().replace("dataset: circles", "dataset: xor").replace("  factor: 0.5\n", ""))
    result = _invoke("eval", run, "--n-samples", "2", "--seed", "3", "--json")
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout, parse_constant=_no_nan)
    assert printed["metrics"]["roc_auc"] is None
    written = json.loads(Path(printed["eval_file"]).read_text(), parse_constant=_no_nan)
    assert written["roc_auc"] is None


# -- 6. bounded work ----------------------------------------------------------------------------


def test_eval_refuses_more_fresh_samples_than_it_can_hold(run):
    before = _files(run)
    result = _invoke("eval", run, "--n-samples", "2000000000")
    _refused(result, "2,000,000,000 samples", f"at most {saved_runs.MAX_FRESH_SAMPLES:,}")
    assert _files(run) == before


def test_eval_cap_is_checked_before_any_data_is_made(run):
    result = _invoke("eval", run, "--n-samples", str(saved_runs.MAX_FRESH_SAMPLES + 1))
    _refused(result, f"at most {saved_runs.MAX_FRESH_SAMPLES:,}")


@pytest.mark.slow
def test_fresh_data_is_made_and_scored_in_chunks(run, monkeypatch):
    sizes: list[int] = []
    make = saved_runs.make_dataset

    def spy(name, n_samples, *args, **kwargs):
        sizes.append(n_samples)
        return make(name, n_samples, *args, **kwargs)

    monkeypatch.setattr(saved_runs, "make_dataset", spy)
    monkeypatch.setattr(saved_runs, "FRESH_CHUNK", 1000)
    result = _invoke("eval", run, "--n-samples", "2500", "--seed", "7", "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert sizes == [1000, 1000, 500]
    assert metrics["n_samples"] == 2500 and metrics["tn"] + metrics["fp"] + metrics["fn"] + metrics["tp"] == 2500
    assert 0.0 <= metrics["log_loss"] and 0.0 <= metrics["accuracy"] <= 1.0


@pytest.mark.slow
def test_fresh_data_in_one_chunk_is_made_as_before(run):
    result = _invoke("eval", run, "--n-samples", "500", "--seed", "123", "--json")
    assert result.exit_code == 0, result.stderr
    config = load_config(run / "config.yaml")
    X, y = saved_runs.make_dataset("circles", 500, 0.05, 123, **config.data.options())
    output = Model.load(str(run / "model.npz")).predict(X)
    assert json.loads(result.stdout)["metrics"]["accuracy"] == float(np.mean((output[:, 0] >= 0.5) == y))


def test_batch_size_keeps_activations_under_the_budget():
    wide = Model([Linear(2, 100_000, rng=0), ReLU(), Linear(100_000, 1, rng=1), Sigmoid()])
    from nnfw_cli import experiment

    rows = experiment.batch_size(wide)  # the model states its input width
    row_bytes = 2 * (2 + 100_000 + 100_000 + 1 + 1) * 8  # the input and every layer's output, twice, float64
    assert rows == experiment.ACTIVATION_BYTES // row_bytes and rows * row_bytes <= experiment.ACTIVATION_BYTES
    assert experiment.batch_size(Model([Linear(2, 4, rng=0), Sigmoid()])) == experiment.MAX_BATCH


def _wide_run(run: Path, units: int) -> Path:
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("units: 8", f"units: {units}", 1))
    build_model(load_config(config), np.random.default_rng(0)).save(str(run / "model.npz"))
    return run


@pytest.mark.slow
def test_neurons_of_a_wide_layer_are_drawn_up_to_a_limit(run, monkeypatch):
    from nnfw_cli import plots

    _wide_run(run, 30_000)
    drawn: list[tuple[str, tuple]] = []
    neurons = plots.neurons

    def spy(panels, *args, **kwargs):
        drawn.extend((label, np.shape(values)) for label, values in panels)
        return neurons(panels, *args, **kwargs)

    monkeypatch.setattr(plots, "neurons", spy)
    result = _invoke("plot", run, "--neurons", "--dpi", "30")
    assert result.exit_code == 0, result.stderr
    limit = saved_runs.MAX_UNITS_DRAWN
    assert drawn[0][1][1] == limit and f"units 1-{limit} of 30000" in drawn[0][0]
    assert drawn[-1] == ("output", (drawn[0][1][0], 1))
    assert (run / "neurons.png").exists()


def test_hidden_activations_keep_only_the_units_drawn():
    model = Model([Linear(2, 50, rng=0), ReLU(), Linear(50, 3, rng=1), ReLU(), Linear(3, 1, rng=2), Sigmoid()])
    X = np.random.default_rng(0).normal(size=(40, 2))
    panels = saved_runs.hidden_activations(model, X, max_units=8, rows=7)
    assert [label for label, _ in panels] == ["layer 1 (relu), units 1-8 of 50", "layer 2 (relu)", "output"]
    assert [values.shape for _, values in panels] == [(40, 8), (40, 3), (40, 1)]
    whole = model.layers[1].forward(model.layers[0].forward(X))
    np.testing.assert_allclose(panels[0][1], whole[:, :8])
    np.testing.assert_allclose(panels[2][1], model.predict(X))


# -- 8. model files that cannot be read ----------------------------------------------------------


def _fifo_model(run: Path) -> None:
    (run / "model.npz").unlink()
    os.mkfifo(run / "model.npz")


def _unreadable_model(run: Path) -> None:
    if IS_ROOT:
        pytest.skip("root reads files whatever their mode")
    (run / "model.npz").chmod(0)


@pytest.mark.parametrize("command", ["eval", "plot", "predict"])
@pytest.mark.parametrize(("damage", "needles"), [
    pytest.param(lambda run: (run / "model.npz").write_bytes(b"PK\x03\x04 not really a zip"),
                 ["model.npz: not a usable model file", "not an .npz archive"], id="not-a-zip"),
    pytest.param(lambda run: (run / "model.npz").write_bytes((run / "history.csv").read_bytes()),
                 ["model.npz: not a usable model file", "not an .npz archive"], id="a-csv"),
    pytest.param(_fifo_model, ["model.npz: a FIFO (named pipe), not a regular file"], id="fifo"),
    pytest.param(_unreadable_model, ["model.npz: cannot be read: Permission denied"], id="no-permission"),
])
def test_an_unreadable_model_is_described_as_what_it_is(run, tmp_path, command, damage, needles):
    damage(run)
    (tmp_path / "p.csv").write_text("x,y\n0.1,0.2\n")
    args = [command, run] + ([tmp_path / "p.csv"] if command == "predict" else [])
    result = _invoke(*args)
    _refused(result, str(run), *needles)
    assert result.stdout == ""


@pytest.mark.parametrize("damage", [
    pytest.param(lambda path: path.write_bytes(b"PK\x03\x04 not really a zip"), id="not-a-zip"),
    pytest.param(lambda path: path.write_bytes(b"\x93NUMPY garbage"), id="npy-not-npz"),
])
def test_an_unreadable_bare_model_file_is_described_as_what_it_is(tmp_path, damage):
    damage(tmp_path / "m.npz")
    (tmp_path / "p.csv").write_text("x,y\n0.1,0.2\n")
    result = _invoke("predict", tmp_path / "m.npz", tmp_path / "p.csv")
    _refused(result, str(tmp_path / "m.npz"), "not an .npz archive")


def test_neuron_rows_are_labelled_with_every_layer_of_their_block():
    """A ReLU followed by dropout: the row is the ReLU's output, and its label names both."""
    from nnfw_cli.nn import Dropout

    model = Model([Linear(2, 4, rng=0), ReLU(), Dropout(0.2, rng=0), Linear(4, 1, rng=1), Sigmoid()])
    panels = saved_runs.hidden_activations(model, np.zeros((3, 2)))
    assert [label for label, _ in panels] == ["layer 1 (relu, dropout(0.2))", "output"]
