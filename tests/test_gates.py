"""Expectations (``--expect``, ``expect:``): parsing, metric names, judging, and the exit codes of train and eval."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from nnfw_cli import gates
from nnfw_cli.cli import main
from nnfw_cli.config import load_config
from nnfw_cli.errors import ConfigError
from nnfw_cli.experiment import with_gates

METRICS = {"roc_auc": 0.9, "accuracy": 0.8, "loss": 0.25, "train_seconds": 3.0, "status": "completed",
           "epochs": 5, "per_class": {"setosa.v2": {"recall": 0.5, "precision": None}},
           "confusion_matrix": {"class_names": ["a", "b"], "counts": [[1, 0], [0, 1]]}}


@pytest.mark.parametrize(("text", "met"), [
    ("roc_auc>=0.9", True), ("roc_auc>=0.91", False),
    ("roc_auc>0.9", False), ("roc_auc>0.89", True),
    ("train_seconds<=3", True), ("train_seconds<=2.99", False),
    ("train_seconds<3", False), ("train_seconds<3.01", True),
])
def test_each_operator(text, met):
    expectation = gates.parse(text)
    assert expectation.op in text and expectation.metric in text
    assert gates.judge([expectation], METRICS) == [{"check": expectation.check, "value": METRICS[expectation.metric],
                                                   "passed": met}]


def test_spaces_and_number_forms_are_read_the_one_way():
    assert gates.parse("  loss <  1e-3 ").check == "loss < 1e-3"
    assert gates.parse("loss<1e-3").threshold == 0.001
    assert gates.parse("epochs>=-2").threshold == -2


@pytest.mark.parametrize(("text", "said"), [
    ("roc_auc=>0.9", "did you mean >="), ("roc_auc==0.9", "not an operator"), ("roc_auc = 0.9", "not an operator"),
    ("roc_auc >= high", "not a number"), ("roc_auc >= nan", "finite"), ("roc_auc >= inf", "finite"),
    ("roc_auc", "not an expectation"), ("roc_auc >= 0.9 and loss < 1", "not an expectation"),
    ("", "not an expectation"),
])
def test_what_is_not_an_expectation_says_why(text, said):
    with pytest.raises(ValueError, match=said):
        gates.parse(text)


def test_nested_metrics_by_path_a_key_with_a_dot_whole():
    assert gates.lookup(METRICS, "per_class.setosa.v2.recall") == (True, 0.5)
    assert gates.lookup(METRICS, "per_class.setosa.v2.f1") == (False, None)
    assert "per_class.setosa.v2.precision" in gates.numeric_names(METRICS)
    assert not {"status", "confusion_matrix.counts", "confusion_matrix.class_names"} & set(gates.numeric_names(METRICS))


def test_an_undefined_or_missing_value_meets_nothing():
    results = gates.judge(gates.parse_all(["per_class.setosa.v2.precision >= 0", "roc_auc < 2"]),
                          {**METRICS, "roc_auc": math.nan})
    assert results == [{"check": "per_class.setosa.v2.precision >= 0", "value": None, "passed": False},
                       {"check": "roc_auc < 2", "value": None, "passed": False}]
    assert gates.judge([gates.parse("roc_auc >= 0.5")], {"status": "diverged"})[0]["passed"] is False


def test_a_metric_that_does_not_exist_is_a_config_error_with_did_you_mean():
    with pytest.raises(ConfigError) as caught:
        gates.check_names(gates.parse_all(["roc_aucc >= 0.9", "accuracy > 0.5", "status >= 1"]), METRICS)
    first, second = caught.value.problems
    assert "no metric 'roc_aucc'" in first and "did you mean 'roc_auc'?" in first and "train_seconds" in first
    assert "'status' is str" in second and "not a number" in second


def test_config_and_command_line_expectations_are_merged(tmp_path, config_writer):
    path = config_writer(tmp_path / "c.yaml", tmp_path / "out", {"expect": ["roc_auc>=0.5", "loss < 2"]})
    config = load_config(path)
    assert config.expect == ["roc_auc >= 0.5", "loss < 2"]
    merged = with_gates(config, ("train_seconds<=60", "loss<2"), max_seconds=30)
    assert merged.expect == ["roc_auc >= 0.5", "loss < 2", "train_seconds <= 60"]
    assert merged.training.max_seconds == 30 and config.training.max_seconds is None and config.expect[-1] == "loss < 2"
    with pytest.raises(ConfigError, match="--expect: 'loss=<2'.*did you mean <="):
        with_gates(config, ("loss=<2",))


def test_a_bad_expectation_in_a_config_names_its_line(tmp_path, config_writer):
    path = config_writer(tmp_path / "c.yaml", tmp_path / "out", {"expect": ["roc_auc >= 0.5", "roc_auc => 0.9"]})
    with pytest.raises(ConfigError, match=r"c\.yaml:\d+:\d+: expect\[1\]: 'roc_auc => 0.9': '=>' is not an operator"):
        load_config(path)


def test_a_config_without_expectations_resolves_as_before(small_config):
    assert "expect" not in load_config(small_config).resolved()


# -- train and eval ---------------------------------------------------------------------------


@pytest.mark.slow
def test_unmet_expectation_exits_3_naming_each_with_its_value(runner, make_config, tmp_path):
    config = make_config({"expect": ["accuracy >= 0"]})
    result = runner.invoke(main, ["train", str(config), "--quiet", "--name", "g", "--expect", "roc_auc>1.5",
                                  "--expect", "train_seconds<=600", "--expect", "loss < 0"])
    assert result.exit_code == 3, result.output
    assert "2 of 4 expectations not met" in result.stderr
    metrics = json.loads((tmp_path / "outputs" / "g" / "metrics.json").read_text())
    assert f"roc_auc > 1.5: {metrics['roc_auc']:.6g}" in result.stderr
    assert f"loss < 0: {metrics['loss']:.6g}" in result.stderr and "train_seconds" not in result.stderr
    assert [(r["check"], r["passed"]) for r in metrics["expectations"]] == [
        ("accuracy >= 0", True), ("roc_auc > 1.5", False), ("train_seconds <= 600", True), ("loss < 0", False)]
    assert metrics["expectations"][1]["value"] == metrics["roc_auc"]
    assert "NOT MET  roc_auc > 1.5" in result.stdout and "met      train_seconds <= 600" in result.stdout
    assert metrics["status"] == "completed"  # the run itself is whole: the gate is a verdict on it


@pytest.mark.slow
def test_met_expectations_exit_0_and_json_carries_them(runner, small_config):
    result = runner.invoke(main, ["train", str(small_config), "--json", "--expect", "roc_auc>=0", "--expect",
                                  "n_test>=1"])
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["expectations"] == printed["metrics"]["expectations"]
    assert [r["passed"] for r in printed["expectations"]] == [True, True]


def test_unknown_metric_is_refused_before_training_with_exit_2(runner, small_config, tmp_path):
    result = runner.invoke(main, ["train", str(small_config), "--quiet", "--expect", "roc_acu>=0.9"])
    assert result.exit_code == 2
    assert "no metric 'roc_acu'" in result.stderr and "did you mean 'roc_auc'?" in result.stderr
    assert not (tmp_path / "outputs").exists()  # nothing was trained or written


@pytest.mark.slow
def test_multiclass_metrics_are_known_by_path(runner, make_config, tmp_path):
    config = make_config({"data.dataset": "blobs", "data.classes": 3,
                          "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 3},
                                           "softmax"], "loss": "cross_entropy"})
    result = runner.invoke(main, ["train", str(config), "--quiet", "--name", "m", "--expect", "f1_macro>=0",
                                  "--expect", "per_class.1.recall>=0"])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(main, ["train", str(config), "--quiet", "--expect", "per_class.7.recall>=0"])
    assert result.exit_code == 2 and "no metric 'per_class.7.recall'" in result.stderr


@pytest.mark.slow
def test_a_diverged_run_fails_its_expectations_and_exits_1(runner, make_config, tmp_path):
    config = make_config({"training.learning_rate": 1e6, "training.optimizer": "sgd", "loss": "mean_squared_error",
                          "training.batch_size": None, "training.epochs": 60,
                          "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 1}]})
    result = runner.invoke(main, ["train", str(config), "--quiet", "--name", "d", "--expect", "roc_auc>=0.5"])
    assert result.exit_code == 1 and "diverged" in result.stderr
    metrics = json.loads((tmp_path / "outputs" / "d" / "metrics.json").read_text())
    assert metrics["expectations"] == [{"check": "roc_auc >= 0.5", "value": None, "passed": False}]


@pytest.mark.slow
def test_eval_gates_a_saved_run(runner, run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    result = runner.invoke(main, ["eval", str(run_dir), "--expect", f"roc_auc>={metrics['roc_auc']}"])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(main, ["eval", str(run_dir), "--json", "--expect", f"roc_auc>{metrics['roc_auc']}",
                                  "--expect", "log_loss<100"])
    assert result.exit_code == 3
    printed = json.loads(result.stdout)
    assert [r["passed"] for r in printed["expectations"]] == [False, True]
    assert f"roc_auc > {metrics['roc_auc']}: {metrics['roc_auc']:.6g}" in result.stderr
    saved = json.loads((run_dir / printed["eval_file"].split("/")[-1]).read_text())
    assert saved["expectations"] == printed["expectations"]


def test_eval_refuses_a_metric_it_does_not_have_and_writes_nothing(runner, run_dir):
    before = sorted(p.name for p in run_dir.iterdir())
    result = runner.invoke(main, ["eval", str(run_dir), "--expect", "train_seconds<5"])
    assert result.exit_code == 2 and "no metric 'train_seconds' in the evaluation's metrics" in result.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == before


@pytest.mark.slow
def test_config_expectations_are_saved_with_the_run(runner, make_config, tmp_path):
    config = make_config({"expect": ["roc_auc >= 0"]})
    result = runner.invoke(main, ["train", str(config), "--quiet", "--name", "s", "--expect", "loss<100"])
    assert result.exit_code == 0, result.stderr
    saved = yaml.safe_load((tmp_path / "outputs" / "s" / "config.yaml").read_text())
    assert saved["expect"] == ["roc_auc >= 0", "loss < 100"]
