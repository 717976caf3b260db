"""Using a saved run: score it again, redraw its pictures, animate its training, predict."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import runs
from .config import Config
from .data import make_dataset
from .errors import DataError, RunError
from .experiment import Split, Streams, build_model, draw_decision_boundary, draw_loss_curve, load_data, picture_title
from .nn import Model, get_loss


@dataclass
class SavedRun:
    """A run folder read back: its config, model and (rebuilt) data."""

    run_dir: Path
    config: Config
    model: Model

    @classmethod
    def open(cls, run_dir: str | Path | None, output_dir: str | Path = "outputs") -> "SavedRun":
        path = runs.find_run(run_dir, output_dir)
        runs.require(path, runs.HISTORY)  # every run writes one: a folder without it is not a whole run
        config, model = runs.read_config(path), runs.read_model(path)
        expected = build_model(config, np.random.default_rng(0)).get_config()
        if model.get_config() != expected:
            raise RunError(f"{path / runs.MODEL}: its architecture does not match {path / runs.CONFIG}")
        return cls(path, config, model)

    def data(self) -> Split:
        return load_data(self.config)


def evaluate(saved: SavedRun, seed: int | None = None, n_samples: int | None = None,
             noise: float | None = None) -> tuple[dict[str, Any], Path]:
    """Score the model on the run's held-out split, or on fresh data; writes ``eval*.json``.

    Fresh data (any argument given) is scored whole; its seed defaults to one other than the
    training data's.
    """
    from .metrics import evaluation_metrics

    config = saved.config
    _require_usable(saved)
    if seed is None and n_samples is None and noise is None:
        data, tag = saved.data(), "test"
        X, y = data.X_test, data.y_test
        described: dict[str, Any] = {"data": "held-out test split", "n_samples": len(y)}
    else:
        seed = Streams.from_seed(config.seed).data_seed + 1 if seed is None else seed
        n_samples = n_samples or config.data.n_samples
        noise = config.data.noise if noise is None else noise
        X, y = make_dataset(config.data.dataset, n_samples, noise, seed, **config.data.options())
        tag = f"seed{seed}-n{n_samples}-noise{noise:g}"
        described = {"data": "fresh", "seed": seed, "n_samples": n_samples, "noise": noise}
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, once
        output = saved.model.predict(X)
    if not np.all(np.isfinite(output)):
        raise DataError(f"{saved.run_dir}: the model's output is not a finite number on this data"
                        + (f" (noise {noise:g}: try less)" if noise is not None else ""))
    metrics = {**evaluation_metrics(y, output), "loss": saved.model.evaluate(X, y, get_loss(config.loss)), **described}
    path = _free_name(saved.run_dir, "eval", tag, ".json")
    runs.write_json(path, metrics)
    draw_roc_curve(saved, y, output, "roc_curve.png" if tag == "test" else f"roc_curve-{tag}.png")
    return metrics, path


def draw_roc_curve(saved: SavedRun, y: np.ndarray, output: np.ndarray, name: str, dpi: int = 150) -> Path:
    """The ROC curve of the model's ``output`` against ``y``, as ``name`` in the run folder."""
    from . import plots
    from .metrics import positive_proba

    figure = plots.roc_curve(y, positive_proba(output), title=picture_title(saved.config, saved.model))
    return plots.save_figure(figure, saved.run_dir / name, dpi)


def _free_name(folder: Path, stem: str, tag: str, suffix: str) -> Path:
    """``stem.json`` if free, else ``stem-tag.json``, else ``stem-tag-2.json``, ..."""
    candidates = [f"{stem}{suffix}", f"{stem}-{tag}{suffix}"] + [f"{stem}-{tag}-{i}{suffix}" for i in range(2, 10_000)]
    return next(folder / name for name in candidates if not (folder / name).exists())


PICTURES = ("loss", "boundary", "roc")


