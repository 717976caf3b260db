#!/usr/bin/env python
"""Speed of nnfw against PyTorch and scikit-learn's MLPClassifier on the same small jobs.

    python benchmarks/bench.py                       # every case, default repeats
    python benchmarks/bench.py --cases article,adam  # some cases
    python benchmarks/bench.py --repeats 21 --json   # more repeats; raw results as JSON on stdout
    python benchmarks/bench.py --cases digits --profile  # also cProfile hotspots of nnfw's fit

Cases (the same layers, optimizer, batch size and learning rate in every framework):

- ``article``: 2-5-2-1 ReLU/ReLU/Sigmoid, full batch of 5000 circles points, plain SGD lr 0.05,
  binary cross-entropy, float64 (plus nnfw in float32 as an extra row).
- ``adam``: 2-16-16-1 ReLU/ReLU/Sigmoid, Adam lr 0.01, batch 128, 4000 circles points, float64.
- ``digits``: load_digits (1797 x 64, standardised), 64-256-256-10 ReLU/ReLU/Softmax, cross-entropy,
  Adam lr 0.001, float32, batch 64 and batch 256; plus numpy's float32 matmul rate on this machine.
- ``threads``: nnfw alone, one job at a time trained with 1 BLAS thread, with the BLAS default
  and with nnfw's own choice (``nnfw_cli.threads``), interleaved; once on the machine as it is and
  once beside a process that keeps one core busy (a CI runner's neighbour, another run of a sweep).
- ``scale``: ``configs/circles.yaml`` (its net and batch size) on 10^4 ... 10^7 samples (10^8 with
  ``--scale-max 8``), one epoch, each size in a process of its own: the seconds to make and split
  the data, to train one epoch, to score the test split (metrics.json's numbers), to write the
  model, history and pictures; and the process's peak memory.
- ``cli``: whole processes: ``nnfw --help``, ``nnfw train configs/circles.yaml`` against a plain
  script doing the same job with MLPClassifier, and the peak memory of each.

Timing: every framework trains E epochs in one timed call (nnfw ``fit(epochs=E)``, a loop of E
epochs in PyTorch, one warm-started ``MLPClassifier.fit`` with ``max_iter=E``), and the time is
divided by E. Each framework is warmed up once first. Inside every repeat the frameworks run one
after the other, in an order that rotates from repeat to repeat, so that machine noise hits all of
them alike. PyTorch is optional: without it that column is skipped.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from nnfw_cli.nn import SGD, Adam, BinaryCrossEntropy, CrossEntropy, Linear, Model, ReLU, Sigmoid, Softmax  # noqa: E402

try:
    import torch
except ImportError:  # optional dependency: the PyTorch column is skipped
    torch = None

import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

ALL_CASES = ("article", "adam", "digits", "threads", "scale", "cli")
TORCH, SKLEARN = "PyTorch", "scikit-learn"

# Targets for nnfw (its time / the other's time, lower is better), checked at the end.
TARGETS = {
    "article": {TORCH: 0.3, SKLEARN: 0.3},
    "adam": {TORCH: 0.2},
    "digits-b64": {TORCH: 0.8},
    "digits-b256": {TORCH: 0.8},
}
TARGET_MATMUL_FRACTION = 0.25
TARGET_HELP_S = 0.25
TARGET_TRAIN_S = 3.0
TARGET_PEAK_MB = 250.0
NOISY = 1.5  # a row whose slowest repeat took this many times its fastest is flagged


# -- data -------------------------------------------------------------------------------------


def circles_article() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(5000, noise=0.04, random_state=0)


def circles_train() -> tuple[np.ndarray, np.ndarray]:
    """The training split of ``nnfw train configs/circles.yaml``: 4000 of 5000 points."""
    from nnfw_cli.config import load_config
    from nnfw_cli.experiment import load_data

    data = load_data(load_config(ROOT / "configs" / "circles.yaml"))
    return data.X_train, data.y_train


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# -- the cases --------------------------------------------------------------------------------


@dataclass
class Bench:
    """One training job, run the same way by every framework."""

    key: str
    title: str
    sizes: tuple[int, ...]  # layer widths, input first
    output: str  # "sigmoid" (binary cross-entropy) or "softmax" (cross-entropy)
    optimizer: str  # "sgd" (plain) or "adam"
    lr: float
    batch: int | None  # None: full batch
    dtype: Any
    data: Callable[[], tuple[np.ndarray, np.ndarray]]
    epochs: int  # epochs per timed call
    extra_nnfw_float32: bool = False
    extra_sklearn_partial_fit: bool = False

    @property
    def n_params(self) -> int:
        return sum(a * b + b for a, b in zip(self.sizes, self.sizes[1:]))

    def flops_per_epoch(self, n_samples: int) -> float:
        """Forward + backward of an MLP: about 6 x samples x (sum of in x out over the layers)."""
        return 6.0 * n_samples * sum(a * b for a, b in zip(self.sizes, self.sizes[1:]))


BENCHES = {
    "article": [
        Bench("article", "article: 2-5-2-1 ReLU/ReLU/Sigmoid, full batch 5000, SGD lr 0.05, BCE, float64",
              (2, 5, 2, 1), "sigmoid", "sgd", 0.05, None, np.float64, circles_article, 300,
              extra_nnfw_float32=True, extra_sklearn_partial_fit=True),
    ],
    "adam": [
        Bench("adam", "adam: 2-16-16-1 ReLU/ReLU/Sigmoid, Adam lr 0.01, batch 128, 4000 points, BCE, float64",
              (2, 16, 16, 1), "sigmoid", "adam", 0.01, 128, np.float64, circles_train, 20),
    ],
    "digits": [
        Bench("digits-b64", "digits: 64-256-256-10 ReLU/ReLU/Softmax, Adam lr 0.001, batch 64, 1797 samples, CE, float32",
              (64, 256, 256, 10), "softmax", "adam", 0.001, 64, np.float32, digits, 4),
        Bench("digits-b256", "digits: 64-256-256-10 ReLU/ReLU/Softmax, Adam lr 0.001, batch 256, 1797 samples, CE, float32",
              (64, 256, 256, 10), "softmax", "adam", 0.001, 256, np.float32, digits, 8),
    ],
}


def spiral() -> tuple[np.ndarray, np.ndarray]:
    from nnfw_cli.data import make_dataset

    return make_dataset("spiral", 2000, 0.1, 0)


def wide() -> tuple[np.ndarray, np.ndarray]:
    X, y = circles_train()
    return np.tile(X, (2, 1)), np.tile(y, 2)


# The threads case: nnfw alone, with 1 thread, the BLAS default and its own choice.
THREAD_BENCHES = [
    Bench("spiral-64", "spiral: 2-64-64-64-1, Adam lr 0.01, batch 32, 2000 points, float64",
          (2, 64, 64, 64, 1), "sigmoid", "adam", 0.01, 32, np.float64, spiral, 3),
    Bench("digits-b256", "digits: 64-256-256-10, Adam lr 0.001, batch 256, float32",
          (64, 256, 256, 10), "softmax", "adam", 0.001, 256, np.float32, digits, 8),
    Bench("wide-full", "circles: 2-1024-1024-1, Adam lr 0.001, full batch of 8000, float32",
          (2, 1024, 1024, 1), "sigmoid", "adam", 0.001, None, np.float32, wide, 3),
]
TARGET_AUTO = 1.3  # nnfw's own choice against the faster of 1 thread and the default, at most


# -- one runner per framework: setup once, then run(E) trains E epochs ------------------------


class NnfwRunner:
    def __init__(self, bench: Bench, X: np.ndarray, y: np.ndarray, dtype: Any) -> None:
        layers: list = []
        pairs = list(zip(bench.sizes, bench.sizes[1:]))
        for i, (a, b) in enumerate(pairs):
            last = i == len(pairs) - 1
            layers.append(Linear(a, b, init="xavier" if last else "he", rng=i))
            layers.append((Sigmoid() if bench.output == "sigmoid" else Softmax()) if last else ReLU())
        self.model = Model(layers).astype(dtype)
        self.loss = BinaryCrossEntropy() if bench.output == "sigmoid" else CrossEntropy()
        self.optimizer = SGD(bench.lr) if bench.optimizer == "sgd" else Adam(bench.lr)
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.y = y
        self.batch = bench.batch
        self.rng = np.random.default_rng(0)  # one Generator: shuffling goes on across calls

    def run(self, epochs: int) -> None:
        self.model.fit(self.X, self.y, loss=self.loss, optimizer=self.optimizer, epochs=epochs,
                       batch_size=self.batch, seed=self.rng)


class TorchRunner:
    """The plain, idiomatic loop: nn.Sequential, zero_grad / backward / step, the loss on logits.

    No DataLoader: a mini-batch is ``X[perm[i:i + b]]`` with ``perm = torch.randperm(n)`` each
    epoch, the fast idiomatic way for data that fits in one tensor. The epoch loss is accumulated
    with ``loss.item()``, as nnfw and MLPClassifier also compute it every step.
    """

    def __init__(self, bench: Bench, X: np.ndarray, y: np.ndarray, dtype: Any) -> None:
        tdtype = torch.float64 if dtype == np.float64 else torch.float32
        torch.manual_seed(0)
        modules: list = []
        pairs = list(zip(bench.sizes, bench.sizes[1:]))
        for i, (a, b) in enumerate(pairs):
            modules.append(torch.nn.Linear(a, b))
            if i < len(pairs) - 1:
                modules.append(torch.nn.ReLU())
        # The output activation is fused into the loss, as nnfw does with sigmoid/softmax + its loss.
        self.model = torch.nn.Sequential(*modules).to(tdtype)
        self.X = torch.as_tensor(np.ascontiguousarray(X, dtype=dtype))
        if bench.output == "sigmoid":
            self.loss_fn = torch.nn.BCEWithLogitsLoss()
            self.y = torch.as_tensor(np.asarray(y, dtype=dtype).reshape(-1, 1))
        else:
            self.loss_fn = torch.nn.CrossEntropyLoss()
            self.y = torch.as_tensor(np.asarray(y, dtype=np.int64))
        params = self.model.parameters()
        self.optimizer = torch.optim.SGD(params, lr=bench.lr) if bench.optimizer == "sgd" else torch.optim.Adam(params, lr=bench.lr)
        self.batch = bench.batch
        self.n = len(self.X)

    def run(self, epochs: int) -> None:
        model, loss_fn, opt, X, y, n = self.model, self.loss_fn, self.optimizer, self.X, self.y, self.n
        for _ in range(epochs):
            if self.batch is None or self.batch >= n:
                opt.zero_grad()
                loss = loss_fn(model(X), y)
                loss.backward()
                opt.step()
                epoch_loss = loss.item()
            else:
                perm = torch.randperm(n)
                total = 0.0
                for start in range(0, n, self.batch):
                    idx = perm[start : start + self.batch]
                    opt.zero_grad()
                    loss = loss_fn(model(X[idx]), y[idx])
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
                epoch_loss = total / n
        self.last_loss = epoch_loss


class SklearnRunner:
    """MLPClassifier, timed as one warm-started ``fit`` with ``max_iter=E``: E epochs of its loop.

    Why not ``max_iter=1`` and one ``partial_fit`` (or ``fit``) call per epoch: every call first
    validates X and y, binarises the labels and allocates the work lists (about 1.3 ms here), which
    is more than a whole epoch of the article case; its real training loop (``fit(max_iter=200)``
    as people call it) pays that once. One ``fit`` of E epochs is exactly nnfw's ``fit(epochs=E)``:
    setup once, then E shuffled epochs of the same ``_fit_stochastic`` loop, so both are charged the
    same way. ``warm_start=True`` keeps the weights between timed calls; ``tol=0`` and a huge
    ``n_iter_no_change`` make every call run all E epochs; the ConvergenceWarning that each call
    ends with ("max_iter reached") is suppressed. (A ``fit`` call builds a fresh optimizer, so Adam's
    moments restart at each timed call; that changes the numbers learned, not the work per epoch.)
    The article case also shows the ``partial_fit``-per-epoch way as an extra row.
    Binary targets get one logistic output unit (sigmoid + BCE); the dtype follows X's.
    """

    def __init__(self, bench: Bench, X: np.ndarray, y: np.ndarray, dtype: Any, partial: bool = False) -> None:
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.y = np.asarray(y)
        self.partial = partial
        self.model = MLPClassifier(
            hidden_layer_sizes=bench.sizes[1:-1], activation="relu", solver=bench.optimizer, alpha=0.0,
            batch_size=bench.batch if bench.batch is not None else len(X), learning_rate_init=bench.lr,
            learning_rate="constant", momentum=0.0, nesterovs_momentum=False, shuffle=True,
            max_iter=1, warm_start=True, tol=0.0, n_iter_no_change=10**9, early_stopping=False,
            random_state=np.random.RandomState(0),  # an instance: shuffling goes on across calls
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.partial_fit(self.X, self.y, classes=np.unique(self.y))  # creates the weights

    def run(self, epochs: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.partial:
                for _ in range(epochs):
                    self.model.partial_fit(self.X, self.y)
            else:
                self.model.max_iter = epochs
                self.model.fit(self.X, self.y)


# -- timing -----------------------------------------------------------------------------------


def summarise(per_epoch: list[float]) -> dict[str, float]:
    return {"median": statistics.median(per_epoch), "min": min(per_epoch), "max": max(per_epoch)}


def time_bench(bench: Bench, repeats: int, epochs: int | None, budget: float,
               log: Callable[[str], None]) -> dict[str, Any]:
    """Median seconds per epoch of each framework; ``repeats`` interleaved rounds (fewer, but at
    least 3, if the rounds overrun ``budget`` seconds, as they do while the machine is contended)."""
    X, y = bench.data()
    E = epochs or bench.epochs
    runners: dict[str, Any] = {}
    runners["nnfw"] = NnfwRunner(bench, X, y, bench.dtype)
    if bench.extra_nnfw_float32:
        runners["nnfw float32"] = NnfwRunner(bench, X, y, np.float32)
    if torch is not None:
        runners[TORCH] = TorchRunner(bench, X, y, bench.dtype)
    runners[SKLEARN] = SklearnRunner(bench, X, y, bench.dtype)
    if bench.extra_sklearn_partial_fit:
        runners["scikit-learn, partial_fit per epoch"] = SklearnRunner(bench, X, y, bench.dtype, partial=True)

    names = list(runners)
    for name in names:  # warm-up: first-call costs (buffers, caches, lazy imports) are not timed
        runners[name].run(E)
    times: dict[str, list[float]] = {name: [] for name in names}
    started = time.perf_counter()
    done = 0
    for r in range(repeats):
        if r >= 3 and time.perf_counter() - started > budget:
            break
        order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            gc.collect()
            start = time.perf_counter()
            runners[name].run(E)
            times[name].append((time.perf_counter() - start) / E)
        done += 1
    cut = f" (stopped at the {budget:.0f} s budget)" if done < repeats else ""
    log(f"  {bench.key}: {E} epochs x {done} repeats in {time.perf_counter() - started:.1f} s{cut}")
    rows = {name: {**summarise(t), "per_epoch_s": t} for name, t in times.items()}
    return {"key": bench.key, "title": bench.title, "epochs_per_call": E, "repeats": done,
            "repeats_asked": repeats, "n_samples": len(X), "batch_size": bench.batch,
            "dtype": np.dtype(bench.dtype).name, "n_params": bench.n_params,
            "flops_per_epoch": bench.flops_per_epoch(len(X)), "rows": rows}


def time_threads(repeats: int, budget: float, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Seconds per epoch of nnfw with 1 BLAS thread, the default and its own choice, per job,
    on the machine as it is and beside a process that keeps one core busy."""
    from nnfw_cli import threads

    results = []
    for busy in (False, True):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            for bench in THREAD_BENCHES:
                X, y = bench.data()
                counts = {"1 thread": 1, f"default ({threads.default_threads()})": threads.default_threads(),
                          "nnfw's choice": threads.choose(None, bench.sizes, bench.batch or len(X))}
                runners = {name: NnfwRunner(bench, X, y, bench.dtype) for name in counts}
                times: dict[str, list[float]] = {name: [] for name in counts}
                started, names = time.perf_counter(), list(counts)
                for name in names:  # warm-up
                    with threads.limited(counts[name]):
                        runners[name].run(bench.epochs)
                for r in range(repeats):
                    if r >= 3 and time.perf_counter() - started > budget:
                        break
                    for name in names[r % len(names):] + names[: r % len(names)]:
                        with threads.limited(counts[name]):
                            gc.collect()
                            start = time.perf_counter()
                            runners[name].run(bench.epochs)
                            times[name].append((time.perf_counter() - start) / bench.epochs)
                log(f"  threads {bench.key}{' beside a busy core' if busy else ''}: {len(times[names[0]])} repeats")
                results.append({"key": bench.key, "title": bench.title, "busy": busy, "threads": counts,
                                "rows": {name: summarise(t) for name, t in times.items()}})
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    return results


