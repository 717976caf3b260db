"""The fast training step: what ``Model.fit`` runs, and the one place that knows about speed.

It computes what the layers' plain ``forward`` and ``backward`` compute (tests compare the two
on every case it handles), with four tricks that a training loop can afford and a layer cannot:

- **one flat parameter buffer**: every parameter (and gradient) becomes a view into one long
  array, so the optimizer updates one vector per step whatever the depth of the network;
- **fused biases**: a Linear layer's weight and bias lie next to each other in that buffer, as
  one ``(in + 1, out)`` matrix, and its input is followed in memory by a column of ones, so
  ``[x 1] @ [weight; bias]`` adds the bias within the matrix product, and ``[x 1].T @ grad``
  gives both gradients in one;
- **buffers made once and reused**: each kernel keeps its outputs and gradients per batch size,
  stored features-major (``(width, n)`` in memory), the layout in which BLAS multiplies thin
  layers fastest; a ReLU after a Linear writes over the Linear's output, and its gradient over
  the gradient it is given, where nothing reads them again;
- **alignment**: the arrays it makes start on a 64-byte boundary (numpy starts a large array 16
  bytes past one, so every vector a SIMD loop loads from it straddles two cache lines).

Only the built-in ``Linear`` and ``ReLU`` have kernels here; any other layer, a user's own
included, runs through its plain ``forward(x, training=True)`` and ``backward(grad_y)``.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from .layers import Layer, Linear, ReLU
from .losses import Loss
from .optimizers import Optimizer

ALIGNMENT = 64  # bytes: a cache line, and an AVX-512 register


# -- aligned arrays --------------------------------------------------------------------------


def aligned_empty(shape: int | tuple[int, ...], dtype: Any, order: str = "C") -> np.ndarray:
    """``np.empty(shape, dtype, order=order)`` with its data on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.__array_interface__["data"][0] % ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape, order=order)


def aligned_zeros_like(a: np.ndarray) -> np.ndarray:
    """``np.zeros_like(a)`` (C order) with its data on a 64-byte boundary."""
    out = aligned_empty(a.shape, a.dtype)
    out.fill(0)
    return out


