"""The best epoch and early stopping: the watcher on its own, then whole runs that stop early,
compared with runs stopped by hand at the same epochs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnfw_cli import experiment, plots, runs
from nnfw_cli.cli import main
from nnfw_cli.config import load_config, validate
from nnfw_cli.errors import ConfigError
from nnfw_cli.stopping import Watcher

# -- the watcher ------------------------------------------------------------------------------


def test_a_loss_is_watched_for_its_lowest_value():
    watcher = Watcher("val_loss", patience=2)
    improved = [watcher.update(epoch, {"val_loss": value}) for epoch, value in enumerate([0.5, 0.4, 0.45, 0.41], 1)]
    assert improved == [True, True, False, False]
    assert (watcher.best, watcher.best_epoch) == (0.4, 2)
    assert not watcher.should_stop(3) and watcher.should_stop(4)


def test_a_score_is_watched_for_its_highest_value_beyond_min_delta():
    watcher = Watcher("val_roc_auc", patience=3, min_delta=0.01)
    for epoch, value in enumerate([0.80, 0.805, 0.95, 0.955, 0.956, 0.9], 1):
        watcher.update(epoch, {"val_roc_auc": value})
    assert watcher.best_epoch == 3 and watcher.should_stop(6)


def test_epochs_that_did_not_score_the_monitor_neither_improve_nor_stop():
    watcher = Watcher("val_loss", patience=1)
    assert watcher.update(1, {"val_loss": 0.5})
    assert not watcher.update(2, {"train_loss": 0.1}) and not watcher.should_stop(2)  # not scored
    assert not watcher.update(3, {"val_loss": math.nan}) and not watcher.should_stop(3)  # undefined
    assert not watcher.update(4, {"val_loss": 0.6}) and watcher.should_stop(4)


def test_without_patience_the_watcher_never_stops():
    watcher = Watcher("train_loss")
    for epoch in range(1, 50):
        watcher.update(epoch, {"train_loss": 1.0 + epoch})
    assert watcher.best_epoch == 1 and not watcher.should_stop(49)


def test_the_watcher_state_round_trips_and_refuses_another_monitor():
    watcher = Watcher("val_accuracy", patience=2)
    watcher.update(1, {"val_accuracy": 0.75})
    again = Watcher("val_accuracy", patience=2)
    again.load_state_dict(json.loads(json.dumps(watcher.state_dict())))
    assert again.state_dict() == watcher.state_dict()
    with pytest.raises(ValueError, match="watches 'val_accuracy', not 'val_loss'"):
        Watcher("val_loss").load_state_dict(watcher.state_dict())


# -- the config ------------------------------------------------------------------------------


def test_early_stopping_on_the_validation_split_needs_one():
    with pytest.raises(ConfigError, match="val_loss is scored on the validation split, and there is none"):
        validate({"training": {"early_stopping": {}}})
    config = validate({"data": {"validation_fraction": 0.2}, "training": {"early_stopping": {}}})
    assert config.training.early_stopping.model_dump() == {"monitor": "val_loss", "patience": 10, "min_delta": 0.0,
                                                           "restore_best": True}
    assert validate({"training": {"early_stopping": {"monitor": "train_loss"}}}).training.eval_interval() == 3


def test_early_stopping_scores_the_validation_split_every_epoch_unless_told():
    config = validate({"data": {"validation_fraction": 0.2}, "training": {"epochs": 400, "early_stopping": {}}})
    assert config.training.eval_interval() == 1
    config = validate({"data": {"validation_fraction": 0.2}, "training": {"epochs": 400, "eval_every": 5,
                                                                          "early_stopping": {}}})
    assert config.training.eval_interval() == 5


# -- runs that stop early --------------------------------------------------------------------

# Noisy moons, a layer wide enough to over-fit 180 points, dropout (a random stream to restore):
# the validation loss stops improving early, and the run stops long before its 200 epochs.
OVERFITTING = {
    "seed": 1,
    "data.dataset": "moons", "data.n_samples": 300, "data.noise": 0.35, "data.validation_fraction": 0.25,
    "model.layers": [{"type": "linear", "units": 32}, "relu", {"type": "dropout", "rate": 0.1},
                     {"type": "linear", "units": 1, "init": "xavier"}, "sigmoid"],
    "training.learning_rate": 0.05, "training.epochs": 200, "training.batch_size": 16,
    "training.early_stopping": {"monitor": "val_loss", "patience": 8},
}


def _no_pictures(patch: pytest.MonkeyPatch) -> None:
    for name in ("draw_loss_curve", "draw_decision_boundary", "draw_confusion_matrix"):
        patch.setattr(experiment, name, lambda *args, **kwargs: None)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, config_writer) -> Path:
    """The OVERFITTING config, stopped early (pictures drawn: the loss curve marks the best epoch)."""
    root = tmp_path_factory.mktemp("stopped")
    experiment.train(load_config(config_writer(root / "c.yaml", root / "outputs", OVERFITTING)), "c", "stopped")
    return root / "outputs" / "stopped"


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def _assert_same_arrays(a: Path, b: Path, keys: str = "") -> None:
    first, second = _arrays(a), _arrays(b)
    assert sorted(first) == sorted(second)
    for key in first:
        if key.startswith(keys) and key != "state":
            assert np.array_equal(first[key], second[key], equal_nan=first[key].dtype.kind == "f"), f"{a.name}: {key}"


def _by_hand(make_config, epochs: int) -> Path:
    """The OVERFITTING config without early stopping, trained for ``epochs`` epochs."""
    changes = {**OVERFITTING, "training.epochs": epochs, "training.early_stopping": None}
    config = load_config(make_config(changes, name=f"by-hand-{epochs}"))
    return experiment.train(config, "h", f"by-hand-{epochs}").run_dir


@pytest.mark.slow
def test_the_run_stops_early_and_says_so(stopped):
    metrics = json.loads((stopped / runs.METRICS).read_text())
    assert metrics["status"] == "completed" and metrics["monitor"] == "val_loss"
    best, stop = metrics["best_epoch"], metrics["stopped_epoch"]
    assert 1 < best < stop < 200 and stop - best == 8 and metrics["epochs"] == stop
    assert metrics["model_epoch"] == best
    assert (stopped / runs.LAST_MODEL).is_file()


@pytest.mark.slow
def test_early_stopping_restores_exactly_the_best_epochs_weights(stopped, make_config, monkeypatch):
    _no_pictures(monkeypatch)
    metrics = json.loads((stopped / runs.METRICS).read_text())
    best = _by_hand(make_config, metrics["best_epoch"])
    _assert_same_arrays(stopped / runs.MODEL, best / runs.MODEL)
    _assert_same_arrays(stopped / runs.STATE, best / runs.STATE)  # the optimizer's state at that epoch too
    last = _by_hand(make_config, metrics["stopped_epoch"])
    _assert_same_arrays(stopped / runs.LAST_MODEL, last / runs.MODEL)
    # the test split's scores are of the best epoch's weights
    assert json.loads((best / runs.METRICS).read_text())["roc_auc"] == metrics["roc_auc"]


@pytest.mark.slow
def test_without_restore_best_model_npz_holds_the_last_weights(make_config, monkeypatch):
    _no_pictures(monkeypatch)
    changes = {**OVERFITTING, "training.early_stopping": {"patience": 8, "restore_best": False}}
    run = experiment.train(load_config(make_config(changes)), "c", "last")
    metrics = run.metrics
    assert metrics["model_epoch"] == metrics["stopped_epoch"] == metrics["epochs"] > metrics["best_epoch"]
    assert not (run.run_dir / runs.LAST_MODEL).exists()
    _assert_same_arrays(run.run_dir / runs.MODEL, _by_hand(make_config, metrics["epochs"]) / runs.MODEL)


def test_history_has_validation_scores_every_epoch_and_the_test_split_once(stopped):
    history = pd.read_csv(stopped / runs.HISTORY)
    metrics = json.loads((stopped / runs.METRICS).read_text())
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "val_roc_auc", "val_accuracy",
                                     "test_loss", "test_roc_auc", "test_accuracy", "lr"]
    assert history["val_loss"].notna().all()
    scored = history[history["test_loss"].notna()]
    assert list(scored["epoch"]) == [metrics["best_epoch"]]
    assert scored["test_roc_auc"].iloc[0] == metrics["roc_auc"] and scored["test_loss"].iloc[0] == metrics["loss"]
    assert history["val_loss"].min() == history.loc[history["epoch"] == metrics["best_epoch"], "val_loss"].iloc[0]
    assert metrics["val_loss"] == history.loc[history["epoch"] == metrics["best_epoch"], "val_loss"].iloc[0]


@pytest.mark.slow
def test_the_loss_curve_marks_the_best_epoch(stopped, monkeypatch):
    labels: list[str] = []
    original = plots.loss_curve

    def loss_curve(*args, **kwargs):
        figure = original(*args, **kwargs)
        labels.extend(text.get_text() for legend in figure.legends for text in legend.get_texts())
        return figure

    monkeypatch.setattr(plots, "loss_curve", loss_curve)
    from nnfw_cli import saved

    saved.redraw(saved.SavedRun.open(stopped), ("loss",))  # from the run's files, as `nnfw plot` does
    best = json.loads((stopped / runs.METRICS).read_text())["best_epoch"]
    assert f"best epoch ({best})" in labels
    assert f"test loss (epoch {best})" in labels and "validation loss" in labels


def test_early_stopping_on_the_training_loss_needs_no_validation_split(make_config, monkeypatch):
    _no_pictures(monkeypatch)
    changes = {"training.epochs": 40, "training.learning_rate": 0.5,
               "training.early_stopping": {"monitor": "train_loss", "patience": 2, "min_delta": 0.01}}
    run = experiment.train(load_config(make_config(changes)), "c", "train-loss")
    assert run.metrics["stopped_epoch"] is not None and run.metrics["epochs"] < 40
    assert "val_loss" not in run.metrics and run.metrics["split"] == "test"


def test_the_cli_says_where_it_stopped(runner, make_config, monkeypatch):
    _no_pictures(monkeypatch)
    result = runner.invoke(main, ["train", str(make_config(OVERFITTING))])
    assert result.exit_code == 0, result.stderr
    assert "early stopping: val_loss did not improve for 8 epochs; stopped after epoch" in result.stderr
    assert "(model.npz holds its weights)" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert "val AUC" in lines[-1] and "ETA" not in lines[-1]  # the last epoch's line, with no time left


# -- interrupted, then resumed, bit for bit --------------------------------------------------


class Crash(Exception):
    """The process dying at the end of an epoch, after its checkpoint."""


@pytest.mark.slow
@pytest.mark.parametrize("schedule", [
    {"type": "step", "step_size": 4, "gamma": 0.5},
    {"type": "cosine", "min_lr": 0.001, "warmup_epochs": 3},
    {"type": "plateau", "factor": 0.5, "patience": 2, "monitor": "val_loss"},
], ids=lambda spec: spec["type"])
def test_a_run_resumed_mid_schedule_and_mid_patience_is_the_uninterrupted_run(make_config, monkeypatch, schedule):
    _no_pictures(monkeypatch)
    changes = {**OVERFITTING, "training.epochs": 40, "training.checkpoint_every": 3, "training.lr_schedule": schedule,
               "training.early_stopping": {"monitor": "val_loss", "patience": 12}}
    whole = experiment.train(load_config(make_config(changes, name="whole")), "c", "whole").run_dir
    crash_at = 9

    def crash(logs: dict) -> None:
        if logs["epoch"] == crash_at:
            raise Crash

    config = load_config(make_config(changes, name="cut"))
    with pytest.raises(Crash):
        experiment.train(config, "c", "cut", crash)
    cut = Path(config.output.dir) / "cut"
    state = json.loads(str(runs.read_checkpoint(cut)["state"]))
    assert state["epoch"] == crash_at and "best" in state  # mid-patience: a best epoch kept already
    experiment.resume(cut)
    last = (runs.LAST_MODEL,) if (whole / runs.LAST_MODEL).exists() else ()
    for name in (runs.MODEL, runs.STATE, runs.SNAPSHOTS, *last):
        _assert_same_arrays(cut / name, whole / name)
    assert (cut / runs.HISTORY).read_bytes() == (whole / runs.HISTORY).read_bytes()
    rates = pd.read_csv(whole / runs.HISTORY)["lr"]
    assert rates.nunique() > 1  # the schedule did change the rate, and the resumed run followed it
    metrics = [json.loads((folder / runs.METRICS).read_text()) for folder in (cut, whole)]
    for m in metrics:
        del m["data_seconds"], m["train_seconds"], m["provenance"]  # the resumed run's also records the command that resumed it
    assert metrics[0] == metrics[1]


@pytest.mark.parametrize("damage", ["epoch", "shape", "dtype"])
def test_a_checkpoint_with_a_damaged_best_epoch_is_refused_at_resume(make_config, monkeypatch, runner, damage):
    _no_pictures(monkeypatch)
    changes = {**OVERFITTING, "training.epochs": 30, "training.checkpoint_every": 3}
    config = load_config(make_config(changes, name="cut"))

    def crash(logs: dict) -> None:
        if logs["epoch"] == 6:
            raise Crash

    with pytest.raises(Crash):
        experiment.train(config, "c", "cut", crash)
    cut = Path(config.output.dir) / "cut"
    arrays = _arrays(cut / runs.CHECKPOINT)
    arrays["state"] = np.load(cut / runs.CHECKPOINT)["state"]
    state = json.loads(str(arrays["state"]))
    if damage == "epoch":
        state["best"]["epoch"] = 99
    elif damage == "shape":
        arrays["best.model.0.weight"] = arrays["best.model.0.weight"][:1]
    else:
        arrays["best.model.0.weight"] = arrays["best.model.0.weight"].astype(np.int64)
    arrays["state"] = np.array(json.dumps(state))
    np.savez(cut / runs.CHECKPOINT, **arrays)
    result = runner.invoke(main, ["train", "--resume", str(cut)])
    assert result.exit_code == 2 and "checkpoint.npz: the checkpoint does not fit this run:" in result.stderr
    assert "Traceback" not in result.stderr
