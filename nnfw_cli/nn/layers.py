"""Layers: each keeps its forward maths next to its derivative.

Every layer follows one contract:

- ``forward(x, training=False) -> y`` with ``x`` of shape ``(n_samples, in_features)``;
- ``backward(grad_y) -> grad_x``, which also writes the gradient of every parameter into
  ``self.grads[name]`` (in place: the model may keep all parameters in one flat buffer);
  with ``input_grad=False`` a layer may skip ``grad_x`` and return None (the first layer of a
  network: nothing needs the gradient with respect to the data);
- ``params`` and ``grads``: parameters and their gradients, by name;
- ``get_config()``: the settings that rebuild the layer, ``type(layer)(**config)``.

Training steps save passes over memory with a few options, which the model passes only where
they are safe (see ``_step_plan`` in model.py), never on arrays a caller handed in:

- a layer with ``can_overwrite`` accepts ``overwrite=True`` in ``forward`` (write ``y`` over ``x``,
  and nothing past it: a column of ones may follow) and ``backward`` (write ``grad_x`` over
  ``grad_y``); a layer with ``scratch_results`` returns, while training, buffers of its own that
  it never reads again;
- a layer with ``takes_ones`` accepts ``ones_in=True`` in ``forward``: ``x`` is followed in memory
  by a column of ones, so that the bias is added within the matrix product; a layer with
  ``gives_ones`` accepts ``ones_out=True``: it returns an output followed by such a column.

Copying or pickling a layer (``copy.deepcopy``, ``pickle``) keeps its settings, parameters and
gradients, and leaves out what a step left behind, named in ``step_state``: buffers, the last
input, views into them. A copied view would no longer be followed in memory by its column of ones;
the next forward pass makes them again, and ``_reset`` sets those needed before it.

Arrays are samples-major in the interface. Inside, outputs are stored features-major
(Fortran order): BLAS multiplies thin layers much faster that way round. During training
(``training=True``) outputs and gradients live in buffers owned by the layer and reused at the
next step of the same batch size; outside training each call returns fresh arrays.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

from . import _aligned
from .initializers import get_initializer


class Layer:
    """Base class: no parameters, identity settings."""

    name: ClassVar[str] = "layer"
    can_overwrite: ClassVar[bool] = False
    """``forward`` and ``backward`` take ``overwrite=True``: the result is written over the input."""
    scratch_results: ClassVar[bool] = False
    """While training, the arrays ``forward`` and ``backward`` return are this layer's own buffers,
    which it never reads again."""
    takes_ones: ClassVar[bool] = False
    """``forward`` takes ``ones_in=True``: ``x`` is followed in memory by a column of ones."""
    gives_ones: ClassVar[bool] = False
    """``forward`` takes ``ones_out=True``: return an output followed in memory by a column of ones."""
    step_state: ClassVar[tuple[str, ...]] = ("_buffers", "_training", "_x", "_y", "_mask")
    """Attributes that a step leaves behind and that copies and pickles leave out."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._reset()

    def _reset(self) -> None:
        """Start with no buffers and no views of an earlier step."""
        self._buffers: dict[tuple, np.ndarray] = {}
        self._training = False

    def __getstate__(self) -> dict[str, Any]:
        """Settings, parameters and gradients: what a copy or a pickle keeps."""
        return {key: value for key, value in self.__dict__.items() if key not in self.step_state}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def output_width(self, in_features: int) -> int:
        """Width of the output for an input of ``in_features`` columns."""
        return in_features

    def get_config(self) -> dict[str, Any]:
        return {}

    def _buffer(self, key: str, n: int, width: int, dtype: Any, ones: bool = False) -> np.ndarray:
        """An ``(n, width)`` array stored features-major; reused between training steps. With
        ``ones``, it is followed in memory by a column of ones."""
        if not self._training:
            return _features_major(n, width, dtype, ones)
        slot = (key, n, width, np.dtype(dtype), ones)
        buf = self._buffers.get(slot)
        if buf is None:
            if len(self._buffers) > 16:  # batch sizes come and go; keep memory bounded
                self._buffers.clear()
            buf = self._buffers[slot] = _features_major(n, width, dtype, ones)
        return buf

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({settings})"


