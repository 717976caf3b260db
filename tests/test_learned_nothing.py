"""A run that learned nothing says so: a warning on stderr and in metrics.json, the exit code unchanged."""

from __future__ import annotations

import json

import pytest

from nnfw_cli import experiment, runs
from nnfw_cli.cli import main
from nnfw_cli.metrics import learned_nothing

FALLING = [0.69, 0.5]


@pytest.mark.parametrize("auc, warned", [(0.5, True), (0.52, True), (0.48, True), (0.5201, False), (0.4799, False),
                                         (0.9, False), (None, False), (float("nan"), False)])
def test_a_test_auc_within_0_02_of_chance(auc, warned):
    found = learned_nothing(auc, FALLING)
    assert bool(found) == warned
    if warned:
        assert f"its test ROC AUC, {auc:.4f}, is within 0.02 of chance (0.5)" in found[0]


@pytest.mark.parametrize("losses, warned", [([0.69, 0.7, 0.69], True), ([0.69, 0.8, 0.9], True),
                                            ([0.69, 0.7, 0.6], False), ([0.69], False)])
def test_a_loss_that_never_fell_below_its_first_epochs(losses, warned):
    found = learned_nothing(0.9, losses)
    assert bool(found) == warned
    if warned:
        assert "training loss never fell below the first epoch's (0.69)" in found[0]


@pytest.mark.slow
def test_a_good_run_has_no_warnings(runner, make_config):
    result = runner.invoke(main, ["train", str(make_config()), "--json"])
    assert result.exit_code == 0 and "warning" not in result.stderr
    assert json.loads(result.stdout)["metrics"]["warnings"] == []


@pytest.mark.slow
def test_a_run_that_learned_nothing_warns_and_still_exits_0(runner, make_config, monkeypatch):
    scored = experiment.final_metrics

    def at_chance(*args, **kwargs):
        return {**scored(*args, **kwargs), "roc_auc": 0.507}

    monkeypatch.setattr(experiment, "final_metrics", at_chance)
    result = runner.invoke(main, ["train", str(make_config()), "--name", "r"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("warning: the model learned nothing: its test ROC AUC, 0.5070, is within 0.02") == 1
    assert result.stderr.rstrip().splitlines()[-1].startswith("warning: ")  # last, after the run's folder
    metrics = json.loads((make_config().parent / "outputs" / "r" / runs.METRICS).read_text())
    assert metrics["warnings"] == [line[len("warning: "):] for line in result.stderr.splitlines()
                                   if line.startswith("warning: ")]
