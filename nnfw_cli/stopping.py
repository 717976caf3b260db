"""The best epoch of a run, and early stopping: which epoch scored best, and when to give up.

``Watcher`` follows one monitored value (``schedules.MONITORS``) epoch by epoch. With a
``patience`` it also says when the run should stop: after ``patience`` epochs without an
improvement of more than ``min_delta`` (Keras's EarlyStopping). Keeping the best epoch's weights
is the training loop's part (``experiment``); its whole state is ``state_dict()``, plain JSON.

Example:
    >>> watcher = Watcher("val_loss", patience=2)
    >>> [watcher.update(epoch, {"val_loss": value}) for epoch, value in enumerate([0.5, 0.4, 0.45, 0.41], 1)]
    [True, True, False, False]
    >>> watcher.best_epoch, watcher.should_stop(4)
    (2, True)
"""

from __future__ import annotations

from typing import Any

from .schedules import MONITORS, improved, watched


class Watcher:
    """The best value of ``monitor`` so far and its epoch; ``patience`` None: never stop."""

    def __init__(self, monitor: str, patience: int | None = None, min_delta: float = 0.0) -> None:
        if monitor not in MONITORS:
            raise ValueError(f"unknown monitor {monitor!r} (choose from: {', '.join(MONITORS)})")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.last_scored: int | None = None  # the last epoch that scored the monitor

    def update(self, epoch: int, logs: dict) -> bool:
        """Take in the logs of ``epoch``; True when it is the new best epoch."""
        value = watched(logs, self.monitor)
        if value is None:
            return False
        self.last_scored = epoch
        if improved(value, self.best, self.monitor, self.min_delta):
            self.best, self.best_epoch = value, epoch
            return True
        return False

    def should_stop(self, epoch: int) -> bool:
        """Whether ``epoch``, just taken in, scored the monitor ``patience`` epochs or more after the best."""
        return (self.patience is not None and self.best_epoch is not None and self.last_scored == epoch
                and epoch - self.best_epoch >= self.patience)

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch,
                "last_scored": self.last_scored}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put the watcher back where ``state_dict`` found it; a ValueError for another monitor's state."""
        if state.get("monitor") != self.monitor:
            raise ValueError(f"the state watches {state.get('monitor')!r}, not {self.monitor!r}")
        best, best_epoch, last = state["best"], state["best_epoch"], state["last_scored"]
        epochs_ok = all(epoch is None or isinstance(epoch, int) for epoch in (best_epoch, last))
        if not ((best is None or isinstance(best, float)) and epochs_ok):
            raise ValueError(f"not the state of a watcher: {state!r}")
        self.best, self.best_epoch, self.last_scored = best, best_epoch, last
