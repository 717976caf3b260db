"""Running a YAML config from Python, as a notebook would: ``experiment.run_config``."""

from __future__ import annotations

import json
from pathlib import Path

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


@pytest.mark.slow
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


@pytest.mark.slow
def test_run_config_takes_a_name_and_a_string_path(config, tmp_path):
    run = run_config(str(config), ("training.epochs=1", "data.n_samples=200"), output_dir=str(tmp_path), name="first")
    assert run.run_dir == tmp_path / "first" and len(run.history) == 1


def test_run_config_refuses_a_bad_override_before_writing_anything(config, tmp_path):
    with pytest.raises(ConfigError, match="epochs"):
        run_config(config, ["training.epochs=-1"], output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_loaded_run_predicts_from_raw_rows_as_nnfw_predict_does(tmp_path):
    """``load_run(...).predict_proba`` applies the run's encoding and scaling: the same numbers as
    ``nnfw predict`` on the same rows, and not what the bare model gives on unscaled inputs."""
    import numpy as np
    from click.testing import CliRunner

    from nnfw_cli.cli import main
    from nnfw_cli.saved import load_run

    configs = Path(__file__).resolve().parent.parent / "configs"
    run = run_config(configs / "wine_csv.yaml", ["training.epochs=5"], output_dir=tmp_path / "out")
    table = pd.read_csv(configs / "data" / "wine_cultivars.csv").dropna().head(20)
    rows = tmp_path / "rows.csv"
    table.to_csv(rows, index=False)
    result = CliRunner().invoke(main, ["predict", str(run.run_dir), str(rows), "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(tmp_path / "p.csv")

    loaded = load_run(run.run_dir)
    proba = loaded.predict_proba(table.drop(columns="cultivar").sample(frac=1.0, axis=1, random_state=0))
    names = ["Barbera", "Barolo", "Grignolino"]
    assert loaded.class_names == names
    np.testing.assert_allclose(proba, predicted[[f"prob_{n}" for n in names]].to_numpy(), rtol=1e-6)
    assert list(loaded.predict(table)) == list(predicted["predicted"])

    numeric = table.drop(columns=["cultivar", "colour"]).to_numpy(dtype=float)
    bare = Model.load(run.run_dir / "model.npz")
    assert bare.predict(np.column_stack([numeric, np.zeros((20, 3))])).shape == proba.shape
    assert not np.allclose(bare.predict(np.column_stack([numeric, np.zeros((20, 3))])), proba)


@pytest.mark.slow
def test_a_loaded_run_of_generated_data_takes_an_array_and_names_its_classes(tmp_path, config):
    from nnfw_cli.errors import DataError
    from nnfw_cli.saved import load_run

    run = run_config(config, ["training.epochs=3", "data.n_samples=300"], output_dir=tmp_path / "out")
    loaded = load_run(run.run_dir)
    proba = loaded.predict_proba([[0.0, 0.5], [1.0, -0.5], [2.0, 0.0]])
    assert proba.shape == (3, 2) and proba.sum(axis=1) == pytest.approx(1.0)
    assert list(loaded.predict([[0.0, 0.5], [1.0, -0.5], [2.0, 0.0]])) == \
        [str(i) for i in proba.argmax(axis=1)]
    with pytest.raises(DataError, match="expected 2 columns"):
        loaded.predict_proba([[1.0, 2.0, 3.0]])