def redraw(saved: SavedRun, what: tuple[str, ...] = PICTURES, fmt: str = "png", dpi: int = 150) -> list[Path]:
    """Redraw the run's pictures from its files alone; returns the files written."""
    from .metrics import roc_auc

    config, model, suffix = saved.config, saved.model, f".{fmt}"
    written: list[Path] = []
    if "loss" in what:
        history = runs.read_history(saved.run_dir)
        written.append(draw_loss_curve(saved.run_dir, config, model, history, suffix, dpi))
    if "boundary" in what or "roc" in what:
        data = saved.data()
        output = model.predict(data.X_test)
        if "boundary" in what:
            path = draw_decision_boundary(saved.run_dir, config, model, data, roc_auc(data.y_test, output), suffix, dpi)
            written += [path] if path else []
        if "roc" in what:
            written.append(draw_roc_curve(saved, data.y_test, output, f"roc_curve{suffix}", dpi))
    return written


def animate(saved: SavedRun, fps: int = 8) -> Path:
    """``decision_boundary.gif`` from the snapshots kept during training."""
    from . import plots

    snapshots, grid = runs.read_snapshots(saved.run_dir)
    if not snapshots:
        raise RunError(f"{saved.run_dir}: no {runs.SNAPSHOTS}; train with training.snapshot_every > 0 "
                       "(the default) on 2-D data to record the boundary as it forms")
    xx, yy = grid
    data = saved.data()
    return plots.boundary_animation(snapshots, xx, yy, data.X_train, data.y_train, data.X_test,
                                    data.y_test, saved.run_dir / "decision_boundary.gif",
                                    title=picture_title(saved.config, saved.model), fps=fps)


def draw_neurons(saved: SavedRun, fmt: str = "png", dpi: int = 150) -> Path:
    """``neurons.png``: each hidden unit's activation over the input plane, then the output."""
    from . import plots

    data = saved.data()
    if data.X_train.shape[1] != 2:
        raise RunError(f"{saved.run_dir}: the data is not 2-D, so there is no plane to draw neurons on")
    grid = plots.boundary_grid(data.X_all, 80)
    panels = hidden_activations(saved.model, grid[2])
    figure = plots.neurons(panels, grid[0], grid[1], data.X_all, np.concatenate([data.y_train, data.y_test]),
                           title=picture_title(saved.config, saved.model))
    return plots.save_figure(figure, saved.run_dir / f"neurons.{fmt}", dpi)


def hidden_activations(model: Model, X: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(label, activations)`` after each hidden layer's activation, then the output."""
    panels: list[tuple[str, np.ndarray]] = []
    h, depth = np.asarray(X, dtype=model.dtype), 0
    for index, layer in enumerate(model.layers):
        h = layer.forward(h)
        last_of_block = index + 1 == len(model.layers) or model.layers[index + 1].params
        if not layer.params and last_of_block and index + 1 < len(model.layers):
            depth += 1
            panels.append((f"layer {depth} ({layer.name})", np.array(h)))
    return panels + [("output", np.array(h))]


def _require_usable(saved: SavedRun) -> None:
    """A run that diverged keeps its files, but its model predicts nothing worth scoring."""
    if runs.read_status(saved.run_dir) == "diverged":
        raise RunError(f"{saved.run_dir}: training diverged, so its model gives no usable predictions; "
                       "train again with a smaller training.learning_rate")


def predict_table(saved: SavedRun, table: Any) -> Any:
    """``table`` from ``data.read_points`` with ``probability`` and ``label`` columns added."""
    from .metrics import positive_proba, predicted_labels

    _require_usable(saved)
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, once
        output = saved.model.predict(table.attrs["features"].to_numpy(dtype=np.float64))
    bad = ~np.isfinite(output).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{table.attrs.get('path', 'input')}: row {row + 1} (line {row + 2}): the model's output "
                        "for this point is not a finite number; are its values far too large?")
    result = table.copy()
    result["probability"] = positive_proba(output)
    result["label"] = predicted_labels(output)
    return result
