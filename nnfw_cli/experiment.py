"""The library's entry point: from a validated config to a finished run folder.

Using a run once it is saved (eval, pictures, predictions) is in ``saved.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__, gates, runs, threads
from .config import SNAPSHOT_POINTS, Config, check_classes, dump_yaml
from .data import DATASETS, REAL_DATASETS, load_split
from .data import Split as _DataSplit
from .errors import ConfigError, DataError, RunError, TrainingDiverged, TrainingInterrupted, WriteError
from .nn import LAYERS, OPTIMIZERS, Layer, Loss, Model, Optimizer, get_loss
from .schedules import make_schedule
from .stopping import Watcher

ProgressCallback = Callable[[dict], None]
SNAPSHOT_RESOLUTION = 100
# At most this many boundary snapshots are kept (about 10 kB each), whatever training.epochs and
# training.snapshot_every ask for: a longer run keeps every k-th of the epochs asked for, spread
# evenly over the run, so snapshot_every: 1 over millions of epochs cannot exhaust memory.
MAX_SNAPSHOTS = 500
# Scoring a split runs the network on batches of rows whose activations stay under this, so a
# large test split or a wide network is scored in bounded memory; at most MAX_BATCH rows, as
# Model.predict's own batches, so that a model of usual width is scored as it always was.
ACTIVATION_BYTES = 256 * 2**20
MAX_BATCH = 8192


@dataclass
class Split(_DataSplit):
    """``data.Split`` whose transform may be left out: arrays as they are, classes ``0 .. k-1``."""

    transform: Any = None

    def __post_init__(self) -> None:
        if self.transform is None:
            from .features import fit

            top = max([int(y.max()) for y in (self.y_train, self.y_test) if len(y)] + [1])
            self.transform = fit(self.X_train, class_names=[str(k) for k in range(top + 1)])


@dataclass
class Run:
    """A finished run: its folder, final metrics and per-epoch history."""

    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for people: rows dropped, pictures not drawn
    model: Model | None = None  # the trained model, as model.npz holds it


@dataclass
class StopRequest:
    """Set ``signum`` (from a signal handler) to stop training at the end of the current epoch.

    ``run_dir`` is set by ``train`` and ``resume`` once the run has a folder that stopping would
    leave a checkpoint in; until then nothing of the run is written, and a caller's signal
    handler may stop at once instead.
    """

    signum: int | None = None
    run_dir: Path | None = None


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


def load_data(config: Config, seed: int | None = None) -> Split:
    """The config's data, split into train and test and transformed (``data.load_split``).

    The seed is drawn from ``config.data_seed()`` as it always was from the config's seed;
    ``seed`` replaces it.
    """
    data_seed = Streams.from_seed(config.data_seed()).data_seed if seed is None else seed
    return load_split(config.data, data_seed)


def build_model(config: Config, rng: np.random.Generator, width: int | None = None) -> Model:
    """The network the config describes; ``in_features`` of each linear layer is inferred from
    ``width``, the number of input features (default: ``input_width(config)``)."""
    width = input_width(config) if width is None else width
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
    """The number of features the config's model takes, as far as the config alone tells.

    Playground features (``data.features``) count as listed; a CSV file's width is known only
    once it is read (``Split.n_features``): a ConfigError asks for it then.
    """
    from .errors import ConfigError

    data = config.data
    if data.features:
        return len(data.features)
    if data.dataset in DATASETS:
        return DATASETS[data.dataset].n_features
    if data.dataset in REAL_DATASETS:
        return REAL_DATASETS[data.dataset][1]
    raise ConfigError([f"data: the number of features of {data.path or data.dataset} is known once the file is read"])


def model_width(model: Model) -> int | None:
    """The number of features ``model`` takes, from its first layer that states it."""
    for layer in model.layers:
        width = layer.get_config().get("in_features")
        if width is not None:
            return int(width)
    return None


def no_boundary(n_features: int) -> str:
    """What to say of a run whose data has no plane to draw a decision boundary in."""
    return f"no decision boundary: the data has {n_features} feature{'s' * (n_features != 1)} (it is drawn for 2 only)"


def layer_widths(model: Model, in_features: int) -> list[int]:
    """The width of the input and of each layer's output."""
    widths = [in_features]
    for layer in model.layers:
        widths.append(layer.output_width(widths[-1]))
    return widths


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
            names.append(layer_label(layer))
    return "-".join(map(str, widths)) + (" " + "/".join(names) if names else "")


def layer_label(layer: Layer) -> str:
    """A layer's name with its settings, as pictures show it: ``relu``, ``dropout(0.2)``."""
    settings = layer.get_config().values()
    return f"{layer.name}({', '.join(map(str, settings))})" if settings else layer.name


# -- training ---------------------------------------------------------------------------------


def train(config: Config, stem: str = "run", name: str | None = None,
          progress: ProgressCallback | None = None, stop: StopRequest | None = None, dpi: int = 150, *,
          provenance: dict[str, Any] | None = None, folder: str | Path | None = None,
          pictures: bool = True) -> Run:
    """Train the config's model and write its run folder (pictures at ``dpi``); returns the finished run.

    With ``parent`` in the config, training starts where that finished run ended
    (``Session.start_from``). Raises TrainingDiverged when the loss stops being finite and
    TrainingInterrupted when ``stop`` is set, in both cases after writing what was done. The run
    folder is locked (``runs.lock``) while it is written. An expectation (``config.expect``) on a
    metric the run will not have is a ConfigError, raised before anything is written.
    ``provenance`` (how the run was asked for: command line, overrides) goes into metrics.json with
    the versions of nnfw, numpy and Python. ``folder``, an empty folder that exists, is written
    instead of a new one under ``output.dir`` (a sweep's worker writes in a folder of its own, then
    sends the files); ``pictures=False`` draws no picture and keeps no boundary snapshots (``nnfw
    plot`` draws the pictures later).
    """
    stop = stop or StopRequest()
    session = Session(config, provenance, pictures)
    session.dpi = dpi
    if config.parent is not None:
        session.start_from(Path(config.parent.run), config.parent.fresh_optimizer)
    session.run_dir = stop.run_dir = (Path(folder) if folder is not None
                                      else runs.create_run_dir(config.output.dir, stem, name))
    with runs.lock(session.run_dir):
        runs.write_text(session.run_dir / runs.CONFIG, dump_yaml(config))
        return session.run(progress, stop)


