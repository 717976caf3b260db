"""Weight initialisers: ``init(shape, rng) -> array`` for a weight of shape ``(fan_in, fan_out)``."""

from __future__ import annotations

from typing import Callable

import numpy as np

Initializer = Callable[[tuple, np.random.Generator], np.ndarray]


def uniform(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Uniform on [0, 1), as in the article; kept for comparison, it trains poorly."""
    return rng.random(shape)


def xavier(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Glorot/Xavier uniform: keeps the variance of activations and gradients for tanh/sigmoid."""
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))  # fan_in + fan_out
    return rng.uniform(-limit, limit, size=shape)


def he(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """He/Kaiming normal: std sqrt(2 / fan_in), made for ReLU layers."""
    return rng.normal(0.0, np.sqrt(2.0 / shape[0]), size=shape)  # shape[0]: fan_in


def zeros(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """All zeros (used for biases)."""
    return np.zeros(shape)


INITIALIZERS: dict[str, Initializer] = {
    "uniform": uniform, "xavier": xavier, "glorot": xavier, "he": he, "kaiming": he, "zeros": zeros,
}


def get_initializer(name: str) -> Initializer:
    """The initialiser registered under ``name``."""
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(f"unknown initialiser {name!r}; choose one of {sorted(INITIALIZERS)}") from None
