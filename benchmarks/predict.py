#!/usr/bin/env python
"""`nnfw predict` on a large CSV of numbers, as a user types it, timed from the moment its imports
are done to the command's end:

    python benchmarks/predict.py                            # 10^6 rows x 10 columns, 5 runs
    python benchmarks/predict.py --rows 200000 --columns 50
    python benchmarks/predict.py --other ../old             # alternated with another checkout's code
    python benchmarks/predict.py --points                   # a run trained on circles: points x, y

The run predicted with is trained once, on 2,000 rows of the same columns (x1 .. xn and a 0/1
label), by this checkout; with --points, on 2,000 points of the circles data set (x and y). The
input file has the feature columns and an `id` column, written with six decimals as most tools
write them, with a header; the output of every run is checked to be byte for byte the same as
the first one's.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ONE_RUN = """
import contextlib, io, json, sys, time
start = time.perf_counter()
import pandas, sklearn.metrics
import nnfw_cli, nnfw_cli.cli, nnfw_cli.saved
imported = time.perf_counter()
sys.argv = ["nnfw", "predict", *sys.argv[1:]]
with contextlib.redirect_stderr(io.StringIO()):
    try:
        nnfw_cli.cli.main()
    except SystemExit as exc:
        if exc.code:
            raise
print(json.dumps({"imports": imported - start, "predict": time.perf_counter() - imported, "code": nnfw_cli.__file__}))
"""


def make_files(folder: Path, rows: int, columns: int, points: bool = False) -> tuple[Path, Path]:
    """A run trained on ``columns`` features (on circles' x and y with ``points``), and an input
    file of ``rows`` rows of them."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from nnfw_cli.cli import main

    rng = np.random.default_rng(0)
    names = ["x", "y"] if points else [f"x{i + 1}" for i in range(columns)]
    data = "{dataset: circles, n_samples: 2000}"
    if not points:
        X = rng.normal(size=(2000, columns))
        np.savetxt(folder / "train.csv", np.column_stack([X, X[:, 0] + X[:, -1] > 0]), delimiter=",",
                   header=",".join([*names, "label"]), comments="", fmt=["%.6f"] * columns + ["%d"])
        data = "{dataset: csv, path: train.csv, target: label}"
    config = folder / "config.yaml"
    config.write_text(f"data: {data}\n"
                      "model: {layers: [{type: linear, units: 16}, relu, {type: linear, units: 1}, sigmoid]}\n"
                      "training: {epochs: 5, batch_size: 64}\n")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(["train", str(config), "--output-dir", str(folder), "--name", "run", "--quiet"])
        except SystemExit as exc:
            if exc.code:
                sys.exit(f"training the run to predict with failed ({exc.code})")
    path = folder / "points.csv"
    with open(path, "w") as handle:
        handle.write(",".join(["id", *names]) + "\n")
        for start in range(0, rows, 100_000):
            block = rng.normal(size=(min(100_000, rows - start), len(names)))
            ids = np.arange(start, start + len(block))
            np.savetxt(handle, np.column_stack([ids, block]), delimiter=",", fmt=["%d"] + ["%.6f"] * len(names))
    return folder / "run", path


def one_run(code: Path, run: Path, points: Path, folder: Path) -> dict:
    """`nnfw predict` with the nnfw at ``code`` (a checkout), in a process of its own."""
    output = folder / "predicted.csv"
    done = subprocess.run([sys.executable, "-c", ONE_RUN, str(run), str(points), "-o", str(output), "--overwrite"],
                          env=dict(os.environ, PYTHONPATH=str(code)), cwd=folder,  # not this folder's nnfw
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{code}: nnfw predict failed ({done.returncode}):\n{done.stderr[-2000:]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(times["code"]).resolve().parent.parent != code:
        sys.exit(f"{code}: the run imported nnfw from {times['code']}, not from this checkout")
    with open(output, "rb") as handle:
        times["sha256"] = hashlib.file_digest(handle, "sha256").hexdigest() if hasattr(hashlib, "file_digest") \
            else hashlib.sha256(handle.read()).hexdigest()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each checkout (default 5)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the input file (default 10^6)")
    parser.add_argument("--columns", type=int, default=10, help="feature columns (default 10)")
    parser.add_argument("--other", type=Path, help="another checkout, run alternately with this one")
    parser.add_argument("--points", action="store_true",
                        help="predict with a run trained on circles: points of 2 features (--columns is ignored)")
    options = parser.parse_args()
    if options.points:
        options.columns = 2
    codes = [ROOT] + ([options.other.resolve()] if options.other else [])
    folder = Path(tempfile.mkdtemp(prefix="nnfw-predict-"))
    try:
        run, points = make_files(folder, options.rows, options.columns, options.points)
        size = points.stat().st_size / 2**20
        print(f"input: {options.rows:,} rows x {options.columns + 1} columns, {size:.0f} MiB", file=sys.stderr)
        results: dict[Path, list[dict]] = {code: [] for code in codes}
        for i in range(options.runs):
            for code in codes:
                times = one_run(code, run, points, folder)
                results[code].append(times)
                print(f"{code}: run {i + 1}: predict {times['predict']:.2f} s (imports {times['imports']:.2f} s)",
                      file=sys.stderr)
        digests = {times["sha256"] for runs in results.values() for times in runs}
        for code, runs in results.items():
            seconds = [r["predict"] for r in runs]
            print(f"{code}: nnfw predict of {options.rows:,} rows x {options.columns + 1} columns ({size:.0f} MiB): "
                  f"median {statistics.median(seconds):.2f} s ({min(seconds):.2f}-{max(seconds):.2f} s, "
                  f"{len(seconds)} runs, imports not counted)")
        print(f"outputs: {'the same bytes in every run' if len(digests) == 1 else f'{len(digests)} different files'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
