"""Layers: each keeps its forward maths next to its derivative.

Every layer follows one contract:

- ``forward(x, training=False) -> y``, ``x`` of shape ``(n_samples, in_features)``; it keeps what
  ``backward`` needs in ``self.cache``;
- ``backward(grad_y) -> grad_x``: the loss's gradient wrt ``x`` from the one wrt ``y``; it writes
  each parameter's gradient into ``self.grads[name]`` in place (the model may keep all parameters
  in one flat array);
- ``params`` and ``grads``: the parameters and their gradients, by name;
- ``get_config()``: the settings that rebuild the layer, ``type(layer)(**config)``;
- ``from_config(in_features, rng, **settings)``: the layer a config file describes; its keyword
  arguments are the settings a config may give (``units`` and ``init`` for ``linear``).

Writing a layer takes nothing more. One that scales each feature by a learned factor:

>>> class Scale(Layer):
...     name = "scale"
...     def __init__(self, n_features):
...         super().__init__()
...         self.params = {"factor": np.ones(n_features)}
...         self.grads = {"factor": np.zeros(n_features)}
...     def forward(self, x, training=False):
...         self.cache = x
...         return x * self.params["factor"]
...     def backward(self, grad_y):
...         self.grads["factor"][...] = (grad_y * self.cache).sum(axis=0)
...         return grad_y * self.params["factor"]
>>> from nnfw_cli.nn import Model, MeanSquaredError, SGD
>>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
>>> model = Model([Scale(2)])
>>> history = model.fit(X, 3 * X, loss=MeanSquaredError(), optimizer=SGD(0.05), epochs=200)
>>> np.round(model.layers[0].params["factor"], 3)
array([3., 3.])

Add a layer to ``LAYERS`` below, and configs, the JSON Schema and saved models find it there.
``fit`` runs Linear and ReLU with faster kernels of its own (``_step.py``) that compute the same;
every other layer trains through this contract.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .initializers import get_initializer


class Layer:
    """Base class: no parameters; ``forward`` and ``backward`` are the layer's to write."""

    name: ClassVar[str] = "layer"
    rng: np.random.Generator | None = None  # the generator of a layer that draws random numbers

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache: Any = None  # what forward keeps for backward

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_width(self, in_features: int) -> int:
        """Width of the output for an input of ``in_features`` columns."""
        return in_features

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, in_features: int, rng: np.random.Generator, **settings: Any) -> "Layer":
        """The layer a config file describes; ``settings`` are the constructor's arguments."""
        return cls(**settings)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({settings})"


class Linear(Layer):
    """Fully connected layer: ``y = x @ weight + bias``, ``weight`` of shape ``(in_features,
    out_features)``, ``bias`` ``(out_features,)``. ``init`` names the weight initialiser (``he``,
    ``xavier``, ``uniform``; biases start at 0); ``rng`` is a Generator or a seed for it."""

    name = "linear"

    def __init__(self, in_features: int, out_features: int, init: str = "he",
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float64) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes. Received: in_features={in_features}, "
                             f"out_features={out_features}")
        self.in_features, self.out_features, self.init = int(in_features), int(out_features), init
        weight = get_initializer(init)((self.in_features, self.out_features), np.random.default_rng(rng))
        self.params = {"weight": weight.astype(dtype), "bias": np.zeros(self.out_features, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.cache = x
        return x @ self.params["weight"] + self.params["bias"]

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        x = self.cache
        self.grads["weight"][...] = x.T @ grad_y
        self.grads["bias"][...] = grad_y.sum(axis=0)
        return grad_y @ self.params["weight"].T

    def output_width(self, in_features: int) -> int:
        if in_features != self.in_features:
            raise ValueError(f"Linear expects {self.in_features} input features, got {in_features}")
        return self.out_features

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}

    @classmethod
    def from_config(cls, in_features: int, rng: np.random.Generator, *, units: int, init: str = "he") -> "Linear":
        return cls(in_features, units, init=init, rng=rng)


class ReLU(Layer):
    """Rectified linear unit: ``max(x, 0)``; derivative 1 where the output is positive."""

    name = "relu"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.cache = np.maximum(x, 0)
        return self.cache

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return (self.cache > 0) * grad_y


class LeakyReLU(Layer):
    """``x`` where positive, ``negative_slope * x`` elsewhere (0 <= negative_slope < 1)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not 0 <= negative_slope < 1:
            raise ValueError(f"negative_slope must be in [0, 1). Received: negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.cache = x
        return np.maximum(x, x * self.negative_slope)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return np.where(self.cache > 0, grad_y, grad_y * self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Tanh(Layer):
    """Hyperbolic tangent; derivative ``1 - y**2``."""

    name = "tanh"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.cache = np.tanh(x)
        return self.cache

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return (1.0 - self.cache * self.cache) * grad_y


class Sigmoid(Layer):
    """Logistic function ``1 / (1 + exp(-x))``; derivative ``y * (1 - y)``."""

    name = "sigmoid"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.cache = sigmoid(x)
        return self.cache

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return (1.0 - self.cache) * self.cache * grad_y


class Softmax(Layer):
    """Softmax over the features of each sample; rows of the output sum to 1."""

    name = "softmax"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.cache = softmax(x)
        return self.cache

    def backward(self, grad_y: np.ndarray) -> np.ndarray:  # the Jacobian of softmax, row by row
        y = self.cache
        return (grad_y - (grad_y * y).sum(axis=1, keepdims=True)) * y


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of its inputs while training and scales the rest by 1/(1-rate)."""

    name = "dropout"

    def __init__(self, rate: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout rate must be in [0, 1). Received: rate={rate}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(rng)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            self.cache = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
        mask = self.cache = keep * np.asarray(1.0 / (1.0 - self.rate), dtype=x.dtype)
        return x * mask

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y if self.cache is None else grad_y * self.cache

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate}

    @classmethod
    def from_config(cls, in_features: int, rng: np.random.Generator, *, rate: float = 0.5) -> "Dropout":
        return cls(rate, rng=rng)


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function as ``0.5 * tanh(x / 2) + 0.5``: no overflow for large ``|x|``."""
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that ``exp`` never overflows."""
    out = np.exp(x - x.max(axis=1, keepdims=True))
    out /= out.sum(axis=1, keepdims=True)
    return out


LAYERS: dict[str, type[Layer]] = {
    cls.name: cls for cls in (Linear, ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, Dropout)
}


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a saved layer from ``{"type": name, **get_config()}``."""
    settings = dict(config)
    name = settings.pop("type")
    if name not in LAYERS:
        raise ValueError(f"unknown layer type {name!r}; choose one of {sorted(LAYERS)}")
    return LAYERS[name](**settings)