def time_scale(largest: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """benchmarks/scale_stages.py for 10^4 ... 10^largest samples, each in a fresh process (for its
    own peak memory: this one has imported PyTorch)."""
    results = []
    for exponent in range(4, largest + 1):
        with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
            run = run_process([sys.executable, str(Path(__file__).resolve().parent / "scale_stages.py"),
                               str(10**exponent), out.name], ROOT)
            result = json.loads(Path(out.name).read_text())
        results.append({**result, "process_seconds": run["seconds"], "peak_mb": run["peak_mb"]})
        log(f"  scale 10^{exponent}: {run['seconds']:.1f} s, peak {run['peak_mb']:.0f} MB")
    return results


def scale_table(results: list[dict[str, Any]]) -> str:
    lines = ["## Scale: configs/circles.yaml, one epoch (seconds; peak memory of the process)", "",
             "| samples | imports | data | training (1 epoch) | evaluation | files and pictures | data + evaluation + files / training | peak memory | data in memory |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        s, n = result["seconds"], result["n_samples"]
        others = s["data"] + s["evaluate"] + s["write_and_draw"]
        lines.append(f"| {n:,} | {s['imports']:.2f} | {s['data']:.2f} | {s['train_epoch']:.2f} | {s['evaluate']:.2f} | {s['write_and_draw']:.2f} | "
                     f"{others / s['train_epoch']:.2f} | {result['peak_mb']:,.0f} MB | {n * 24 / 2**20:,.0f} MB |")
    return "\n".join(lines)


def threads_table(results: list[dict[str, Any]]) -> str:
    lines = ["## BLAS threads: nnfw's seconds per epoch (median)", "",
             "| job | machine | 1 thread | default | nnfw's choice (threads) | choice / best |", "|---|---|---:|---:|---:|---:|"]
    for result in results:
        rows = list(result["rows"].values())
        one, default, auto = (row["median"] for row in rows)
        chosen = list(result["threads"].values())[2]
        lines.append(f"| {result['key']} | {'one core busy' if result['busy'] else 'as it is'} | {fmt_ms(one)} | "
                     f"{fmt_ms(default)} | {fmt_ms(auto)} ({chosen}) | {auto / min(one, default):.2f} |")
    return "\n".join(lines)


def profile_nnfw(bench: Bench, epochs: int | None, top: int = 15) -> str:
    X, y = bench.data()
    runner = NnfwRunner(bench, X, y, bench.dtype)
    E = epochs or bench.epochs
    runner.run(E)
    profiler = cProfile.Profile()
    profiler.enable()
    runner.run(E * 3)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    start = text.find("   ncalls")
    return text[start:] if start >= 0 else text


# -- numpy's float32 matmul rate ----------------------------------------------------------------


def matmul_rates(log: Callable[[str], None]) -> dict[str, Any]:
    """GFLOP/s of float32 ``A @ B`` (m x k times k x n: 2 m k n flops), median of 7 rounds, with
    numpy and, when it is installed, with PyTorch (whose own BLAS may be faster at some sizes)."""
    rng = np.random.default_rng(0)
    shapes = {"256x256 @ 256x64": (256, 256, 64), "256x256 @ 256x256": (256, 256, 256),
              "1024x1024 @ 1024x1024": (1024, 1024, 1024)}
    result = {}
    for label, (m, k, n) in shapes.items():
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        flops = 2.0 * m * k * n
        result[label] = _rate(lambda: np.matmul(a, b, out=out), flops)
        if torch is not None:
            ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
            result[label][TORCH] = _rate(lambda: torch.matmul(ta, tb, out=tout), flops)
    log("  matmul rates done")
    return result


def _round_times(product: Callable[[], Any], rounds: int, inner: int = 1) -> list[float]:
    """Seconds per call of ``product``, one figure per round of ``inner`` calls, after one warm-up call."""
    product()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            product()
        times.append((time.perf_counter() - start) / inner)
    return times


def _rate(product: Callable[[], Any], flops: float) -> dict[str, float]:
    rounds = _round_times(product, 7, inner=max(1, int(2e8 / flops)))  # about 0.2 GFLOP per round
    return {"seconds": statistics.median(rounds), "gflops": flops / statistics.median(rounds) / 1e9,
            "best_gflops": flops / min(rounds) / 1e9}


def epoch_products(bench: Bench, n_samples: int, rounds: int = 31) -> dict[str, float]:
    """Seconds per epoch that the matrix products of ``bench`` take alone: for every mini-batch,
    ``x @ W`` per layer, then ``x.T @ grad`` and (below the first layer) ``grad @ W.T``, in float32,
    samples-major; with numpy and, when installed, PyTorch (median of ``rounds`` epochs)."""
    rng = np.random.default_rng(0)
    sizes = [bench.batch] * (n_samples // bench.batch) + ([n_samples % bench.batch] if n_samples % bench.batch else [])
    pairs = list(zip(bench.sizes, bench.sizes[1:]))
    weights = [rng.standard_normal((a, b), dtype=np.float32) for a, b in pairs]
    jobs = []  # (a, b, out) per product, over one epoch
    for n in set(sizes):
        xs = [rng.standard_normal((n, a), dtype=np.float32) for a, _ in pairs]
        grads = [rng.standard_normal((n, b), dtype=np.float32) for _, b in pairs]
        batch = []
        for i, (x, w, g) in enumerate(zip(xs, weights, grads)):
            batch.append((x, w, np.empty((n, w.shape[1]), np.float32)))
            batch.append((x.T, g, np.empty(w.shape, np.float32)))
            if i:
                batch.append((g, w.T, np.empty(x.shape, np.float32)))
        jobs += batch * sizes.count(n)

    def numpy_epoch() -> None:
        for a, b, out in jobs:
            np.matmul(a, b, out=out)

    runs = {"numpy": numpy_epoch}
    if torch is not None:
        # the same memory, transposed views included
        tjobs = [(torch.from_numpy(a) if a.flags.c_contiguous else torch.from_numpy(a.T).T,
                  torch.from_numpy(b) if b.flags.c_contiguous else torch.from_numpy(b.T).T,
                  torch.from_numpy(out)) for a, b, out in jobs]

        def torch_epoch() -> None:
            for a, b, out in tjobs:
                torch.mm(a, b, out=out)

        runs[TORCH] = torch_epoch
    # One library after the other, after a pause: threads that one library leaves spinning for a
    # while after its last product would slow down the other's next products.
    result = {}
    for name, run in runs.items():
        time.sleep(0.5)
        result[name] = statistics.median(_round_times(run, rounds))
    return result


# -- whole processes ------------------------------------------------------------------------------

SKLEARN_SCRIPT = r'''
"""The job of `nnfw train configs/circles.yaml`, written plainly with scikit-learn's MLPClassifier."""
import json, sys, warnings
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import yaml
from sklearn.datasets import make_circles
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

config_path, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
config = yaml.safe_load(config_path.read_text())
data, training, seed = config["data"], config["training"], config.get("seed", 0)
X, y = make_circles(data["n_samples"], noise=data["noise"], factor=data["factor"], random_state=seed)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=data["test_fraction"], stratify=y,
                                                    random_state=seed)
hidden = [layer["units"] for layer in config["model"]["layers"] if isinstance(layer, dict)][:-1]
clf = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver=training["optimizer"], alpha=0.0,
                    batch_size=training["batch_size"], learning_rate_init=training["learning_rate"],
                    max_iter=training["epochs"], tol=0.0, n_iter_no_change=10**9, shuffle=True,
                    random_state=seed)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(X_train, y_train)
auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(np.arange(1, len(clf.loss_curve_) + 1), clf.loss_curve_, label="train loss")
ax.set_yscale("log"); ax.set_xlabel("epoch"); ax.set_ylabel("loss"); ax.legend(); ax.set_title("loss curve")
fig.savefig(out / "loss_curve.png", dpi=150); plt.close(fig)

low, high = X.min(axis=0), X.max(axis=0)
margin = 0.1 * (high - low)
xx, yy = np.meshgrid(*[np.linspace(lo, hi, 200) for lo, hi in zip(low - margin, high + margin)])
proba = clf.predict_proba(np.column_stack([xx.ravel(), yy.ravel()]))[:, 1].reshape(xx.shape)
fig, ax = plt.subplots(figsize=(6, 5.5))
mesh = ax.contourf(xx, yy, proba, levels=20, cmap="RdBu_r", alpha=0.6)
ax.contour(xx, yy, proba, levels=[0.5], colors="k")
fig.colorbar(mesh, ax=ax, label="P(class 1)")
ax.scatter(X_train[:, 0], X_train[:, 1], c=y_train, cmap="RdBu_r", s=6, edgecolors="none")
ax.scatter(X_test[:, 0], X_test[:, 1], s=10, facecolors="none", edgecolors=plt.cm.RdBu_r(y_test.astype(float)),
           linewidths=0.6)
ax.set_aspect("equal"); ax.set_title(f"MLPClassifier, test ROC AUC {auc:.4f}")
fig.savefig(out / "decision_boundary.png", dpi=150); plt.close(fig)
(out / "metrics.json").write_text(json.dumps({"roc_auc": auc, "epochs": clf.n_iter_}))
print(f"roc_auc {auc:.6f}")
'''


@functools.cache
def _gnu_time() -> str | None:
    """``/usr/bin/time`` if it is GNU time (it takes ``-f %M -o FILE``), else None (probed once, when
    first needed)."""
    path = shutil.which("time", path="/usr/bin:/bin") or None
    if path is None:
        return None
    try:
        with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
            subprocess.run([path, "-f", "%M", "-o", out.name, "true"], check=True, capture_output=True, timeout=10)
            int(Path(out.name).read_text().split()[-1])
        return path
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def run_process(cmd: list[str], cwd: Path) -> dict[str, Any]:
    """Wall time and peak resident memory (MB) of ``cmd``; raises if it fails.

    The peak comes from GNU ``/usr/bin/time -f %M`` when there is one: it forks the command from
    its own small process. A child forked straight from this benchmark would report at least this
    process's own resident size (Linux carries the parent's high-water mark over fork and exec into
    ru_maxrss), several hundred MB once torch is loaded; without GNU time that is what we report,
    flagged as an upper bound. The few ms that ``time`` adds hit every command alike.
    """
    gnu_time = _gnu_time()
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as rss:
        full = [gnu_time, "-f", "%M", "-o", rss.name, *cmd] if gnu_time else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.stdout.read()
        usage = None
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        else:
            proc.wait()
        seconds = time.perf_counter() - start
        proc.stdout.close()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{output.decode(errors='replace')[-2000:]}")
        if gnu_time:
            peak_mb, exact = int(Path(rss.name).read_text().split()[-1]) / 1024.0, True
        elif usage is not None:
            peak_mb, exact = usage.ru_maxrss / 1024.0, False  # kilobytes on Linux; an upper bound
        else:
            peak_mb, exact = None, False
    return {"seconds": seconds, "peak_mb": peak_mb, "peak_exact": exact}


def nnfw_command() -> tuple[list[str], str]:
    """The nnfw console script of this interpreter (not a version-manager shim), or ``-m nnfw_cli``."""
    script = Path(sys.executable).parent / "nnfw"
    if script.exists():
        return [str(script)], str(script)
    found = shutil.which("nnfw")
    if found:
        return [found], found
    return [sys.executable, "-m", "nnfw_cli"], f"{sys.executable} -m nnfw_cli"


def time_cli(repeats: int, log: Callable[[str], None]) -> dict[str, Any]:
    import yaml

    config = ROOT / "configs" / "circles.yaml"
    epochs = yaml.safe_load(config.read_text())["training"]["epochs"]
    nnfw, nnfw_label = nnfw_command()
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="nnfw-bench-") as tmp:
        tmp = Path(tmp)
        script = tmp / "sklearn_circles.py"
        script.write_text(SKLEARN_SCRIPT)

        help_cmds = {"nnfw --help": nnfw + ["--help"]}
        # What a shell that finds nnfw through a version manager's shim (pyenv) runs: it is slower.
        shims = [shutil.which("nnfw"), str(Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "shims" / "nnfw")]
        for shim in shims:
            if shim and Path(shim).exists() and Path(shim).resolve() != Path(nnfw[0]).resolve():
                help_cmds[f"nnfw --help via {shim}"] = [shim, "--help"]
                break
        help_cmds["python -c pass (interpreter start)"] = [sys.executable, "-c", "pass"]
        help_runs = max(7, repeats)
        for cmd in help_cmds.values():
            run_process(cmd, ROOT)  # warm-up
        help_times: dict[str, list[dict]] = {k: [] for k in help_cmds}
        for _ in range(help_runs):
            for label, cmd in help_cmds.items():
                help_times[label].append(run_process(cmd, ROOT))

        train_cmds = {
            "nnfw train configs/circles.yaml": lambda i: nnfw + ["train", str(config), "--quiet", "--output-dir",
                                                                 str(tmp / f"nnfw-{i}")],
            "MLPClassifier script": lambda i: [sys.executable, str(script), str(config), str(tmp / f"sk-{i}")],
        }
        for make in train_cmds.values():
            run_process(make("warmup"), ROOT)
        train_times: dict[str, list[dict]] = {k: [] for k in train_cmds}
        for r in range(repeats):
            labels = list(train_cmds) if r % 2 == 0 else list(reversed(train_cmds))
            for label in labels:
                train_times[label].append(run_process(train_cmds[label](r), ROOT))
        produced = sorted(p.name for p in (tmp / "sk-0").iterdir())
        nnfw_run = next(p for p in (tmp / "nnfw-0").iterdir() if p.is_dir() and not p.is_symlink())
        nnfw_produced = sorted(p.name for p in nnfw_run.iterdir())
    for label, runs in {**help_times, **train_times}.items():
        seconds = [r["seconds"] for r in runs]
        peaks = [r["peak_mb"] for r in runs if r["peak_mb"] is not None]
        rows[label] = {**summarise(seconds), "seconds": seconds, "peak_mb": max(peaks) if peaks else None,
                       "peak_exact": all(r["peak_exact"] for r in runs)}
    log("  cli done")
    return {"nnfw_command": nnfw_label, "epochs": epochs, "repeats": repeats, "help_runs": help_runs,
            "rows": rows, "sklearn_script_files": produced, "nnfw_run_files": nnfw_produced}


# -- the machine ------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    blas = []
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            entry = {k: pool.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                              "threading_layer", "num_threads")}
            parts = Path(pool.get("filepath") or "").parts  # which package brought the library
            owner = parts[parts.index("site-packages") + 1] if "site-packages" in parts[:-1] else pool.get("filepath")
            blas.append({**entry, "from": owner})
    except ImportError:
        try:
            config = np.show_config(mode="dicts")
            blas.append({"user_api": "blas", **config["Build Dependencies"]["blas"]})
        except Exception:  # noqa: BLE001 - old numpy: report nothing rather than fail
            pass
    blas.sort(key=lambda pool: (pool["user_api"] != "blas", pool.get("from") != "numpy.libs"))
    env_names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                 "MKL_NUM_THREADS")
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    info = {
        "nnfw_commit": commit, "cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": usable, "platform": platform.platform(),
        "python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "blas": blas, "env": {k: os.environ.get(k) for k in env_names},
    }
    return info


