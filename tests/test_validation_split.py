"""The validation split: taken from the training part, apart from the test split, and the only
held-out data a run looks at until it ends."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnfw_cli import experiment, runs
from nnfw_cli.config import load_config, validate
from nnfw_cli.data import load_split, make_dataset, split
from nnfw_cli.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parent.parent
WINE = ROOT / "configs" / "data" / "wine_cultivars.csv"


def _rows(X: np.ndarray) -> set[tuple]:
    return {tuple(row) for row in np.asarray(X)}


@pytest.mark.parametrize("seed", [0, 7])
def test_the_three_parts_cover_the_data_without_overlap(seed):
    config = validate({"data": {"dataset": "moons", "n_samples": 500, "validation_fraction": 0.25}})
    data = load_split(config.data, seed)
    X, _ = make_dataset("moons", 500, config.data.noise, seed)
    train, val, test = _rows(data.X_train), _rows(data.X_val), _rows(data.X_test)
    assert not val & test and not val & train and not train & test
    assert train | val | test == _rows(X) and (len(train), len(val), len(test)) == (300, 100, 100)


def test_the_test_split_is_the_one_without_a_validation_split():
    plain = load_split(validate({"data": {"n_samples": 400}}).data, 3)
    held = load_split(validate({"data": {"n_samples": 400, "validation_fraction": 0.3}}).data, 3)
    assert np.array_equal(plain.X_test, held.X_test) and np.array_equal(plain.y_test, held.y_test)
    assert _rows(held.X_train) | _rows(held.X_val) == _rows(plain.X_train)
    assert not plain.has_validation and plain.X_val is None and held.has_validation


def test_the_validation_split_is_stratified_and_seeded():
    config = validate({"data": {"dataset": "blobs", "classes": 4, "n_samples": 800, "validation_fraction": 0.25},
                       "model": {"layers": [{"type": "linear", "units": 4}, "softmax"]}, "loss": "cross_entropy"})
    first, again = load_split(config.data, 11), load_split(config.data, 11)
    assert np.array_equal(first.X_val, again.X_val)
    assert np.bincount(first.y_val).tolist() == [40] * 4 and np.bincount(first.y_train).tolist() == [120] * 4
    assert not np.array_equal(load_split(config.data, 12).X_val, first.X_val)


def test_a_csv_gets_a_validation_split_too_and_its_scaling_comes_from_the_training_rows():
    def wine(validation_fraction: float):
        data = {"dataset": "csv", "path": str(WINE), "target": "cultivar", "missing": "mean",
                "validation_fraction": validation_fraction}
        head = {"layers": [{"type": "linear", "units": 3}, "softmax"]}
        return validate({"data": data, "model": head, "loss": "cross_entropy"}).data

    data, plain = load_split(wine(0.2), 0), load_split(wine(0.0), 0)
    assert len(data.y_train) + len(data.y_val) == len(plain.y_train) and len(data.y_test) == len(plain.y_test)
    assert np.allclose(data.X_train.mean(axis=0), 0) and not np.allclose(data.X_val.mean(axis=0), 0)


def test_a_validation_split_too_small_for_every_class_is_refused():
    with pytest.raises(ConfigError, match="data.validation_fraction: leaves a validation split or a training part"):
        validate({"data": {"dataset": "blobs", "classes": 4, "n_samples": 20, "validation_fraction": 0.1},
                  "model": {"layers": [{"type": "linear", "units": 4}, "softmax"]}, "loss": "cross_entropy"})
    with pytest.raises(ConfigError, match="data.validation_fraction: must be < 1"):
        validate({"data": {"validation_fraction": 1}})


def test_a_csv_too_small_for_a_validation_split_is_a_data_error(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("x,label\n" + "".join(f"{i},{i % 2}\n" for i in range(6)))
    config = validate({"data": {"dataset": "csv", "path": str(path), "target": "label", "validation_fraction": 0.1}})
    with pytest.raises(DataError, match="validation_fraction=0.1"):
        load_split(config.data, 0)


# -- the test split is read once, at the end -------------------------------------------------


@dataclass
class _Guarded(experiment.Split):
    """A split that records when its test arrays are read: ``reads`` gets ``training`` each time."""

    reads: list | None = None
    state: dict | None = None

    def __getattribute__(self, name: str):
        if name in ("X_test", "y_test") and object.__getattribute__(self, "reads") is not None:
            object.__getattribute__(self, "reads").append(object.__getattribute__(self, "state")["training"])
        return object.__getattribute__(self, name)


def _guard(monkeypatch, reads: list) -> dict:
    """Make the runs' data a _Guarded split; returns the flag training sets while it runs."""
    state = {"training": False}
    load = experiment.load_data

    def guarded(config, *args, **kwargs):
        data = load(config, *args, **kwargs)
        return _Guarded(**{name: getattr(data, name) for name in data.__dataclass_fields__}, reads=reads, state=state)

    fit = experiment.Model.fit

    def fitting(self, *args, **kwargs):
        state["training"] = True
        try:
            return fit(self, *args, **kwargs)
        finally:
            state["training"] = False

    monkeypatch.setattr(experiment, "load_data", guarded)
    monkeypatch.setattr(experiment.Model, "fit", fitting)
    return state


CHOOSING = {"data.validation_fraction": 0.25, "training.epochs": 12, "training.checkpoint_every": 4,
            "training.early_stopping": {"patience": 3}, "training.lr_schedule": {"type": "plateau", "patience": 2}}


