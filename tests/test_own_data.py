"""Training, scoring and predicting on real data sets and users' CSV files, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from nnfw_cli.cli import main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
WINE = CONFIGS / "data" / "wine_cultivars.csv"


def _train(tmp_path: Path, name: str, *settings: str) -> Path:
    args = ["train", str(CONFIGS / f"{name}.yaml"), "--output-dir", str(tmp_path), "--name", name, "--quiet",
            "--set", "training.epochs=3", *[arg for s in settings for arg in ("--set", s)]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return tmp_path / name


@pytest.mark.slow
@pytest.mark.parametrize("name, settings", [
    ("iris", ()),
    ("wine_csv", ()),
    ("blobs", ("data.n_samples=200",)),
])
def test_train_writes_metrics_confusion_matrix_and_transform(tmp_path, name, settings):
    run = _train(tmp_path, name, *settings)
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"roc_auc", "accuracy", "per_class"} <= set(metrics)
    assert len(metrics["per_class"]) == (4 if name == "blobs" else 3)
    assert (run / "confusion_matrix.png").is_file()
    transform = json.loads((run / "transform.json").read_text())
    assert len(transform["class_names"]) == len(metrics["per_class"])
    assert (run / "decision_boundary.png").is_file() == (name == "blobs")
    assert not (run / "snapshots.npz").exists()  # snapshots are for two classes only


@pytest.mark.slow
def test_csv_run_records_the_file_and_scores_it_again(tmp_path):
    run = _train(tmp_path, "wine_csv")
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["data_sha256"]) == 64
    assert list(metrics["per_class"]) == ["Barbera", "Barolo", "Grignolino"]

    held_out = CliRunner().invoke(main, ["eval", str(run), "--json"])
    assert held_out.exit_code == 0, held_out.output
    assert json.loads(held_out.output)["metrics"]["accuracy"] == pytest.approx(metrics["accuracy"])

    fresh = CliRunner().invoke(main, ["eval", str(run), "--seed", "3"])
    assert fresh.exit_code == 2
    assert "generated datasets only" in fresh.output

    on_file = CliRunner().invoke(main, ["eval", str(run), "--data", str(WINE), "--json"])
    assert on_file.exit_code == 0, on_file.output
    scored = json.loads(on_file.output)["metrics"]
    assert scored["n_samples"] == 178 and set(scored["per_class"]) == {"Barbera", "Barolo", "Grignolino"}


@pytest.mark.slow
def test_predict_on_a_csv_run_matches_columns_by_name(tmp_path):
    run = _train(tmp_path, "wine_csv")
    table = pd.read_csv(WINE).head(5)
    shuffled = table[list(reversed(table.columns))].assign(note="kept")  # any order; other columns kept
    points = tmp_path / "points.csv"
    shuffled.to_csv(points, index=False)
    result = CliRunner().invoke(main, ["predict", str(run), str(points), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == [*shuffled.columns, "prob_Barbera", "prob_Barolo", "prob_Grignolino", "predicted"]
    assert out[["prob_Barbera", "prob_Barolo", "prob_Grignolino"]].sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert set(out["predicted"]) <= {"Barbera", "Barolo", "Grignolino"}


@pytest.mark.slow
def test_predict_refuses_an_unknown_category_naming_the_column(tmp_path):
    run = _train(tmp_path, "wine_csv")
    table = pd.read_csv(WINE).head(3).drop(columns="cultivar")
    table.loc[1, "colour"] = "purple"
    points = tmp_path / "points.csv"
    table.to_csv(points, index=False)
    result = CliRunner().invoke(main, ["predict", str(run), str(points)])
    assert result.exit_code == 2
    assert "colour" in result.output and "purple" in result.output


@pytest.mark.slow
def test_playground_features_are_drawn_over_the_input_plane(tmp_path):
    """With x1_squared and x2_squared a model with no hidden layer separates circles; its pictures
    show the plane of the points as they were given (x, y), not the squared features."""
    import json as _json

    import numpy as np

    from click.testing import CliRunner

    from nnfw_cli import experiment
    from nnfw_cli.cli import main
    from nnfw_cli.config import load_config

    config = tmp_path / "playground.yaml"
    config.write_text("data: {dataset: circles, n_samples: 600, features: [x1_squared, x2_squared]}\n"
                      "model:\n  layers: [{type: linear, units: 1, init: xavier}, sigmoid]\n"
                      "training: {epochs: 60, batch_size: 32, learning_rate: 0.05, snapshot_every: 20}\n"
                      f"output: {{dir: {tmp_path / 'out'}}}\n")
    result = CliRunner().invoke(main, ["train", str(config), "--name", "pg", "--quiet"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "out" / "pg"
    assert _json.loads((run / "metrics.json").read_text())["roc_auc"] > 0.99
    assert (run / "decision_boundary.png").exists() and "no decision boundary" not in result.output
    split = experiment.load_data(load_config(config))
    train, _, features = split.plane()
    assert train.min() < -0.5  # the plane has negative coordinates; the squared features never do
    np.testing.assert_array_equal(features(train), split.X_train)
    result = CliRunner().invoke(main, ["plot", str(run), "--neurons"])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_eval_on_a_file_reads_a_category_of_digits_as_the_training_rows_had_it(tmp_path):
    """A column the training rows made categorical (mostly text) is read as text in the file
    scored, even where every cell of that file looks like a number."""
    rows = [f"{'ab'[k % 2]},{k % 5}.5,{['low', 'high', '07'][k % 3]}\n" for k in range(60)]
    (tmp_path / "train.csv").write_text("label,x,grade\n" + "".join(rows))
    (tmp_path / "digits_only.csv").write_text("label,x,grade\n" + "".join(r for r in rows if r.endswith(",07\n")))
    (tmp_path / "c.yaml").write_text(
        "data: {dataset: csv, path: train.csv, target: label}\n"
        "model: {layers: [{type: linear, units: 4}, relu, {type: linear, units: 1}, sigmoid]}\n"
        "training: {epochs: 2}\n")
    trained = CliRunner().invoke(main, ["train", str(tmp_path / "c.yaml"), "--output-dir", str(tmp_path),
                                        "--name", "r", "--quiet"])
    assert trained.exit_code == 0, trained.output
    assert json.loads((tmp_path / "r" / "transform.json").read_text())["categories"] == {"grade": ["07", "high", "low"]}
    scored = CliRunner().invoke(main, ["eval", str(tmp_path / "r"), "--data", str(tmp_path / "digits_only.csv"), "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output)["metrics"]["n_samples"] == 20


@pytest.mark.slow
def test_predict_reads_a_large_file_a_part_at_a_time_and_writes_what_one_part_would(tmp_path, monkeypatch):
    import nnfw_cli.saved

    run = _train(tmp_path, "wine_csv")
    table = pd.read_csv(WINE)
    text = table.to_csv(index=False).splitlines(keepends=True)
    text.insert(40, "\n")  # a blank line: left out, and the lines after it keep their numbers
    points = tmp_path / "points.csv"
    points.write_text("".join(text))
    whole = CliRunner().invoke(main, ["predict", str(run), str(points), "-o", str(tmp_path / "whole.csv")])
    assert whole.exit_code == 0, whole.output
    monkeypatch.setattr(nnfw_cli.saved, "PREDICT_ROWS", 7)  # 178 rows: 26 parts, the last one short
    parts = CliRunner().invoke(main, ["predict", str(run), str(points), "-o", str(tmp_path / "parts.csv")])
    assert parts.exit_code == 0, parts.output
    whole_rows, part_rows = (pd.read_csv(tmp_path / name, dtype=str) for name in ("whole.csv", "parts.csv"))
    probabilities = ["prob_Barbera", "prob_Barolo", "prob_Grignolino"]
    assert list(part_rows.columns) == list(whole_rows.columns) and len(part_rows) == 178
    pd.testing.assert_frame_equal(part_rows.drop(columns=probabilities), whole_rows.drop(columns=probabilities))
    # the same up to the rounding of products over batches of other sizes
    np.testing.assert_allclose(part_rows[probabilities].astype(float), whole_rows[probabilities].astype(float),
                               rtol=1e-12, atol=1e-15)
    assert "(178 rows)" in parts.stderr
    printed = CliRunner().invoke(main, ["predict", str(run), str(points)])
    assert printed.exit_code == 0 and printed.stdout == (tmp_path / "parts.csv").read_text()

    text[-1] = ",".join(["oops", *text[-1].split(",")[1:]])  # a bad cell in the last part
    points.write_text("".join(text))
    failed = CliRunner().invoke(main, ["predict", str(run), str(points), "-o", str(tmp_path / "bad.csv")])
    assert failed.exit_code != 0 and f"line {len(text)}" in failed.stderr and "'oops'" in failed.stderr
    assert not (tmp_path / "bad.csv").exists()
    printed = CliRunner().invoke(main, ["predict", str(run), str(points)])
    assert printed.exit_code != 0 and printed.stdout == ""  # nothing printed of the parts before it


def _edited(path: Path) -> bytes:
    """Change one number of the CSV at ``path`` (its second line's first cell); returns the bytes it had."""
    before = path.read_bytes()
    lines = before.decode().split("\n")
    first, rest = lines[1].split(",", 1)
    lines[1] = f"{float(first) + 0.5},{rest}"
    path.write_text("\n".join(lines))
    return before


@pytest.mark.slow
def test_a_run_whose_data_file_changed_is_not_scored_or_drawn_as_if_it_had_not(tmp_path):
    data = tmp_path / "wine.csv"
    data.write_bytes(WINE.read_bytes())
    run = _train(tmp_path, "wine_csv", f"data.path={json.dumps(str(data))}")
    before = _edited(data)
    for command in (["eval", str(run)], ["plot", str(run)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert f"{data}: the file has changed since {run} was trained" in result.output, result.output
        assert f"nnfw eval {run} --data {data}" in result.output and "Traceback" not in result.output
    assert CliRunner().invoke(main, ["eval", str(run), "--data", str(data)]).exit_code == 0
    # changed into a file that cannot make the run's data at all (one class, or a header alone): the change is told
    for text in (before.decode().splitlines()[0] + "\n", "\n".join(before.decode().splitlines()[:3]) + "\n"):
        data.write_text(text)
        result = CliRunner().invoke(main, ["eval", str(run)])
        assert result.exit_code == 2 and f"{data}: the file has changed since {run} was trained" in result.stderr
    data.write_bytes(before)
    assert CliRunner().invoke(main, ["eval", str(run)]).exit_code == 0


@pytest.mark.slow
def test_resume_refuses_a_data_file_changed_since_the_run_began(tmp_path):
    from nnfw_cli import experiment
    from nnfw_cli.config import load_config
    from nnfw_cli.errors import TrainingInterrupted

    data = tmp_path / "wine.csv"
    data.write_bytes(WINE.read_bytes())
    config = tmp_path / "wine.yaml"
    config.write_text((CONFIGS / "wine_csv.yaml").read_text().replace("data/wine_cultivars.csv", str(data)))
    with pytest.raises(TrainingInterrupted):
        experiment.train(load_config(config, [f"output.dir={json.dumps(str(tmp_path))}"]), "wine", "cut", None,
                         experiment.StopRequest(signum=2))
    before = _edited(data)
    refused = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "cut"), "--quiet"])
    assert refused.exit_code != 0 and f"{data} has changed since the run began" in refused.output, refused.output
    assert "Traceback" not in refused.output
    data.write_bytes(before)
    resumed = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "cut"), "--quiet"])
    assert resumed.exit_code == 0, resumed.output


@pytest.mark.parametrize("columns, said", [(1, "the data has 1 feature (it"), (3, "the data has 3 features (it")])
def test_a_run_without_a_plane_says_why_it_has_no_decision_boundary(tmp_path, columns, said):
    rows = "".join(f"{','.join(str(i + k) for k in range(columns))},{i % 2}\n" for i in range(20))
    (tmp_path / "t.csv").write_text(",".join(f"x{k}" for k in range(columns)) + ",label\n" + rows)
    (tmp_path / "c.yaml").write_text("data: {dataset: csv, path: t.csv, target: label}\n"
                                     "model: {layers: [{type: linear, units: 1}, sigmoid]}\ntraining: {epochs: 1}\n")
    result = CliRunner().invoke(main, ["train", str(tmp_path / "c.yaml"), "--output-dir", str(tmp_path), "--name", "r"])
    assert result.exit_code == 0, result.output
    assert f"no decision boundary: {said} is drawn for 2 only)" in result.stderr
    assert not (tmp_path / "r" / "decision_boundary.png").exists()
    result = CliRunner().invoke(main, ["plot", str(tmp_path / "r")])
    assert result.exit_code == 0 and f"no decision boundary: {said} is drawn for 2 only)" in result.stderr
