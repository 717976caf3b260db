"""The benchmark script runs end to end (a smoke test: speed is measured by running it, not here)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # about 10 s: the script probes the CPU for contention and times every framework
def test_benchmark_runs_and_reports_every_framework_it_has():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--cases", "article", "--repeats", "3",
         "--epochs", "1", "--budget", "3", "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (article,) = report["benches"]
    assert article["key"] == "article" and article["repeats"] == 3
    frameworks = set(article["rows"])
    assert {"nnfw", "nnfw float32", "scikit-learn"} <= frameworks
    for row in article["rows"].values():
        assert row["median"] > 0 and len(row["per_epoch_s"]) == 3
    assert "## nnfw against the targets" in result.stderr
    assert "article: nnfw / scikit-learn" in result.stderr


@pytest.mark.slow  # times the matrix products of two epochs with each library
def test_products_alone_are_timed_per_library_and_the_rest_is_the_difference():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    tiny = bench.Bench("tiny", "tiny", (4, 3, 2), "softmax", "adam", 0.01, 2, np.float32, lambda: None, 1)
    times = bench.epoch_products(tiny, n_samples=5, rounds=3)
    assert set(times) == ({"numpy", bench.TORCH} if bench.torch is not None else {"numpy"})
    assert all(0 < seconds < 1 for seconds in times.values())
    table = bench.products_table({"tiny": {"numpy": 0.002}}, [{"key": "tiny", "rows": {"nnfw": {"median": 0.005}}}])
    assert "| tiny | numpy (nnfw) | 2.00 | 5.00 | 3.00 |" in table


def test_same_runs_leaves_out_the_seconds_a_state_file_keeps_and_sees_any_other_change(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import same_runs
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))

    def record(root: Path, seconds: float, weight: float) -> None:
        (root / "run").mkdir(parents=True)
        state = {"epoch": 3, "seconds": seconds, "provenance": {"command": f"nnfw train --output-dir {root}"}}
        np.savez(root / "run" / "state.npz", **{"model.0.weight": np.array([weight]), "state": np.array(json.dumps(state))})

    record(tmp_path / "before", 0.52, 1.5)
    record(tmp_path / "after", 0.71, 1.5)
    record(tmp_path / "changed", 0.52, 1.25)
    assert same_runs.compare(tmp_path / "before", tmp_path / "after") == 0
    assert same_runs.compare(tmp_path / "before", tmp_path / "changed") == 1


@pytest.mark.slow
def test_the_million_row_benchmark_reports_each_checkout_against_its_training_time(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(ROOT / "nnfw_cli", other / "nnfw_cli")  # another checkout's code: here, the same
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "million.py"), "--runs", "1",
                           "--samples", "2000", "--other", str(other)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(ROOT), str(other)]
    assert all(re.search(r"median training [\d.]+ s, everything else [\d.]+ s: [\d.]+x the training", line)
               for line in lines)
    assert done.stderr.count("run 1: imports") == 2


@pytest.mark.slow
def test_the_million_row_benchmark_runs_the_code_of_the_checkout_it_names(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(ROOT / "nnfw_cli", other / "nnfw_cli")
    done = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import million; "
                           "print(million.one_run(million.Path(sys.argv[2]), 2000)['code'])",
                           str(ROOT / "benchmarks"), str(other)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == other / "nnfw_cli" / "__init__.py"


@pytest.mark.slow
@pytest.mark.parametrize("data, columns", [([], 4), (["--points"], 3)], ids=["csv-run", "points"])
def test_the_predict_benchmark_times_each_checkout_and_compares_their_outputs(tmp_path, data, columns):
    other = tmp_path / "other"
    shutil.copytree(ROOT / "nnfw_cli", other / "nnfw_cli")  # another checkout's code: here, the same
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "predict.py"), "--runs", "1", "--rows", "3000",
                           "--columns", "3", "--other", str(other), *data], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == [str(ROOT), str(other)]
    assert all(re.search(rf"nnfw predict of 3,000 rows x {columns} columns \(0 MiB\): median [\d.]+ s", line)
               for line in lines[:2])
    assert lines[2] == "outputs: the same bytes in every run"


@pytest.mark.slow  # a third of a second: 48 configs validated
def test_the_sweep_benchmark_times_the_example_sweep_at_the_epochs_asked_for(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import sweeps as sweep_bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from nnfw_cli.sweep import load_sweep

    example = load_sweep(sweep_bench.scaling_sweep(tmp_path))
    shorter = load_sweep(sweep_bench.scaling_sweep(tmp_path, 20))
    assert len(example.points) == len(shorter.points) == 24
    assert {p.config["training"]["epochs"] for p in example.points} == {60}
    assert {p.config["training"]["epochs"] for p in shorter.points} == {20}
    assert [p.overrides for p in shorter.points] == [p.overrides for p in example.points]
