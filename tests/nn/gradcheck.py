"""The one central-difference gradient checker used by every gradient test (scikit-learn's way)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

EPS = 1e-6  # step of the central difference
TOLERANCE = 1e-6  # largest accepted relative error between analytic and numerical gradients


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """``(f(x + eps) - f(x - eps)) / (2 eps)`` for every element of ``x``.

    ``x`` is perturbed in place (it may be an input a layer keeps, or a parameter inside a layer)
    and restored afterwards; ``f`` takes no argument and reads ``x`` where it lives.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 arrays, got {x.dtype}")
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = float(f())
        x[index] = original - eps
        minus = float(f())
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``|a - n| / max(|a|, |n|)`` in the Euclidean norm; 0 when both are zero."""
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric))
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0


def assert_gradients_match(
    f: Callable[[], float], pairs: Sequence[tuple[str, np.ndarray, np.ndarray]]
) -> None:
    """Check each ``(name, x, analytic_grad)``: ``analytic_grad`` must be d f / d x.

    The analytic gradients are copied first: layers reuse their training buffers, so evaluating
    ``f`` may overwrite the arrays they were returned in.
    """
    analytic = {name: np.array(grad, dtype=np.float64, copy=True) for name, _, grad in pairs}
    for name, x, _ in pairs:
        numeric = numerical_gradient(f, x)
        assert analytic[name].shape == numeric.shape, f"{name}: gradient shape {analytic[name].shape}, expected {numeric.shape}"
        assert np.linalg.norm(numeric) > 0, f"{name}: the numerical gradient is zero, the check would prove nothing"
        error = relative_error(analytic[name], numeric)
        assert error < TOLERANCE, f"{name}: relative error {error:.2e} between analytic and numerical gradients"
