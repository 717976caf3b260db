"""``nnfw train --from RUN``: a new run that trains on from a finished one, taking the steps a
longer uninterrupted run takes, and leaving the finished run as it was, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nnfw_cli import experiment, runs
from nnfw_cli.cli import main
from nnfw_cli.config import load_config
from nnfw_cli.errors import RunError

# Mini-batches, dropout and a step schedule: the shuffling and dropout streams, the optimizer's
# state and the schedule must all carry on. Scored every epoch, so histories compare whole.
CONTINUED = {
    "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "dropout", "rate": 0.2},
                     {"type": "linear", "units": 1, "init": "xavier"}, "sigmoid"],
    "training.eval_every": 1,
    "training.lr_schedule": {"type": "step", "step_size": 4, "gamma": 0.5},
}


@pytest.fixture(autouse=True)
def no_pictures(monkeypatch) -> None:
    for name in ("draw_loss_curve", "draw_decision_boundary", "draw_confusion_matrix"):
        monkeypatch.setattr(experiment, name, lambda *args, **kwargs: None)


def _train(make_config, epochs: int, name: str, changes: dict | None = None) -> Path:
    config = make_config({**CONTINUED, "training.epochs": epochs, **(changes or {})}, name=name)
    return experiment.train(load_config(config), name, name).run_dir


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files if key != "state"}


@pytest.mark.slow
def test_from_takes_the_steps_of_a_longer_uninterrupted_run(make_config):
    parent = _train(make_config, 6, "parent")
    whole = _train(make_config, 14, "whole")
    child = experiment.continue_from(parent, ["training.epochs=14"], name="child").run_dir
    for name in (runs.MODEL, runs.STATE):  # the weights, and the optimizer's state after the same steps
        first, second = _arrays(child / name), _arrays(whole / name)
        assert sorted(first) == sorted(second)
        for key in first:
            assert np.array_equal(first[key], second[key]), f"{name}: {key}"
    assert (child / runs.HISTORY).read_bytes() == (whole / runs.HISTORY).read_bytes()
    assert list(pd.read_csv(child / runs.HISTORY)["lr"]) == [0.02] * 4 + [0.01] * 4 + [0.005] * 4 + [0.0025] * 2
    metrics = json.loads((child / runs.METRICS).read_text())
    whole_metrics = json.loads((whole / runs.METRICS).read_text())
    assert metrics["roc_auc"] == whole_metrics["roc_auc"] and metrics["epochs"] == 14
    assert metrics["parent"] == {"run": str(parent.resolve()), "epoch": 6, "fresh_optimizer": False}


def test_from_leaves_the_parent_byte_identical(make_config, runner):
    parent = _train(make_config, 6, "parent")
    before = _files(parent)
    result = runner.invoke(main, ["train", "--from", str(parent), "--set", "training.epochs=9", "--name", "child",
                                  "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert _files(parent) == before
    child = parent.parent / "child"
    assert yaml.safe_load((child / runs.CONFIG).read_text())["parent"] == {"run": str(parent.resolve()),
                                                                           "fresh_optimizer": False}
    assert f"parent               {parent.resolve()} (from its epoch 6)" in result.stdout
    assert (parent.parent / "latest").resolve() == child.resolve()


@pytest.mark.slow
def test_a_child_of_a_child_and_its_resume(make_config, tmp_path):
    parent = _train(make_config, 4, "parent")
    child = experiment.continue_from(parent, ["training.epochs=8"], name="child").run_dir
    grandchild = experiment.continue_from(child, ["training.epochs=12"], name="grandchild")
    whole = _train(make_config, 12, "whole")
    assert (grandchild.run_dir / runs.HISTORY).read_bytes() == (whole / runs.HISTORY).read_bytes()
    assert grandchild.metrics["parent"]["run"] == str(child.resolve())


@pytest.mark.slow
def test_an_interrupted_child_resumes_to_the_longer_run_and_keeps_its_parent(make_config):
    parent = _train(make_config, 5, "parent")
    stop = experiment.StopRequest()

    def interrupt(logs: dict) -> None:
        if logs["epoch"] == 8:
            stop.signum = 2

    with pytest.raises(experiment.TrainingInterrupted):
        experiment.continue_from(parent, ["training.epochs=12"], name="child", progress=interrupt, stop=stop)
    child = experiment.resume(parent.parent / "child")
    whole = _train(make_config, 12, "whole")
    assert (child.run_dir / runs.HISTORY).read_bytes() == (whole / runs.HISTORY).read_bytes()
    assert child.metrics["parent"] == {"run": str(parent.resolve()), "epoch": 5, "fresh_optimizer": False}


@pytest.mark.slow
def test_fresh_optimizer_starts_the_optimizers_state_afresh(make_config):
    parent = _train(make_config, 6, "parent")
    child = experiment.continue_from(parent, ["training.epochs=9"], fresh_optimizer=True, name="fresh")
    whole = _train(make_config, 9, "whole")
    state = _arrays(child.run_dir / runs.STATE)
    assert int(state["optimizer.iterations"]) * 6 == int(_arrays(parent / runs.STATE)["optimizer.iterations"]) * 3
    assert not np.array_equal(_arrays(child.run_dir / runs.MODEL)["0.weight"], _arrays(whole / runs.MODEL)["0.weight"])
    assert child.metrics["parent"]["fresh_optimizer"] is True


def test_another_optimizer_needs_a_fresh_one(make_config):
    parent = _train(make_config, 3, "parent")
    with pytest.raises(RunError, match="the optimizer is sgd, the run's was adam: add --fresh-optimizer"):
        experiment.continue_from(parent, ["training.epochs=6", "training.optimizer=sgd"])
    run = experiment.continue_from(parent, ["training.epochs=6", "training.optimizer=sgd"], fresh_optimizer=True)
    assert run.metrics["status"] == "completed"


@pytest.mark.slow
def test_from_starts_at_the_best_epoch_when_the_parent_kept_it(make_config):
    changes = {"data.validation_fraction": 0.25, "training.learning_rate": 0.2,
               "training.early_stopping": {"patience": 2, "restore_best": True}}
    parent = _train(make_config, 40, "parent", changes)
    metrics = json.loads((parent / runs.METRICS).read_text())
    assert metrics["model_epoch"] == metrics["best_epoch"] < metrics["epochs"]
    child = experiment.continue_from(parent, ["training.epochs=60", "training.early_stopping=null"], name="child")
    assert child.metrics["parent"]["epoch"] == metrics["best_epoch"]
    assert [logs["epoch"] for logs in child.history] == list(range(1, 61))


@pytest.mark.parametrize("args, message", [
    (["--set", "training.epochs=6"], "the run ended at epoch 6, and training.epochs is 6: set it higher "
                                     "(--set training.epochs=12)"),
    (["--seed", "3"], "--from carries on RUN's random streams, so --seed does not apply"),
    (["--set", "training.epochs=9", "--set", "model.layers[0].units=16"],
     "the state does not fit this run: array '0.weight' has shape (2, 8), the architecture needs (2, 16)"),
])
def test_from_refuses_what_cannot_go_on(make_config, runner, args, message):
    parent = _train(make_config, 6, "parent")
    before = _files(parent)
    result = runner.invoke(main, ["train", "--from", str(parent), *args])
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and _files(parent) == before
    assert sorted(p.name for p in parent.parent.iterdir()) == ["latest", "parent"]  # no run folder made


def test_from_needs_a_completed_run(make_config, runner, tmp_path):
    stop = experiment.StopRequest()

    def interrupt(logs: dict) -> None:
        stop.signum = 2

    config = load_config(make_config({**CONTINUED, "training.epochs": 6}))
    with pytest.raises(experiment.TrainingInterrupted):
        experiment.train(config, "cut", "cut", interrupt, stop)
    result = runner.invoke(main, ["train", "--from", str(tmp_path / "outputs" / "cut"), "--set", "training.epochs=9"])
    assert result.exit_code == 2
    assert "training goes on from a completed run, and this one's status is interrupted; finish it with: " \
           "nnfw train --resume" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--fresh-optimizer"], "--fresh-optimizer goes with --from RUN"),
    (["--resume", "RUN", "--from", "RUN"], "give a CONFIG to train, or --resume RUN"),
])
def test_option_mistakes(runner, make_config, args, message):
    result = runner.invoke(main, ["train", *(args if "--resume" in args else [str(make_config()), *args])])
    assert result.exit_code == 2 and message in result.stderr