def _features_major(n: int, width: int, dtype: Any, ones: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """An ``(n, width)`` array stored features-major, and, with ``ones``, the same array with the
    column of ones that follows it in memory, ``(n, width + 1)``."""
    block = aligned_empty((width + ones, n), dtype)
    if not ones:
        return block.T, None
    block[width] = 1.0
    return block[:width].T, block.T


@functools.lru_cache(maxsize=8)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``n`` ones: summing columns as a matrix-vector product is about
    twice as fast as ``np.sum`` on features-major arrays."""
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``a @ b`` into ``out``; an outer product (one column times one row) by broadcasting,
    which BLAS does several times slower as a matrix product."""
    if a.shape[1] == 1:
        return np.multiply(a, b, out=out)
    return np.matmul(a, b, out=out)


# -- inference -------------------------------------------------------------------------------


def forward(layers: Sequence[Layer], x: np.ndarray) -> np.ndarray:
    """The layers' output for ``x``, with Linear layers computed features-major as in training."""
    for layer in layers:
        if type(layer) is Linear:
            weight, bias = layer.params["weight"], layer.params["bias"]
            y, _ = _features_major(len(x), weight.shape[1], weight.dtype, ones=False)
            _product(weight.T, x.T, out=y.T)
            y += bias
            x = y
        else:
            x = layer.forward(x)
    return x


# -- the flat parameter buffer ---------------------------------------------------------------


def pack(layers: Sequence[Layer]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Copy every parameter into one flat aligned array, and make each layer's parameters and
    gradients views into it (and into a flat gradient array), in order; returns the two flat
    arrays and where each layer's parameters start in them."""
    arrays = [p for layer in layers for p in layer.params.values()]
    params = aligned_empty(sum(p.size for p in arrays), np.result_type(*arrays) if arrays else np.float64)
    if arrays:
        np.concatenate([p.ravel() for p in arrays], out=params)
    grads = aligned_zeros_like(params)
    offset, starts = 0, []
    for layer in layers:
        starts.append(offset)
        for name, value in layer.params.items():
            size = value.size
            layer.params[name] = params[offset : offset + size].reshape(value.shape)
            layer.grads[name] = grads[offset : offset + size].reshape(value.shape)
            offset += size
    return params, grads, starts


# -- kernels ---------------------------------------------------------------------------------


class _Kernel:
    """How the step runs one layer. ``forward`` and ``backward`` pass ``(array, with_ones)``:
    ``with_ones`` is the same array with a column of ones after it, or None."""

    fuses_ones = False  # the input may come with a column of ones
    overwrites_input = False  # forward writes over its input, backward over its gradient
    output_is_scratch = False  # what forward and backward return is never read again by this kernel

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.buffers: dict[tuple, tuple[np.ndarray, np.ndarray | None]] = {}

    def buffer(self, key: str, n: int, width: int, dtype: Any, ones: bool = False) -> tuple[np.ndarray, Any]:
        slot = (key, n)
        if slot not in self.buffers:
            if len(self.buffers) > 16:  # batch sizes come and go; keep memory bounded
                self.buffers.clear()
            self.buffers[slot] = _features_major(n, width, dtype, ones)
        return self.buffers[slot]


class _Plain(_Kernel):
    """Any layer through its plain contract."""

    def forward(self, x: np.ndarray, x_ones: Any) -> tuple[np.ndarray, None]:
        return self.layer.forward(x, training=True), None

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return self.layer.backward(grad_y)


class _LinearKernel(_Kernel):
    """Linear with its bias fused into the product when its input comes with ones."""

    fuses_ones = output_is_scratch = True  # backward reads the input and the weight, not the output

    def __init__(self, layer: Linear, params: np.ndarray, grads: np.ndarray, start: int) -> None:
        super().__init__(layer)
        self.weight, self.bias = layer.params["weight"], layer.params["bias"]
        self.weight_grad, self.bias_grad = layer.grads["weight"], layer.grads["bias"]
        # [weight; bias] as one matrix: pack() laid the bias right after the weight
        shape = (layer.in_features + 1, layer.out_features)
        self.affine = params[start : start + shape[0] * shape[1]].reshape(shape)
        self.affine_grad = grads[start : start + shape[0] * shape[1]].reshape(shape)
        self.gives_ones = False  # set by the plan: the next kernel fuses ones
        self.input_grad = True  # set by the plan: False for the first layer

    def forward(self, x: np.ndarray, x_ones: Any) -> tuple[np.ndarray, Any]:
        self.x, self.x_ones = x, x_ones
        y, y_ones = self.buffer("y", x.shape[0], self.weight.shape[1], self.weight.dtype, ones=self.gives_ones)
        if x_ones is not None:
            np.matmul(self.affine.T, x_ones.T, out=y.T)
        else:
            _product(self.weight.T, x.T, out=y.T)
            y += self.bias
        return y, y_ones

    def backward(self, grad_y: np.ndarray) -> np.ndarray | None:
        if self.x_ones is not None:  # [x 1].T @ grad_y: the weight's gradient, then the bias's
            np.matmul(self.x_ones.T, grad_y, out=self.affine_grad)
        else:
            np.matmul(self.x.T, grad_y, out=self.weight_grad)
            np.matmul(grad_y.T, _ones(len(grad_y), grad_y.dtype), out=self.bias_grad)  # column sums
        if not self.input_grad:  # the first layer: nothing needs the gradient of the data
            return None
        grad_x, _ = self.buffer("grad_x", grad_y.shape[0], self.weight.shape[0], self.weight.dtype)
        _product(self.weight, grad_y.T, out=grad_x.T)
        return grad_x


class _ReLUKernel(_Kernel):
    """ReLU in place where the plan allows it."""

    def __init__(self, layer: ReLU) -> None:
        super().__init__(layer)
        self.overwrites_input = False  # set by the plan: the input is a Linear kernel's scratch output
        self.overwrites_grad = False  # set by the plan: the gradient is the loss's or a Linear kernel's

    def forward(self, x: np.ndarray, x_ones: Any) -> tuple[np.ndarray, Any]:
        if self.overwrites_input:  # the column of ones after x stays where it is
            y, y_ones = x, x_ones
        else:
            (y, _), y_ones = self.buffer("y", *x.shape, x.dtype), None
        self.y = np.maximum(x, 0, out=y)
        return y, y_ones

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        if self.overwrites_grad:  # zero grad_y where the unit was off
            active, _ = self.buffer("active", *grad_y.shape, bool)
            np.greater(self.y, 0, out=active)
            return np.multiply(grad_y, active, out=grad_y)
        grad_x, _ = self.buffer("grad_x", *grad_y.shape, grad_y.dtype)
        np.greater(self.y, 0, out=grad_x)  # 1.0 where y > 0, else 0.0
        grad_x *= grad_y
        return grad_x


def plan(layers: Sequence[Layer], params: np.ndarray, grads: np.ndarray, starts: list[int]) -> list[_Kernel]:
    """A kernel per layer, with the options that are safe where it stands.

    - A ReLU overwrites its input when that is a Linear kernel's output (the Linear never reads
      it again; the batch itself is never overwritten), and its gradient when that comes from
      the loss or from a Linear kernel (the step's own buffers).
    - A Linear gives its output a column of ones when the next layer that reads it (past a ReLU
      writing in place, which keeps that column where it is) is a Linear.
    """
    kernels: list[_Kernel] = []
    for layer, start in zip(layers, starts):
        if type(layer) is Linear and list(layer.params) == ["weight", "bias"]:
            kernels.append(_LinearKernel(layer, params, grads, start))
        elif type(layer) is ReLU:
            kernels.append(_ReLUKernel(layer))
        else:
            kernels.append(_Plain(layer))
    for index, kernel in enumerate(kernels):
        if isinstance(kernel, _ReLUKernel):
            kernel.overwrites_input = index > 0 and kernels[index - 1].output_is_scratch
            kernel.overwrites_grad = index + 1 == len(kernels) or kernels[index + 1].output_is_scratch
    for index, kernel in enumerate(kernels):
        if isinstance(kernel, _LinearKernel):
            kernel.input_grad = index > 0
            reader = index + 1
            while reader < len(kernels) and kernels[reader].overwrites_input:
                reader += 1
            kernel.gives_ones = reader < len(kernels) and kernels[reader].fuses_ones
    return kernels


# -- the step --------------------------------------------------------------------------------


class TrainingStep:
    """Epochs of gradient steps on ``(X, target)``, with every buffer made once per batch size.

    Args:
        layers: the layers before the loss (without the output activation the loss fuses with).
        from_logits: whether the loss takes the last layer's output as logits.
        X: samples-major; a mini-batch is gathered as whole rows.
        target: as the loss takes it, one row per sample.
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss, from_logits: bool, optimizer: Optimizer,
                 X: np.ndarray, target: np.ndarray) -> None:
        self.params, self.grads, starts = pack(layers)
        optimizer.allocate([self.params], zeros_like=aligned_zeros_like)
        self.kernels = plan(layers, self.params, self.grads, starts)
        self.loss, self.from_logits, self.optimizer = loss, from_logits, optimizer
        self.X, self.target = np.ascontiguousarray(X), target
        self._full_batch: tuple[np.ndarray, np.ndarray] | None = None
        self._batches: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._loss_grads: dict[int, np.ndarray] = {}

    def epoch(self, batch_size: int | None, rng: np.random.Generator) -> float:
        """One pass over the data; returns the mean training loss of its steps."""
        n = len(self.X)
        if batch_size is None or batch_size >= n:
            if self._full_batch is None:
                self._full_batch = _features_major(n, self.X.shape[1], self.X.dtype, ones=True)
                self._full_batch[0][...] = self.X
            return self.run(*self._full_batch, self.target)
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            total += self.run(*self._gather(rows)) * len(rows)
        return total / n

    def run(self, x: np.ndarray, x_ones: np.ndarray | None, y: np.ndarray) -> float:
        """One step on the batch ``(x, y)``; returns its loss."""
        for kernel in self.kernels:
            x, x_ones = kernel.forward(x, x_ones)
        grad_out = self._loss_grad(len(x), x.shape[1], x.dtype)
        value, grad = self.loss.value_and_grad(y, x, from_logits=self.from_logits, out=grad_out)
        if grad is not grad_out:  # a loss that ignores ``out``: the kernels may write over their gradient
            np.copyto(grad_out, grad)
            grad = grad_out
        for kernel in reversed(self.kernels):
            grad = kernel.backward(grad)
        self.optimizer.step([self.params], [self.grads])
        return value

    def _gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, width = len(rows), self.X.shape[1]
        if n not in self._batches:
            x_ones = aligned_empty((n, width + 1), self.X.dtype)  # each row followed by a one
            x_ones[:, -1] = 1.0
            self._batches[n] = (x_ones[:, :-1], x_ones, aligned_empty((n, width), self.X.dtype),
                                aligned_empty((n, *self.target.shape[1:]), self.target.dtype))
        x, x_ones, taken, y = self._batches[n]
        # np.take copies into a temporary array unless ``out`` is contiguous and the mode is not
        # "raise"; the rows come from a permutation of range(n), so "clip" never clips
        np.take(self.X, rows, axis=0, out=taken, mode="clip")
        np.copyto(x, taken)
        np.take(self.target, rows, axis=0, out=y, mode="clip")
        return x, x_ones, y

    def _loss_grad(self, n: int, width: int, dtype: Any) -> np.ndarray:
        """The loss gradient for ``n`` samples, features-major like the kernels' outputs."""
        if n not in self._loss_grads:
            self._loss_grads[n] = aligned_empty((width, n), dtype).T
        return self._loss_grads[n]
