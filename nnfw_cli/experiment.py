"""The library's entry point: from a validated config to a finished run folder."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import runs
from .config import Config, dump_yaml
from .data import DATASETS, make_dataset, split
from .errors import TrainingDiverged
from .nn import LAYERS, Model, Optimizer, get_loss
from .nn.optimizers import SGD, Adam

ProgressCallback = Callable[[dict], None]


@dataclass
class Split:
    """The data of a run: ``X_train, y_train`` to fit, ``X_test, y_test`` held out."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass
class Run:
    """A finished run: its folder, final metrics and per-epoch history."""

    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict] = field(default_factory=list)


@dataclass
class Streams:
    """Independent random streams drawn from the config's one seed."""

    data_seed: int
    init: np.random.Generator
    shuffle: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> "Streams":
        data, init, shuffle = np.random.SeedSequence(seed).spawn(3)
        # scikit-learn's generators take an integer seed, not a numpy Generator.
        return cls(int(data.generate_state(1)[0]), np.random.default_rng(init), np.random.default_rng(shuffle))


def load_data(config: Config, seed: int | None = None, n_samples: int | None = None, noise: float | None = None) -> Split:
    """The config's dataset, split into train and test; the arguments replace the config's."""
    data = config.data
    data_seed = Streams.from_seed(config.seed).data_seed if seed is None else seed
    X, y = make_dataset(
        data.dataset, n_samples or data.n_samples, data.noise if noise is None else noise, data_seed, **data.options()
    )
    X_train, X_test, y_train, y_test = split(X, y, data.test_fraction, data_seed)
    return Split(X_train, y_train, X_test, y_test)


def build_model(config: Config, rng: np.random.Generator) -> Model:
    """The network the config describes; ``in_features`` of each linear layer is inferred."""
    width = DATASETS[config.data.dataset].n_features
    model = Model()
    for spec in config.model.layers:
        settings = spec.model_dump(exclude={"type"})
        if spec.type == "linear":
            layer = LAYERS["linear"](width, settings.pop("units"), rng=rng, **settings)
        elif spec.type == "dropout":
            layer = LAYERS["dropout"](rng=rng, **settings)
        else:
            layer = LAYERS[spec.type](**settings)
        width = layer.output_width(width)
        model.add(layer)
    return model


_OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {"sgd": SGD, "momentum": SGD, "adam": Adam}


def build_optimizer(config: Config) -> Optimizer:
    """The optimizer the config names, at its learning rate."""
    spec = config.training.optimizer
    return _OPTIMIZERS[spec.type](learning_rate=config.training.learning_rate, **spec.model_dump(exclude={"type"}))


def architecture_label(model: Model) -> str:
    """A short description, for example ``2-16-16-1 relu/relu/sigmoid``."""
    widths = [str(layer.in_features) for layer in model.layers if hasattr(layer, "in_features")][:1]
    widths += [str(layer.out_features) for layer in model.layers if hasattr(layer, "out_features")]
    activations = [layer.name for layer in model.layers if not layer.params]
    return "-".join(widths) + (" " + "/".join(activations) if activations else "")


