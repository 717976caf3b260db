"""nnfw_cli.experiment: what a run computes once and reuses for its metrics and pictures."""

from __future__ import annotations

import math

import pytest

from nnfw_cli import experiment, plots
from nnfw_cli.config import load_config
from nnfw_cli.nn import Model


THREE_CLASSES = {"data.dataset": "spiral", "data.classes": 3, "loss": "cross_entropy",
                 "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 3}, "softmax"]}


@pytest.mark.slow
@pytest.mark.parametrize("changes", [{}, THREE_CLASSES])
def test_the_test_split_goes_through_the_network_once_after_training(make_config, monkeypatch, changes):
    """The confusion matrix is drawn from the output the final metrics were scored from, not
    from a second pass: a pass over the test split for each epoch it was scored at, and one more."""
    test_rows, passes = 60, []  # 20% of the small config's 300 samples
    for name in ("predict", "score", "evaluate"):
        def spy(self, X, *args, _method=getattr(Model, name), **kwargs):
            passes.append(len(X))
            return _method(self, X, *args, **kwargs)
        monkeypatch.setattr(Model, name, spy)
    run = experiment.train(load_config(make_config(changes)))
    assert (run.run_dir / "confusion_matrix.png").is_file() and (run.run_dir / "decision_boundary.png").is_file()
    scored_epochs = sum(math.isfinite(logs.get("test_loss", math.nan)) for logs in run.history)
    assert scored_epochs >= 2 and passes.count(test_rows) == scored_epochs + 1


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
