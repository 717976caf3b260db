"""`nnfw smoke`: every shipped config through every code path, and a config that breaks caught with its reason."""

from __future__ import annotations

import json
import os
import shutil
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml

from nnfw_cli import smoke
from nnfw_cli.cli import main
from nnfw_cli.config import load_config
from nnfw_cli.data import stratified_rows

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(ROOT.glob("configs/*.yaml"))
DIVERGING = {"training.learning_rate": 1000.0}  # the loss soars instead of falling


@pytest.mark.slow
def test_every_shipped_config_passes(runner, tmp_path):
    report = tmp_path / "smoke.xml"
    result = runner.invoke(main, ["smoke", *map(str, SHIPPED), "--junit-xml", str(report),
                                  "--output-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(SHIPPED) + 1 and all(line.startswith("PASS  ") for line in lines[:-1])
    assert lines[-1].startswith(f"smoke: {len(SHIPPED)} passed, 0 failed in ")
    cases = ET.parse(report).getroot().find("testsuite").findall("testcase")
    assert [case.attrib["name"] for case in cases] == list(map(str, SHIPPED))
    assert all(len(case) == 0 for case in cases)
    assert not list((tmp_path / "runs").iterdir())  # cleaned up after itself


@pytest.mark.slow
def test_a_config_that_breaks_at_run_time_fails_with_the_reason(runner, make_config, small_config, tmp_path):
    broken = make_config(DIVERGING, name="diverging")
    report = tmp_path / "smoke.xml"
    result = runner.invoke(main, ["smoke", str(small_config), str(broken), "--junit-xml", str(report), "-j", "1"])
    assert result.exit_code == 1
    passed, failed, summary = result.stdout.splitlines()
    assert passed.startswith(f"PASS  {small_config}")
    assert failed.startswith(f"FAIL  {broken}") and "loss: training did not lower the loss" in failed
    assert "learning_rate 1000" in failed
    assert summary.startswith("smoke: 1 passed, 1 failed")
    assert "1 of 2 configs failed the smoke run" in result.stderr
    cases = ET.parse(report).getroot().find("testsuite").findall("testcase")
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure.attrib["type"] == "SmokeFailure" and failure.attrib["message"].startswith("loss: training did not")


@pytest.mark.slow
def test_a_run_whose_loss_is_no_longer_a_number_fails_at_train(tmp_path, make_config):
    broken = make_config({"training.learning_rate": 1e6, "training.optimizer": "sgd", "loss": "mean_squared_error",
                          "training.batch_size": None, "training.dtype": "float32",  # overflows within the 5 epochs
                          "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 1}]})
    result = smoke.smoke_one(broken, tmp_path / "runs")
    assert not result.passed and result.stage == "train" and "training diverged at epoch" in result.message


@pytest.mark.slow
def test_an_invalid_or_missing_config_exits_2_and_the_others_still_run(runner, make_config, small_config, tmp_path):
    invalid = make_config({"training.epochs": 0}, name="invalid")
    result = runner.invoke(main, ["smoke", str(invalid), str(tmp_path / "nope.yaml"), str(small_config), "-j", "1",
                                  "--json"])
    assert result.exit_code == 2 and "2 of 3 configs are not valid" in result.stderr
    printed = json.loads(result.stdout)
    assert (printed["passed"], printed["failed"]) == (1, 2)
    first, second, third = printed["configs"]
    assert first["stage"] == "config" and first["bad_input"] and "training.epochs: must be >= 1" in first["message"]
    assert second["stage"] == "config" and "no such file" in second["message"]
    assert third["passed"] and third["run_dir"] is None and printed["kept"] is None


@pytest.mark.slow
def test_keep_keeps_the_run_folders(runner, small_config, tmp_path):
    result = runner.invoke(main, ["smoke", str(small_config), "--keep", "--json", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    run_dir = Path(printed["configs"][0]["run_dir"])
    assert run_dir.parent == Path(printed["kept"]) and f"smoke runs kept in {printed['kept']}" in result.stderr
    assert set(printed["configs"][0]["files"]) == {p.name for p in run_dir.iterdir()}
    assert {"decision_boundary.gif", "neurons.png", "eval.json", "roc_curve.png", "predictions.csv"} <= \
        set(printed["configs"][0]["files"])
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["training"]["epochs"] == 5 and config["data"]["n_samples"] == 300
    assert config["model"] == load_config(small_config).resolved()["model"]


def test_shrink_keeps_the_network_and_its_training_but_not_the_gates(tmp_path):
    config = load_config(ROOT / "configs" / "digits.yaml", ["training.max_seconds=9", 'expect=["roc_auc >= 0.99"]'])
    small = smoke.shrink(config, tmp_path)
    assert small.model == config.model and small.loss == config.loss
    assert small.training.optimizer == config.training.optimizer
    assert small.training.learning_rate == config.training.learning_rate
    assert small.training.batch_size == config.training.batch_size
    assert (small.training.epochs, small.data.max_rows) == (smoke.SMOKE_EPOCHS, smoke.SMOKE_ROWS)
    assert small.expect == [] and small.training.max_seconds is None and small.output.dir == str(tmp_path)


def test_shrink_shortens_a_warm_up_longer_than_the_smoke_run(tmp_path):
    config = load_config(ROOT / "configs" / "circles.yaml", ["training.lr_schedule={type: cosine, warmup_epochs: 20}"])
    small = smoke.shrink(config, tmp_path)
    assert small.training.lr_schedule.warmup_epochs == smoke.SMOKE_EPOCHS - 1 < small.training.epochs


def test_a_broken_file_is_named(tmp_path, finished_outputs):
    run_dir = tmp_path / "r"
    shutil.copytree(finished_outputs / "r", run_dir)
    names = ["config.yaml", "model.npz", "history.csv", "metrics.json", "loss_curve.png"]
    assert set(names) <= set(smoke.check_files(run_dir, names))
    png = run_dir / "loss_curve.png"
    png.write_bytes(png.read_bytes()[:-20])  # cut short, as a crash mid-write would
    with pytest.raises(smoke.SmokeFailure, match="loss_curve.png: not a whole PNG image"):
        smoke.check_files(run_dir, names)
    (run_dir / ".model.npz.123.abcdefgh.tmp").write_bytes(b"")
    with pytest.raises(smoke.SmokeFailure, match="left behind"):
        smoke.check_files(run_dir, names)
    with pytest.raises(smoke.SmokeFailure, match="eval.json missing"):
        smoke.check_files(run_dir, names + ["eval.json"])


def _dies_on_the_first(path, output_dir, name=None):
    """A smoke run whose process is killed, as the kernel's out-of-memory killer would."""
    if name.startswith("01-"):
        os.kill(os.getpid(), signal.SIGKILL)
    return smoke.SmokeResult(str(path), passed=True)


def test_a_worker_that_dies_fails_its_config_instead_of_hanging(monkeypatch, small_config, tmp_path):
    monkeypatch.setattr(smoke, "smoke_one", _dies_on_the_first)
    seen = []
    results = smoke.smoke_all([small_config, small_config], tmp_path, jobs=2, on_result=seen.append)
    assert seen == results and len(results) == 2
    assert not results[0].passed and "the process running it died" in results[0].message


@pytest.mark.slow
def test_runs_side_by_side_give_the_results_in_order(runner, make_config, small_config, tmp_path):
    broken = make_config(DIVERGING, name="diverging")
    result = runner.invoke(main, ["smoke", str(broken), str(small_config), "-j", "2", "--json"])
    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    assert [(c["config"], c["passed"]) for c in printed["configs"]] == [(str(broken), False), (str(small_config), True)]


# -- a stratified sample of the rows (data.max_rows) ------------------------------------------


def test_stratified_rows_keep_each_class_in_its_share_and_at_least_two():
    y = np.repeat([0, 1, 2], [900, 90, 3])
    rows = stratified_rows(y, 100, seed=0)
    assert len(rows) == 100 and np.all(np.diff(rows) > 0)
    assert np.bincount(y[rows]).tolist() == [89, 9, 2]
    assert np.array_equal(rows, stratified_rows(y, 100, seed=0))
    assert not np.array_equal(rows, stratified_rows(y, 100, seed=1))
    assert len(stratified_rows(y, 5000, seed=0)) == len(y)


def test_max_rows_samples_real_and_csv_data_before_the_split(tmp_path):
    from nnfw_cli.experiment import load_data

    digits = load_data(load_config(ROOT / "configs" / "digits.yaml", ["data.max_rows=200"]))
    assert len(digits.y_train) + len(digits.y_test) == 200 and digits.n_classes == 10
    assert np.bincount(digits.y_test, minlength=10).min() >= 1
    assert any("a stratified sample of 200 of the 1,797 rows" in note for note in digits.notes)
    wine = load_data(load_config(ROOT / "configs" / "wine_csv.yaml", ["data.max_rows=60"]))
    assert len(wine.y_train) + len(wine.y_test) == 60 and wine.n_classes == 3


def test_max_rows_too_few_for_the_classes_is_a_config_error(tmp_path):
    from nnfw_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="data.max_rows: too small to hold out"):
        load_config(ROOT / "configs" / "digits.yaml", ["data.max_rows=12"])
