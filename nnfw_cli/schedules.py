"""Learning-rate schedules: the rate of each epoch, from the epoch alone (step, exponential,
cosine) or from what the run watched so far (plateau).

A schedule gives ``rate(epoch)`` for epochs numbered from 1, before that epoch trains, and
``observe(epoch, logs)`` after it, with the epoch's logs (``train_loss``, ``val_loss``, ...).
Its whole state is ``state_dict()``, plain JSON, so an interrupted run resumes with exactly the
rates an uninterrupted one has. Names in configs map to classes through ``SCHEDULES``; the
settings a config may give are the keyword arguments of each constructor after ``epochs``.

Example:
    >>> schedule = Step(0.1, epochs=6, step_size=2, gamma=0.5)
    >>> [schedule.rate(epoch) for epoch in range(1, 7)]
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

# What a run may watch, and whether lower or higher is better. ``val_*`` are scored on the
# validation split (``data.validation_fraction``); ``train_loss`` is the epoch's mean training loss.
MONITORS: dict[str, str] = {"val_loss": "min", "val_roc_auc": "max", "val_accuracy": "max", "train_loss": "min"}


def improved(value: float, best: float | None, monitor: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (any finite value beats None)."""
    if best is None:
        return True
    return value < best - min_delta if MONITORS[monitor] == "min" else value > best + min_delta


def watched(logs: dict, monitor: str) -> float | None:
    """The epoch's value of ``monitor``; None when the epoch did not score it or it is undefined (NaN)."""
    value = logs.get(monitor)
    return float(value) if value is not None and math.isfinite(value) else None


class Schedule:
    """The constant rate: ``learning_rate`` at every epoch. Base class of the others."""

    name: ClassVar[str] = "constant"

    def __init__(self, learning_rate: float, epochs: int) -> None:
        self.learning_rate, self.epochs = float(learning_rate), int(epochs)

    def rate(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (1, 2, ...)."""
        return self.learning_rate

    def observe(self, epoch: int, logs: dict) -> None:
        """Take in the logs of ``epoch``, once it has trained."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put the schedule back where ``state_dict`` found it."""


class Step(Schedule):
    """``learning_rate * gamma ** ((epoch - 1) // step_size)``: multiplied by ``gamma`` every
    ``step_size`` epochs (PyTorch's StepLR)."""

    name = "step"

    def __init__(self, learning_rate: float, epochs: int, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(learning_rate, epochs)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def rate(self, epoch: int) -> float:
        return self.learning_rate * self.gamma ** ((epoch - 1) // self.step_size)


class Exponential(Schedule):
    """``learning_rate * gamma ** (epoch - 1)``: multiplied by ``gamma`` every epoch."""

    name = "exponential"

    def __init__(self, learning_rate: float, epochs: int, gamma: float) -> None:
        super().__init__(learning_rate, epochs)
        self.gamma = float(gamma)

    def rate(self, epoch: int) -> float:
        return self.learning_rate * self.gamma ** (epoch - 1)


class Cosine(Schedule):
    """A linear warm-up, then half a cosine from ``learning_rate`` down to ``min_lr``.

    Epoch ``e <= W`` (``W = warmup_epochs``) has ``learning_rate * e / (W + 1)``; the ``n =
    epochs - W`` epochs after it have ``min_lr + (learning_rate - min_lr) * (1 + cos(pi * k /
    (n - 1))) / 2`` for ``k = 0 .. n-1``: the first of them ``learning_rate``, the last ``min_lr``.
    """

    name = "cosine"

    def __init__(self, learning_rate: float, epochs: int, min_lr: float = 0.0, warmup_epochs: int = 0) -> None:
        super().__init__(learning_rate, epochs)
        self.min_lr, self.warmup_epochs = float(min_lr), int(warmup_epochs)

    def rate(self, epoch: int) -> float:
        warmup = self.warmup_epochs
        if epoch <= warmup:
            return self.learning_rate * epoch / (warmup + 1)
        k, n = epoch - warmup - 1, self.epochs - warmup
        fraction = min(k / (n - 1), 1.0) if n > 1 else 0.0
        return self.min_lr + (self.learning_rate - self.min_lr) * (1.0 + math.cos(math.pi * fraction)) / 2.0


class Plateau(Schedule):
    """Multiply the rate by ``factor`` (not below ``min_lr``) once ``monitor`` has not improved by
    more than ``min_delta`` for ``patience`` epochs; then wait ``patience`` epochs again
    (Keras's ReduceLROnPlateau). Epochs that did not score ``monitor`` are not compared."""

    name = "plateau"

    def __init__(self, learning_rate: float, epochs: int, factor: float = 0.1, patience: int = 10,
                 monitor: str = "val_loss", min_delta: float = 0.0, min_lr: float = 0.0) -> None:
        super().__init__(learning_rate, epochs)
        self.factor, self.patience, self.monitor = float(factor), int(patience), monitor
        self.min_delta, self.min_lr = float(min_delta), float(min_lr)
        self.current, self.best, self.since = self.learning_rate, None, 0  # since: the epoch waiting counts from

    def rate(self, epoch: int) -> float:
        return self.current

    def observe(self, epoch: int, logs: dict) -> None:
        value = watched(logs, self.monitor)
        if value is None:
            return
        if improved(value, self.best, self.monitor, self.min_delta):
            self.best, self.since = value, epoch
        elif epoch - self.since >= self.patience:
            self.current, self.since = max(self.current * self.factor, self.min_lr), epoch

    def state_dict(self) -> dict[str, Any]:
        return {"current": self.current, "best": self.best, "since": self.since}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        current, best, since = state["current"], state["best"], state["since"]
        if not (isinstance(current, float) and current > 0 and (best is None or isinstance(best, float))
                and isinstance(since, int)):
            raise ValueError(f"not the state of a plateau schedule: {state!r}")
        self.current, self.best, self.since = current, best, since


SCHEDULES: dict[str, type[Schedule]] = {cls.name: cls for cls in (Step, Exponential, Cosine, Plateau)}


def make_schedule(spec: dict[str, Any] | None, learning_rate: float, epochs: int) -> Schedule:
    """The schedule a config's ``training.lr_schedule`` describes (None: the constant rate)."""
    if spec is None:
        return Schedule(learning_rate, epochs)
    settings = {key: value for key, value in spec.items() if key != "type"}
    return SCHEDULES[spec["type"]](learning_rate, epochs, **settings)


def learning_rates(schedule: Schedule, epochs: int, history: list[dict] | None = None) -> list[float]:
    """The rates of epochs 1 .. ``epochs``, the schedule observing ``history`` (one logs dict an epoch) as it goes."""
    rates = []
    for epoch in range(1, epochs + 1):
        rates.append(schedule.rate(epoch))
        if history is not None and epoch <= len(history):
            schedule.observe(epoch, history[epoch - 1])
    return rates
