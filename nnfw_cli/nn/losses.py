"""Losses, averaged over the batch (PyTorch's ``reduction='mean'``).

Each loss returns its value and its gradient with respect to the network's output. A loss that
names an output ``activation`` can also work from the logits (the input of that activation): the
model then skips the activation and asks for ``value_and_grad(..., from_logits=True)``. For the
valid pairings (sigmoid + binary cross-entropy, softmax + cross-entropy) the gradient with
respect to the logits simplifies to ``(p - y) / n``, which stays finite where ``p`` saturates to
exactly 0 or 1, whereas the unfused ``-y/p + (1-y)/(1-p)`` divides by zero.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .layers import Layer, Sigmoid, Softmax, sigmoid

_EPS = 1e-12  # clip probabilities away from 0 and 1 when no logits are available


class Loss:
    """Base class: ``value_and_grad(y_true, y_pred) -> (float, grad)``."""

    name: ClassVar[str] = "loss"
    activation: ClassVar[type[Layer] | None] = None  # output activation this loss can fuse with

    def prepare_target(self, y: np.ndarray, n_outputs: int, dtype: Any) -> np.ndarray:
        """Targets in the shape this loss compares with the output: ``(n_samples, n_outputs)``."""
        y = np.asarray(y, dtype=dtype)
        y = y.reshape(-1, n_outputs) if y.ndim == 1 else y
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(f"{type(self).__name__} expects targets of shape (n_samples, {n_outputs}) for a model "
                             f"with {n_outputs} output{'s' if n_outputs != 1 else ''}. Received shape {y.shape}")
        return y

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False) -> float:
        return self.value_and_grad(y_true, y_pred, from_logits)[0]

    def value_and_grad(self, y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False,
                       out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """The loss and its gradient wrt ``y_pred`` (written into ``out`` if given)."""
        raise NotImplementedError


class BinaryCrossEntropy(Loss):
    """``-mean(y log p + (1 - y) log(1 - p))`` for targets in {0, 1} (or in [0, 1])."""

    name = "binary_cross_entropy"
    activation = Sigmoid

    def value_and_grad(self, y_true, y_pred, from_logits=False, out=None):
        if from_logits:  # the gradient's array serves as work space first
            z = y_pred
            # log(1 + exp(z)) - y z = max(z, 0) - y z + log(1 + exp(-|z|)): exp never overflows.
            work = np.abs(z, out=out)
            np.negative(work, out=work)
            np.exp(work, out=work)
            total = np.log1p(work, out=work).sum() + np.maximum(z, 0, out=work).sum()
            value = (total - np.vdot(z, y_true)) / z.size
            grad = sigmoid(z, out=work)
            grad -= y_true
        else:
            p = np.clip(y_pred, _EPS, 1 - _EPS)
            value = -np.mean(y_true * np.log(p) + (1 - y_true) * np.log1p(-p))
            grad = np.divide(p - y_true, p * (1 - p), out=out)
        grad /= y_pred.size
        return float(value), grad


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true) ** 2)`` over all elements."""

    name = "mean_squared_error"

    def value_and_grad(self, y_true, y_pred, from_logits=False, out=None):
        grad = np.subtract(y_pred, y_true, out=out)
        value = float(np.vdot(grad, grad)) / y_pred.size
        grad *= 2.0 / y_pred.size
        return value, grad


class CrossEntropy(Loss):
    """``-mean(log p[label])`` for integer class labels and a probability per class."""

    name = "cross_entropy"
    activation = Softmax

    def prepare_target(self, y, n_outputs, dtype):
        y = np.asarray(y)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) and not np.all(y == np.round(y)):
            raise ValueError("CrossEntropy expects integer class labels of shape (n_samples,)")
        if y.size and (y.min() < 0 or y.max() >= n_outputs):
            raise ValueError(f"CrossEntropy expects class labels from 0 to {n_outputs - 1} for a model with "
                             f"{n_outputs} outputs. Received labels from {y.min():g} to {y.max():g}")
        return y.astype(np.intp)

    def value_and_grad(self, y_true, y_pred, from_logits=False, out=None):
        n = y_pred.shape[0]
        rows = np.arange(n)
        if from_logits:
            # softmax and its log-sum-exp from one shifted exponential: log p = z - max - log(sum)
            grad = np.subtract(y_pred, y_pred.max(axis=1, keepdims=True), out=out)
            picked = grad[rows, y_true]  # z[label] - max, a copy
            np.exp(grad, out=grad)
            sums = grad.sum(axis=1, keepdims=True)
            value = (np.log(sums).sum() - picked.sum()) / n
            sums *= n
            grad /= sums  # the softmax, over n
            grad[rows, y_true] -= 1.0 / n
            return float(value), grad
        p = np.clip(y_pred[rows, y_true], _EPS, 1.0)
        value = -np.mean(np.log(p))
        grad = np.zeros_like(y_pred) if out is None else out
        grad.fill(0.0)
        grad[rows, y_true] = -1.0 / (n * p)
        return float(value), grad


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (BinaryCrossEntropy, MeanSquaredError, CrossEntropy)}


def get_loss(name: str) -> Loss:
    """A new loss of the kind registered under ``name``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name]()
