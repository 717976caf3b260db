"""The fast training step: buffers made once per batch size, then reused, and starting on a
64-byte boundary (numpy's large arrays start 16 bytes past one). That it computes what the plain
layers compute is tested in test_model.py (test_fit_takes_the_same_steps_as_the_plain_layers)."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest

from nnfw_cli.nn import SGD, Adam, BinaryCrossEntropy, CrossEntropy, Linear, Model, ReLU, Sigmoid, Softmax, Tanh
from nnfw_cli.nn import _step


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _is_aligned(a: np.ndarray) -> bool:
    return _address(a) % _step.ALIGNMENT == 0


SHAPES = [(), (0,), (1,), (7,), (100_003,), (3, 5), (0, 4), (4, 0), (257, 256), (2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_, np.intp])
@pytest.mark.parametrize("order", ["C", "F"])
def test_aligned_arrays_are_like_numpys(shape, dtype, order):
    a = _step.aligned_empty(shape, dtype, order)
    expected = np.empty(shape, dtype, order=order)
    assert a.shape == expected.shape and a.dtype == expected.dtype
    assert (a.flags.c_contiguous, a.flags.f_contiguous) == (expected.flags.c_contiguous, expected.flags.f_contiguous)
    assert a.flags.writeable and a.flags.aligned
    if a.size:
        assert _is_aligned(a)
    zeros = _step.aligned_zeros_like(a)
    assert _is_aligned(zeros) or not zeros.size
    np.testing.assert_array_equal(zeros, np.zeros(shape, dtype))


def test_aligned_arrays_do_not_share_memory():
    arrays = [_step.aligned_empty(1000, np.float32) for _ in range(3)] + [_step.aligned_empty((10, 10), np.float64)]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)


def _digits_like_model(dtype) -> Model:
    return Model([Linear(12, 32, rng=0), ReLU(), Linear(32, 32, rng=1), ReLU(), Linear(32, 5, rng=2), Softmax()]).astype(dtype)


@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_buffers_are_aligned(batch_size, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 12)).astype(dtype)
    y = rng.integers(0, 5, size=50)
    model, optimizer = _digits_like_model(dtype), Adam(0.01)
    model.fit(X, y, loss=CrossEntropy(), optimizer=optimizer, epochs=2, batch_size=batch_size, seed=0)

    first = model.layers[0]
    assert _is_aligned(first.params["weight"]) and _is_aligned(first.grads["weight"])  # the flat buffers
    state = [a for arrays in optimizer.state.values() for a in arrays]
    assert state and all(_is_aligned(a) for a in state)
    step = _step.TrainingStep(model.layers[:-1], CrossEntropy(), True, optimizer, X, y)
    step.epoch(batch_size, np.random.default_rng(0))
    buffers = [a for kernel in step.kernels for pair in kernel.buffers.values() for a in pair if a is not None]
    assert buffers and all(_is_aligned(b) for b in buffers)  # outputs and gradients kept between steps

    saved = io.BytesIO()
    np.savez(saved, **optimizer.state_dict())
    saved.seek(0)
    restored = Adam(0.01)
    with np.load(saved) as arrays:
        restored.load_state_dict(dict(arrays))
    model.fit(X, y, loss=CrossEntropy(), optimizer=restored, epochs=0)  # a loaded state is aligned again
    for key, arrays in restored.state.items():
        assert arrays and all(_is_aligned(a) for a in arrays)
        for a, b in zip(arrays, optimizer.state[key]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", ["softmax", "sigmoid"])
@pytest.mark.parametrize("batch_size", [None, 100, 96])  # 96: the last batch of each epoch is smaller
def test_training_steps_allocate_nothing_the_size_of_a_batch(make, batch_size):
    """After the first epoch has made every buffer, an epoch's temporary arrays stay far smaller
    than one batch of inputs (200 features: numpy's own casting buffers hold 8192 numbers)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 200))
    if make == "softmax":
        model = Model([Linear(200, 16, rng=0), ReLU(), Linear(16, 3, rng=1), Softmax()])
        y, loss, optimizer = rng.integers(0, 3, size=300), CrossEntropy(), Adam(0.01)
    else:
        model = Model([Linear(200, 16, rng=0), ReLU(), Linear(16, 1, rng=1), Sigmoid()])
        y, loss, optimizer = rng.integers(0, 2, size=300), BinaryCrossEntropy(), SGD(0.1)
    peaks: list[int] = []

    def measure(model, logs):  # the peak of the epoch that just ended, above what stays allocated
        current, peak = tracemalloc.get_traced_memory()
        peaks.append(peak - current)
        tracemalloc.reset_peak()

    tracemalloc.start()
    try:
        model.fit(X, y, loss=loss, optimizer=optimizer, epochs=4, batch_size=batch_size, seed=0, callbacks=[measure])
    finally:
        tracemalloc.stop()
    batch_bytes = min(batch_size or len(X), len(X)) * X.shape[1] * X.itemsize
    assert max(peaks[1:]) < batch_bytes / 4, (peaks, batch_bytes)


@pytest.mark.parametrize("batch_size", [None, 16])
def test_linear_layers_after_linear_and_relu_add_their_bias_within_the_product(batch_size):
    """The fused bias is the step's main saving: every Linear whose input comes from the batch or
    from a Linear (through one ReLU written in place) must get that input with its column of ones."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 12)), rng.integers(0, 5, size=50)
    model = _digits_like_model(np.float64)
    step = _step.TrainingStep(model.layers[:-1], CrossEntropy(), True, Adam(0.01), X, y)
    step.epoch(batch_size, np.random.default_rng(0))
    linear = [kernel for kernel in step.kernels if isinstance(kernel, _step._LinearKernel)]
    relu = [kernel for kernel in step.kernels if isinstance(kernel, _step._ReLUKernel)]
    assert len(linear) == 3 and all(kernel.x_ones is not None for kernel in linear)
    assert [kernel.gives_ones for kernel in linear] == [True, True, False]
    assert all(kernel.overwrites_input and kernel.overwrites_grad for kernel in relu)


def test_a_layer_without_a_kernel_breaks_the_column_of_ones_but_not_the_step():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    layers = [Linear(3, 4, rng=0), Tanh(), Linear(4, 4, rng=1), ReLU(), ReLU(), Linear(4, 1, rng=2)]
    step = _step.TrainingStep(layers, BinaryCrossEntropy(), True, SGD(0.1), X, y.reshape(-1, 1).astype(float))
    step.epoch(None, np.random.default_rng(0))
    linear = [kernel for kernel in step.kernels if isinstance(kernel, _step._LinearKernel)]
    assert [kernel.x_ones is not None for kernel in linear] == [True, False, False]
    assert [kernel.overwrites_input for kernel in step.kernels[3:5]] == [True, False]