SPIN = """
import sys, time
windows, end = [], time.perf_counter() + float(sys.argv[1])
while time.perf_counter() < end:
    start = time.perf_counter()
    x = 0
    for i in range(20000):
        x += i
    windows.append(time.perf_counter() - start)
windows.sort()
print(len(windows), windows[len(windows) // 2], windows[int(len(windows) * 0.99)])
"""


def contention_probe(seconds: float = 1.5) -> dict[str, Any]:
    """How much of a CPU each of the usable CPUs gives when all are busy at once.

    One pure-Python spinner alone, then one per usable CPU together: the work each does in the same
    time, relative to the lone one, and the 99th percentile of its ~1 ms work windows. On a machine
    whose CPUs are really there this is ~100% and ~1x; well below means every multi-threaded
    number (BLAS, PyTorch) is at the mercy of the host.
    """
    def spin(n: int) -> list[tuple[int, float, float]]:
        procs = [subprocess.Popen([sys.executable, "-c", SPIN, str(seconds)], stdout=subprocess.PIPE, text=True)
                 for _ in range(n)]
        outs = [p.communicate()[0].split() for p in procs]
        return [(int(o[0]), float(o[1]), float(o[2])) for o in outs]

    n = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    alone = spin(1)[0]
    together = spin(n)
    share = statistics.mean(t[0] for t in together) / alone[0]
    p99 = max(t[2] for t in together) / alone[1]
    return {"busy_processes": n, "work_share_each": share, "p99_window_slowdown": p99,
            "alone_p99_window_slowdown": alone[2] / alone[1]}


