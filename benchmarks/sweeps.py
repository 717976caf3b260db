"""Time `nnfw sweep` as whole processes: how 2 local workers compare with 1, and what a run costs
beyond its own training.

    python benchmarks/sweeps.py                      # both cases, about 2-3 minutes on 2 cores
    python benchmarks/sweeps.py --cases scaling      # the 24-run circles sweep, 1 worker then 2 (alternated)
    python benchmarks/sweeps.py --cases scaling --epochs 20   # its runs trained 20 epochs instead of circles' 60
    python benchmarks/sweeps.py --cases overhead     # 100 small runs on 1 worker
    python benchmarks/sweeps.py --json               # the figures as JSON on stdout; the tables go to stderr

scaling: sweeps/circles_lr_width.yaml (24 runs) with --workers 1 and --workers 2, alternated
--repeats times; the figure is the median time with 2 workers over the median with 1.

overhead: 100 runs of a small config (300 points, 5 epochs) on one worker. Beyond the sum of the
runs' train_seconds (the training loop), the whole command also spends: its start (imports,
validating the 100 configs, starting the worker, which imports nnfw once), each run's own work
outside the loop (making the data, final metrics, writing its files, in the worker), and the
sweep's own per-run work (sending the task, the files back, writing them, summary.csv). Each is
reported per run; "steady" is the time between the first and the last result, less the runs'
own time in the worker, per run.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

SMALL = """\
seed: 0
data: {dataset: circles, n_samples: 300, noise: 0.05}
model:
  layers:
    - {type: linear, units: 8}
    - relu
    - {type: linear, units: 1, init: xavier}
    - sigmoid
training: {optimizer: adam, learning_rate: 0.02, epochs: 5, batch_size: 64}
"""

HUNDRED = """\
name: hundred
base: small.yaml
grid:
  training.learning_rate: [0.001, 0.002, 0.003, 0.005, 0.007, 0.01, 0.015, 0.02, 0.03, 0.05,
                           0.07, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.5, 2.0]