class Linear(Layer):
    """Fully connected layer: ``y = x @ weight + bias``.

    Args:
        in_features: width of the input.
        out_features: width of the output.
        init: name of the weight initialiser (``he``, ``xavier``, ``uniform``); biases start at 0.
        rng: a ``numpy.random.Generator`` or a seed for the initialiser.
        dtype: floating type of the parameters.

    Shapes: ``weight`` ``(in_features, out_features)``, ``bias`` ``(out_features,)``.
    """

    name = "linear"
    scratch_results = True  # backward reads x and the weight, not y
    takes_ones = gives_ones = True
    step_state = Layer.step_state + ("_affine_of", "_ones_of", "_x_ones")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: str = "he",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"Linear needs positive sizes. Received: in_features={in_features}, "
                f"out_features={out_features}"
            )
        self.in_features, self.out_features, self.init = int(in_features), int(out_features), init
        weight = get_initializer(init)((self.in_features, self.out_features), np.random.default_rng(rng))
        self.params = {"weight": weight.astype(dtype), "bias": np.zeros(self.out_features, dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _reset(self) -> None:
        super()._reset()
        self._affine_of: tuple | None = None
        self._ones_of: np.ndarray | None = None  # the input that _x_ones extends with its ones
        self._x_ones: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False, ones_in: bool = False,
                ones_out: bool = False) -> np.ndarray:
        self._x, self._training = x, training
        weight, bias = self.params["weight"], self.params["bias"]
        y = self._buffer("y", x.shape[0], self.out_features, weight.dtype, ones=ones_out)
        affine = self._affine() if ones_in else None
        if affine is not None:  # [x 1] @ [weight; bias]: the bias added within the product
            if self._ones_of is not x:  # the same buffer step after step: made once
                self._ones_of, self._x_ones = x, _with_column(x)
            np.matmul(affine[0].T, self._x_ones.T, out=y.T)
            return y
        self._ones_of = self._x_ones = None
        _product(weight.T, x.T, out=y.T)  # features-major: fast for thin layers
        y += bias
        return y

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        x, weight = self._x, self.params["weight"]
        if self._x_ones is not None:  # [x 1].T @ grad_y: the weight gradient, then the bias's
            np.matmul(self._x_ones.T, grad_y, out=self._affine()[1])
        else:
            np.matmul(x.T, grad_y, out=self.grads["weight"])
            np.matmul(grad_y.T, _ones(len(grad_y), grad_y.dtype), out=self.grads["bias"])  # column sums
        if not input_grad:
            return None
        grad_x = self._buffer("grad_x", x.shape[0], self.in_features, weight.dtype)
        _product(weight, grad_y.T, out=grad_x.T)
        return grad_x

    def _affine(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``[weight; bias]`` and its gradient as (in + 1, out) arrays, when each bias lies right
        after its weight in memory (the model packs them so); else None. Kept while the arrays stay."""
        params, grads, cached = self.params, self.grads, self._affine_of
        if (cached is None or cached[0] is not params["weight"] or cached[1] is not params["bias"]
                or cached[2] is not grads["weight"] or cached[3] is not grads["bias"]):
            stacked = (_with_row(params["weight"], params["bias"]), _with_row(grads["weight"], grads["bias"]))
            cached = (params["weight"], params["bias"], grads["weight"], grads["bias"],
                      None if stacked[0] is None or stacked[1] is None else stacked)
            self._affine_of = cached
        return cached[4]

    def output_width(self, in_features: int) -> int:
        if in_features != self.in_features:
            raise ValueError(f"Linear expects {self.in_features} input features, got {in_features}")
        return self.out_features

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}


@functools.lru_cache(maxsize=8)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``n`` ones: summing columns as a matrix-vector product is about
    twice as fast as ``np.sum`` on features-major arrays."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def _features_major(n: int, width: int, dtype: Any, ones: bool = False) -> np.ndarray:
    """A new ``(n, width)`` array stored features-major, followed in memory by a column of ones
    if asked."""
    if not ones:
        return _aligned.empty((width, n), dtype).T
    block = _aligned.empty((width + 1, n), dtype)
    block[width] = 1.0
    return block[:width].T


def _with_row(top: np.ndarray, row: np.ndarray) -> np.ndarray | None:
    """``top`` (r, c) and ``row`` (c,) as one (r + 1, c) array, when ``row`` lies right after
    ``top`` in memory (as in a model's flat parameter buffer); else None."""
    if not (top.flags.c_contiguous and row.flags.c_contiguous and top.dtype == row.dtype and top.ndim == 2):
        return None
    if row.__array_interface__["data"][0] != top.__array_interface__["data"][0] + top.nbytes:
        return None
    return np.lib.stride_tricks.as_strided(top, (top.shape[0] + 1, top.shape[1]), top.strides)


def _with_column(x: np.ndarray) -> np.ndarray:
    """``x`` (n, k) with the column that follows it in memory: (n, k + 1), read-only. Only for an
    ``x`` known to be followed by one (``ones_in``)."""
    return np.lib.stride_tricks.as_strided(x, (x.shape[0], x.shape[1] + 1), x.strides, writeable=False)


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a @ b`` into ``out``; an outer product (one column times one row) by broadcasting,
    which BLAS does several times slower as a matrix product."""
    if a.shape[1] == 1:
        return np.multiply(a, b, out=out)
    return np.matmul(a, b, out=out)


class ReLU(Layer):
    """Rectified linear unit: ``max(x, 0)``; derivative 1 where the output is positive."""

    name = "relu"
    can_overwrite = True

    def forward(self, x: np.ndarray, training: bool = False, overwrite: bool = False) -> np.ndarray:
        self._training = training
        y = self._y = x if overwrite and training else self._buffer("y", *x.shape, x.dtype)
        return np.maximum(x, 0, out=y)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True, overwrite: bool = False) -> np.ndarray | None:
        if overwrite:  # zero grad_y where the unit was off
            active = self._buffer("active", *grad_y.shape, bool)
            np.greater(self._y, 0, out=active)
            return np.multiply(grad_y, active, out=grad_y)
        grad_x = self._buffer("grad_x", *grad_y.shape, grad_y.dtype)
        np.greater(self._y, 0, out=grad_x)  # 1.0 where y > 0, else 0.0
        grad_x *= grad_y
        return grad_x


class LeakyReLU(Layer):
    """``x`` where positive, ``negative_slope * x`` elsewhere (0 <= negative_slope < 1)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not 0 <= negative_slope < 1:
            raise ValueError(f"negative_slope must be in [0, 1). Received: negative_slope={negative_slope}")
        self.negative_slope = float(negative_slope)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._training = training
        self._x = x
        y = self._buffer("y", *x.shape, x.dtype)
        np.multiply(x, self.negative_slope, out=y)
        return np.maximum(x, y, out=y)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        positive = self._buffer("positive", *grad_y.shape, bool)
        np.greater(self._x, 0, out=positive)
        grad_x = self._buffer("grad_x", *grad_y.shape, grad_y.dtype)
        np.multiply(positive, 1.0 - self.negative_slope, out=grad_x)
        grad_x += self.negative_slope
        grad_x *= grad_y
        return grad_x

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Tanh(Layer):
    """Hyperbolic tangent; derivative ``1 - y**2``."""

    name = "tanh"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._training = training
        y = self._y = self._buffer("y", *x.shape, x.dtype)
        return np.tanh(x, out=y)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        grad_x = self._buffer("grad_x", *grad_y.shape, grad_y.dtype)
        np.multiply(self._y, self._y, out=grad_x)
        np.subtract(1.0, grad_x, out=grad_x)
        grad_x *= grad_y
        return grad_x


class Sigmoid(Layer):
    """Logistic function ``1 / (1 + exp(-x))``; derivative ``y * (1 - y)``."""

    name = "sigmoid"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._training = training
        y = self._y = self._buffer("y", *x.shape, x.dtype)
        return sigmoid(x, out=y)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        grad_x = self._buffer("grad_x", *grad_y.shape, grad_y.dtype)
        np.subtract(1.0, self._y, out=grad_x)
        grad_x *= self._y
        grad_x *= grad_y
        return grad_x


class Softmax(Layer):
    """Softmax over the features of each sample; rows of the output sum to 1."""

    name = "softmax"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._training = training
        y = self._y = self._buffer("y", *x.shape, x.dtype)
        return softmax(x, out=y)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        # grad_x = y * (grad_y - sum(grad_y * y)) row by row: the Jacobian of softmax applied.
        grad_x = self._buffer("grad_x", *grad_y.shape, grad_y.dtype)
        np.multiply(grad_y, self._y, out=grad_x)
        row_dot = grad_x.sum(axis=1, keepdims=True)
        np.subtract(grad_y, row_dot, out=grad_x)
        grad_x *= self._y
        return grad_x


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
        self._training = training
        if not training or self.rate == 0:
            self._mask = None
            return x
        mask = self._mask = self._buffer("mask", *x.shape, x.dtype)
        self.rng.random(dtype=mask.dtype, out=mask.T)
        np.greater_equal(mask, self.rate, out=mask)
        mask *= 1.0 / (1.0 - self.rate)
        y = self._buffer("y", *x.shape, x.dtype)
        return np.multiply(x, mask, out=y)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._mask is None:
            return grad_y
        grad_x = self._buffer("grad_x", *grad_y.shape, grad_y.dtype)
        return np.multiply(grad_y, self._mask, out=grad_x)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate}


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function as ``0.5 * tanh(x / 2) + 0.5``: no overflow for large ``|x|``."""
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def softmax(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that ``exp`` never overflows."""
    out = np.subtract(x, x.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


LAYERS: dict[str, type[Layer]] = {
    cls.name: cls for cls in (Linear, ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, Dropout)
}


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``{"type": name, **settings}``."""
    settings = dict(config)
    name = settings.pop("type")
    if name not in LAYERS:
        raise ValueError(f"unknown layer type {name!r}; choose one of {sorted(LAYERS)}")
    return LAYERS[name](**settings)
