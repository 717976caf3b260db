"""nnfw_cli.experiment: what a run computes once and reuses for its metrics and pictures."""

from __future__ import annotations

import math

import pytest

from nnfw_cli import experiment, plots
from nnfw_cli.config import load_config
from nnfw_cli.nn import Model


THREE_CLASSES = {"data.dataset": "spiral", "data.classes": 3, "loss": "cross_entropy",
                 "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 3}, "softmax"]}


def _count_passes(monkeypatch) -> list[int]:
    """The row counts of every pass through the network, as ``Model`` methods see them."""
    passes: list[int] = []
    for name in ("predict", "score", "evaluate"):
        def spy(self, X, *args, _method=getattr(Model, name), **kwargs):
            passes.append(len(X))
            return _method(self, X, *args, **kwargs)
        monkeypatch.setattr(Model, name, spy)
    return passes


@pytest.mark.slow
@pytest.mark.parametrize("changes", [{}, THREE_CLASSES])
def test_the_test_split_goes_through_the_network_once_after_training(make_config, monkeypatch, changes):
    """The last epoch's scoring of the test split gives the final metrics and the confusion
    matrix, from the same weights: a pass over the test split for each epoch it was scored at,
    and no more; the metrics are those of scoring the trained model afresh."""
    test_rows, passes = 60, _count_passes(monkeypatch)  # 20% of the small config's 300 samples
    config = load_config(make_config(changes))
    run = experiment.train(config)
    assert (run.run_dir / "confusion_matrix.png").is_file() and (run.run_dir / "decision_boundary.png").is_file()
    scored_epochs = sum(math.isfinite(logs.get("test_loss", math.nan)) for logs in run.history)
    assert scored_epochs >= 2 and passes.count(test_rows) == scored_epochs
    afresh = experiment.final_metrics(run.model, experiment.load_data(config), experiment.get_loss(config.loss))
    assert {key: run.metrics[key] for key in afresh} == afresh


@pytest.mark.slow
@pytest.mark.parametrize("restore_best", [True, False])
def test_a_run_whose_weights_change_after_the_last_epoch_scores_them_again(make_config, monkeypatch, restore_best):
    """Early stopping that puts back an earlier epoch's weights: the test split is scored again,
    from the weights model.npz holds, as is the validation split (scored after the last epoch)."""
    changes = {"data.validation_fraction": 0.3, "training.epochs": 60, "training.learning_rate": 0.5,
               "training.early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best": restore_best}}
    passes = _count_passes(monkeypatch)
    config = load_config(make_config(changes))
    run = experiment.train(config)
    data = experiment.load_data(config)
    restored = run.metrics["model_epoch"] != run.metrics["epochs"]
    assert restored == restore_best  # the config stops early, its best epoch before its last
    assert passes.count(len(data.y_test)) == 1
    assert passes.count(len(data.y_val)) == run.metrics["epochs"] + restored
    loss = experiment.get_loss(config.loss)
    afresh = {**experiment.final_metrics(run.model, data, loss),
              **experiment.held_out_scores(run.model, data.X_val, data.y_val, loss, "val")}
    assert {key: run.metrics[key] for key in afresh} == afresh


@pytest.mark.slow
def test_a_run_finds_the_planes_box_once_for_its_snapshots_and_its_picture(make_config, monkeypatch):
    boxes = []
    monkeypatch.setattr(plots, "plane_box", lambda *parts, _box=plots.plane_box: boxes.append(_box(*parts)) or boxes[-1])
    run = experiment.train(load_config(make_config()))
    assert (run.run_dir / "decision_boundary.png").is_file() and (run.run_dir / "snapshots.npz").is_file()
    assert len(boxes) == 1


@pytest.mark.slow
def test_the_confusion_matrix_drawn_on_its_own_is_the_one_a_run_draws(make_config, tmp_path):
    """``draw_confusion_matrix`` without the output (``nnfw plot`` and other callers) scores the
    test split itself: the same picture."""
    config = load_config(make_config(THREE_CLASSES))
    run = experiment.train(config)
    data = experiment.load_data(config)
    again = tmp_path / "again"
    again.mkdir()
    auc = run.metrics["roc_auc"]
    auc = math.nan if auc is None else auc
    drawn = experiment.draw_confusion_matrix(again, config, run.model, data, auc)
    assert drawn.read_bytes() == (run.run_dir / "confusion_matrix.png").read_bytes()
