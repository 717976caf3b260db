"""The library's entry point: from a validated config to a finished run folder.

Using a run once it is saved (eval, pictures, predictions) is in ``saved.py``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import runs
from .config import Config, dump_yaml
from .data import DATASETS, make_dataset, split
from .errors import RunError, TrainingDiverged, TrainingInterrupted
from .nn import LAYERS, OPTIMIZERS, Layer, Loss, Model, Optimizer, get_loss

ProgressCallback = Callable[[dict], None]
SNAPSHOT_RESOLUTION = 100


@dataclass
class Split:
    """The data of a run: ``X_train, y_train`` to fit, ``X_test, y_test`` held out."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def X_all(self) -> np.ndarray:
        return np.vstack([self.X_train, self.X_test])


@dataclass
class Run:
    """A finished run: its folder, final metrics and per-epoch history."""

    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict] = field(default_factory=list)


@dataclass
class StopRequest:
    """Set ``signum`` (from a signal handler) to stop training at the end of the current epoch."""

    signum: int | None = None


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


# -- building ---------------------------------------------------------------------------------


def load_data(config: Config, seed: int | None = None, n_samples: int | None = None,
              noise: float | None = None) -> Split:
    """The config's dataset, split into train and test; the arguments replace the config's."""
    data = config.data
    data_seed = Streams.from_seed(config.seed).data_seed if seed is None else seed
    X, y = make_dataset(data.dataset, n_samples or data.n_samples, data.noise if noise is None else noise,
                        data_seed, **data.options())
    X_train, X_test, y_train, y_test = split(X, y, data.test_fraction, data_seed)
    return Split(X_train, y_train, X_test, y_test)


def build_model(config: Config, rng: np.random.Generator) -> Model:
    """The network the config describes; ``in_features`` of each linear layer is inferred."""
    width = input_width(config)
    model = Model()
    for spec in config.model.layers:
        layer = LAYERS[spec.type].from_config(width, rng, **spec.model_dump(exclude={"type"}))
        width = layer.output_width(width)
        model.add(layer)
    return model.astype(config.training.dtype)


def build_optimizer(config: Config) -> Optimizer:
    """The optimizer the config names, at its learning rate."""
    spec = config.training.optimizer
    return OPTIMIZERS[spec.type](learning_rate=config.training.learning_rate, **spec.model_dump(exclude={"type"}))


def input_width(config: Config) -> int:
    """The number of features the config's model takes."""
    return DATASETS[config.data.dataset].n_features


def architecture_label(model: Model, in_features: int) -> str:
    """A short description, for example ``2-16-16-1 relu/relu/sigmoid``.

    The widths are the input's and each layer with parameters' output; the names are those of
    the layers without parameters, with their settings if they have any (``dropout(0.2)``).
    """
    widths, names, width = [in_features], [], in_features
    for layer in model.layers:
        width = layer.output_width(width)
        if layer.params:
            widths.append(width)
        else:
            names.append(_layer_label(layer))
    return "-".join(map(str, widths)) + (" " + "/".join(names) if names else "")


def _layer_label(layer: Layer) -> str:
    settings = layer.get_config().values()
    return f"{layer.name}({', '.join(map(str, settings))})" if settings else layer.name


# -- training ---------------------------------------------------------------------------------


def train(config: Config, stem: str = "run", name: str | None = None,
          progress: ProgressCallback | None = None, stop: StopRequest | None = None) -> Run:
    """Train the config's model and write its run folder; returns the finished run.

    Raises TrainingDiverged when the loss stops being finite and TrainingInterrupted when
    ``stop`` is set, in both cases after writing what was done.
    """
    session = Session(config)
    session.run_dir = runs.create_run_dir(config.output.dir, stem, name)
    runs.write_text(session.run_dir / "config.yaml", dump_yaml(config))
    return session.run(progress, stop or StopRequest())


def planned_epochs(run_dir: str | Path) -> int:
    """The number of epochs a run trains for in all, for example when it is resumed."""
    return runs.read_config(runs.find_run(run_dir)).training.epochs


def resume(run_dir: str | Path, progress: ProgressCallback | None = None, stop: StopRequest | None = None) -> Run:
    """Continue an interrupted run from its checkpoint, in its own folder."""
    run_dir = runs.find_run(run_dir)
    session = Session(runs.read_config(run_dir))
    session.run_dir = run_dir
    session.restore(runs.read_checkpoint(run_dir))
    return session.run(progress, stop or StopRequest())