# -- report --------------------------------------------------------------------------------------------


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "–"


def header(info: dict[str, Any]) -> str:
    lines = ["# nnfw benchmark", "",
             f"- nnfw at commit {info['nnfw_commit'] or '(unknown)'}",
             f"- CPU: {info['cpu']}, {info['logical_cpus']} logical CPUs ({info['usable_cpus']} usable)",
             f"- {info['platform']}, Python {info['python']}",
             f"- numpy {info['numpy']}, scikit-learn {info['scikit-learn']}, "
             + (f"torch {info['torch']} ({info['torch_threads']} threads)" if info["torch"] else "torch not installed")]
    for pool in info["blas"]:
        desc = ", ".join(f"{k} {v}" for k, v in pool.items() if v is not None and k != "user_api")
        lines.append(f"- {pool.get('user_api')}: {desc}")
    for when, probe in info.get("contention", {}).items():
        lines.append(f"- CPU contention probe at the {when}: {probe['busy_processes']} busy processes each did "
                     f"{probe['work_share_each']:.0%} of the work of one alone; their slowest 1% of ~1 ms "
                     f"windows took {probe['p99_window_slowdown']:.1f}× a lone median window (alone: "
                     f"{probe['alone_p99_window_slowdown']:.1f}×)")
    lines.append("- environment: " + ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in info["env"].items()))
    if any(p["work_share_each"] < 0.8 or p["p99_window_slowdown"] > 3 for p in info.get("contention", {}).values()):
        lines += ["", "> **Warning: the CPUs were contended during this run** (the host gave this machine less than its "
                  "CPUs): multi-threaded timings (BLAS, PyTorch) are inflated and noisy; rerun when the probe shows "
                  "~100% and ~1×, or compare the 'by min' column."]
    return "\n".join(lines)


