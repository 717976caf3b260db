"""The benchmark script runs end to end (a smoke test: speed is measured by running it, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
