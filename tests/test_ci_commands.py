"""What CI runs besides gates and smoke runs: `nnfw check` on many configs, and a time limit on training."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nnfw_cli.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(ROOT.glob("configs/*.yaml"))


def test_check_every_shipped_config(runner):
    result = runner.invoke(main, ["check", *map(str, SHIPPED)])
    assert result.exit_code == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    assert len(documents) == len(SHIPPED) and all(doc["model"]["layers"] for doc in documents)
    for path in SHIPPED:
        assert f"--- # {path}\n" in result.stdout and f"{path}: valid" in result.stderr
    assert f"all {len(SHIPPED)} configs are valid" in result.stderr


def test_check_reports_every_file_and_fails_if_any_is_invalid(runner, make_config, small_config, tmp_path):
    bad = make_config({"training.epochs": 0, "model.layers": [{"type": "linear", "units": -1}]}, name="bad")
    result = runner.invoke(main, ["check", str(bad), str(tmp_path / "missing.yaml"), str(small_config)])
    assert result.exit_code == 2
    assert "training.epochs: must be >= 1" in result.stderr and "model.layers[0].units" in result.stderr
    assert f"{tmp_path / 'missing.yaml'}: no such file" in result.stderr
    assert f"{small_config}: valid" in result.stderr and "2 of 3 configs are not valid" in result.stderr
    assert f"--- # {small_config}" in result.stdout and "bad.yaml" not in result.stdout


def test_check_of_one_config_prints_it_as_before(runner, small_config):
    result = runner.invoke(main, ["check", str(small_config)])
    assert result.exit_code == 0 and result.stdout.startswith("seed: 3\n")


# -- a time limit -----------------------------------------------------------------------------

LONG = {"training.epochs": 100000, "training.batch_size": 8, "training.checkpoint_every": 0}


@pytest.mark.slow
@pytest.mark.parametrize("how", ["config", "option"])
def test_time_limit_stops_at_an_epoch_end_and_keeps_a_scored_resumable_run(runner, make_config, tmp_path, how):
    changes = {**LONG, "training.max_seconds": 0.5} if how == "config" else LONG
    config = make_config(changes)
    extra = ["--max-seconds", "0.5"] if how == "option" else []
    result = runner.invoke(main, ["train", str(config), "--name", "t", "--json", *extra])
    assert result.exit_code == 0, result.stderr
    run_dir = tmp_path / "outputs" / "t"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "time_limit" and 1 <= metrics["epochs"] < LONG["training.epochs"]
    assert metrics["train_seconds"] >= 0.5 and 0.5 <= metrics["roc_auc"] <= 1
    assert len(pd.read_csv(run_dir / "history.csv")) == metrics["epochs"]
    assert {"checkpoint.npz", "loss_curve.png", "decision_boundary.png", "confusion_matrix.png"} <= \
        {p.name for p in run_dir.iterdir()}
    assert "time limit: stopped after epoch" in result.stderr and f"nnfw train --resume {run_dir}" in result.stderr
    assert json.loads(result.stdout)["metrics"]["status"] == "time_limit"


@pytest.mark.slow
def test_a_time_limited_run_resumes_and_can_be_gated(runner, make_config, tmp_path):
    config = make_config({**LONG, "training.epochs": 400, "data.n_samples": 200})
    first = runner.invoke(main, ["train", str(config), "--name", "t", "--quiet", "--max-seconds", "0.2"])
    assert first.exit_code == 0, first.stderr
    run_dir = tmp_path / "outputs" / "t"
    stopped = json.loads((run_dir / "metrics.json").read_text())["epochs"]
    assert stopped < 400
    assert "max_seconds: 0.2" in (run_dir / "config.yaml").read_text()  # each session of the run gets as long
    result = runner.invoke(main, ["train", "--resume", str(run_dir), "--quiet", "--expect", "epochs>=400",
                                  "--max-seconds", "600"])
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs"] == 400
    assert metrics["expectations"] == [{"check": "epochs >= 400", "value": 400, "passed": True}]
    assert not (run_dir / "checkpoint.npz").exists()


@pytest.mark.slow
def test_a_time_limit_then_an_unmet_gate_exits_3(runner, make_config):
    config = make_config(LONG)
    result = runner.invoke(main, ["train", str(config), "--quiet", "--max-seconds", "0.2", "--expect",
                                  f"epochs>={LONG['training.epochs']}"])
    assert result.exit_code == 3 and "epochs >= 100000" in result.stderr


def test_max_seconds_must_be_positive(runner, small_config):
    result = runner.invoke(main, ["train", str(small_config), "--max-seconds", "0"])
    assert result.exit_code == 2
    result = runner.invoke(main, ["check", str(small_config), "--set", "training.max_seconds=-1"])
    assert result.exit_code == 2 and "training.max_seconds: must be > 0" in result.stderr


# -- the README's CI jobs ---------------------------------------------------------------------

README = ROOT / "README.md"


def _ci_jobs() -> list[dict]:
    section = README.read_text(encoding="utf-8").split("## Use in CI", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def _nnfw_commands(job: dict) -> list[list[str]]:
    """Every ``nnfw ...`` command line of a GitHub Actions or GitLab CI job, split as the shell would."""
    if "jobs" in job:
        scripts = [step.get("run", "") for build in job["jobs"].values() for step in build["steps"]]
    else:
        scripts = [line for build in job.values() for line in build["script"]]
    return [shlex.split(line) for script in scripts for line in script.splitlines() if line.startswith("nnfw ")]


def test_readme_ci_jobs_use_real_commands_and_options():
    github, gitlab = _ci_jobs()
    for job in (github, gitlab):
        commands = _nnfw_commands(job)
        assert [words[1] for words in commands] == ["check", "smoke", "train"]
        for words in commands:
            command = main.commands[words[1]]
            known = {name for param in command.params for name in param.opts}
            assert {word for word in words if word.startswith("-")} <= known, words
        train = commands[-1]
        assert "--expect" in train and "--junit-xml" in train and train[train.index("--name") + 1] == "circles"
    steps = github["jobs"]["train"]["steps"]
    assert any(step.get("uses", "").startswith("actions/upload-artifact") and step["with"]["path"] == "outputs/circles/"
               for step in steps)
    assert gitlab["nnfw"]["artifacts"]["paths"] == ["outputs/circles/"]
    assert gitlab["nnfw"]["artifacts"]["reports"]["junit"] == ["reports/smoke.xml", "reports/train.xml"]


@pytest.mark.slow
def test_readme_gate_passes_on_the_shipped_config(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train = _nnfw_commands(_ci_jobs()[0])[-1]
    args = [str(ROOT / word) if word.startswith("configs/") else word for word in train[1:]]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    metrics = json.loads((tmp_path / "outputs" / "circles" / "metrics.json").read_text())
    assert all(check["passed"] for check in metrics["expectations"]) and len(metrics["expectations"]) == 2
    assert ET.parse(tmp_path / "reports" / "train.xml").getroot().find("testsuite").attrib["failures"] == "0"
