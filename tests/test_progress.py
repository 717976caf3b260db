"""The progress line tells the truth: the latest scored metric with its epoch, never NaN, the
time so far and a time left measured from the epochs after the first; the same fields on a
terminal and in a pipe."""

from __future__ import annotations

import io
import math

import pytest

from nnfw_cli import experiment
from nnfw_cli.cli import main
from nnfw_cli.progress import Printer, Progress, clock


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _epoch(progress: Progress, clock_: Clock, epoch: int, seconds: float, **logs) -> None:
    """Epoch ``epoch`` ends ``seconds`` after the previous one."""
    clock_.now += seconds
    progress.update({"epoch": epoch, "train_loss": 0.5, "lr": 0.01, "seconds": clock_.now, "held_out": "test", **logs})


def test_clock():
    assert [clock(s) for s in (0, 9.6, 61, 3599, 3723)] == ["0:00", "0:10", "1:01", "59:59", "1:02:03"]


def test_the_time_left_leaves_out_the_first_epochs_one_off_work():
    """9 seconds of setup in epoch 1, then 0.1 s an epoch: 300 epochs end 38.9 s in, not 45 minutes."""
    now = Clock()
    progress = Progress(300, now)
    _epoch(progress, now, 1, 9.0)
    assert progress.eta() is None and "ETA" not in " ".join(progress.fields())  # too early to tell
    for epoch in range(2, 11):
        _epoch(progress, now, epoch, 0.1)
    assert progress.eta() == pytest.approx(290 * 0.1)
    assert progress.fields()[-2:] == ["0:10 elapsed", "ETA 0:29"]


def test_a_resumed_run_counts_from_its_own_first_epoch():
    now = Clock()
    progress = Progress(100, now)
    _epoch(progress, now, 41, 5.0)
    _epoch(progress, now, 42, 0.5)
    _epoch(progress, now, 43, 0.5)
    assert progress.eta() == pytest.approx(57 * 0.5)


def test_the_auc_shown_is_the_latest_scored_with_its_epoch_and_never_nan():
    now = Clock()
    progress = Progress(20, now)
    _epoch(progress, now, 1, 1.0, test_roc_auc=0.75)
    assert "test AUC 0.7500" in progress.fields()
    _epoch(progress, now, 2, 1.0)
    assert "test AUC 0.7500 (epoch 1)" in progress.fields()
    _epoch(progress, now, 3, 1.0, test_roc_auc=math.nan)  # one class in the split: undefined
    assert "test AUC n/a" in progress.fields()
    _epoch(progress, now, 4, 1.0, train_loss=math.nan)
    line = progress.line()
    assert "nan" not in line and "loss diverged" in line and "test AUC n/a (epoch 3)" in line


def test_the_validation_split_is_named_as_such():
    now = Clock()
    progress = Progress(10, now)
    _epoch(progress, now, 1, 1.0, held_out="val", val_roc_auc=0.8)
    assert progress.fields()[1] == "val AUC 0.8000"


def test_the_rate_is_shown_once_a_schedule_has_changed_it():
    now = Clock()
    progress = Progress(10, now)
    _epoch(progress, now, 1, 1.0)
    assert not any(field.startswith("lr") for field in progress.fields())
    _epoch(progress, now, 2, 1.0, lr=0.005)
    assert "lr 0.005" in progress.fields()


def test_a_pipe_gets_a_line_every_tenth_and_the_last_when_the_run_ends_early():
    stream, now = io.StringIO(), Clock()
    printer = Printer(Progress(50, now), stream, terminal=False)
    for epoch in range(1, 23):
        now.now += 1.0
        printer({"epoch": epoch, "train_loss": 0.5, "seconds": now.now})
    printer.close()
    lines = stream.getvalue().splitlines()
    assert [line[:11] for line in lines] == ["epoch  5/50", "epoch 10/50", "epoch 15/50", "epoch 20/50",
                                                       "epoch 22/50"]
    assert "\r" not in stream.getvalue() and "ETA 0:30" in lines[-2] and "ETA" not in lines[-1]


def test_a_terminal_gets_one_line_rewritten_with_the_same_fields():
    stream, now = io.StringIO(), Clock()
    progress = Progress(4, now)
    printer = Printer(progress, stream, terminal=True)
    for epoch in range(1, 5):
        now.now += 2.0
        printer({"epoch": epoch, "train_loss": 0.25, "seconds": now.now, "held_out": "test", "test_roc_auc": 0.9})
    printer.close()
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    last = text.rsplit("\r", 1)[1]
    assert last.startswith("[####################] 4/4  loss 0.25  test AUC 0.9000  0:08 elapsed")


def test_the_cli_in_a_pipe_shows_the_fields(runner, make_config, monkeypatch):
    for name in ("draw_loss_curve", "draw_decision_boundary", "draw_confusion_matrix"):
        monkeypatch.setattr(experiment, name, lambda *args, **kwargs: None)
    changes = {"data.validation_fraction": 0.2, "training.epochs": 20,
               "training.lr_schedule": {"type": "step", "step_size": 5, "gamma": 0.5}}
    result = runner.invoke(main, ["train", str(make_config(changes))])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert len(lines) == 10 and all(" val AUC " in line and " elapsed" in line for line in lines)
    assert "lr 0.01" in lines[2] and "lr 0.0025" in lines[-1]  # epoch 6: halved once; epoch 20: three times
    assert all("ETA" in line for line in lines[:-1]) and "ETA" not in lines[-1]
    assert "nan" not in result.stderr.lower()


def test_a_narrow_terminal_drops_the_rate_then_the_bar_before_it_cuts():
    now = Clock()
    progress = Progress(300, now)
    for epoch, lr in ((1, 0.01), (2, 0.005), (3, 0.005)):
        _epoch(progress, now, epoch, 1.0, lr=lr, test_roc_auc=0.9)
    wide = progress.bar(200)
    assert wide.startswith("[--------------------]   3/300  loss 0.5") and "lr 0.005" in wide
    assert wide.endswith("ETA 4:57")
    assert progress.bar(len(wide)).endswith("ETA 4:57") and "lr " not in progress.bar(len(wide))
    assert progress.bar(70) == "  3/300  loss 0.5  test AUC 0.9000  0:03 elapsed  ETA 4:57"
