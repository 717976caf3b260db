"""Using a saved run: score it again, redraw its pictures, animate its training, predict.

The work is bounded whatever the run or the request: rows go through a model in batches whose
activations stay under experiment.ACTIVATION_BYTES, fresh data is made and scored FRESH_CHUNK
samples at a time up to MAX_FRESH_SAMPLES, and neurons.png draws at most MAX_UNITS_DRAWN units of
a layer.
Files written into a run folder are written with its lock held (``runs.lock``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from . import runs
from .config import Config
from .data import DATASETS, file_sha256, make_dataset
from .errors import DataError, ModelFileError, RunError, WriteError
from .experiment import (TRANSFORM, Split, Streams, batch_size, build_model,
                         draw_decision_boundary, draw_loss_curve, input_width, layer_label, load_data,
                         model_width,
                         picture_title)
from .experiment import evaluate as evaluate_loss
from .features import Transform
from .nn import Model, get_loss

FRESH_CHUNK = 10**6  # fresh samples made and scored at a time: 16 MB of 2-D points
# Every fresh sample's output and label are kept (ROC AUC ranks them all), 16 bytes a sample, and
# scikit-learn's ranking takes a few times that again: 10^7 samples stay near 1 GB. A larger sample
# says nothing more: ROC AUC's standard error on 10^7 samples is below 3 * 10^-4 already.
MAX_FRESH_SAMPLES = 10**7
MAX_UNITS_DRAWN = 32  # heat maps of one layer in neurons.png: four rows of eight


@dataclass
class SavedRun:
    """A run folder read back: its config, model and (rebuilt) data."""

    run_dir: Path
    config: Config
    model: Model
    note: str | None = None  # which run this is, for people, when it was not named as it is
    transform: Transform | None = None  # transform.json; None: generated data as it is (older runs)

    @classmethod
    def open(cls, run_dir: str | Path | None, output_dir: str | Path = "outputs") -> "SavedRun":
        """The run ``run_dir`` (a link is followed), or with None the newest under ``output_dir``."""
        path, note = runs.choose_run(run_dir, output_dir)
        refuse_a_folder_of_runs(path)
        runs.require(path, runs.HISTORY)  # every run writes one: a folder without it is not a whole run
        config, model = runs.read_config(path), runs.read_model(path)
        transform = read_transform(path)
        width = transform.n_features if transform is not None else input_width(config)
        expected = build_model(config, np.random.default_rng(0), width).get_config()
        if model.get_config() != expected:
            raise RunError(f"{path / runs.MODEL}: its architecture does not match {path / runs.CONFIG}")
        return cls(path, config, model, note, transform)

    def data(self) -> Split:
        """The run's data made again from its config, split as it was; a data file that has changed
        since the run was trained (not the sha256 its metrics.json recorded) is refused."""
        path = self.config.data.path
        recorded = _recorded(self.run_dir, "data_sha256", str) if path is not None else None
        try:
            split = load_data(self.config)
        except DataError:  # a file changed into one that cannot be read is told of as changed
            now = file_sha256(path) if recorded is not None else None
            if now is None or now == recorded:
                raise
            raise self._changed(path, recorded, now) from None
        if recorded is not None and split.sha256 != recorded:
            raise self._changed(path, recorded, str(split.sha256))
        return split

    def _changed(self, path: str, recorded: str, now: str) -> DataError:
        return DataError(f"{path}: the file has changed since {self.run_dir} was trained (sha256 {recorded[:12]}... "
                         f"then, {now[:12]}... now): its rows and split would not be the run's. Put it back as it "
                         f"was, or score it as it is now with: nnfw eval {self.run_dir} --data {path}")

    @property
    def n_features(self) -> int:
        return self.transform.n_features if self.transform is not None else input_width(self.config)

    @property
    def class_names(self) -> list[str] | None:
        """The class names the run was trained on; None for an older run (classes 0 .. k-1)."""
        return list(self.transform.class_names) if self.transform is not None else None

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n_rows, k)`` for new rows, columns in ``class_names`` order.

        ``X`` holds the raw inputs, as the training data did: a pandas DataFrame whose columns are
        matched by name (text cells allowed for categorical columns), or an array with the run's
        columns in order. The run's encoding, Playground features and scaling are applied first,
        as ``nnfw predict`` applies them.
        """
        from .features import apply
        from .metrics import class_probabilities

        inputs = np.asarray(X, dtype=np.float64) if self.transform is None else apply(self.transform, X, "X")
        if inputs.ndim != 2 or inputs.shape[1] != self.n_features:
            raise DataError(f"X: expected rows of {self.n_features} inputs, got an array of shape {inputs.shape}")
        return class_probabilities(_checked_output(self.model, inputs, "X", 1))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row of ``X`` (see ``predict_proba``): its name when
        the run has class names (a CSV's ``Adelie``, a generated set's ``"1"``), else 0 .. k-1."""
        labels = self.predict_proba(X).argmax(axis=1)
        names = self.class_names
        return np.asarray(names, dtype=object)[labels] if names else labels


def load_run(run_dir: str | Path) -> SavedRun:
    """A finished run folder, ready to predict from Python: ``load_run(run.run_dir).predict(X)``
    applies the run's scaling and encoding, as ``nnfw predict`` does. Raises RunError for a
    folder that is not a whole run or whose training diverged."""
    saved = SavedRun.open(run_dir)
    _require_usable(saved)
    return saved


def _not_a_run_model(path: Path) -> None:
    """A RunError for the model file of a run whose inputs go through its transform.json (columns
    matched by name, categories encoded, scaled, Playground features): read bare, it would score
    the rows as they are, silently otherwise than the run does."""
    folder = path.parent
    if not (folder / TRANSFORM).is_file() or not (folder / runs.CONFIG).is_file():
        return
    try:
        transform = read_transform(folder)
    except (RunError, OSError):
        return  # not a run nnfw wrote: the file is a model file as any other
    if transform is not None and (transform.target is not None or transform.expand is not None
                                  or transform.mean is not None or bool(transform.categories)):
        raise RunError(f"{path}: the model of the run {folder}, whose inputs are {_what_it_does(transform)} as its "
                       f"transform.json says; predict with the run: nnfw predict {folder} INPUT.csv")


def _what_it_does(transform: Transform) -> str:
    done = (["matched by column name"] * (transform.target is not None) + ["encoded"] * bool(transform.categories)
            + ["given Playground features"] * (transform.expand is not None) + ["scaled"] * (transform.mean is not None))
    return ", ".join(done[:-1]) + (" and " if len(done) > 1 else "") + done[-1]


def read_transform(run_dir: Path) -> Transform | None:
    """A run's ``transform.json``, or None when it has none (a run of generated data from before it)."""
    path = run_dir / TRANSFORM
    if not os.path.lexists(path):
        return None
    data = runs.read_json(path)
    try:
        return Transform.from_dict(data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise RunError(f"{path}: not a feature transform nnfw wrote: {exc}") from None


def _as_inputs(transform: Transform | None, X: np.ndarray) -> np.ndarray:
    """Generated points as the model takes them: through the run's transform, unless it does nothing."""
    from .features import apply

    if transform is None or (transform.expand is None and transform.mean is None and not transform.categories):
        return X
    return apply(transform, X)


# -- bounded work -----------------------------------------------------------------------------


# -- eval -------------------------------------------------------------------------------------


def evaluate(saved: SavedRun, seed: int | None = None, n_samples: int | None = None,
             noise: float | None = None, data_path: str | Path | None = None,
             expect: tuple[str, ...] | list[str] = (), dpi: int = 150) -> tuple[dict[str, Any], Path]:
    """Score the model on the run's held-out split, on fresh data, or on a labelled CSV file;
    writes ``eval*.json`` and the ROC curve (at ``dpi``).

    ``expect`` are expectations on the metrics of this evaluation (``gates``), judged into its
    ``"expectations"``; one on a metric it does not have is a ConfigError, and nothing is written.

    Fresh data (``seed``, ``n_samples`` or ``noise`` given) is made for generated datasets only,
    FRESH_CHUNK samples at a time, at most MAX_FRESH_SAMPLES; its seed defaults to one other than
    the training data's. ``data_path`` is a CSV with the run's columns and target, encoded and
    scaled as the training rows were.
    """
    config = saved.config
    _require_usable(saved)
    fresh = not (seed is None and n_samples is None and noise is None)
    if data_path is not None:
        if fresh:
            raise DataError("--data scores a file: it takes no --seed, --n-samples or --noise")
        y, output, loss = _score_file(saved, str(data_path))
        tag = f"file-{Path(data_path).stem}"
        described: dict[str, Any] = {"data": str(data_path), "n_samples": len(y)}
    elif not fresh:
        data, tag = saved.data(), ""
        y, (output, loss) = data.y_test, _score(saved, data.X_test, data.y_test, None)
        described = {"data": "held-out test split", "n_samples": len(y)}
    else:
        if config.data.dataset not in DATASETS:
            raise DataError(f"fresh data (--seed, --n-samples, --noise) is made for the generated datasets only "
                            f"({', '.join(DATASETS)}); this run's data is {config.data.dataset}: score it on its "
                            "held-out split (no options) or on a labelled CSV file with --data FILE.csv")
        seed = Streams.from_seed(config.data_seed()).data_seed + 1 if seed is None else seed
        n_samples = n_samples or config.data.n_samples
        noise = config.data.noise if noise is None else noise
        if n_samples > MAX_FRESH_SAMPLES:
            raise DataError(f"{n_samples:,} samples are more than eval scores (at most {MAX_FRESH_SAMPLES:,}): "
                            "every sample's probability is kept to rank them for ROC AUC, and on that many "
                            "ROC AUC is exact to about 3e-4 already")
        y, output, loss = _score_fresh(saved, seed, n_samples, noise)
        tag = f"seed{seed}-n{n_samples}-noise{noise:g}"
        described = {"data": "fresh", "seed": seed, "n_samples": n_samples, "noise": noise}
    metrics = {**scored_metrics(saved, y, output), "loss": loss, **described}
    if expect:
        from . import gates

        expectations = gates.parse_all(expect)
        gates.check_names(expectations, metrics, "the evaluation's metrics")
        metrics["expectations"] = gates.judge(expectations, metrics)
    with runs.lock(saved.run_dir):
        path = _free_name(saved.run_dir, "eval", tag, ".json")
        runs.write_json(path, metrics)
        if len(np.unique(y)) > 1:  # a sample of one class has no ROC curve (and a ROC AUC of None)
            # the held-out split's curve is roc_curve.png (the same whenever it is drawn); any
            # other data's is named as its eval file is, so that it never replaces another curve
            held_out = data_path is None and not fresh
            name = "roc_curve.png" if held_out else "roc_curve" + path.stem[len("eval"):] + ".png"
            draw_roc_curve(saved, y, output, name, dpi,
                           scored=("held-out test split" if held_out else f"fresh data: seed {seed}, noise {noise:g}"
                                   if fresh else f"file {Path(str(data_path)).name}") + f" (n = {len(y):,})")
    return metrics, path


def scored_metrics(saved: SavedRun, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
    """Two classes: ``metrics.evaluation_metrics``; more: ``metrics.multiclass_metrics``, by class name."""
    from .metrics import class_count, evaluation_metrics, multiclass_metrics

    if class_count(output) > 2:
        return multiclass_metrics(y, output, saved.class_names)
    return evaluation_metrics(y, output)


def _score_file(saved: SavedRun, path: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Labels, outputs and mean loss on a labelled CSV with the run's columns and target."""
    from .data import read_table
    from .features import apply, labels

    transform = saved.transform
    if transform is None or transform.target is None:
        raise DataError(f"{saved.run_dir}: --data scores a CSV with a target column, for a run trained on a CSV "
                        f"(dataset: csv); this run's data is {saved.config.data.dataset}")
    table = read_table(path, numbers=True, text=[transform.target, *transform.categories])
    X, y = apply(transform, table, path), labels(transform, table, path)
    output, loss = _score(saved, X, y, None)
    return y, output, loss


def _score(saved: SavedRun, X: np.ndarray, y: np.ndarray, noise: float | None) -> tuple[np.ndarray, float]:
    """The model's output for ``X`` and its loss on ``(X, y)``, in batches; a DataError if not finite."""
    model, rows = saved.model, batch_size(saved.model, X.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, once
        output = model.predict(X, batch_size=rows)
    if not np.all(np.isfinite(output)):
        raise DataError(f"{saved.run_dir}: the model's output is not a finite number on this data"
                        + (f" (noise {noise:g}: try less)" if noise is not None else ""))
    return output, evaluate_loss(model, X, y, get_loss(saved.config.loss), rows)


def _score_fresh(saved: SavedRun, seed: int, n_samples: int, noise: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Labels, outputs and mean loss on fresh data, made and scored FRESH_CHUNK samples at a time.

    Data that fits one chunk is made with ``seed`` itself, as it always was; the chunks of more
    data each have a seed of their own, drawn from ``seed``.
    """
    data, starts = saved.config.data, range(0, n_samples, FRESH_CHUNK)
    labels, outputs, total = [], [], 0.0
    for index, start in enumerate(starts):
        size = min(FRESH_CHUNK, n_samples - start)
        chunk_seed = seed if len(starts) == 1 else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        X, y = make_dataset(data.dataset, size, noise, chunk_seed, **data.options())
        output, loss = _score(saved, _as_inputs(saved.transform, X), y, noise)
        labels.append(y)
        outputs.append(output)
        total += loss * size
    return np.concatenate(labels), np.concatenate(outputs), float(total / n_samples)


def draw_roc_curve(saved: SavedRun, y: np.ndarray, output: np.ndarray, name: str, dpi: int = 150,
                   scored: str | None = None) -> Path:
    """The ROC curve of the model's ``output`` against ``y``, as ``name`` in the run folder; its
    title says which data was scored: ``scored``, by default the held-out test split."""
    from . import plots
    from .metrics import class_count, positive_proba

    title = " · ".join([picture_title(saved.config, saved.model), scored or f"held-out test split (n = {len(y):,})"])
    if class_count(output) > 2:  # one curve per class, one-vs-rest
        figure = plots.roc_curve(y, output, title=title, class_names=saved.class_names)
    else:
        figure = plots.roc_curve(y, positive_proba(output), title=title)
    with runs.lock(saved.run_dir):
        return plots.save_figure(figure, saved.run_dir / name, dpi)


def _free_name(folder: Path, stem: str, tag: str, suffix: str) -> Path:
    """``stem-tag.json`` (``stem.json`` for no tag) if free, else ``stem-tag-2.json``, ``stem-tag-3.json``, ..."""
    first = f"{stem}-{tag}" if tag else stem
    candidates = [f"{first}{suffix}"] + [f"{first}-{i}{suffix}" for i in range(2, 10_000)]
    return next(folder / name for name in candidates if not (folder / name).exists())


# -- pictures ---------------------------------------------------------------------------------

PICTURES = ("loss", "boundary", "roc")


def redraw(saved: SavedRun, what: tuple[str, ...] = PICTURES, fmt: str = "png", dpi: int = 150) -> list[Path]:
    """Redraw the run's pictures from its files alone; returns the files written.

    The decision boundary is drawn in a forked child while this process draws the others
    (``beside``), as ``nnfw train`` does: the same files, and the same errors, as one after the other.
    """
    from .metrics import roc_auc

    config, model, suffix, run_dir = saved.config, saved.model, f".{fmt}", saved.run_dir
    written: dict[str, Path | None] = {}
    with runs.lock(run_dir):
        data = output = None
        if "boundary" in what or "roc" in what:
            data = saved.data()
            output = model.predict(data.X_test, batch_size=batch_size(model, data.X_test.shape[1]))

        def others() -> None:
            if "loss" in what:
                history = named_history(runs.read_history(run_dir), config)
                written["loss"] = draw_loss_curve(run_dir, config, model, history, suffix, dpi,
                                                  best_epoch=_recorded(run_dir, "best_epoch"))
            if "roc" in what:
                written["roc"] = draw_roc_curve(saved, data.y_test, output, f"roc_curve{suffix}", dpi)

        def boundary() -> None:
            draw_decision_boundary(run_dir, config, model, data, roc_auc(data.y_test, output), suffix, dpi)

        if "boundary" in what and data.plane() is not None:
            from . import plots
            from .beside import beside

            plots.import_drawing()  # once, not in both processes
            beside(others, boundary, clean=lambda: runs.remove_stale_temporaries(run_dir))
            written["boundary"] = run_dir / f"decision_boundary{suffix}"
        else:
            others()
    return [written[name] for name in PICTURES if written.get(name) is not None]


def named_history(frame: Any, config: Config) -> Any:
    """history.csv with its held-out columns named for their split: an nnfw from before
    validation splits wrote the test split's scores as ``val_loss`` and ``val_roc_auc``."""
    if config.data.validation_fraction or "test_loss" in frame.columns or "test_roc_auc" in frame.columns:
        return frame
    return frame.rename(columns={name: f"test_{name[4:]}" for name in frame.columns if name.startswith("val_")})


def refuse_a_folder_of_runs(path: Path) -> None:
    """A RunError saying how to name a run, for a sweep's folder (or seed group's) or a folder of
    runs (outputs/) named as a run."""
    from .compare import is_group, is_run

    if is_run(path):
        return
    if is_group(path):
        from .sweep import RUNS

        raise RunError(f"{path}: a sweep's folder, not a run; name one of its runs, in {path / RUNS} "
                       f"(`nnfw runs {path}` lists them)")
    with contextlib.suppress(OSError):
        if any(is_run(child) for child in path.iterdir()):
            raise RunError(f"{path}: a folder of runs, not a run; name one of them (`nnfw runs {path}` lists them)")


def _recorded(run_dir: Path, key: str, kind: type = int) -> Any:
    """``key`` of the run's metrics.json if it is a ``kind``, or None when it is not there (or the
    file cannot be read)."""
    try:
        metrics = runs.read_json(run_dir / runs.METRICS)
    except RunError:
        return None
    value = metrics.get(key) if isinstance(metrics, dict) else None
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def animate(saved: SavedRun, fps: int = 8, dpi: int = 100) -> Path:
    """``decision_boundary.gif`` from the snapshots kept during training, its frames at ``dpi``."""
    from . import plots
    from .experiment import layer_widths

    snapshots, grid = runs.read_snapshots(saved.run_dir)
    if not snapshots:
        classes = max(2, layer_widths(saved.model, saved.n_features)[-1])
        why = (f"its data has {saved.n_features} features" if saved.n_features != 2 else
               f"its data has {classes} classes" if classes > 2 else
               "it was trained with training.snapshot_every: 0" if saved.config.training.snapshot_every == 0 else
               "the file is gone")
        raise RunError(f"{saved.run_dir}: no {runs.SNAPSHOTS}, as {why}; the boundary is recorded as it forms for "
                       "2-D data of two classes, with training.snapshot_every > 0 (the default)")
    xx, yy = grid
    data = saved.data()
    train, test, _ = data.plane() or (data.X_train, data.X_test, None)
    with runs.lock(saved.run_dir):
        return plots.boundary_animation(snapshots, xx, yy, train, data.y_train, test,
                                        data.y_test, saved.run_dir / "decision_boundary.gif",
                                        title=picture_title(saved.config, saved.model), fps=fps, dpi=dpi,
                                        auc_label="val AUC" if saved.config.data.validation_fraction else "test AUC")


def draw_neurons(saved: SavedRun, fmt: str = "png", dpi: int = 150, max_units: int = MAX_UNITS_DRAWN) -> Path:
    """``neurons.png``: hidden units' activations over the input plane (at most ``max_units`` a
    layer, the first ones; the layer's label says so), then the output."""
    from . import plots

    data = saved.data()
    plane = data.plane()  # the input plane, before any Playground features
    if plane is None:
        raise RunError(f"{saved.run_dir}: the data is not 2-D, so there is no plane to draw neurons on")
    train, test, features = plane
    with runs.lock(saved.run_dir):  # before the work: a run in use is refused at once
        grid = plots.boundary_grid(np.vstack([train, test]), 80)
        panels = hidden_activations(saved.model, features(grid[2]), max_units=max_units)
        figure = plots.neurons(panels, grid[0], grid[1], np.vstack([train, test]),
                               np.concatenate([data.y_train, data.y_test]),
                               title=picture_title(saved.config, saved.model))
        return plots.save_figure(figure, saved.run_dir / f"neurons.{fmt}", dpi)


def hidden_activations(model: Model, X: np.ndarray, max_units: int = MAX_UNITS_DRAWN,
                       rows: int | None = None) -> list[tuple[str, np.ndarray]]:
    """``(label, activations)`` after each hidden layer's activation, then the output.

    Only the first ``max_units`` units of a layer are kept, and the label of a layer cut so says
    which (``layer 1 (relu), units 1-32 of 30000``); ``X`` (n_points, n_features) goes through
    in batches of ``rows`` (default: ``batch_size``), so the work is bounded by the widest layer.
    """
    X = np.asarray(X, dtype=model.dtype)
    rows = rows or batch_size(model, X.shape[1])
    labels: list[str] = []
    kept: list[list[np.ndarray]] = []
    for start in range(0, max(len(X), 1), rows):
        panels = _panels(model, X[start : start + rows])
        labels = [label if h.shape[1] <= max_units else f"{label}, units 1-{max_units} of {h.shape[1]}"
                  for label, h in panels]
        kept.append([np.array(h[:, :max_units]) for _, h in panels])
    return [(label, np.concatenate(parts)) for label, parts in zip(labels, zip(*kept))]


def _panels(model: Model, X: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Every hidden layer's activations for ``X``, whole, then the output."""
    panels: list[tuple[str, np.ndarray]] = []
    h, depth, block = X, 0, []  # block: the layers without parameters since the last one with
    for index, layer in enumerate(model.layers):
        h = layer.forward(h)
        block = [] if layer.params else block + [layer_label(layer)]
        last_of_block = index + 1 == len(model.layers) or model.layers[index + 1].params
        if block and last_of_block and index + 1 < len(model.layers):
            depth += 1
            panels.append((f"layer {depth} ({', '.join(block)})", h))
    return panels + [("output", h)]


# -- predict ----------------------------------------------------------------------------------


def _require_usable(saved: SavedRun) -> None:
    """A run that diverged keeps its files, but its model predicts nothing worth scoring."""
    if runs.read_status(saved.run_dir) == "diverged":
        raise RunError(f"{saved.run_dir}: training diverged, so its model gives no usable predictions; "
                       "train again with a smaller training.learning_rate")


def open_model(run: str | Path | None, output_dir: str | Path = "outputs") -> tuple[Model, int, str | None]:
    """The model to predict with, the number of features it takes, and a note saying which run it is.

    ``run`` is a run folder (None: the newest run under ``output_dir``) or a model file saved
    with ``Model.save``; a bare model file has no config, so its features are only counted.
    """
    path = None if run is None else Path(run)
    if path is not None and not path.is_dir():
        if not os.path.lexists(path):
            raise RunError(f"{path}: no such run folder or model file")
        model = read_model_file(path)
        width = model_width(model)
        if width is None:
            raise ModelFileError(f"{path}: no layer of the model says how many features it takes (a linear layer does)")
        return model, width, None
    saved = SavedRun.open(path, output_dir)
    _require_usable(saved)
    return saved.model, saved.n_features, saved.note


def read_model_file(path: Path) -> Model:
    """A model file saved with ``Model.save``, checked as a run's model.npz is (``runs.read_model``)."""
    return runs.read_model_file(path, f"{path}: is a file, not a run folder, and not a usable model file")


PREDICTION_COLUMNS = {"probability": "probabilities of class 1", "predicted": "predicted classes"}


def open_predictor(run: str | Path | None, output_dir: str | Path = "outputs") -> tuple[Model, Transform | None, int, str | None]:
    """``open_model``, with the run's transform (None for a bare model file or an older run)."""
    path = None if run is None else Path(run)
    if path is not None and not path.is_dir():
        model, width, note = open_model(path, output_dir)
        _not_a_run_model(path)
        return model, None, width, note
    saved = SavedRun.open(path, output_dir)
    _require_usable(saved)
    return saved.model, saved.transform, saved.n_features, saved.note


PREDICT_ROWS = 100_000  # rows of a CSV file predicted at a time: a file of millions is never whole in memory


def predict_file(model: Model, transform: Transform | None, n_features: int, path: str) -> Iterator[tuple[Any, list[str]]]:
    """Predictions for the CSV at ``path``, as ``(table, notes)`` for each part of its rows:
    ``predict_named`` for a run trained on a CSV (its columns are matched by name), PREDICT_ROWS
    rows at a time; ``predict_table`` for points, in one part."""
    from .data import read_points, read_points_plainly, read_table_parts, written_plainly

    if transform is not None and transform.target is not None:
        if not transform.categories and written_plainly(path):
            yield from _predict_lines(model, transform, path)
            return
        for table in read_table_parts(path, PREDICT_ROWS, verbatim=True):  # each cell written back as it was
            yield predict_named(model, transform, table)
        return
    width = len(transform.columns) if transform is not None else n_features
    plain = read_points_plainly(path, width) if written_plainly(path) else None
    if plain is None:
        yield predict_table(model, read_points(path, width), transform)
        return
    table, written = plain
    result, notes = predict_table(model, table, transform)
    result.attrs["written"] = (written, table.shape[1])  # its columns' cells as written: ``write_parts``
    yield result, notes


def _predict_lines(model: Model, transform: Transform, path: str) -> Iterator[tuple[Any, list[str]]]:
    """``predict_file`` for a file of numbers written plainly (``data.written_plainly``): parsed
    as numbers, several times faster than as text, each row's cells as written taken from its
    line. Such a table carries ``attrs["written"]``: those lines, and how many of its columns
    they hold. A part with a column that did not read as numbers is read again as text."""
    import itertools

    from .data import lines_as_text, only_a_header, read_table_parts

    found = False
    with runs.open_regular(path, DataError) as handle:  # as the tables' file: never a pipe that waits
        header, read = handle.readline(), 1  # line 1; the tables' index numbers the lines below it
        for table in read_table_parts(path, PREDICT_ROWS, ",", numbers=True):
            last = int(table.index[-1])
            lines = list(itertools.islice(handle, last - read))  # from the previous part's last row to this one's
            read = last
            if any(table[name].dtype.kind not in "fiu" for name in table.columns):
                table = lines_as_text(table, header, lines)
                if len(table):
                    found = True
                    yield predict_named(model, transform, table)
                continue
            # the lines of its rows: blank lines are no rows
            kept = lines if len(lines) == len(table) else [lines[n - last - 1] for n in table.index.tolist()]
            result, notes = predict_named(model, transform, table)
            written = np.array(b"".join(kept).decode("ascii").splitlines(), dtype=object)  # without their ends
            result.attrs["written"] = (written, table.shape[1])  # last: pandas copies attrs deeply at every step
            found = True
            yield result, notes
    if not found:
        raise only_a_header(path)


def predict_table(model: Model, table: Any, transform: Transform | None = None) -> tuple[Any, list[str]]:
    """``table`` from ``data.read_points``, every column as it was, with columns added: for two
    classes of generated data ``probability`` (of class 1) and ``predicted`` (the most probable
    class); otherwise ``prob_<class>`` for each class and ``predicted`` (the class's name).

    A name the table has already is never overwritten: the new column gets a suffix
    (``probability_1``, ...). Returns the new table and a note for people about each such name.
    """
    features = table.attrs["features"].to_numpy(dtype=np.float64)
    source = table.attrs.get("path", "input")
    output = _checked_output(model, _as_inputs(transform, features), source, 1 + table.attrs.get("header", True))
    names = transform.class_names if transform is not None and transform.target is not None else None
    return _with_predictions(table, output, names, source)


def predict_named(model: Model, transform: Transform, table: Any) -> tuple[Any, list[str]]:
    """A table from ``data.read_table`` with ``prob_<class>`` for each class and ``predicted`` (the
    class's name) added; its columns are matched with the run's by name, encoded and scaled as the
    training rows were (``features.apply``); other columns are kept and ignored."""
    from .data import with_missing
    from .features import apply

    source = table.attrs.get("path", "input")
    X = apply(transform, with_missing(table, transform.columns), source)
    output = _checked_output(model, X, source, None, list(table.index))
    result, notes = _with_predictions(table, output, transform.class_names, source)
    header = table.attrs.get("header", [])
    if header != list(table.columns):  # as written: spaces around a name, a column without one (not 'Unnamed: 3')
        result.columns = [*header, *result.columns[len(header):]]
    return result, notes


def _checked_output(model: Model, X: np.ndarray, source: str, first_line: int | None,
                    lines: list | None = None) -> np.ndarray:
    """The model's output for ``X``, in batches; a DataError naming the first row whose output is not finite."""
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, once
        output = model.predict(X, batch_size=batch_size(model, X.shape[1]))
    bad = ~np.isfinite(output).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        line = lines[row] if lines is not None else row + first_line
        raise DataError(f"{source}: row {row + 1} (line {line}): the model's "
                        "output for this point is not a finite number; are its values far too large?")
    return output


def _with_predictions(table: Any, output: np.ndarray, class_names: list[str] | None, source: str) -> tuple[Any, list[str]]:
    from .metrics import class_count, class_probabilities, positive_proba, predicted_labels

    result = table.copy()
    result.attrs = {}
    k = class_count(output)
    if class_names is None and k == 2:  # generated data, two classes: as it always was
        added = list(zip(PREDICTION_COLUMNS, (positive_proba(output), predicted_labels(output)),
                         PREDICTION_COLUMNS.values()))
    else:
        names = list(class_names) if class_names is not None and len(class_names) == k else [str(i) for i in range(k)]
        proba = class_probabilities(output)
        added = [(f"prob_{name}", proba[:, i], f"probabilities of class {name}") for i, name in enumerate(names)]
        added.append(("predicted", np.asarray(names, dtype=object)[predicted_labels(output)], "predicted classes"))
    notes = []
    for name, values, what in added:
        column = _free_column(result.columns, name)
        if column != name:
            notes.append(f"{source}: has a column named {name!r} already; the {what} are in column {column!r}")
        result.insert(len(result.columns), column, values)
    return result, notes


def _free_column(columns: Any, name: str) -> str:
    """``name``, or ``name_1``, ``name_2``, ...: the first that is not a column yet."""
    taken = {str(column) for column in columns}
    return next(c for c in [name] + [f"{name}_{i}" for i in range(1, len(taken) + 2)] if c not in taken)


def write_table(tables: Iterable[Any], output: Path, input_path: Path, overwrite: bool) -> tuple[Path, int]:
    """Write ``tables``, parts of one table, as one CSV to ``output``, atomically; returns the file
    written and its number of rows.

    Only a regular file is replaced, with ``overwrite``, and never the input itself; a link to a
    regular file is written through (the file it leads to is replaced, the link kept). A device,
    a FIFO, a folder, a link to none of these or to nothing is a WriteError, and is left as it was.
    """
    target = _output_file(output, input_path, overwrite)
    with runs.atomic_path(target) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            rows = write_parts(tables, handle)
        _output_file(output, input_path, overwrite)  # again: something may have been put there meanwhile
    return target, rows


def write_parts(tables: Iterable[Any], handle: Any) -> int:
    """Write ``tables``, parts of one table, as one CSV (the header once) to the open text file
    ``handle``; returns the number of rows.

    The bytes are those of pandas' ``to_csv(index=False)``: minimal quoting (a cell holding the
    separator, a quote or a line break is quoted, its quotes doubled), missing cells empty, floats
    in numpy's shortest form. A table of the kinds of column predictions have (text cells kept
    as written, probabilities, labels) is written here, a line per row joined from its cells,
    several times faster than pandas, which checks each column for missing cells in small chunks.
    """
    import csv

    rows = 0
    for part, table in enumerate(tables):
        written, n = table.attrs.pop("written", (None, 0))  # the first n columns' cells as written, a line a row
        cells = ([] if written is None else [written]) + [_csv_cells(table.iloc[:, i]) for i in range(n, table.shape[1])] \
            if table.shape[1] > 1 else [None]
        if any(column is None for column in cells):  # another kind of column, or a single one (an empty row is '""')
            table.to_csv(handle, index=False, header=not part)
        else:
            if not part:
                csv.writer(handle, lineterminator=os.linesep).writerow(list(table.columns))
            for start in range(0, len(table), 10_000):  # a block of lines at a time
                lines = [",".join(row) for row in zip(*(column[start : start + 10_000] for column in cells))]
                handle.write(os.linesep.join(lines) + os.linesep if lines else "")
        rows += len(table)
    return rows


@functools.cache
def _quoted() -> tuple[str, ...]:
    """The characters that make this Python's csv module quote a cell, as ``to_csv`` writes:
    the separator and the quote, and line breaks (which ones varies with the Python version)."""
    import csv
    import io

    found = []
    for char in map(chr, range(128)):  # it compares cells with its ASCII dialect characters only
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=os.linesep).writerow([f"a{char}b", "c"])
        if buffer.getvalue().startswith('"'):
            found.append(char)
    return tuple(found)


def _csv_cells(column: Any) -> np.ndarray | None:
    """The cells of ``column`` as text, as ``to_csv`` writes them, for the kinds of column a
    prediction table has (text, floating point, integers, booleans); None for any other."""
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) or dtype == object:
        cells = column.to_numpy(dtype=object, copy=True)
        cells[column.isna().to_numpy()] = ""
    elif isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = column.to_numpy()
        if dtype == np.float64:  # Python's repr: numpy's shortest digits, in half the time
            cells = np.fromiter(map(repr, values.tolist()), dtype=object, count=len(values))
        else:
            cells = values.astype(str).astype(object)  # float32's own shortest digits
        cells[np.isnan(values)] = ""
    elif isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return np.fromiter(map(str, column.to_numpy().tolist()), dtype=object, count=len(column))
    else:
        return None
    try:
        whole = "\0".join(cells)  # one search per column: most columns quote no cell
    except TypeError:  # a cell that is not text (an object column of numbers): pandas knows how
        return None
    special = _quoted()
    if any(char in whole for char in special):
        quoted = [i for i, cell in enumerate(cells) if any(char in cell for char in special)]
        cells[quoted] = ['"' + cells[i].replace('"', '""') + '"' for i in quoted]
    return cells


def _output_file(output: Path, input_path: Path, overwrite: bool) -> Path:
    """The regular file to write for ``output`` (the file a link leads to), checked as ``write_table`` says."""
    target = Path(os.path.realpath(output)) if output.is_symlink() else output
    shown = str(output) if target == output else f"{output}: a link to {target}"
    try:
        info = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        if target != output:
            raise WriteError(f"{shown}, which does not exist; name a file to write", str(output)) from None
        if not target.parent.is_dir():
            what = "is a file, not a folder" if target.parent.exists() else "no such folder"
            raise WriteError(f"{target.parent}: {what}", str(output)) from None
        return target
    except OSError as exc:
        raise WriteError(f"{shown}: cannot be checked: {exc.strerror or exc}", str(output)) from None
    if stat.S_ISDIR(info.st_mode):
        raise WriteError(f"{shown}: is a directory; name a file to write", str(output))
    if not stat.S_ISREG(info.st_mode):
        raise WriteError(f"{shown}: {runs._what(info.st_mode)}; predictions are written to regular files only",
                         str(output))
    source = os.stat(input_path)
    if (info.st_dev, info.st_ino) == (source.st_dev, source.st_ino):
        raise WriteError(f"{shown}: is the input file itself; write the predictions to another file", str(output))
    if not overwrite:
        raise WriteError(f"{output}: exists; choose another name or pass --overwrite", str(output))
    return target
