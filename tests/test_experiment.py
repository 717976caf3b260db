"""nnfw_cli.experiment: what a run computes once and reuses for its metrics and pictures."""

from __future__ import annotations

from nnfw_cli import experiment, plots
from nnfw_cli.config import load_config


def test_a_run_finds_the_planes_box_once_for_its_snapshots_and_its_picture(make_config, monkeypatch):
    boxes = []
    monkeypatch.setattr(plots, "plane_box", lambda *parts, _box=plots.plane_box: boxes.append(_box(*parts)) or boxes[-1])
    run = experiment.train(load_config(make_config()))
    assert (run.run_dir / "decision_boundary.png").is_file() and (run.run_dir / "snapshots.npz").is_file()
    assert len(boxes) == 1
