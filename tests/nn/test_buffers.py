"""Training buffers: made once per batch size, then reused, and starting on a 64-byte boundary
(numpy's large arrays start 16 bytes past one)."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest

from nnfw_cli.nn import SGD, Adam, BinaryCrossEntropy, CrossEntropy, Linear, Model, ReLU, Sigmoid, Softmax
from nnfw_cli.nn import _aligned


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _is_aligned(a: np.ndarray) -> bool:
    return _address(a) % _aligned.ALIGNMENT == 0


SHAPES = [(), (0,), (1,), (7,), (100_003,), (3, 5), (0, 4), (4, 0), (257, 256), (2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_, np.intp])
@pytest.mark.parametrize("order", ["C", "F"])
def test_empty_and_zeros_are_like_numpys_and_aligned(shape, dtype, order):
    for make, reference in ((_aligned.empty, np.empty), (_aligned.zeros, np.zeros)):
        a = make(shape, dtype, order)
        expected = reference(shape, dtype, order=order)
        assert a.shape == expected.shape and a.dtype == expected.dtype
        assert (a.flags.c_contiguous, a.flags.f_contiguous) == (expected.flags.c_contiguous, expected.flags.f_contiguous)
        assert a.flags.writeable and a.flags.aligned
        if a.size:
            assert _is_aligned(a)
    np.testing.assert_array_equal(_aligned.zeros(shape, dtype, order), np.zeros(shape, dtype))


def test_arrays_do_not_share_memory():
    arrays = [_aligned.zeros(1000, np.float32) for _ in range(3)] + [_aligned.zeros((10, 10), np.float64)]
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)
    arrays[1][...] = 1.0
    for a in arrays[:1] + arrays[2:]:
        np.testing.assert_array_equal(a, 0.0)


def test_like_functions_keep_the_order_and_copy_keeps_the_values():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(5, 3)).astype(np.float32)
    f = np.asfortranarray(c)
    for a in (c, f, c[:, :2]):  # C, Fortran and neither: C
        for made in (_aligned.empty_like(a), _aligned.zeros_like(a), _aligned.copy(a)):
            assert made.shape == a.shape and made.dtype == a.dtype and _is_aligned(made)
            assert made.flags.f_contiguous == (a.flags.f_contiguous and not a.flags.c_contiguous)
            assert made.flags.c_contiguous or made.flags.f_contiguous
        np.testing.assert_array_equal(_aligned.zeros_like(a), 0.0)
        copied = _aligned.copy(a)
        np.testing.assert_array_equal(copied, a)
        assert not np.shares_memory(copied, a)


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
    for layer in model.layers:  # outputs and gradients kept between steps
        buffers = list(layer._buffers.values())
        assert all(_is_aligned(b) for b in buffers)
    assert any(layer._buffers for layer in model.layers)

    saved = io.BytesIO()
    np.savez(saved, **optimizer.state_dict())
    saved.seek(0)
    restored = Adam(0.01)
    with np.load(saved) as arrays:
        restored.load_state_dict(dict(arrays))
    for key, arrays in restored.state.items():
        assert all(_is_aligned(a) for a in arrays)
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
