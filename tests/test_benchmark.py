"""The benchmark script runs end to end (a smoke test: speed is measured by running it, not here)."""

from __future__ import annotations

import json
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