seeds: [0, 1, 2, 3]
"""


def run_sweep(args: list[str], out: Path) -> dict:
    """Run `nnfw sweep` as a process; the wall time, the time of each progress line, the summary."""
    command = [sys.executable, "-m", "nnfw_cli", "sweep", *args, "--output-dir", str(out)]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stamps = []
    for line in process.stderr:
        if line.startswith("["):
            stamps.append(time.perf_counter() - start)
    stdout = process.communicate()[0]
    wall = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{stdout}")
    folder = max(out.iterdir(), key=lambda p: p.stat().st_mtime)
    with open(folder / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {"wall": wall, "stamps": stamps, "rows": rows, "folder": str(folder)}


def scaling_sweep(work: Path, epochs: int | None = None) -> Path:
    """The example sweep; with ``epochs``, a copy in ``work`` whose runs train that many epochs."""
    sweep = ROOT / "sweeps" / "circles_lr_width.yaml"
    if epochs is None:
        return sweep
    import yaml

    spec = yaml.safe_load(sweep.read_text())
    spec["base"] = str((sweep.parent / spec["base"]).resolve())
    spec["set"] = {**spec.get("set", {}), "training.epochs": epochs}
    copy = work / "scaling.yaml"
    copy.write_text(yaml.safe_dump(spec, sort_keys=False))
    return copy


def epochs_of(sweep: Path) -> int:
    """The epochs each run of ``sweep`` trains."""
    from nnfw_cli.sweep import load_sweep

    return load_sweep(sweep).points[0].config["training"]["epochs"]


def scaling(repeats: int, work: Path, epochs: int | None = None) -> dict:
    sweep = scaling_sweep(work, epochs)
    walls: dict[int, list[float]] = {1: [], 2: []}
    busy: dict[int, list[float]] = {1: [], 2: []}  # the runs' own seconds in the workers, summed
    best = 0.0
    for repeat in range(repeats):
        for workers in (1, 2):
            ran = run_sweep([str(sweep), "--workers", str(workers)], work / f"scaling-{workers}-{repeat}")
            walls[workers].append(ran["wall"])
            busy[workers].append(sum(float(row["seconds"]) for row in ran["rows"]))
            best = max(best, max(float(row["roc_auc"]) for row in ran["rows"]))
            print(f"scaling: {workers} worker(s), repeat {repeat + 1}: {ran['wall']:.2f} s "
                  f"(the runs' own time in the workers, summed: {busy[workers][-1]:.2f} s)", file=sys.stderr)
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    paired = [b / a for a, b in zip(walls[1], walls[2])]  # each repeat's 2-worker sweep against its 1-worker one
    # what a second worker cannot shorten: the wall time less the runs' own time, shared among the workers
    fixed = {workers: statistics.median(wall - ran / workers for wall, ran in zip(walls[workers], busy[workers]))
             for workers in (1, 2)}
    # the best 2 workers could do: the 1-worker sweep with its runs' time halved, the rest as it was
    runs_1 = statistics.median(busy[1])
    bound = (fixed[1] + runs_1 / 2) / (fixed[1] + runs_1)
    return {"walls": walls, "run_seconds": busy, "median_1": one, "median_2": two, "ratio": two / one,
            "paired_ratios": paired, "fixed_seconds": fixed, "best_possible_ratio": bound, "best_roc_auc": best,
            "runs": 24, "epochs": epochs_of(sweep)}


def overhead(work: Path) -> dict:
    (work / "small.yaml").write_text(SMALL)
    (work / "hundred.yaml").write_text(HUNDRED)
    ran = run_sweep([str(work / "hundred.yaml"), "--workers", "1"], work / "overhead")
    rows = ran["rows"]
    n = len(rows)
    train = sum(float(row["train_seconds"]) for row in rows if row["train_seconds"])
    in_worker = sum(float(row["seconds"]) for row in rows)
    stamps = ran["stamps"]
    first_run = float(rows[0]["seconds"])
    steady = (stamps[-1] - stamps[0] - (in_worker - first_run)) / (n - 1)
    return {"runs": n, "wall": ran["wall"], "train_seconds": train, "run_seconds": in_worker,
            "per_run_beyond_training": (ran["wall"] - train) / n,
            "per_run_beyond_the_runs": (ran["wall"] - in_worker) / n,
            "run_outside_training": (in_worker - train) / n,
            "start_until_first_run": stamps[0] - first_run,
            "steady_per_run": steady,
            "failed": sum(row["status"] != "completed" for row in rows)}


def report(results: dict, probe: dict | None) -> str:
    lines = ["# nnfw sweep benchmark", ""]
    if probe:
        lines.append(f"- CPU contention probe: {probe['busy_processes']} busy processes each did "
                     f"{probe['work_share_each']:.0%} of a lone one's work")
    if "scaling" in results:
        s = results["scaling"]
        busy_1, busy_2 = (statistics.median(s["run_seconds"][workers]) for workers in (1, 2))
        lines += [f"- scaling, 24-run circles sweep ({s['epochs']} epochs a run): 1 worker {s['median_1']:.2f} s, "
                  f"2 workers {s['median_2']:.2f} s "
                  f"(medians of {len(s['walls'][1])}): 2 workers take {s['ratio']:.2f}× the time of 1 "
                  f"(target ≤ 0.65×: {'met' if s['ratio'] <= 0.65 else 'not met'}); best ROC AUC {s['best_roc_auc']:.4f}",
                  f"  - repeat by repeat, 2 workers against 1: {min(s['paired_ratios']):.2f}× to "
                  f"{max(s['paired_ratios']):.2f}×",
                  f"  - the runs' own time in the workers, summed (median): 1 worker {busy_1:.2f} s, 2 workers "
                  f"{busy_2:.2f} s" + (f" ({busy_2 / busy_1 - 1:.0%} more with 2: each run had less than a core of its "
                                       "own)" if busy_2 > busy_1 else ""),
                  f"  - the rest, which a second worker cannot shorten (wall time less the runs' time shared among "
                  f"the workers; median): 1 worker {s['fixed_seconds'][1]:.2f} s, 2 workers {s['fixed_seconds'][2]:.2f} s",
                  f"  - the best 2 workers could do, the runs shared perfectly and the rest as with 1 worker: "
                  f"{s['best_possible_ratio']:.2f}× the time of 1"]
    if "overhead" in results:
        o = results["overhead"]
        ms = lambda seconds: f"{seconds * 1e3:.1f} ms"  # noqa: E731
        lines += [f"- overhead, {o['runs']} small runs on 1 worker: {o['wall']:.2f} s in all, "
                  f"{o['train_seconds']:.2f} s of it in the runs' training loops",
                  f"  - beyond training, per run: {ms(o['per_run_beyond_training'])} (target ≤ 50 ms: "
                  f"{'met' if o['per_run_beyond_training'] <= 0.05 else 'not met'}), of which:",
                  f"    - the command's start until the first run began (imports, 100 configs validated, "
                  f"the worker started): {ms(o['start_until_first_run'] / o['runs'])} ({o['start_until_first_run']:.2f} s once)",
                  f"    - each run's own work outside its training loop (data, final metrics, files, in the worker): "
                  f"{ms(o['run_outside_training'])}",
                  f"    - the sweep's per-run work in steady state (task out, files back and written, summary.csv): "
                  f"{ms(o['steady_per_run'])}",
                  f"  - beyond the runs' whole time in the worker: {ms(o['per_run_beyond_the_runs'])} per run"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="scaling,overhead")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, help="scaling: the example sweep's runs trained this many epochs "
                                                   "instead of circles' own 60")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-probe", action="store_true")
    options = parser.parse_args()
    probe = None
    if not options.no_probe:
        from bench import contention_probe

        probe = contention_probe()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="nnfw-sweep-bench-") as tmp:
        work = Path(tmp)
        cases = options.cases.split(",")
        if "overhead" in cases:
            results["overhead"] = overhead(work)
        if "scaling" in cases:
            results["scaling"] = scaling(options.repeats, work, options.epochs)
    print(report(results, probe), file=sys.stderr)
    if options.json:
        print(json.dumps({"probe": probe, **results}, indent=2))


if __name__ == "__main__":
    main()
