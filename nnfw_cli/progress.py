"""What ``nnfw train`` says while it trains: one progress line, the same fields on a terminal
(rewritten in place) and in a pipe or log (a plain line every tenth of the run).

The fields: the epoch, the training loss, the latest held-out ROC AUC (the validation split's,
or the test split's without one) with its epoch when it is older than the epoch shown, the
learning rate once a schedule has changed it, the training time so far and the time left.

The time left is the epochs left times the time an epoch has taken in this process, measured
from the end of its first epoch: the first epoch also pays for one-off work (allocating buffers,
importing scikit-learn to score), which would otherwise be counted against every epoch to come.
"""

from __future__ import annotations

import math
import shutil
import time
from typing import Any, Callable, TextIO


def clock(seconds: float) -> str:
    """``1:05`` (minutes and seconds) or ``2:03:04`` (hours too)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _number(value: Any, spec: str) -> str:
    """``value`` formatted, or ``n/a`` for a value that is undefined (None, NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec)


class Progress:
    """Takes in each epoch's logs (``epoch``, ``train_loss``, ``lr``, ``val_roc_auc`` or
    ``test_roc_auc`` when scored, ``seconds`` of training so far, ``held_out``: ``val`` or
    ``test``) and says the fields of the progress line. ``now`` is the clock (for tests)."""

    def __init__(self, epochs: int, now: Callable[[], float] = time.perf_counter) -> None:
        self.epochs, self.now = epochs, now
        self.scored: tuple[float, int] | None = None  # the latest held-out ROC AUC and its epoch
        self.first: tuple[int, float] | None = None  # the epoch and the clock at this process's first epoch's end
        self.first_rate: float | None = None
        self.rates_changed = False
        self.finished = False  # training has ended: no time left to show
        self.logs: dict = {}

    def update(self, logs: dict) -> None:
        held_out = logs.get("held_out", "test")
        if f"{held_out}_roc_auc" in logs:  # every epoch scored counts, shown or not
            self.scored = (logs[f"{held_out}_roc_auc"], logs["epoch"])
        if self.logs.get("lr") is not None and logs.get("lr") != self.logs.get("lr"):
            self.rates_changed = True
        if self.first is None:
            self.first = (logs["epoch"], self.now())
        self.logs = logs

    def eta(self) -> float | None:
        """Seconds until the last epoch, at the pace of this process's epochs after its first."""
        if self.first is None:
            return None
        epoch, left = self.logs["epoch"], self.epochs - self.logs["epoch"]
        if epoch == self.first[0]:  # one epoch so far, one-off work and all: too early to tell
            return None
        return left * (self.now() - self.first[1]) / (epoch - self.first[0])

    def fields(self) -> list[str]:
        """``loss 0.1234``, ``val AUC 0.9312 (epoch 40)``, ``lr 0.005``, ``0:03 elapsed``, ``ETA 0:17``."""
        logs = self.logs
        loss = logs.get("train_loss")
        shown = [f"loss {_number(loss, '.4g')}" if loss is None or math.isfinite(loss) else "loss diverged"]
        if self.scored is not None:
            auc, epoch = self.scored
            name = "val" if logs.get("held_out") == "val" else "test"
            shown.append(f"{name} AUC {_number(auc, '.4f')}" + (f" (epoch {epoch})" if epoch != logs["epoch"] else ""))
        if self.rates_changed and logs.get("lr") is not None:
            shown.append(f"lr {logs['lr']:.3g}")
        if isinstance(logs.get("seconds"), (int, float)):
            shown.append(f"{clock(logs['seconds'])} elapsed")
        eta = self.eta()
        if eta is not None and logs["epoch"] < self.epochs and not self.finished:
            shown.append(f"ETA {clock(eta)}")
        return shown

    def line(self) -> str:
        """The plain line: ``epoch  45/300  loss 0.1234  ...``."""
        return f"epoch {self.logs['epoch']:>{len(str(self.epochs))}}/{self.epochs}  " + "  ".join(self.fields())

    def bar(self, width: int) -> str:
        """The terminal line, within ``width`` characters: a bar of the epochs done and the
        fields; where they do not fit, the learning rate goes first, then the bar."""
        done = min(1.0, self.logs["epoch"] / self.epochs)
        filled = int(done * BAR_CELLS)
        bar = f"[{'#' * filled}{'-' * (BAR_CELLS - filled)}] "
        count = f"{self.logs['epoch']:>{len(str(self.epochs))}}/{self.epochs}  "
        fields = self.fields()
        narrower = [field for field in fields if not field.startswith("lr ")]
        for text in (bar + count + "  ".join(fields), bar + count + "  ".join(narrower), count + "  ".join(narrower)):
            if len(text) < width:
                return text
        return text[: max(width - 1, 10)]


BAR_CELLS = 20


class Printer:
    """Writes a Progress to ``stream``: on a terminal one line rewritten in place; elsewhere a
    line every tenth of the run, and the last epoch's when training ends before its last
    (early stopping, an interruption). ``closed`` is called when the stream's reader has gone."""

    def __init__(self, progress: Progress, stream: TextIO, terminal: bool,
                 closed: Callable[[], None] = lambda: None) -> None:
        self.progress, self.stream, self.terminal, self.closed = progress, stream, terminal, closed
        self.every = max(1, progress.epochs // 10)
        self.printed: int | None = None  # the epoch of the last line printed
        self.drawn = False

    def __call__(self, logs: dict) -> None:
        self.progress.update(logs)
        epoch = logs["epoch"]
        if self.terminal:
            width = shutil.get_terminal_size((100, 24)).columns
            self._write(f"\r{self.progress.bar(width)}\x1b[K")
            self.drawn = True
        elif epoch % self.every == 0 or epoch == self.progress.epochs:
            self._write(self.progress.line() + "\n")
            self.printed = epoch

    def close(self) -> None:
        """End the terminal's line; in a pipe, print the last epoch if its line was not printed."""
        self.progress.finished = True
        if self.terminal and self.drawn:
            width = shutil.get_terminal_size((100, 24)).columns
            self._write(f"\r{self.progress.bar(width)}\x1b[K\n")
        elif not self.terminal and self.progress.logs and self.printed != self.progress.logs["epoch"]:
            self._write(self.progress.line() + "\n")

    def _write(self, text: str) -> None:
        """Write and flush; a reader gone (``2>&1 | head -1``) calls ``closed``, and training goes on."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self.closed()