def continue_from(run_dir: str | Path, overrides: tuple[str, ...] | list[str] = (), fresh_optimizer: bool = False,
                  name: str | None = None, progress: ProgressCallback | None = None,
                  stop: StopRequest | None = None) -> Run:
    """``nnfw train --from RUN``: a new run folder that trains on from where the finished run
    ``run_dir`` ended, with its config changed by ``overrides`` (``"training.epochs=200"``).

    ``training.epochs`` counts every epoch, the parent's included: the new run takes the steps
    a run of that many epochs would have taken after the parent's last one (or its best, when
    its model.npz holds the best epoch's weights). ``run_dir`` is only read, never written.
    """
    config, stem = config_from(run_dir, overrides, fresh_optimizer)
    return train(config, stem, name, progress, stop)


def config_from(run_dir: str | Path, overrides: tuple[str, ...] | list[str] = (),
                fresh_optimizer: bool = False) -> tuple[Config, str]:
    """The config of a run that trains on from the run ``run_dir`` (``continue_from``): its
    config.yaml with ``overrides`` applied and ``parent`` naming it; and the stem of its name."""
    from .config import ParentConfig, load_config

    parent = runs.find_run(run_dir)
    config = load_config(runs.require(parent, runs.CONFIG), list(overrides))
    record = ParentConfig(run=str(parent.resolve()), fresh_optimizer=fresh_optimizer)
    return config.model_copy(update={"parent": record}), run_stem(parent)


def run_stem(run_dir: Path) -> str:
    """The config stem of a run folder's name: ``spiral`` of ``spiral-20260101-120000-2``."""
    return re.sub(r"-\d{8}-\d{6}(-\d+)?$", "", Path(run_dir).name) or "run"


def run_config(path: str | Path, overrides: tuple[str, ...] | list[str] = (),
               output_dir: str | Path | None = None, name: str | None = None) -> Run:
    """``nnfw train`` from Python (a notebook, for instance): read the YAML config at ``path``,
    apply ``--set``-style ``overrides`` (``"training.epochs=2"``), train, and return the finished
    run (``run_dir``, ``metrics``, ``history``). ``output_dir`` replaces ``output.dir``. Raises
    ConfigError for a config that does not validate, as ``train`` does for a failed run."""
    from .config import load_config

    extra = list(overrides) + ([] if output_dir is None else [f"output.dir={json.dumps(str(output_dir))}"])
    return train(load_config(path, extra), Path(path).stem, name)


def with_gates(config: Config, expect: tuple[str, ...] | list[str] = (), max_seconds: float | None = None) -> Config:
    """``config`` with the expectations ``expect`` added to its own (each once) and, if given,
    ``max_seconds`` as its time limit; a ConfigError for an expectation that cannot be read."""
    changed = config.model_copy(update={"expect": gates.merged(config.expect, expect)})
    if max_seconds is not None:
        changed.training = config.training.model_copy(update={"max_seconds": float(max_seconds)})
    return changed


def check_memory(config: Config, n_features: int, n_train: int, limit: int | None = None) -> None:
    """Refuse, before anything is allocated, a network whose training would need more than
    ``limit`` bytes (default: half of this machine's memory).

    A parameter costs its value, its gradient, two optimizer slots and two work arrays, and a
    copy while the flat buffer is packed; each unit of a batch row keeps about four numbers
    (output, gradient, mask, and the next layer's input with its column of ones).
    """
    itemsize = np.dtype(config.training.dtype).itemsize
    widths, width, parameters = [n_features], n_features, 0
    for spec in config.model.layers:
        units = getattr(spec, "units", None)
        if units is not None:
            parameters += (width + 1) * units
            width = units
        widths.append(width)
    rows = n_train if config.training.batch_size is None else min(config.training.batch_size, n_train)
    needed = itemsize * (7 * parameters + 4 * rows * sum(widths))
    limit = memory_limit() if limit is None else limit
    if needed > limit:
        raise ConfigError(
            f"model.layers: training this network would need about {needed / 2**30:.1f} GiB ({parameters:,} "
            f"parameters, batches of {rows:,} rows through {sum(widths):,} units), more than the "
            f"{limit / 2**30:.1f} GiB allowed (half of this machine's memory): use fewer or narrower layers, "
            "or a smaller training.batch_size")


