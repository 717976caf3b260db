"""Smoke runs: each config shrunk to a run of about a second that goes through every code path.

A smoke run keeps the config's layers, loss, optimizer, learning rate and batch size, and takes
a few hundred rows of its data (``SMOKE_ROWS``: fewer generated samples, or for a CSV or a real
data set a stratified sample of its rows, ``data.max_rows``, so every class is still there) for a
few epochs (``SMOKE_EPOCHS``). It trains and saves the run as ``nnfw train`` does, reloads it,
scores it as ``nnfw eval`` does, draws every picture ``nnfw plot`` draws, predicts a few rows
from a CSV file as ``nnfw predict`` does, and checks at each step what a broken change would
show: the loss stays finite and training lowers it, the reloaded model predicts exactly what the
trained one did, evaluation finds the metrics training reported, and every file of the run
folder is whole.
Expectations (``expect``) are for full runs and are not applied; nor is a time limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .errors import NnfwError, TrainingDiverged

SMOKE_ROWS = 300     # rows of data at most, before the train/test split
SMOKE_EPOCHS = 5     # epochs at most
SMOKE_DPI = 40       # pictures are drawn whole, at a low resolution: the same code, a fraction of the time
PREDICT_ROWS = 5     # rows of the CSV file given to predict
SMOKE_UNITS = 4      # hidden units a layer drawn in neurons.png: the maps of a wide layer cost the most time

STAGES = ("config", "train", "reload", "loss", "eval", "pictures", "predict", "files")  # in their order


@dataclass
class SmokeResult:
    """The outcome of one config's smoke run."""

    config: str
    passed: bool = False
    seconds: float = 0.0
    stage: str | None = None    # where it failed: one of STAGES
    message: str | None = None  # why, for people
    details: str = ""           # a traceback, for an error nnfw did not expect
    bad_input: bool = False     # the config could not be read or validated
    run_dir: str | None = None
    rows: int | None = None     # train + test rows of the smoke run
    epochs: int | None = None
    loss: list[float] = field(default_factory=list)  # train loss of the first and the last epoch
    files: list[str] = field(default_factory=list)   # the files of the run folder, all checked

    @property
    def reason(self) -> str | None:
        """Why it failed, after the stage where: ``loss: training did not lower the loss ...``."""
        if self.passed:
            return None
        return f"{self.stage}: {self.message}" if self.stage else str(self.message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SmokeFailure(Exception):
    """A check of a smoke run that did not hold."""


@contextlib.contextmanager
def _stage(result: SmokeResult, name: str) -> Iterator[None]:
    """Run one stage; nnfw's own errors and failed checks become the result's failure, named by stage."""
    result.stage = name
    try:
        yield
    except (SmokeFailure, NnfwError) as exc:
        raise _Stopped(name, str(exc), bad_input=name == "config") from None


class _Stopped(Exception):
    def __init__(self, stage: str, message: str, bad_input: bool = False) -> None:
        super().__init__(message)
        self.stage, self.message, self.bad_input = stage, message, bad_input


# -- one config -------------------------------------------------------------------------------


def shrink(config: Any, output_dir: str | os.PathLike) -> Any:
    """The smoke run of ``config``: at most SMOKE_ROWS rows and SMOKE_EPOCHS epochs, into ``output_dir``,
    with no expectations and no time limit; everything else as the config has it."""
    from .config import validate
    from .data import DATASETS

    raw = config.resolved()
    data, training = raw["data"], raw["training"]
    if data["dataset"] in DATASETS:
        data["n_samples"] = min(data["n_samples"], SMOKE_ROWS)
    else:
        data["max_rows"] = min(data.get("max_rows") or SMOKE_ROWS, SMOKE_ROWS)
    training["epochs"] = min(training["epochs"], SMOKE_EPOCHS)
    schedule = training.get("lr_schedule")
    if isinstance(schedule, dict) and schedule.get("warmup_epochs"):  # shorter too: the rate still peaks
        schedule["warmup_epochs"] = min(schedule["warmup_epochs"], training["epochs"] - 1)
    if training["snapshot_every"] != 0:  # two boundary snapshots, the first epoch's and the last's: two frames
        training["snapshot_every"] = training["epochs"]
    training["max_seconds"] = None
    raw["expect"], raw["output"]["dir"] = [], str(output_dir)
    return validate(raw, source="the smoke run's config")


def smoke_one(path: str | os.PathLike, output_dir: str | os.PathLike, name: str | None = None) -> SmokeResult:
    """The smoke run of the config at ``path``, in a new run folder under ``output_dir``.

    Never raises for a config that fails: the result says where and why. An error nnfw did not
    expect (a bug) fails the config too, with its traceback in ``details``.
    """
    result = SmokeResult(str(path))
    started = time.perf_counter()
    try:
        # a config that breaks overflows on its way: the result says so once, not numpy's warnings
        with _one_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _smoke(Path(path), Path(output_dir), name, result)
        result.passed, result.stage = True, None
    except _Stopped as stopped:
        result.stage, result.message, result.bad_input = stopped.stage, stopped.message, stopped.bad_input
    except Exception as exc:  # noqa: BLE001 -- any error is this config's failure, as a test runner reports it
        result.message = f"{type(exc).__name__}: {exc}"
        result.details = traceback.format_exc()
    result.seconds = time.perf_counter() - started
    return result


def _smoke(path: Path, output_dir: Path, name: str | None, result: SmokeResult) -> None:
    from . import experiment
    from . import saved as saved_runs
    from .config import load_config

    with _stage(result, "config"):
        config = shrink(load_config(path), output_dir)
    with _stage(result, "train"):
        try:
            run = experiment.train(config, path.stem, name, dpi=SMOKE_DPI)
        except TrainingDiverged as exc:
            result.run_dir = exc.run_dir
            raise SmokeFailure(str(exc).split(" The history and loss curve")[0]) from None
    result.run_dir, result.epochs = str(run.run_dir), len(run.history)
    result.rows = int(run.metrics["n_train"] + run.metrics["n_test"])
    with _stage(result, "reload"):
        saved = saved_runs.SavedRun.open(run.run_dir)
        data = saved.data()
        check_same_predictions(run.model, saved.model, data.X_test)
    with _stage(result, "loss"):
        result.loss = check_loss(config, run.model, data, run.history)
    with _stage(result, "eval"):
        metrics, _ = saved_runs.evaluate(saved, dpi=SMOKE_DPI)
        check_same_metrics(run.metrics, metrics)
    with _stage(result, "pictures"):
        draw_pictures(saved, data)
    with _stage(result, "predict"):
        predict_rows(saved, run.run_dir)
    with _stage(result, "files"):
        result.files = check_files(run.run_dir, expected_files(saved, data))


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """BLAS on one thread: a smoke run's products are far too small to gain from more, and threads
    waiting on a busy sibling (another smoke run, a CI neighbour) make them many times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings threadpoolctl; without it, BLAS keeps its own choice
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# -- the checks -------------------------------------------------------------------------------


def check_loss(config: Any, model: Any, data: Any, history: list[dict]) -> list[float]:
    """The loss on the training rows before training (the same initial weights, made again from
    the seed) and after; a SmokeFailure unless every epoch's loss is finite and training lowered it.

    Before and after, not the first epoch's mean: an epoch that blows the loss up to 10^10 and the
    next ones that bring it back to 10^3 would "fall", and the model would be useless.
    """
    from .experiment import Streams, build_model
    from .experiment import evaluate as loss_of
    from .nn import get_loss

    bad = [logs["epoch"] for logs in history if not math.isfinite(float(logs["train_loss"]))]
    if bad:
        raise SmokeFailure(f"the train loss is not a finite number at epoch {bad[0]}")
    loss = get_loss(config.loss)
    untrained = build_model(config, Streams.from_seed(config.seed).init, data.n_features)
    before = loss_of(untrained, data.X_train, data.y_train, loss)
    after = loss_of(model, data.X_train, data.y_train, loss)
    if not after < before:
        raise SmokeFailure(f"training did not lower the loss on the training rows: {before:.6g} before, {after:.6g} "
                           f"after {len(history)} epochs (training.learning_rate {config.training.learning_rate:g}: "
                           "far too large, or too small?)")
    return [before, after]


def check_same_predictions(trained: Any, reloaded: Any, X: np.ndarray) -> None:
    """A SmokeFailure unless the reloaded model's outputs on ``X`` are exactly the trained model's."""
    before, after = trained.predict(X), reloaded.predict(X)
    if before.shape != after.shape or not np.array_equal(before, after):
        gap = np.max(np.abs(before - after)) if before.shape == after.shape else f"shape {after.shape}"
        raise SmokeFailure(f"the reloaded model predicts otherwise than the trained one (largest difference {gap}) "
                           f"on the {len(X)} held-out rows")


def check_same_metrics(trained: dict[str, Any], evaluated: dict[str, Any]) -> None:
    """A SmokeFailure unless evaluating the saved run finds the ROC AUC, accuracy and loss that training reported."""
    for key in ("roc_auc", "accuracy", "loss"):
        a, b = trained.get(key), evaluated.get(key)
        same = a is None and b is None or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9,
                                                                                             abs_tol=1e-12))
        if not same:
            raise SmokeFailure(f"nnfw eval finds {key} {b} on the held-out split, training reported {a}")


def draw_pictures(saved: Any, data: Any) -> None:
    """The pictures only ``nnfw plot`` draws, from the run's files: for 2-D data the animation
    (two classes) and the hidden units. Training drew the loss curve, decision boundary and
    confusion matrix, evaluation the ROC curve: ``nnfw plot`` redraws them with the same code."""
    from . import runs
    from . import saved as saved_runs

    if data.plane() is None:
        return
    if runs.read_snapshots(saved.run_dir)[0]:
        saved_runs.animate(saved, dpi=SMOKE_DPI)
    saved_runs.draw_neurons(saved, "png", SMOKE_DPI, SMOKE_UNITS)


def predict_rows(saved: Any, run_dir: Path) -> None:
    """Predict PREDICT_ROWS rows from a CSV file, as ``nnfw predict RUN rows.csv -o predictions.csv``
    does; a SmokeFailure unless every row gets finite probabilities and a class."""
    from . import saved as saved_runs

    rows = run_dir / "predict_input.csv"
    _input_rows(saved).to_csv(rows, index=False, header=saved.config.data.dataset == "csv")
    model, transform, n_features, _ = saved_runs.open_predictor(run_dir)
    import pandas as pd

    table = pd.concat([part for part, _ in saved_runs.predict_file(model, transform, n_features, str(rows))])
    saved_runs.write_table([table], run_dir / "predictions.csv", rows, overwrite=False)
    added = [c for c in table.columns if str(c).startswith(("prob", "predicted"))]
    values = table[[c for c in added if str(c).startswith("prob")]].to_numpy(dtype=float)
    if len(table) != PREDICT_ROWS or "predicted" not in added or not values.size:
        raise SmokeFailure(f"predict gave {len(table)} rows with columns {added}, for {PREDICT_ROWS} rows")
    if not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
        raise SmokeFailure(f"predict gave probabilities outside [0, 1] or not finite: {values.tolist()}")


def _input_rows(saved: Any) -> Any:
    """PREDICT_ROWS rows of the run's kind of input, as ``nnfw predict`` reads them: a CSV's own
    rows with its header (complete ones), otherwise the data's raw features without one."""
    import pandas as pd

    from .data import DATASETS, _real, make_dataset, read_table_parts

    data = saved.config.data
    if data.dataset == "csv":  # the first complete rows, without reading a large file whole
        complete = []
        for part in read_table_parts(data.path, 10_000, data.delimiter):
            complete.append(part.dropna())
            if sum(map(len, complete)) >= PREDICT_ROWS:
                break
        return pd.concat(complete).head(PREDICT_ROWS)
    if data.dataset in DATASETS:
        X, _ = make_dataset(data.dataset, PREDICT_ROWS, data.noise, saved.config.data_seed() + 1, **data.options())
    else:
        X = _real(data.dataset)[0][:PREDICT_ROWS]
    return pd.DataFrame(X)


def expected_files(saved: Any, data: Any) -> list[str]:
    """The files a smoke run's folder must hold at the end."""
    from .runs import CONFIG, HISTORY, METRICS, MODEL, SNAPSHOTS, read_snapshots

    names = [CONFIG, MODEL, HISTORY, METRICS, "transform.json", "loss_curve.png", "confusion_matrix.png",
             "eval.json", "roc_curve.png", "predict_input.csv", "predictions.csv"]
    if data.plane() is not None:
        names += ["decision_boundary.png", "neurons.png"]
        if read_snapshots(saved.run_dir)[0]:
            names += [SNAPSHOTS, "decision_boundary.gif"]
    return names


def check_files(run_dir: Path, expected: list[str]) -> list[str]:
    """Every file of ``run_dir`` read whole (each kind by its format); a SmokeFailure names the
    first missing, incomplete or left-over file. Returns the files' names."""
    present = sorted(entry.name for entry in os.scandir(run_dir))
    missing = [name for name in expected if name not in present]
    if missing:
        raise SmokeFailure(f"{run_dir}: {', '.join(missing)} missing (the folder holds {', '.join(present)})")
    left = [name for name in present if name.startswith(".") or name == "checkpoint.npz"]
    if left:
        raise SmokeFailure(f"{run_dir}: {', '.join(left)} left behind by a finished run")
    for name in present:
        problem = _file_problem(run_dir / name)
        if problem:
            raise SmokeFailure(f"{run_dir / name}: {problem}")
    return present


_ENDINGS = {".png": (b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"), ".gif": (b"GIF8", b"\x3b")}


def _file_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not whole, or None."""
    from . import runs

    if not path.is_file() or path.stat().st_size == 0:
        return "empty, or not a regular file"
    if path.suffix in _ENDINGS:
        head, tail = _ENDINGS[path.suffix]
        raw = path.read_bytes()
        return None if raw.startswith(head) and raw.endswith(tail) else f"not a whole {path.suffix[1:].upper()} image"
    if path.suffix == ".json":
        return None if isinstance(runs.read_json(path), dict) else "not a JSON object"
    if path.name == runs.MODEL:
        runs.read_model(path.parent)
    elif path.name == runs.CONFIG:
        runs.read_config(path.parent)
    elif path.name == runs.HISTORY:
        epochs = runs.read_json(path.parent / runs.METRICS)["epochs"]
        rows = len(runs.read_history(path.parent))
        return None if rows == epochs else f"{rows} rows for {epochs} epochs"
    elif path.suffix == ".npz":
        runs.load_arrays(path)
    return None


# -- many configs -----------------------------------------------------------------------------


def smoke_all(paths: list[str | os.PathLike], output_dir: str | os.PathLike, jobs: int = 1,
              on_result: Callable[[SmokeResult], None] | None = None) -> list[SmokeResult]:
    """The smoke run of every config, ``jobs`` at a time in worker processes (1: in this process);
    ``on_result`` is called with each result, in the order of ``paths``, as soon as it is known."""
    names = [f"{i + 1:02d}-{Path(path).stem}" for i, path in enumerate(paths)]
    results: list[SmokeResult] = []
    if jobs <= 1 or len(paths) <= 1:
        for path, name in zip(paths, names):
            results.append(smoke_one(path, output_dir, name))
            if on_result is not None:
                on_result(results[-1])
        return results
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork: a worker starts with this process's modules (numpy, scikit-learn, matplotlib) loaded
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    _preload()
    with ProcessPoolExecutor(min(jobs, len(paths)), mp_context=context, initializer=_worker_signals) as pool:
        futures = [pool.submit(smoke_one, str(path), str(output_dir), name) for path, name in zip(paths, names)]
        try:
            for path, future in zip(paths, futures):
                try:
                    results.append(future.result())
                except BrokenProcessPool as exc:  # killed (out of memory?) or crashed in native code
                    results.append(SmokeResult(str(path), message=f"the process running it died: {exc}"))
                if on_result is not None:
                    on_result(results[-1])
        except BaseException:  # Ctrl-C, SIGTERM: the runs are thrown away, so the workers stop at once
            _stop_workers(pool)
            raise
    return results


def _stop_workers(pool: Any) -> None:
    """Cancel what has not started and end the worker processes of ``pool`` now."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)


def _worker_signals() -> None:
    """Ctrl-C and SIGTERM are the parent's to handle: a worker ignores the one (a terminal sends it
    to the whole process group) and dies of the other, which the parent sends to stop it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _preload() -> None:
    """Import what every smoke run uses, and draw a first picture (fonts, PNG writer), once, before
    the workers are forked from this process: each would otherwise do it again."""
    import importlib

    for module in ("pandas", "sklearn.datasets", "sklearn.metrics", f"{__package__}.experiment",
                   f"{__package__}.saved", "PIL.Image"):
        importlib.import_module(module)
    from . import plots

    plots.warm_up(SMOKE_DPI)


def default_jobs() -> int:
    """Configs smoked at once: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