class Session:
    """A run being trained: data, model, optimizer, random streams, history and snapshots."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.streams = Streams.from_seed(config.seed)
        self.data = load_data(config)
        self.model = build_model(config, self.streams.init)
        self.loss: Loss = get_loss(config.loss)
        self.optimizer = build_optimizer(config)
        self.history: list[dict] = []
        self.snapshots: list[dict] = []
        self.run_dir = Path()
        self.seconds = 0.0
        two_d = self.data.X_train.shape[1] == 2
        self.grid = _snapshot_grid(self.data.X_all) if two_d else None

    def run(self, progress: ProgressCallback | None, stop: StopRequest) -> Run:
        tracker = _Tracker(self, progress, stop)
        started = time.perf_counter()
        history = self.model.fit(
            self.data.X_train, self.data.y_train, loss=self.loss, optimizer=self.optimizer,
            epochs=self.config.training.epochs, batch_size=self.config.training.batch_size,
            seed=self.streams.shuffle, callbacks=[tracker], initial_epoch=len(self.history),
        )
        self.seconds += time.perf_counter() - started
        self.history += list(history)
        return self._finish(tracker)

    def _finish(self, tracker: "_Tracker") -> Run:
        if tracker.diverged is not None:
            status = "diverged"
        elif tracker.stop.signum is not None and len(self.history) < self.config.training.epochs:
            status = "interrupted"
            self.write_checkpoint()
        else:
            status = "completed"
        metrics = self._metrics(status, tracker.diverged)
        write_results(self.run_dir, self.config, self.model, self.data, self.history, metrics)
        self._write_snapshots()
        if status == "completed":
            (self.run_dir / runs.CHECKPOINT).unlink(missing_ok=True)
        runs.mark_latest(self.run_dir)
        if status == "diverged":
            raise TrainingDiverged(
                f"training diverged at epoch {tracker.diverged}: the loss is no longer a finite number. "
                f"Try a smaller training.learning_rate (now {self.config.training.learning_rate:g}). "
                f"The history and loss curve so far are in {self.run_dir}", str(self.run_dir))
        if status == "interrupted":
            raise TrainingInterrupted(
                f"interrupted after epoch {len(self.history)} of {self.config.training.epochs}; "
                f"a checkpoint is in {self.run_dir}. Resume with: nnfw train --resume {self.run_dir}",
                str(self.run_dir), 128 + int(tracker.stop.signum or 0))
        return Run(self.run_dir, metrics, self.history)

    def _metrics(self, status: str, diverged_at: int | None) -> dict[str, Any]:
        metrics: dict[str, Any] = {} if diverged_at is not None else final_metrics(self.model, self.data, self.loss)
        metrics.update(status=status, epochs=len(self.history), train_seconds=round(self.seconds, 4))
        if diverged_at is not None:
            metrics["diverged_at_epoch"] = diverged_at
        return metrics

    # -- checkpoints and snapshots ------------------------------------------------------------

    def write_checkpoint(self) -> None:
        """Weights, optimizer state, random generator states and history, in one file."""
        arrays = {f"model.{key}": param for key, param, _ in self.model.parameters()}
        arrays.update({f"optimizer.{key}": value for key, value in self.optimizer.state_dict().items()})
        generators = {"shuffle": self.streams.shuffle.bit_generator.state, **self.model.random_state()}
        state = {"history": self.history, "generators": generators, "seconds": self.seconds}
        arrays["state"] = np.array(json.dumps(state))
        runs.save_arrays(self.run_dir / runs.CHECKPOINT, arrays)
        self._write_snapshots()

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Put the session back where ``write_checkpoint`` left it."""
        try:
            state = json.loads(str(arrays["state"]))
            self.model.set_weights({k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
            self.optimizer.load_state_dict({k[10:]: v for k, v in arrays.items() if k.startswith("optimizer.")})
            generators = dict(state["generators"])
            self.streams.shuffle.bit_generator.state = generators.pop("shuffle")
            self.model.set_random_state(generators)
            self.history, self.seconds = state["history"], state["seconds"]
            if not (isinstance(self.history, list) and all(isinstance(logs, dict) for logs in self.history)
                    and len(self.history) <= self.config.training.epochs and isinstance(self.seconds, (int, float))):
                raise ValueError("its history is not a list of at most training.epochs epochs")
            needed = [(self.model.count_params(),)]
            for key, values in self.optimizer.state.items():
                if values and [value.shape for value in values] != needed:
                    raise ValueError(f"the optimizer's {key!r} does not fit the model's parameters")
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise RunError(f"{self.run_dir / runs.CHECKPOINT}: the checkpoint does not fit this run: {exc}") from None
        saved, _ = runs.read_snapshots(self.run_dir)
        self.snapshots = [s for s in saved if s["epoch"] <= len(self.history)]

    def snapshot(self, logs: dict) -> None:
        """Keep the predicted probabilities over the boundary grid, as bytes (0-255)."""
        from .metrics import positive_proba

        proba = positive_proba(self.model.predict(self.grid[2]))
        quantised = np.round(np.clip(np.nan_to_num(proba, nan=0.5), 0, 1) * 255).astype(np.uint8)
        self.snapshots.append({"epoch": logs["epoch"], "train_loss": logs["train_loss"],
                               "val_roc_auc": logs.get("val_roc_auc", math.nan),
                               "proba": quantised.reshape(self.grid[0].shape)})

    def _write_snapshots(self) -> None:
        if self.snapshots and self.grid is not None:
            runs.write_snapshots(self.run_dir, self.snapshots, self.grid)


def _snapshot_grid(X: np.ndarray) -> Any:
    from .plots import boundary_grid

    return boundary_grid(X, SNAPSHOT_RESOLUTION)


class _Tracker:
    """Per-epoch callback: scores the test split now and then, snapshots, checkpoints, stops."""

    def __init__(self, session: Session, progress: ProgressCallback | None, stop: StopRequest) -> None:
        training = session.config.training
        self.session, self.progress, self.stop = session, progress, stop
        self.epochs = training.epochs
        self.eval_every = training.every(training.eval_every, 40)
        snapshot_every = training.every(training.snapshot_every, 50)
        self.snapshot_every = snapshot_every if session.grid is not None else 0
        self.checkpoint_every = training.checkpoint_every
        self.diverged: int | None = None

    def __call__(self, model: Model, logs: dict) -> None:
        from .metrics import roc_auc

        epoch, session = logs["epoch"], self.session
        if not math.isfinite(logs["train_loss"]):
            self.diverged, model.stop_training = epoch, True
        else:
            if epoch % self.eval_every == 0 or epoch in (1, self.epochs):
                logs["val_loss"] = model.evaluate(session.data.X_test, session.data.y_test, session.loss)
                logs["val_roc_auc"] = roc_auc(session.data.y_test, model.predict(session.data.X_test))
            if self.snapshot_every and (epoch % self.snapshot_every == 0 or epoch in (1, self.epochs)):
                session.snapshot(logs)
            if self.checkpoint_every and epoch % self.checkpoint_every == 0 and epoch < self.epochs:
                session.history.append(logs)
                session.write_checkpoint()
                session.history.pop()
            model.stop_training = model.stop_training or self.stop.signum is not None
        if self.progress is not None:
            self.progress(logs)


# -- results ----------------------------------------------------------------------------------


def final_metrics(model: Model, data: Split, loss: Loss) -> dict[str, Any]:
    """ROC AUC first, then the other metrics, on the held-out split."""
    from .metrics import classification_metrics

    metrics: dict[str, Any] = classification_metrics(data.y_test, model.predict(data.X_test))
    metrics["loss"] = model.evaluate(data.X_test, data.y_test, loss)
    metrics["n_train"], metrics["n_test"] = len(data.y_train), len(data.y_test)
    return metrics


def write_results(run_dir: Path, config: Config, model: Model, data: Split, history: list[dict],
                  metrics: dict[str, Any]) -> None:
    """The model, history, metrics and pictures of a run."""
    import pandas as pd

    runs.save_model(model, run_dir / "model.npz")
    frame = pd.DataFrame(history, columns=["epoch", "train_loss", "val_loss", "val_roc_auc"])
    with runs.atomic_path(run_dir / runs.HISTORY) as tmp:
        frame.to_csv(tmp, index=False)
    runs.write_json(run_dir / runs.METRICS, metrics)
    draw_loss_curve(run_dir, config, model, frame)
    if metrics["status"] != "diverged":
        draw_decision_boundary(run_dir, config, model, data, metrics.get("roc_auc", math.nan))


def picture_title(config: Config, model: Model, auc: float | None = None) -> str:
    """The title of a run's pictures: dataset, architecture and, if given, the test ROC AUC."""
    parts = [config.data.dataset, architecture_label(model, input_width(config))]
    return " · ".join(parts + ([f"test ROC AUC {auc:.4f}"] if auc is not None else []))


def draw_loss_curve(run_dir: Path, config: Config, model: Model, history: Any, suffix: str = ".png",
                    dpi: int = 150) -> Path:
    """``loss_curve.png``: train and test loss by epoch, test AUC on a second axis."""
    from . import plots

    with np.errstate(over="ignore"):  # a diverged run's losses near 1e308 overflow the log axis's transform
        return plots.save_figure(plots.loss_curve(history, title=picture_title(config, model)),
                                 run_dir / f"loss_curve{suffix}", dpi)


def draw_decision_boundary(run_dir: Path, config: Config, model: Model, data: Split, auc: float,
                           suffix: str = ".png", dpi: int = 150) -> Path | None:
    """``decision_boundary.png``; None for data that is not 2-D (no plane to draw)."""
    from . import plots
    from .metrics import positive_proba

    if data.X_train.shape[1] != 2:
        return None
    grid = plots.boundary_grid(data.X_all)
    proba = positive_proba(model.predict(grid[2]))
    figure = plots.decision_boundary(proba, grid, data.X_train, data.y_train, data.X_test, data.y_test,
                                     picture_title(config, model, auc))
    return plots.save_figure(figure, run_dir / f"decision_boundary{suffix}", dpi)