@pytest.mark.slow
def test_with_a_validation_split_the_test_split_is_not_read_before_the_end(make_config, monkeypatch):
    reads: list[bool] = []
    _guard(monkeypatch, reads)
    run = experiment.train(load_config(make_config(CHOOSING)), "c", "c")
    assert run.metrics["roc_auc"] is not None and reads  # scored, with pictures of it, at the end
    assert not any(reads), "the test split was read while the model trained"


@pytest.mark.slow
def test_without_a_validation_split_the_test_split_is_scored_as_it_trains(make_config, monkeypatch):
    reads: list[bool] = []
    _guard(monkeypatch, reads)
    run = experiment.train(load_config(make_config()), "c", "c")
    assert any(reads)  # as it always was: the held-out curve is the test split's
    assert list(pd.read_csv(run.run_dir / runs.HISTORY).columns) == ["epoch", "train_loss", "test_loss", "test_roc_auc",
                                                                     "test_accuracy", "lr"]


@pytest.mark.slow
def test_an_interrupted_run_with_a_validation_split_leaves_the_test_split_unread(make_config, monkeypatch, tmp_path):
    reads: list[bool] = []
    _guard(monkeypatch, reads)
    stop = experiment.StopRequest()

    def interrupt(logs: dict) -> None:
        if logs["epoch"] == 5:
            stop.signum = 2

    with pytest.raises(experiment.TrainingInterrupted):
        experiment.train(load_config(make_config(CHOOSING)), "c", "cut", interrupt, stop)
    metrics = json.loads((tmp_path / "outputs" / "cut" / runs.METRICS).read_text())
    assert metrics["status"] == "interrupted" and "roc_auc" not in metrics and "val_loss" in metrics
    assert reads == []
    run = experiment.resume(tmp_path / "outputs" / "cut")
    assert run.metrics["status"] == "completed" and run.metrics["roc_auc"] is not None and not any(reads)


# -- what the run folder says ----------------------------------------------------------------


@pytest.mark.slow
def test_metrics_json_says_which_split_each_number_is_of(make_config):
    run = experiment.train(load_config(make_config(CHOOSING)), "c", "c")
    metrics = json.loads((run.run_dir / runs.METRICS).read_text())
    assert list(metrics)[0] == "roc_auc" and metrics["split"] == "test"
    assert {"val_loss", "val_roc_auc", "val_accuracy"} <= set(metrics)
    assert (metrics["n_train"], metrics["n_validation"], metrics["n_test"]) == (180, 60, 60)
    config = (run.run_dir / runs.CONFIG).read_text()
    assert "validation_fraction: 0.25" in config and "early_stopping:" in config


@pytest.mark.slow
def test_eval_scores_the_same_test_split_as_training_did(runner, make_config):
    from nnfw_cli.cli import main

    run = experiment.train(load_config(make_config(CHOOSING)), "c", "c")
    result = runner.invoke(main, ["eval", str(run.run_dir), "--json"])
    assert result.exit_code == 0, result.stderr
    scored = json.loads(result.stdout)["metrics"]
    assert scored["roc_auc"] == run.metrics["roc_auc"] and scored["n_samples"] == run.metrics["n_test"]


def test_a_shipped_config_keeps_its_resolved_config_and_checkpoint_fingerprint():
    """Settings at their defaults are left out, so run folders and checkpoints of existing configs are as before."""
    from nnfw_cli.config import dump_yaml

    config = load_config(ROOT / "configs" / "circles.yaml")
    text = dump_yaml(config)
    for key in ("validation_fraction", "early_stopping", "lr_schedule", "parent"):
        assert key not in text
    assert set(experiment.config_fingerprint(config)) == {"seed", "data", "model", "loss", "training"}


@pytest.mark.slow  # two runs of a few seconds each
def test_the_shipped_early_stopping_config_stops_early_with_a_better_test_score(tmp_path, monkeypatch):
    """configs/spiral_early_stopping.yaml: stopped well before its budget, and better on the test
    split than the same config trained to the end."""
    for name in ("draw_loss_curve", "draw_decision_boundary", "draw_confusion_matrix"):
        monkeypatch.setattr(experiment, name, lambda *args, **kwargs: None)
    path, out = ROOT / "configs" / "spiral_early_stopping.yaml", f"output.dir={json.dumps(str(tmp_path))}"
    stopped = experiment.train(load_config(path, [out, "training.snapshot_every=0"]), "s", "s").metrics
    assert stopped["stopped_epoch"] is not None and stopped["epochs"] < 200
    full = experiment.train(load_config(path, [out, "training.snapshot_every=0", "training.early_stopping=null"]),
                            "f", "f").metrics
    assert full["epochs"] == 300 and stopped["roc_auc"] > full["roc_auc"]


def test_an_older_runs_history_is_drawn_with_its_columns_named_for_the_test_split(run_dir, monkeypatch):
    """Before validation splits, history.csv called the test split's scores val_loss and val_roc_auc."""
    from nnfw_cli import plots, saved

    history = pd.read_csv(run_dir / runs.HISTORY)
    old = history[["epoch", "train_loss", "test_loss", "test_roc_auc"]].rename(
        columns={"test_loss": "val_loss", "test_roc_auc": "val_roc_auc"})
    old.to_csv(run_dir / runs.HISTORY, index=False)
    labels: list[str] = []
    original = plots.loss_curve

    def loss_curve(*args, **kwargs):
        figure = original(*args, **kwargs)
        labels.extend(text.get_text() for legend in figure.legends for text in legend.get_texts())
        return figure

    monkeypatch.setattr(plots, "loss_curve", loss_curve)
    saved.redraw(saved.SavedRun.open(run_dir), ("loss",))
    assert labels == ["train loss", "test loss", "test ROC AUC"]