def bench_table(result: dict[str, Any]) -> str:
    rows = result["rows"]
    t_torch = rows.get(TORCH, {}).get("median")
    t_sk = rows.get(SKLEARN, {}).get("median")
    lines = [f"## {result['title']}", "",
             f"{result['epochs_per_call']} epochs per timed call, {result['repeats']} interleaved repeats; "
             f"time per epoch. Ratio = this row's median / the reference's median (lower is faster).", "",
             "| framework | median ms/epoch | min–max ms | vs PyTorch | vs scikit-learn |",
             "|---|---:|---:|---:|---:|"]
    noisy = False
    for name, row in rows.items():
        mark = " †" if row["max"] > NOISY * row["min"] else ""
        noisy |= bool(mark)
        lines.append(f"| {name} | {fmt_ms(row['median'])} | {fmt_ms(row['min'])}–{fmt_ms(row['max'])}{mark} | "
                     f"{ratio(row['median'], t_torch)} | {ratio(row['median'], t_sk)} |")
    if noisy:
        lines += ["", f"† max > {NOISY:g} × min: the machine was contended during some repeats (see the notes)."]
    return "\n".join(lines)


def matmul_table(rates: dict[str, Any], digits256: dict[str, Any] | None) -> str:
    lines = ["## numpy float32 matmul rate", "", "Median of 7 rounds (best round in brackets); PyTorch's own "
             "products alongside, when it is installed.", "",
             "| product | numpy ms | numpy GFLOP/s | PyTorch GFLOP/s |", "|---|---:|---:|---:|"]
    for label, r in rates.items():
        theirs = f"{r[TORCH]['gflops']:.1f} ({r[TORCH]['best_gflops']:.1f})" if TORCH in r else "–"
        lines.append(f"| {label} | {r['seconds'] * 1e3:.3g} | {r['gflops']:.1f} ({r['best_gflops']:.1f}) | {theirs} |")
    if digits256:
        flops = digits256["flops_per_epoch"]
        lines += ["", f"digits batch 256: {flops / 1e6:.0f} MFLOP per epoch (6 × n × Σ in·out).", "",
                  "| framework | GFLOP/s achieved | of 256×256×256 rate | of 1024³ rate |", "|---|---:|---:|---:|"]
        big = rates["1024x1024 @ 1024x1024"]["gflops"]
        mid = rates["256x256 @ 256x256"]["gflops"]
        for name, row in digits256["rows"].items():
            achieved = flops / row["median"] / 1e9
            lines.append(f"| {name} | {achieved:.1f} | {achieved / mid:.0%} | {achieved / big:.0%} |")
    return "\n".join(lines)


