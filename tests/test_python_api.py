"""Running a YAML config from Python, as a notebook would: ``experiment.run_config``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nnfw_cli.errors import ConfigError
from nnfw_cli.experiment import Run, run_config
from nnfw_cli.nn import Model

CONFIG = """\
seed: 0
data: {dataset: moons, n_samples: 5000, noise: 0.1}
model:
  layers: [{type: linear, units: 8}, relu, {type: linear, units: 1, init: xavier}, sigmoid]
loss: binary_cross_entropy
training: {optimizer: adam, learning_rate: 0.01, epochs: 50, batch_size: 64}
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(CONFIG)
    return path


def test_run_config_trains_with_the_overrides_and_returns_the_finished_run(config, tmp_path, capsys):
    run = run_config(config, ["training.epochs=2", "data.n_samples=200"], output_dir=tmp_path / "out")
    assert isinstance(run, Run) and run.run_dir.parent == tmp_path / "out" and run.run_dir.name.startswith("tiny")
    assert [logs["epoch"] for logs in run.history] == [1, 2]
    assert run.metrics["status"] == "completed" and run.metrics["epochs"] == 2
    assert json.loads((run.run_dir / "metrics.json").read_text())["roc_auc"] == run.metrics["roc_auc"]
    assert list(pd.read_csv(run.run_dir / "history.csv")["epoch"]) == [1, 2]
    assert "n_samples: 200" in (run.run_dir / "config.yaml").read_text()
    assert Model.load(run.run_dir / "model.npz").count_params() == 2 * 8 + 8 + 8 + 1
    assert capsys.readouterr().out == ""  # the library prints nothing unless asked


def test_run_config_takes_a_name_and_a_string_path(config, tmp_path):
    run = run_config(str(config), ("training.epochs=1", "data.n_samples=200"), output_dir=str(tmp_path), name="first")
    assert run.run_dir == tmp_path / "first" and len(run.history) == 1


def test_run_config_refuses_a_bad_override_before_writing_anything(config, tmp_path):
    with pytest.raises(ConfigError, match="epochs"):
        run_config(config, ["training.epochs=-1"], output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