def train(
    config: Config,
    stem: str = "run",
    name: str | None = None,
    progress: ProgressCallback | None = None,
) -> Run:
    """Train the config's model and write its run folder; returns the run.

    Raises TrainingDiverged (after writing what was done) if the loss stops being finite.
    """
    started = time.perf_counter()
    streams = Streams.from_seed(config.seed)
    data = load_data(config)
    model = build_model(config, streams.init)
    loss, optimizer = get_loss(config.loss), build_optimizer(config)
    run_dir = runs.create_run_dir(config.output.dir, stem, name)
    runs.write_text(run_dir / "config.yaml", dump_yaml(config))
    tracker = _Tracker(config, data, loss, progress)
    fit_started = time.perf_counter()
    history = model.fit(
        data.X_train, data.y_train, loss=loss, optimizer=optimizer, epochs=config.training.epochs,
        batch_size=config.training.batch_size, seed=streams.shuffle, callbacks=[tracker],
    )
    train_seconds = time.perf_counter() - fit_started
    metrics = final_metrics(model, data, loss) if tracker.diverged is None else {}
    metrics.update(status="completed" if tracker.diverged is None else "diverged", epochs=len(history),
                   train_seconds=round(train_seconds, 4))
    if tracker.diverged is not None:
        metrics["diverged_at_epoch"] = tracker.diverged
    _write_run(run_dir, config, model, data, history, metrics)
    metrics["seconds"] = round(time.perf_counter() - started, 4)
    runs.write_json(run_dir / "metrics.json", metrics)
    runs.mark_latest(run_dir)
    if tracker.diverged is not None:
        raise TrainingDiverged(
            f"training diverged at epoch {tracker.diverged}: the loss is no longer a finite number. "
            f"Try a smaller training.learning_rate (now {config.training.learning_rate:g}). "
            f"The history and pictures so far are in {run_dir}",
            str(run_dir),
        )
    return Run(run_dir, metrics, list(history))


def final_metrics(model: Model, data: Split, loss: Any) -> dict[str, Any]:
    """ROC AUC first, then the other metrics, on the held-out split."""
    from .metrics import classification_metrics

    output = model.predict(data.X_test)
    metrics: dict[str, Any] = classification_metrics(data.y_test, output)
    metrics["loss"] = model.evaluate(data.X_test, data.y_test, loss)
    metrics["n_train"], metrics["n_test"] = len(data.y_train), len(data.y_test)
    return metrics


class _Tracker:
    """Per-epoch callback: scores the test split now and then, watches for divergence."""

    def __init__(self, config: Config, data: Split, loss: Any, progress: ProgressCallback | None) -> None:
        self.data, self.loss, self.progress = data, loss, progress
        self.epochs = config.training.epochs
        self.every = max(1, self.epochs // 100)  # about a hundred points on the curve
        self.diverged: int | None = None

    def __call__(self, model: Model, logs: dict) -> None:
        from .metrics import roc_auc

        epoch = logs["epoch"]
        if not math.isfinite(logs["train_loss"]):
            self.diverged, model.stop_training = epoch, True
        elif epoch % self.every == 0 or epoch == self.epochs or epoch == 1:
            logs["val_loss"] = model.evaluate(self.data.X_test, self.data.y_test, self.loss)
            logs["val_roc_auc"] = roc_auc(self.data.y_test, model.predict(self.data.X_test))
        if self.progress is not None:
            self.progress(logs)


def _write_run(run_dir: Path, config: Config, model: Model, data: Split, history: list, metrics: dict) -> None:
    """The model, history and pictures; the pictures that need 2-D input only for 2-D data."""
    import pandas as pd

    from . import plots

    runs.save_model(model, run_dir / "model.npz")
    frame = pd.DataFrame(list(history), columns=["epoch", "train_loss", "val_loss", "val_roc_auc"])
    with runs.atomic_path(run_dir / "history.csv") as tmp:
        frame.to_csv(tmp, index=False)
    runs.write_json(run_dir / "metrics.json", metrics)
    label = architecture_label(model)
    plots.save_figure(plots.loss_curve(frame, title=f"{config.data.dataset} · {label}"), run_dir / "loss_curve.png")
    if data.X_train.shape[1] == 2 and metrics["status"] == "completed":
        grid = plots.boundary_grid(np.vstack([data.X_train, data.X_test]))
        from .metrics import positive_proba

        proba = positive_proba(model.predict(grid[2]))
        title = f"{config.data.dataset} · {label} · test ROC AUC {metrics['roc_auc']:.4f}"
        figure = plots.decision_boundary(proba, grid, data.X_train, data.y_train, data.X_test, data.y_test, title)
        plots.save_figure(figure, run_dir / "decision_boundary.png")