def products_table(products: dict[str, dict[str, float]], benches: list[dict[str, Any]]) -> str:
    lines = ["## digits: the matrix products alone", "",
             "One epoch's matrix products (forward, weight gradients, input gradients; float32, samples-major), "
             "timed alone with each library's BLAS; the rest of an epoch is the framework's median epoch above "
             "minus them: activations, loss, optimizer, batching, Python.", "",
             "| case | library | products ms/epoch | whole epoch ms | rest ms |", "|---|---|---:|---:|---:|"]
    epochs = {b["key"]: b["rows"] for b in benches}
    for key, times in products.items():
        for library, framework in (("numpy", "nnfw"), (TORCH, TORCH)):
            if library not in times:
                continue
            whole = epochs.get(key, {}).get(framework, {}).get("median")
            rest = f"{(whole - times[library]) * 1e3:.2f}" if whole else "–"
            lines.append(f"| {key} | {library} ({framework}) | {times[library] * 1e3:.2f} | "
                         f"{f'{whole * 1e3:.2f}' if whole else '–'} | {rest} |")
    return "\n".join(lines)


def cli_table(cli: dict[str, Any]) -> str:
    rows = cli["rows"]
    sk = rows["MLPClassifier script"]["median"]
    lines = [f"## cli: whole processes ({cli['nnfw_command']})", "",
             f"`--help`: median of {cli['help_runs']} runs; train: {cli['repeats']} runs each, interleaved, "
             f"{cli['epochs']} epochs (configs/circles.yaml). Peak MB: the largest of the runs' maximum resident set "
             + ("(GNU time %M)." if _gnu_time() else "(wait4 ru_maxrss: an upper bound, it includes this process's own size)."),
             "",
             "| command | median s | min–max s | vs MLPClassifier script | peak MB |", "|---|---:|---:|---:|---:|"]
    for name, row in rows.items():
        vs = ratio(row["median"], sk) if "train" in name or "MLP" in name else "–"
        peak = f"{row['peak_mb']:.0f}" if row["peak_mb"] is not None else "–"
        lines.append(f"| {name} | {row['median']:.3f} | {row['min']:.3f}–{row['max']:.3f} | {vs} | {peak} |")
    lines += ["", f"nnfw run folder: {', '.join(cli['nnfw_run_files'])}",
              f"MLPClassifier script wrote: {', '.join(cli['sklearn_script_files'])}"]
    return "\n".join(lines)


