"""What a newcomer reads off the pictures: whole titles, axes comparable between runs, and
which data a ROC curve scored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnfw_cli import experiment, plots
from nnfw_cli.config import load_config

DEEP = [{"type": "linear", "units": 64}, "relu", {"type": "dropout", "rate": 0.2},
        {"type": "linear", "units": 64}, "leaky_relu", {"type": "linear", "units": 64}, "leaky_relu",
        {"type": "linear", "units": 1, "init": "xavier"}, "sigmoid"]


def _deep(make_config):
    config = load_config(make_config({"model.layers": DEEP, "data.dataset": "spiral"}))
    return config, experiment.build_model(config, np.random.default_rng(0))


def _title_text(fig) -> str:
    return "\n".join(text.get_text() for ax in fig.axes for text in (ax.title,) if text.get_text())


def _inside(fig) -> None:
    """Every title line lies within the figure."""
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    for ax in fig.axes:
        if ax.title.get_text():
            box = ax.title.get_window_extent(renderer)
            assert box.x0 >= 0 and box.x1 <= width, (ax.title.get_text(), box, width)


def test_the_title_names_every_layer_dropout_with_its_rate(make_config) -> None:
    config, model = _deep(make_config)
    title = experiment.picture_title(config, model, 0.797)
    assert "2-64-64-64-1" in title and "dropout(0.2)" in title and title.endswith("test ROC AUC 0.7970")


def test_a_long_title_wraps_inside_every_picture(make_config, rng) -> None:
    config, model = _deep(make_config)
    title = experiment.picture_title(config, model, 0.797)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)
    grid = plots.boundary_grid(X, resolution=20)
    history = {"epoch": [1, 2, 3], "train_loss": [0.7, 0.6, 0.5], "val_loss": [0.7, 0.65, 0.6],
               "val_roc_auc": [0.6, 0.7, 0.8]}
    figures = [plots.decision_boundary(np.full(grid[2].shape[0], 0.5), grid, X, y, X, y, title),
               plots.loss_curve(history, title), plots.roc_curve(y, X[:, 0], title),
               plots.roc_curve(np.arange(100) % 3, rng.random((100, 3)), title)]
    for fig in figures:
        shown = _title_text(fig)
        assert "\n" in shown and shown.replace(" ·\n", " · ").replace("\n", " ") == title
        _inside(fig)


@pytest.mark.slow
def test_a_long_title_wraps_inside_the_confusion_matrix_the_neurons_and_the_animation(
        make_config, rng, tmp_path, monkeypatch) -> None:
    config, model = _deep(make_config)
    title = experiment.picture_title(config, model, 0.797)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)
    xx, yy, points = plots.boundary_grid(X, resolution=20)
    figures = [plots.confusion_matrix(np.array([[40, 10], [5, 45]]), ["0", "1"], title),
               plots.neurons([("layer 1 (relu)", rng.random((points.shape[0], 3))),
                              ("output", rng.random((points.shape[0], 1)))], xx, yy, X, y, title)]
    for fig in figures:
        fig.canvas.draw()
        shown = fig._suptitle.get_text()
        assert "\n" in shown and shown.replace(" ·\n", " · ").replace("\n", " ") == title
        box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height
        assert all(box.y0 >= ax.get_tightbbox().y1 - 1 for ax in fig.axes)  # above every panel

    drawn = []
    frame_title = plots._frame_title
    monkeypatch.setattr(plots, "_frame_title", lambda *args: drawn.append(frame_title(*args)) or drawn[-1])
    snapshot = {"epoch": 0, "train_loss": float("nan"), "proba": np.zeros(xx.shape, np.uint8)}
    plots.boundary_animation([snapshot], xx, yy, X, y, X, y, tmp_path / "a.gif", title)
    assert drawn and "\n" in drawn[-1].rsplit("\nepoch", 1)[0]


def test_a_short_title_stays_on_one_line() -> None:
    assert plots.wrap_title("circles · 2-8-1 relu/sigmoid · test ROC AUC 0.9900", 5.3).count("\n") == 0


def _loss_figure(values, auc) -> tuple:
    history = {"epoch": list(range(1, len(values) + 1)), "train_loss": values, "val_loss": values,
               "val_roc_auc": auc}
    fig = plots.loss_curve(history, "t")
    return fig.axes[0], fig.axes[1]


def test_every_run_draws_the_loss_on_a_log_scale_and_the_auc_on_a_fixed_range() -> None:
    flat, flat_auc = _loss_figure([0.70, 0.69, 0.68], [0.97, 0.98, 0.99])
    steep, steep_auc = _loss_figure([0.7, 0.01, 0.0001], [0.3, 0.8, 1.0])
    assert flat.get_yscale() == steep.get_yscale() == "log"
    assert flat_auc.get_ylim() == steep_auc.get_ylim() == plots.AUC_RANGE == (0.5, 1.0)
    flat.figure.canvas.draw()
    assert [t.get_text() for t in flat.get_yticklabels() if t.get_text()]  # a narrow loss still has tick labels
    assert "(<0.5 at 0.5)" in steep_auc.get_lines()[0].get_label()


def test_the_loss_curve_names_the_run_optimizer_and_learning_rate(run_dir, monkeypatch) -> None:
    import pandas as pd

    config = load_config(run_dir / "config.yaml")
    model = experiment.build_model(config, np.random.default_rng(0))
    titles = []
    original = plots.loss_curve
    monkeypatch.setattr(plots, "loss_curve", lambda history, title="": titles.append(title) or original(history, title))
    experiment.draw_loss_curve(run_dir, config, model, pd.read_csv(run_dir / "history.csv"), dpi=50)
    assert titles[0].endswith(" · r · adam, learning rate 0.02")  # the run folder is outputs/r


@pytest.mark.slow
def test_roc_curves_say_what_was_scored_and_fresh_data_keeps_its_own_file(runner, run_dir, monkeypatch) -> None:
    from nnfw_cli.cli import main

    titles = []
    original = plots.roc_curve
    monkeypatch.setattr(plots, "roc_curve", lambda *a, **k: titles.append(k["title"]) or original(*a, **k))
    held_out = run_dir / "roc_curve.png"
    assert runner.invoke(main, ["eval", str(run_dir), "--json"]).exit_code == 0
    before = held_out.read_bytes()
    assert titles[-1].endswith(" · held-out test split (n = 60)")
    assert runner.invoke(main, ["eval", str(run_dir), "--seed", "7", "--n-samples", "200", "--json"]).exit_code == 0
    assert titles[-1].endswith(" · fresh data: seed 7, noise 0.05 (n = 200)")
    assert (run_dir / "roc_curve-seed7-n200-noise0.05.png").read_bytes()[:4] == b"\x89PNG"
    assert held_out.read_bytes() == before


@pytest.mark.slow
def test_a_csv_called_test_never_replaces_the_held_out_roc_curve(runner, tmp_path) -> None:
    import shutil

    from nnfw_cli.cli import main

    configs = Path(__file__).resolve().parent.parent / "configs"
    result = runner.invoke(main, ["train", str(configs / "wine_csv.yaml"), "--output-dir", str(tmp_path), "--name", "w",
                                  "--quiet", "--set", "training.epochs=2"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "w"
    shutil.copy(configs / "data" / "wine_cultivars.csv", tmp_path / "test.csv")
    assert runner.invoke(main, ["eval", str(run), "--json"]).exit_code == 0
    before = (run / "roc_curve.png").read_bytes()
    result = runner.invoke(main, ["eval", str(run), "--data", str(tmp_path / "test.csv"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert (run / "roc_curve.png").read_bytes() == before and (run / "roc_curve-file-test.png").exists()
    assert json.loads(result.stdout)["eval_file"].endswith("eval-file-test.json")
    again = runner.invoke(main, ["eval", str(run), "--json"])  # the held-out split again: its own file
    assert json.loads(again.stdout)["eval_file"].endswith("eval-2.json")


@pytest.mark.slow
def test_fresh_data_never_takes_the_held_out_split_s_eval_file(runner, run_dir) -> None:
    from nnfw_cli.cli import main

    first = runner.invoke(main, ["eval", str(run_dir), "--seed", "7", "--n-samples", "200", "--json"])
    again = runner.invoke(main, ["eval", str(run_dir), "--seed", "7", "--n-samples", "200", "--json"])
    names = [Path(json.loads(r.stdout)["eval_file"]).name for r in (first, again)]
    assert names == ["eval-seed7-n200-noise0.05.json", "eval-seed7-n200-noise0.05-2.json"]
    assert (run_dir / "roc_curve-seed7-n200-noise0.05-2.png").exists() and not (run_dir / "eval.json").exists()


def test_a_loss_over_one_to_two_decades_has_plain_tick_labels() -> None:
    ax, _ = _loss_figure(list(np.geomspace(0.7, 0.03, 30)), [0.9] * 30)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels() if t.get_text()]
    assert "0.1" in labels and "0.5" in labels and not any("×" in label or "$" in label for label in labels)


def test_a_long_architecture_starts_on_the_dataset_line() -> None:
    title = "spiral · 2-64-64-64-1 relu/dropout(0.2)/leaky_relu(0.01)/leaky_relu(0.01)/sigmoid · test ROC AUC 0.5938"
    assert plots.wrap_title(title, 5.3).split("\n") == [
        "spiral · 2-64-64-64-1", "relu/dropout(0.2)/leaky_relu(0.01)/leaky_relu(0.01)/sigmoid ·", "test ROC AUC 0.5938"]
