#!/usr/bin/env python
"""The million-row run, as a user types it, against its own training time:

    python benchmarks/million.py                          # 7 runs of this checkout
    python benchmarks/million.py --runs 5 --other ../old  # alternated with another checkout's code

Each run is a process of its own: `nnfw train configs/circles.yaml --set data.n_samples=1000000
--set training.epochs=2 --set training.batch_size=256`, timed from the moment its imports are done
(scikit-learn, pandas, matplotlib: what every run pays once, at any size) to the command's end.
"Everything else" is that time less `train_seconds` from the run's metrics.json: making and
splitting the data, scoring the test split, writing the files and drawing the pictures. The figure
is everything else over the training time, per run and as the median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--set", "training.epochs=2", "--set", "training.batch_size=256"]

ONE_RUN = """
import contextlib, io, json, sys, time
start = time.perf_counter()
import matplotlib.backends.backend_agg, matplotlib.figure, pandas, sklearn.datasets, sklearn.metrics
import nnfw_cli.cli, nnfw_cli.experiment, nnfw_cli.plots
imported = time.perf_counter()
out = io.StringIO()
sys.argv = ["nnfw", "train", sys.argv[1], *sys.argv[3:], "--output-dir", sys.argv[2], "--json", "--quiet"]
with contextlib.redirect_stdout(out):
    try:
        nnfw_cli.cli.main()
    except SystemExit as exc:
        if exc.code:
            raise
done = time.perf_counter()
metrics = json.loads(out.getvalue())["metrics"]
print(json.dumps({"imports": imported - start, "run": done - imported, "train": metrics["train_seconds"],
                  "code": nnfw_cli.__file__}))
"""


def one_run(code: Path, samples: int = 1_000_000) -> dict:
    """One run with the nnfw at ``code`` (a checkout), in a process of its own."""
    folder = tempfile.mkdtemp(prefix="nnfw-million-")
    try:
        done = subprocess.run([sys.executable, "-c", ONE_RUN, str(ROOT / "configs" / "circles.yaml"), folder, *ARGS,
                               "--set", f"data.n_samples={samples}"],
                              env=dict(os.environ, PYTHONPATH=str(code)), cwd=folder,  # not this folder's nnfw
                              capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    times = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(times["code"]).resolve().parent.parent != code:
        sys.exit(f"{code}: the run imported nnfw from {times['code']}, not from this checkout")
    times["else"] = times["run"] - times["train"]
    times["ratio"] = times["else"] / times["train"]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each checkout (default 7)")
    parser.add_argument("--other", type=Path, help="another checkout, run alternately with this one")
    parser.add_argument("--samples", type=int, default=1_000_000, help="rows of circles (default 10^6)")
    options = parser.parse_args()
    codes = [ROOT] + ([options.other.resolve()] if options.other else [])
    results: dict[Path, list[dict]] = {code: [] for code in codes}
    for i in range(options.runs):
        for code in codes:
            times = one_run(code, options.samples)
            results[code].append(times)
            print(f"{code}: run {i + 1}: imports {times['imports']:.2f} s, training {times['train']:.2f} s, "
                  f"everything else {times['else']:.2f} s ({times['ratio']:.2f}x the training)", file=sys.stderr)
    for code, runs in results.items():
        ratios = [r["ratio"] for r in runs]
        print(f"{code}: median training {statistics.median(r['train'] for r in runs):.2f} s, everything else "
              f"{statistics.median(r['else'] for r in runs):.2f} s: {statistics.median(ratios):.2f}x the training "
              f"(runs {min(ratios):.2f}x to {max(ratios):.2f}x; target <= 1x: "
              f"{'met in every run' if max(ratios) <= 1 else 'not met in every run'})")


if __name__ == "__main__":
    main()