def targets_table(results: dict[str, Any]) -> str:
    """Each target checked on the medians, and again on the fastest repeats (min) as a noise check."""
    lines = ["## nnfw against the targets", "",
             "Ratios are nnfw's time / the other's (lower is faster). 'by min' uses each row's fastest repeat.", "",
             "| check | target | measured (median) | met | by min | met |", "|---|---|---:|:---:|---:|:---:|"]

    def add(check: str, target: str, fmt: str, test: Callable[[float], bool], value: float,
            best: float | None = None) -> None:
        cells = [fmt.format(value), "yes" if test(value) else "**no**"]
        cells += [fmt.format(best), "yes" if test(best) else "**no**"] if best is not None else ["", ""]
        lines.append(f"| {check} | {target} | " + " | ".join(cells) + " |")

    benches = {b["key"]: b for b in results.get("benches", [])}
    for key, limits in TARGETS.items():
        if key not in benches:
            continue
        rows = benches[key]["rows"]
        for ref, limit in limits.items():
            if ref in rows:
                add(f"{key}: nnfw / {ref}", f"≤ {limit}", "{:.3f}×", lambda v, lim=limit: v <= lim,
                    rows["nnfw"]["median"] / rows[ref]["median"], rows["nnfw"]["min"] / rows[ref]["min"])
    if "digits-b256" in benches and "matmul" in results:
        flops = benches["digits-b256"]["flops_per_epoch"]
        nnfw = benches["digits-b256"]["rows"]["nnfw"]
        for label in ("256x256 @ 256x256", "1024x1024 @ 1024x1024"):
            rate = results["matmul"][label]
            add(f"digits-b256: nnfw GFLOP/s / numpy {label}", f"≥ {TARGET_MATMUL_FRACTION:.0%}", "{:.1%}",
                lambda v: v >= TARGET_MATMUL_FRACTION, flops / nnfw["median"] / 1e9 / rate["gflops"],
                flops / nnfw["min"] / 1e9 / rate["best_gflops"])
    for result in results.get("threads", []):
        one, default, auto = (row["median"] for row in result["rows"].values())
        add(f"threads {result['key']}{', one core busy' if result['busy'] else ''}: choice / best of 1 and default",
            f"≤ {TARGET_AUTO}", "{:.2f}×", lambda v: v <= TARGET_AUTO, auto / min(one, default))
    if "cli" in results:
        rows = results["cli"]["rows"]
        row = rows["nnfw --help"]
        add("nnfw --help", f"≤ {TARGET_HELP_S} s", "{:.3f} s", lambda v: v <= TARGET_HELP_S, row["median"], row["min"])
        train, sk = rows["nnfw train configs/circles.yaml"], rows["MLPClassifier script"]
        add("nnfw train circles", f"≤ {TARGET_TRAIN_S} s", "{:.2f} s", lambda v: v <= TARGET_TRAIN_S,
            train["median"], train["min"])
        add("nnfw train / MLPClassifier script", "< 1", "{:.3f}×", lambda v: v < 1,
            train["median"] / sk["median"], train["min"] / sk["min"])
        if train["peak_mb"] is not None:
            add("nnfw train peak memory", f"≤ {TARGET_PEAK_MB:.0f} MB", "{:.0f} MB", lambda v: v <= TARGET_PEAK_MB,
                train["peak_mb"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(ALL_CASES),
                        help=f"comma-separated, from {', '.join(ALL_CASES)} [default: all]")
    parser.add_argument("--repeats", type=int, default=11, help="timed repeats per framework [default: 11]")
    parser.add_argument("--budget", type=float, default=25.0,
                        help="seconds per training case after which no new repeat starts (3 at least) [default: 25]")
    parser.add_argument("--cli-runs", type=int, default=3,
                        help="timed runs of each training process in the cli case [default: 3]")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per timed call, for every case [default: per case, about 0.1-0.3 s a call]")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON (tables go to stderr)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile hotspots of nnfw's fit per case")
    parser.add_argument("--scale-max", type=int, default=7, help="the scale case's largest size, as a power of 10 [default: 7]")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(ALL_CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(ALL_CASES)}")
    if args.repeats < 1 or args.cli_runs < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--repeats, --cli-runs and --epochs must be at least 1")

    report = sys.stderr if args.json else sys.stdout

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    info = machine_info()
    info["contention"] = {"start": contention_probe()}
    results: dict[str, Any] = {"machine": info, "benches": []}
    if torch is None:
        log("torch is not installed: the PyTorch column is skipped (pip install torch)")
    for case in cases:
        if case in BENCHES:
            for bench in BENCHES[case]:
                results["benches"].append(time_bench(bench, args.repeats, args.epochs, args.budget, log))
                if args.profile:
                    results.setdefault("profiles", {})[bench.key] = profile_nnfw(bench, args.epochs)
    if "digits" in cases:
        results["matmul"] = matmul_rates(log)
        n_samples = {b["key"]: b["n_samples"] for b in results["benches"]}
        results["products"] = {bench.key: epoch_products(bench, n_samples[bench.key]) for bench in BENCHES["digits"]}
        log("  products per epoch done")
    if "threads" in cases:
        results["threads"] = time_threads(args.repeats, args.budget, log)
    if "scale" in cases:
        results["scale"] = time_scale(args.scale_max, log)
    if "cli" in cases:
        results["cli"] = time_cli(args.cli_runs, log)
    info["contention"]["end"] = contention_probe()
    results["total_seconds"] = time.perf_counter() - started

    parts = [header(info)]
    parts += [bench_table(b) for b in results["benches"]]
    if "matmul" in results:
        parts.append(matmul_table(results["matmul"], next((b for b in results["benches"] if b["key"] == "digits-b256"), None)))
    if "products" in results:
        parts.append(products_table(results["products"], results["benches"]))
    if "threads" in results:
        parts.append(threads_table(results["threads"]))
    if "scale" in results:
        parts.append(scale_table(results["scale"]))
    if "cli" in results:
        parts.append(cli_table(results["cli"]))
    parts.append(targets_table(results))
    for key, text in results.get("profiles", {}).items():
        parts.append(f"## cProfile of nnfw fit, {key} (sorted by own time)\n\n```\n{text.rstrip()}\n```")
    parts.append(f"Benchmark took {results['total_seconds']:.0f} s.")
    print("\n\n".join(parts), file=report, flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=2, default=str)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