def memory_limit() -> int:
    """Bytes a run may plan to use: half of this machine's memory."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


# Bytes a generated row costs while its data is made and split: its two float64 features and its
# label, in the whole set and again in the train and test parts, and the split's indices.
GENERATED_ROW_BYTES = 64


# Bytes a byte of CSV costs while it is read and split: its table (a number of a few characters
# becomes 8 bytes), the train and test arrays made from it, and the parser's work space.
CSV_BYTE_COST = 3


def check_data_memory(config: Config, limit: int | None = None) -> None:
    """Refuse, before any is made or read, data that would need more than ``limit`` bytes
    (default: half of this machine's memory) to make or read, and split."""
    limit = memory_limit() if limit is None else limit
    path = config.data.path
    if config.data.dataset == "csv" and path and os.path.isfile(path):
        size = os.path.getsize(path)
        if CSV_BYTE_COST * size > limit:
            raise DataError(f"{path}: a file of {size / 2**30:.1f} GiB would need about "
                            f"{CSV_BYTE_COST * size / 2**30:.1f} GiB to read and split, more than the "
                            f"{limit / 2**30:.1f} GiB allowed (half of this machine's memory); "
                            "use a part of its rows")
    if config.data.dataset not in DATASETS:
        return
    needed = GENERATED_ROW_BYTES * config.data.n_samples
    if needed > limit:
        raise ConfigError(
            f"data.n_samples: {config.data.n_samples:,} samples would need about {needed / 2**30:.1f} GiB to make "
            f"and split, more than the {limit / 2**30:.1f} GiB allowed (half of this machine's memory): "
            "use fewer samples")


def planned_epochs(run_dir: str | Path) -> int:
    """The number of epochs a run trains for in all, for example when it is resumed."""
    return runs.read_config(runs.find_run(run_dir)).training.epochs


def resume(run_dir: str | Path, progress: ProgressCallback | None = None, stop: StopRequest | None = None,
           provenance: dict[str, Any] | None = None, expect: tuple[str, ...] | list[str] = (),
           max_seconds: float | None = None) -> Run:
    """Continue an interrupted run (or one stopped at its time limit) from its checkpoint, in its
    own folder (locked meanwhile).

    A link (``outputs/latest``) is followed to the folder. A run that completed or diverged is
    refused, and so is a checkpoint written for another config than the run's config.yaml.
    ``expect`` adds expectations to the config's and ``max_seconds`` replaces its time limit, for
    this session: neither changes what the run learns.
    """
    from .saved import refuse_a_folder_of_runs

    stop = stop or StopRequest()
    run_dir = runs.find_run(run_dir)
    refuse_a_folder_of_runs(run_dir)
    with runs.lock(run_dir):
        session = Session(with_gates(runs.read_config(run_dir), expect, max_seconds), provenance)
        session.run_dir = run_dir
        checkpoint = runs.read_checkpoint(run_dir)
        status = runs.read_status(run_dir)
        if status in ("completed", "diverged"):
            raise RunError(f"{run_dir}: the run has already {status} (its metrics.json says so); there is nothing "
                           f"to resume. {run_dir / runs.CHECKPOINT} is left over: delete it")
        session.restore(checkpoint)
        stop.run_dir = run_dir
        return session.run(progress, stop)


class Session:
    """A run being trained: data, model, optimizer, random streams, history and snapshots, and
    what chooses as it goes: the learning-rate schedule and the watcher of the best epoch.

    ``history`` is the one record of the epochs trained, one dict each, appended as each epoch
    ends; so a checkpoint written at any epoch holds the whole history up to it. With early
    stopping's ``restore_best``, ``kept`` holds the training state of the best epoch so far.
    """

    def __init__(self, config: Config, provenance: dict[str, Any] | None = None, pictures: bool = True) -> None:
        self.config = config
        self.provenance = {**(provenance or {}), **versions(), "seed": config.seed}
        self.pictures = pictures
        self.fingerprint = config_fingerprint(config)
        self.streams = Streams.from_seed(config.seed)
        check_data_memory(config)
        import pandas  # noqa: F401  (imported here, so that data_seconds counts the data, not the imports)
        import sklearn.datasets  # noqa: F401

        started = time.perf_counter()
        self.data = load_data(config)
        self.data_seconds = time.perf_counter() - started  # to make or read the data, split and transform it
        check_classes(config, self.data.n_classes)
        check_memory(config, self.data.n_features, len(self.data.y_train))
        self.notes: list[str] = list(self.data.notes)
        # with a validation split the test split is read at the end only: the grid spans the training points
        plane = self.data.plane(test=not self.data.has_validation)
        if plane is None:
            self.notes.append(no_boundary(self.data.n_features))
        self.model = build_model(config, self.streams.init, self.data.n_features)
        rows = min(config.training.batch_size or len(self.data.y_train), len(self.data.y_train))
        self.threads = threads.choose(config.training.threads, layer_widths(self.model, self.data.n_features), rows)
        self.loss: Loss = get_loss(config.loss)
        self.optimizer = build_optimizer(config)
        training = config.training
        self.schedule = make_schedule(_spec(training.lr_schedule), training.learning_rate, training.epochs)
        self.watcher = make_watcher(config, self.data.has_validation)
        self.kept: tuple[dict[str, np.ndarray], dict[str, Any]] | None = None
        self.stopped_epoch: int | None = None  # the epoch early stopping ended the run at
        self.parent: dict[str, Any] | None = None  # where training started: the parent run and its epoch
        self.history: list[dict] = []
        self.snapshots: list[dict] = []
        self.run_dir = Path()
        self.seconds = 0.0
        self.dpi = 150  # of the pictures
        self._started: float | None = None  # perf_counter() when this process began training
        # snapshots (and the animation made of them) show P(class 1): two classes in the plane only
        two_d = pictures and plane is not None and self.data.n_classes == 2
        box, self.grid = _snapshot_grid(*plane[:2]) if two_d else (None, None)
        # the decision boundary spans the train and test points: the snapshots' box when they span both
        self.box = box if two_d and not self.data.has_validation else None
        self.test_output: np.ndarray | None = None  # the network's output on the test split, once scored
        self.last_scored: tuple[int, tuple[float, np.ndarray], dict[str, float]] | None = None  # see score_held_out
        self.features = plane[2] if two_d else None  # plane points -> model inputs
        self.expectations = gates.parse_all(config.expect, "expect")
        if self.expectations:  # the metrics a run of this model on this data will have, before it trains
            gates.check_names(self.expectations, self._metrics("completed", None, 0))

    @property
    def held_out(self) -> str:
        """The split scored during training: ``val`` (the validation split) if there is one, else ``test``."""
        return "val" if self.data.has_validation else "test"

    def score_held_out(self, epoch: int) -> dict[str, float]:
        """``val_loss``, ``val_roc_auc``, ``val_accuracy`` after ``epoch`` (``test_*`` without a
        validation split). The scoring is kept as ``last_scored``, ``(epoch, score(...), scores)``:
        after the last epoch, the run's metrics come from the same weights, unless they change."""
        X, y = (self.data.X_val, self.data.y_val) if self.data.has_validation else (self.data.X_test, self.data.y_test)
        self.last_scored = None  # its output goes before the new one is made: one in memory at a time
        scored = score(self.model, X, y, self.loss)
        scores = held_out_scores(self.model, X, y, self.loss, self.held_out, scored)
        self.last_scored = (epoch, scored, scores)
        return scores

    @property
    def keeps_best(self) -> bool:
        """Whether model.npz will hold the best epoch's weights (early stopping's restore_best)."""
        stopping = self.config.training.early_stopping
        return stopping is not None and stopping.restore_best

    def run(self, progress: ProgressCallback | None, stop: StopRequest) -> Run:
        with threads.limited(self.threads):  # training, scoring and the pictures' grids alike
            return self._run(progress, stop)

    def _run(self, progress: ProgressCallback | None, stop: StopRequest) -> Run:
        tracker = _Tracker(self, progress, stop)
        if not self.history and 0 in tracker.snapshot_epochs:  # the boundary before any training
            self.snapshot({"epoch": 0, "train_loss": math.nan})
        self.optimizer.learning_rate = self.schedule.rate(len(self.history) + 1)
        self._started = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is told of once, by the tracker
            self.model.fit(
                self.data.X_train, self.data.y_train, loss=self.loss, optimizer=self.optimizer,
                epochs=self.config.training.epochs, batch_size=self.config.training.batch_size,
                seed=self.streams.shuffle, callbacks=[tracker], initial_epoch=len(self.history),
            )
        self.seconds, self._started = self.elapsed(), None
        return self._finish(tracker)

    def session_seconds(self) -> float:
        """Seconds of training in this process (a resumed run's earlier sessions left out)."""
        return time.perf_counter() - self._started if self._started is not None else 0.0

    def elapsed(self) -> float:
        """Seconds of training so far, over every session of the run."""
        return self.seconds + self.session_seconds()

    def observe(self, logs: dict) -> bool:
        """After an epoch is recorded: the schedule and the watcher take in its logs, the best
        epoch's state is kept, and the next epoch's learning rate is set; True to stop early."""
        epoch = logs["epoch"]
        self.schedule.observe(epoch, logs)
        if self.watcher is not None and self.watcher.update(epoch, logs) and self.keeps_best:
            self.kept = self.training_state()
        self.optimizer.learning_rate = self.schedule.rate(epoch + 1)
        stopping = self.config.training.early_stopping is not None and self.watcher.should_stop(epoch)
        if stopping and epoch < self.config.training.epochs:
            self.stopped_epoch = epoch
        return self.stopped_epoch is not None

    def _finish(self, tracker: "_Tracker") -> Run:
        if tracker.diverged is not None:
            status = "diverged"
        elif tracker.stop.signum is not None and len(self.history) < self.config.training.epochs \
                and self.stopped_epoch is None:
            status = "interrupted"
            self.write_checkpoint()
        elif tracker.time_limited and self.stopped_epoch is None:
            status = "time_limit"
            self.write_checkpoint()
            self.notes.append(
                f"time limit: stopped after epoch {len(self.history)} of {self.config.training.epochs}, once "
                f"training.max_seconds ({self.config.training.max_seconds:g} s) had passed; the run is scored as it "
                f"is, and `nnfw train --resume {self.run_dir}` continues it")
        else:
            status = "completed"
        held = self._restore_best() if status == "completed" else len(self.history)
        if self.stopped_epoch is not None:
            self.notes.append(self._stopped_note(held))
        metrics = self._metrics(status, tracker.diverged, held)
        write_results(self.run_dir, self.config, self.model, self.data, self.history, metrics, self.pictures,
                      self.dpi, test_output=self.test_output, box=self.box)
        self._write_snapshots()
        if status == "completed":  # what `nnfw train --from` starts from
            self._save_state(self.run_dir / runs.STATE, *(self.kept if held != len(self.history) else
                                                           self.training_state()))
        # metrics.json comes after every other file, so a run it calls completed has them all;
        # then the checkpoint goes: a finished run is not resumed (resume also refuses one whose
        # metrics.json says so, should the process die in between).
        runs.write_json(self.run_dir / runs.METRICS, metrics)
        if status not in ("interrupted", "time_limit"):  # both keep their checkpoint to be resumed
            self._remove_checkpoint()
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
        return Run(self.run_dir, metrics, self.history, self.notes, self.model)

    def _stopped_note(self, held: int) -> str:
        """For people: why and where early stopping ended the run, and which weights model.npz holds."""
        best = self.watcher.best_epoch
        return (f"early stopping: {self.watcher.monitor} did not improve for {self.stopped_epoch - best} epochs; "
                f"stopped after epoch {self.stopped_epoch} of {self.config.training.epochs}, the best was epoch "
                f"{best}" + (" (model.npz holds its weights)" if held == best != len(self.history) else ""))

    def _restore_best(self) -> int:
        """Put the best epoch's weights back when early stopping keeps them, the last ones going to
        model-last.npz; returns the epoch whose weights the model now holds."""
        if self.kept is None or self.kept[1]["epoch"] == len(self.history):
            return len(self.history)
        runs.save_model(self.model, self.run_dir / runs.LAST_MODEL)
        self.model.set_weights({key[6:]: value for key, value in self.kept[0].items() if key.startswith("model.")})
        return self.kept[1]["epoch"]

    def _metrics(self, status: str, diverged_at: int | None, held: int) -> dict[str, Any]:
        """metrics.json: the test split's scores (at the end only, when a validation split chose),
        the validation split's as ``val_*``, and how the run went."""
        metrics: dict[str, Any] = {}
        validation = self.data.has_validation
        self.test_output = None
        # the held-out split was scored after the last epoch: the same weights score the same
        last = self.last_scored if self.last_scored is not None and self.last_scored[0] == held == len(self.history) \
            else None
        if diverged_at is None and not (validation and status == "interrupted"):
            reused = last is not None and not validation
            scored = last[1] if reused else score(self.model, self.data.X_test, self.data.y_test, self.loss)
            auc = last[2]["test_roc_auc"] if reused else None
            metrics = final_metrics(self.model, self.data, self.loss, scored, auc)
            self.test_output = scored[1]  # the confusion matrix is drawn from it
            metrics["split"] = "test"
            if validation and held:  # the test split's scores also go on the history row of the epoch they are of
                self.history[held - 1].update({f"test_{key}": metrics[key] for key in ("loss", "roc_auc", "accuracy")})
        if diverged_at is None and validation:
            metrics.update(last[2] if last is not None else
                           held_out_scores(self.model, self.data.X_val, self.data.y_val, self.loss, "val"))
            metrics["n_validation"] = len(self.data.y_val)
        metrics.update(status=status, epochs=len(self.history), data_seconds=round(self.data_seconds, 4),
                       train_seconds=round(self.seconds, 4), threads=self.threads)
        if self.watcher is not None:
            metrics.update(monitor=self.watcher.monitor, best_epoch=self.watcher.best_epoch)
        if self.config.training.early_stopping is not None:
            metrics.update(stopped_epoch=self.stopped_epoch, model_epoch=held)
        if self.parent is not None:
            metrics["parent"] = self.parent
        if diverged_at is not None:
            metrics["diverged_at_epoch"] = diverged_at
        if self.data.sha256 is not None:
            metrics["data_sha256"] = self.data.sha256
        from .metrics import learned_nothing

        losses = [logs["train_loss"] for logs in self.history]
        metrics["warnings"] = learned_nothing(metrics.get("roc_auc"), losses) if status == "completed" else []
        if self.expectations:
            metrics["expectations"] = gates.judge(self.expectations, metrics)
        metrics["provenance"] = self.provenance
        return metrics

    # -- checkpoints, the final state and snapshots -------------------------------------------

    def training_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """What the next epoch starts from, copied: weights and optimizer state (arrays), and the
        epoch, random generator states, schedule and watcher (plain data)."""
        arrays = {f"model.{key}": param.copy() for key, param, _ in self.model.parameters()}
        arrays.update({f"optimizer.{key}": value for key, value in self.optimizer.state_dict().items()})
        state = {"epoch": len(self.history),
                 "generators": {"shuffle": self.streams.shuffle.bit_generator.state, **self.model.random_state()},
                 "schedule": self.schedule.state_dict(),
                 "watcher": self.watcher.state_dict() if self.watcher is not None else None}
        return arrays, state

    def write_checkpoint(self) -> None:
        """The training state now, the best epoch's when it is kept, the history and the config they belong to."""
        self._write_snapshots()  # first: a checkpoint never counts on snapshots not yet on disk
        arrays, state = self.training_state()
        if self.kept is not None:
            arrays.update({f"best.{key}": value for key, value in self.kept[0].items()})
            state["best"] = self.kept[1]
        self._save_state(self.run_dir / runs.CHECKPOINT, arrays, state)

    def _save_state(self, path: Path, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        """A checkpoint file: ``arrays`` and ``state`` with the history up to its epoch and the config."""
        state = {**state, "history": self.history[: state["epoch"]], "seconds": self.elapsed(), "parent": self.parent,
                 "provenance": self.provenance, "config": self.fingerprint, "config_sha256": _digest(self.fingerprint),
                 "nnfw_version": __version__}
        if self.data.sha256 is not None:  # a data file: resuming checks that it is still the same
            state["data_sha256"] = self.data.sha256
        runs.save_arrays(path, {**arrays, "state": np.array(json.dumps(state))})

    def _remove_checkpoint(self) -> None:
        path = self.run_dir / runs.CHECKPOINT
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise WriteError(f"{path}: cannot be removed: {exc.strerror or exc}; the run is finished: "
                             "delete it by hand", str(path)) from None

    def restore(self, arrays: dict[str, np.ndarray], parent: Path | None = None, fresh_optimizer: bool = False) -> None:
        """Put the session back where ``write_checkpoint`` left it; or, with ``parent``, where that
        finished run ended (its ``state.npz``), for a new run that trains on from there."""
        where = parent / runs.STATE if parent is not None else self.run_dir / runs.CHECKPOINT
        try:
            state = json.loads(str(arrays["state"]))
            if parent is None:
                self._check_config(state)
                self._check_data(state)
            weights = _prefixed(arrays, "model.")
            self.model.set_weights({key: value.astype(self.model.dtype) for key, value in weights.items()})
            if not fresh_optimizer:
                self.optimizer.load_state_dict(_prefixed(arrays, "optimizer."))
            generators = dict(state["generators"])
            self.streams.shuffle.bit_generator.state = generators.pop("shuffle")
            self.model.set_random_state(generators)
            self.history = _named_history(state["history"], self.data.has_validation)
            self.seconds = state["seconds"] if parent is None else 0.0
            if isinstance(state.get("provenance"), dict) and parent is None:  # how the run was first asked for
                self.provenance = {**state["provenance"], "resumed_with": self.provenance}
            self._check_restored()
            self._restore_choosing(state, arrays, parent is not None)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise RunError(f"{where}: the {'checkpoint' if parent is None else 'state'} does not fit this run: "
                           f"{exc}") from None
        saved, _ = runs.read_snapshots(parent or self.run_dir)
        self.snapshots = [s for s in saved if s["epoch"] <= len(self.history)]

    def _check_restored(self) -> None:
        if not (isinstance(self.history, list) and all(isinstance(logs, dict) for logs in self.history)
                and len(self.history) <= self.config.training.epochs and isinstance(self.seconds, (int, float))):
            raise ValueError("its history is not a list of at most training.epochs epochs")
        if [logs.get("epoch") for logs in self.history] != list(range(1, len(self.history) + 1)):
            raise ValueError("its history does not number its epochs 1, 2, 3, ...")
        needed = [(self.model.count_params(),)]
        for key, values in self.optimizer.state.items():
            if values and [value.shape for value in values] != needed:
                raise ValueError(f"the optimizer's {key!r} does not fit the model's parameters")

    def _restore_choosing(self, state: dict, arrays: dict[str, np.ndarray], from_parent: bool) -> None:
        """The schedule, the watcher and the kept best epoch, as they were.

        A run's own checkpoint holds them exactly. A parent's state carries on a schedule that is
        set as the parent's was (the same kind, settings and learning rate); otherwise the
        schedule starts afresh, as does the watcher, from the epoch training starts at.
        """
        if not from_parent:
            self.parent = state.get("parent")
            self.schedule.load_state_dict(state.get("schedule") or {})
            if self.watcher is not None and state.get("watcher") is not None:
                self.watcher.load_state_dict(state["watcher"])
            if "best" in state:
                self.kept = (_prefixed(arrays, "best."), state["best"])
                self._check_kept()
            return
        if self.data.has_validation:  # this run scores the test split once, at its own end
            self.history = [{key: value for key, value in logs.items() if not key.startswith("test_")}
                            for logs in self.history]
        training, before = self.config.training, state["config"]["training"]
        same = (before.get("lr_schedule") == _spec(training.lr_schedule)
                and before.get("learning_rate") == training.learning_rate)
        if same and training.lr_schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        if self.watcher is not None and self.history:
            self.watcher.update(len(self.history), self.history[-1])
            if self.keeps_best:
                self.kept = self.training_state()

    def _check_kept(self) -> None:
        """The best epoch's state from a checkpoint: an epoch trained already, weights that fit the model."""
        arrays, state = self.kept
        epoch = state.get("epoch") if isinstance(state, dict) else None
        if not (isinstance(epoch, int) and 1 <= epoch <= len(self.history)):
            raise ValueError(f"its best epoch is {epoch!r}, not one of the {len(self.history)} epochs trained")
        weights = _prefixed(arrays, "model.")
        shapes = {key: value.shape for key, value in weights.items()}
        if shapes != {key: param.shape for key, param, _ in self.model.parameters()} or \
                any(value.dtype.kind != "f" for value in weights.values()):
            raise ValueError("its best epoch's weights do not fit the model")

    def start_from(self, parent: Path, fresh_optimizer: bool = False) -> None:
        """Begin where the finished run ``parent`` ended: its weights, optimizer state (unless
        ``fresh_optimizer``), random streams, schedule and history, at the epoch its model.npz
        holds. ``parent`` is only read."""
        parent = runs.find_run(parent)
        status = runs.read_status(parent)
        if status != "completed":
            hint = f"; finish it with: nnfw train --resume {parent}" if status == "interrupted" else ""
            raise RunError(f"{parent}: training goes on from a completed run, and this one's status is {status}{hint}")
        if not (parent / runs.STATE).is_file():
            raise RunError(f"{parent}: no {runs.STATE} (the optimizer and random states at its end): it was trained "
                           "by an nnfw from before `--from`, so it cannot be continued; train it again")
        arrays = runs.load_arrays(parent / runs.STATE)
        state = runs.parse_json(str(arrays.get("state", "")), f"{parent / runs.STATE}: its state")
        self._check_parent(parent, state, fresh_optimizer)
        self.restore(arrays, parent, fresh_optimizer)
        self.parent = {"run": str(parent.resolve()), "epoch": len(self.history), "fresh_optimizer": fresh_optimizer}

    def _check_parent(self, parent: Path, state: Any, fresh_optimizer: bool) -> None:
        """A parent whose weights and optimizer state this run can take, ending before this run's last epoch."""
        try:
            epoch, before = int(state["epoch"]), state["config"]
        except (KeyError, TypeError, ValueError):
            raise RunError(f"{parent / runs.STATE}: not a state file nnfw wrote") from None
        problems = []
        if epoch >= self.config.training.epochs:
            problems.append(f"the run ended at epoch {epoch}, and training.epochs is {self.config.training.epochs}: "
                            f"set it higher (--set training.epochs={max(2 * epoch, epoch + 1)}); it counts every "
                            "epoch, the run's included")
        optimizer = before.get("training", {}).get("optimizer", {})
        if not fresh_optimizer and optimizer.get("type") != self.config.training.optimizer.type:
            problems.append(f"the optimizer is {self.config.training.optimizer.type}, the run's was "
                            f"{optimizer.get('type')}: add --fresh-optimizer to start its state afresh")
        if problems:
            raise RunError("\n".join(f"{parent}: {problem}" for problem in problems))

    def _check_data(self, state: dict) -> None:
        """Refuse a checkpoint of a run whose data file has changed since: it would train on other rows."""
        recorded = state.get("data_sha256")
        if recorded is not None and recorded != self.data.sha256:
            raise ValueError(f"{self.config.data.path} has changed since the run began (sha256 "
                             f"{str(recorded)[:12]}... then, {str(self.data.sha256)[:12]}... now), and the run "
                             "would go on with other rows. Put the file back as it was, or train a new run")

    def _check_config(self, state: dict) -> None:
        """Refuse a checkpoint written for another config: copied from another run, or config.yaml edited since.

        A checkpoint from an nnfw that did not record its config yet is taken as it is.
        """
        if "config_sha256" not in state:
            return
        if state["config_sha256"] == _digest(self.fingerprint):
            return
        saved = state.get("config")
        found = _differences(saved, self.fingerprint) if isinstance(saved, dict) else []
        version = state.get("nnfw_version")
        raise ValueError(
            "it was written for another config than this run's config.yaml"
            + (f" ({'; '.join(found[:5])}{'; ...' if len(found) > 5 else ''})" if found else "")
            + (f", by nnfw {version} (this is {__version__})" if version != __version__ else "")
            + ". Was it copied from another run, or config.yaml edited since? Train a new run instead")

    def snapshot(self, logs: dict) -> None:
        """Keep the predicted probabilities over the boundary grid, as bytes (0-255)."""
        from .metrics import positive_proba

        proba = positive_proba(predict(self.model, self.features(self.grid[2])))
        quantised = np.round(np.clip(np.nan_to_num(proba, nan=0.5), 0, 1) * 255).astype(np.uint8)
        self.snapshots.append({"epoch": logs["epoch"], "train_loss": logs["train_loss"],
                               "val_roc_auc": logs.get(f"{self.held_out}_roc_auc", math.nan),
                               "proba": quantised.reshape(self.grid[0].shape)})

    def _write_snapshots(self) -> None:
        if self.snapshots and self.grid is not None:
            runs.write_snapshots(self.run_dir, self.snapshots, self.grid)


def versions() -> dict[str, str]:
    """The versions a run was made with: nnfw, numpy, Python."""
    return {"nnfw": __version__, "numpy": np.__version__, "python": platform.python_version()}


def config_fingerprint(config: Config) -> dict[str, Any]:
    """What of a resolved config decides how its run trains: all of it but ``output``, ``expect``,
    ``training.max_seconds`` (which judge the run or stop it, and change none of its steps) and
    ``training.threads`` (how many threads do the same steps)."""
    fingerprint = {key: value for key, value in config.resolved().items() if key not in ("output", "expect")}
    fingerprint["training"] = {key: value for key, value in fingerprint["training"].items()
                               if key not in ("max_seconds", "threads")}
    return fingerprint


def config_id(config: Config) -> str:
    """A short hash of ``config_fingerprint``: the same for two configs that train the same run."""
    return _digest(config_fingerprint(config))[:12]


def make_watcher(config: Config, validation: bool) -> Watcher | None:
    """What follows the best epoch: early stopping's monitor, or with a validation split alone
    ``val_loss`` (to report the best epoch); None without either."""
    stopping = config.training.early_stopping
    if stopping is not None:
        return Watcher(stopping.monitor, stopping.patience, stopping.min_delta)
    return Watcher("val_loss") if validation else None


def held_out_scores(model: Model, X: np.ndarray, y: np.ndarray, loss: Loss, prefix: str,
                    scored: tuple[float, np.ndarray] | None = None) -> dict[str, float]:
    """``{prefix}_loss``, ``{prefix}_roc_auc`` and ``{prefix}_accuracy`` of ``model`` on ``(X, y)``;
    ``scored`` is ``score(model, X, y, loss)`` when it is known already."""
    from .metrics import predicted_labels, roc_auc

    value, output = score(model, X, y, loss) if scored is None else scored
    return {f"{prefix}_loss": value, f"{prefix}_roc_auc": roc_auc(y, output),
            f"{prefix}_accuracy": float(np.mean(predicted_labels(output) == y))}


def _spec(section: Any) -> dict[str, Any] | None:
    """A config section as plain data (None stays None)."""
    return None if section is None else section.model_dump(mode="json")


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays whose key starts with ``prefix``, the prefix taken off."""
    return {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}


def _named_history(history: list[dict], validation: bool) -> list[dict]:
    """A checkpoint's history with its held-out scores named for their split: an nnfw before
    validation splits called the test split's per-epoch scores ``val_*``."""
    if validation or not isinstance(history, list) or \
            not any("val_loss" in logs for logs in history if isinstance(logs, dict)):
        return history
    return [{(f"test_{key[4:]}" if key.startswith("val_") else key): value for key, value in logs.items()}
            if isinstance(logs, dict) else logs for logs in history]


def _digest(fingerprint: Any) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


_ABSENT = object()


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two resolved configs differ, one line each:
    ``training.learning_rate: 0.02 in the checkpoint, 0.05 in config.yaml``."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [key for key in new if key not in old]
        return [line for key in keys for line in _differences(old.get(key, _ABSENT), new.get(key, _ABSENT),
                                                             f"{path}.{key}" if path else str(key))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for i, (a, b) in enumerate(zip(old, new)) for line in _differences(a, b, f"{path}[{i}]")]
    if old == new and type(old) is type(new):
        return []
    show = lambda value: "absent" if value is _ABSENT else json.dumps(value)  # noqa: E731
    return [f"{path or 'the config'}: {show(old)} in the checkpoint, {show(new)} in config.yaml"]


def _snapshot_grid(train: np.ndarray, test: np.ndarray | None) -> tuple[Any, Any]:
    """The box of the plane's points (the training points only when ``test`` is None) and the
    snapshots' grid over it."""
    from .plots import grid_over, plane_box

    box = plane_box(train, test)
    return box, grid_over(box, SNAPSHOT_RESOLUTION)


def _snapshot_interval(every: int, epochs: int) -> int:
    """``every``, or the least multiple of it that keeps at most MAX_SNAPSHOTS snapshots.

    Snapshots are taken at epoch 1, at each multiple of the interval and at the last epoch.
    """
    needed = math.ceil(epochs / (MAX_SNAPSHOTS - 3))
    return every if every == 0 or every >= needed else every * math.ceil(needed / every)


def snapshot_epochs(every: int | None, epochs: int) -> frozenset[int]:
    """The epochs whose decision boundary is kept, epoch 0 (the initial weights) among them.

    By default about SNAPSHOT_POINTS epochs spaced evenly on a log scale (1, 2, 3, 5, 8, ...): a
    boundary changes most in the first epochs, which evenly spaced snapshots would skip. With
    ``every`` set: epochs 0 and 1, each multiple of ``every`` (of a multiple of it, past
    MAX_SNAPSHOTS) and the last; ``every: 0`` keeps none.
    """
    if every == 0:
        return frozenset()
    if every is None:
        spaced = np.unique(np.round(np.geomspace(1, epochs, SNAPSHOT_POINTS)).astype(np.int64))
        return frozenset([0, *map(int, spaced)])
    interval = _snapshot_interval(every, epochs)
    return frozenset([0, 1, epochs, *range(interval, epochs + 1, interval)])


class _Tracker:
    """Per-epoch callback: records the learning rate, scores the held-out split watched during
    training now and then (the validation split when there is one, else the test split),
    snapshots, records, lets the schedule and the watcher choose, checkpoints, stops."""

    def __init__(self, session: Session, progress: ProgressCallback | None, stop: StopRequest) -> None:
        training = session.config.training
        self.session, self.progress, self.stop = session, progress, stop
        self.epochs = training.epochs
        self.eval_every = training.eval_interval()
        self.snapshot_epochs = snapshot_epochs(training.snapshot_every, self.epochs) \
            if session.grid is not None else frozenset()
        self.checkpoint_every = training.checkpoint_every
        self.max_seconds = training.max_seconds
        self.diverged: int | None = None
        self.time_limited = False

    def __call__(self, model: Model, logs: dict) -> None:
        epoch, session = logs["epoch"], self.session
        logs["lr"] = session.optimizer.learning_rate  # the rate this epoch's steps were taken with
        if not math.isfinite(logs["train_loss"]):
            self.diverged, model.stop_training = epoch, True
        else:
            if epoch % self.eval_every == 0 or epoch in (1, self.epochs):
                logs.update(session.score_held_out(epoch))
            if epoch in self.snapshot_epochs:
                session.snapshot(logs)
        session.history.append(logs)
        if self.diverged is None:
            model.stop_training = session.observe(logs) or self.stop.signum is not None
            if self.checkpoint_every and epoch % self.checkpoint_every == 0 and epoch < self.epochs:
                session.write_checkpoint()
            if self.max_seconds is not None and epoch < self.epochs and session.session_seconds() >= self.max_seconds:
                self.time_limited = True
            model.stop_training = model.stop_training or self.time_limited
        if self.progress is not None:
            self.progress({**logs, "seconds": session.elapsed(), "held_out": session.held_out})


# -- scoring in bounded memory ----------------------------------------------------------------


def batch_size(model: Model, in_features: int | None = None) -> int:
    """Rows per forward pass so that one pass's activations stay under ACTIVATION_BYTES.

    An activation keeps its output for backward until its next forward pass, so every layer's
    output may be alive at once, the previous batch's too: a row costs twice the input's width
    plus every layer's output width. At most MAX_BATCH rows, at least one. ``in_features``
    defaults to the width the model's first layer states.
    """
    width = in_features or model_width(model)
    if width is None:
        return MAX_BATCH
    widths = layer_widths(model, width)
    return int(max(1, min(MAX_BATCH, ACTIVATION_BYTES // (2 * sum(widths) * model.dtype.itemsize))))


def predict(model: Model, X: np.ndarray) -> np.ndarray:
    """``model.predict(X)`` in batches of ``batch_size`` rows."""
    return model.predict(X, batch_size=batch_size(model, X.shape[1]))


def evaluate(model: Model, X: np.ndarray, y: np.ndarray, loss: Loss, rows: int | None = None) -> float:
    """``model.evaluate(X, y, loss)``, the mean loss, in batches of ``rows`` (``batch_size``) rows.

    Losses average over the batch (and over the outputs, which every row has as many of), so
    the mean of the batches' losses weighted by their sizes is the loss; a split of one batch
    is scored in one call, as it always was.
    """
    rows = rows or batch_size(model, X.shape[1])
    if len(X) <= rows:
        return model.evaluate(X, y, loss)
    total = sum(model.evaluate(X[i : i + rows], y[i : i + rows], loss) * len(X[i : i + rows])
                for i in range(0, len(X), rows))
    return float(total / len(X))


def score(model: Model, X: np.ndarray, y: np.ndarray, loss: Loss) -> tuple[float, np.ndarray]:
    """``(evaluate(model, X, y, loss), predict(model, X))`` from one pass through the network,
    in the same batches: the same numbers, in half the time."""
    rows = batch_size(model, X.shape[1])
    if len(X) <= rows:
        return model.score(X, y, loss)
    parts = [model.score(X[i : i + rows], y[i : i + rows], loss) for i in range(0, len(X), rows)]
    total = sum(value * len(X[i : i + rows]) for (value, _), i in zip(parts, range(0, len(X), rows)))
    return float(total / len(X)), np.concatenate([output for _, output in parts])


# -- results ----------------------------------------------------------------------------------


def final_metrics(model: Model, data: Split, loss: Loss, scored: tuple[float, np.ndarray] | None = None,
                  auc: float | None = None) -> dict[str, Any]:
    """ROC AUC first, then the other metrics, on the held-out split.

    Two classes: ``roc_auc``, ``roc_auc_thresholded``, ``accuracy``; more: every metric of
    ``metrics.multiclass_metrics`` (per class, the confusion matrix), by class name. ``scored``
    is the test split's ``score(model, data.X_test, data.y_test, loss)`` when it is known already,
    ``auc`` its two-class ROC AUC.
    """
    from .metrics import classification_metrics, multiclass_metrics

    loss_value, output = score(model, data.X_test, data.y_test, loss) if scored is None else scored
    if data.n_classes > 2:
        metrics: dict[str, Any] = multiclass_metrics(data.y_test, output, data.class_names)
    else:
        metrics = classification_metrics(data.y_test, output, auc)
    metrics["loss"] = loss_value
    metrics["n_train"], metrics["n_test"] = len(data.y_train), len(data.y_test)
    return metrics


def write_results(run_dir: Path, config: Config, model: Model, data: Split, history: list[dict],
                  metrics: dict[str, Any], pictures: bool = True, dpi: int = 150, *,
                  test_output: np.ndarray | None = None, box: Any = None) -> None:
    """The model, history, transform and pictures (at ``dpi``) of a run (``metrics`` says what to
    draw); not metrics.json.

    The pictures of the test split (decision boundary, confusion matrix) are drawn once it has
    been scored: not for a run that diverged, nor for one interrupted while a validation split chose.
    ``test_output`` (the network's output on the test split, as the metrics were scored from) and
    ``box`` (``plots.plane_box`` of the plane's train and test points) are computed when not given.
    """
    import pandas as pd

    runs.save_model(model, run_dir / runs.MODEL)
    runs.write_json(run_dir / TRANSFORM, data.transform.to_dict())
    frame = pd.DataFrame(history, columns=history_columns(data.has_validation))
    with runs.atomic_path(run_dir / runs.HISTORY) as tmp:
        frame.to_csv(tmp, index=False)
    if not pictures:
        return
    from . import plots
    from .beside import beside

    auc = metrics.get("roc_auc")
    auc = math.nan if auc is None else auc

    def here() -> None:
        draw_loss_curve(run_dir, config, model, frame, best_epoch=metrics.get("best_epoch"), dpi=dpi)
        if "roc_auc" in metrics:
            draw_confusion_matrix(run_dir, config, model, data, auc, dpi=dpi, output=test_output)

    def there() -> None:  # about as long to draw as the two pictures above, on another core
        draw_decision_boundary(run_dir, config, model, data, auc, dpi=dpi, box=box)

    if "roc_auc" in metrics and data.plane(test=False) is not None:
        plots.import_drawing()  # once, not in both processes
        beside(here, there, clean=lambda: runs.remove_stale_temporaries(run_dir))
    else:
        here()


def history_columns(validation: bool) -> list[str]:
    """history.csv's columns: ``val_*`` are the validation split's scores (with one), ``test_*``
    the test split's (every few epochs without a validation split; else once, on the row of the
    epoch whose weights model.npz holds), ``lr`` the epoch's learning rate."""
    held_out = [f"{split}_{name}" for split in (("val", "test") if validation else ("test",))
                for name in ("loss", "roc_auc", "accuracy")]
    return ["epoch", "train_loss", *held_out, "lr"]


TRANSFORM = "transform.json"  # the fitted feature transform and the class names


def picture_title(config: Config, model: Model, auc: float | None = None) -> str:
    """The title of a run's pictures: dataset, architecture and, if given, the test ROC AUC
    ("n/a" where it is undefined: the held-out split has one class)."""
    width = model_width(model)
    name = Path(config.data.path).name if config.data.dataset == "csv" and config.data.path else config.data.dataset
    parts = [name, architecture_label(model, input_width(config) if width is None else width)]
    if auc is not None:
        parts.append(f"test ROC AUC {auc:.4f}" if math.isfinite(auc) else "test ROC AUC n/a")
    return " · ".join(parts)


def draw_loss_curve(run_dir: Path, config: Config, model: Model, history: Any, suffix: str = ".png",
                    dpi: int = 150, best_epoch: int | None = None) -> Path:
    """``loss_curve.png``: train, validation and test loss by epoch, ROC AUC on a second axis,
    the best epoch marked, and with a schedule the learning rate in a thin panel below; the
    title names the run, its optimizer and learning rate besides the data and architecture."""
    from . import plots

    training = config.training
    schedule = f" ({training.lr_schedule.type} schedule)" if training.lr_schedule is not None else ""
    title = " · ".join([picture_title(config, model), Path(run_dir).resolve().name,
                        f"{training.optimizer.type}, learning rate {training.learning_rate:g}{schedule}"])
    with np.errstate(over="ignore"):  # a diverged run's losses near 1e308 overflow the log axis's transform
        marks = {"best_epoch": best_epoch} if best_epoch is not None else {}
        marks.update({"learning_rate": True} if training.lr_schedule is not None else {})
        figure = plots.loss_curve(history, title=title, **marks)
        return plots.save_figure(figure, run_dir / f"loss_curve{suffix}", dpi)


def draw_decision_boundary(run_dir: Path, config: Config, model: Model, data: Split, auc: float,
                           suffix: str = ".png", dpi: int = 150, box: Any = None) -> Path | None:
    """``decision_boundary.png``; None for data that is not 2-D (no plane to draw).

    Two classes: P(class 1) over the plane; more: each class's region. The grid spans ``box``,
    by default ``plots.plane_box`` of the plane's train and test points.
    """
    from . import plots
    from .metrics import positive_proba

    plane = data.plane()  # the input plane, before any Playground features
    if plane is None:
        return None
    train, test, features = plane
    grid = plots.grid_over(plots.plane_box(train, test) if box is None else box)
    output = predict(model, features(grid[2]))
    named: dict[str, Any] = {}
    if data.n_classes > 2 or data.transform.target is not None:
        named = {"class_names": data.class_names, "feature_names": data.feature_names}
    proba = output if data.n_classes > 2 else positive_proba(output)
    figure = plots.decision_boundary(proba, grid, train, data.y_train, test, data.y_test,
                                     picture_title(config, model, auc), **named)
    return plots.save_figure(figure, run_dir / f"decision_boundary{suffix}", dpi)


def draw_confusion_matrix(run_dir: Path, config: Config, model: Model, data: Split, auc: float,
                          suffix: str = ".png", dpi: int = 150, output: np.ndarray | None = None) -> Path:
    """``confusion_matrix.png``: the held-out split's true classes against the predicted ones.

    ``output`` is the network's output on the test split when it is known already.
    """
    from . import plots
    from .metrics import confusion_counts

    output = predict(model, data.X_test) if output is None else output
    with np.errstate(invalid="ignore"):
        counts = confusion_counts(data.y_test, output, data.class_names)["counts"]
    figure = plots.confusion_matrix(np.asarray(counts), data.class_names, picture_title(config, model, auc))
    return plots.save_figure(figure, run_dir / f"confusion_matrix{suffix}", dpi)
