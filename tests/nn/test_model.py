"""Model: learning, saving and loading, end-to-end gradients, reproducible and resumable fits."""

from __future__ import annotations

import copy
import io
import json
import pickle
import re
from typing import Callable

import numpy as np
import pytest
from gradcheck import assert_gradients_match

from nnfw_cli.nn import (
    SGD,
    Adam,
    BinaryCrossEntropy,
    CrossEntropy,
    Dropout,
    History,
    Layer,
    LeakyReLU,
    Linear,
    Loss,
    MeanSquaredError,
    Model,
    Optimizer,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def _xor_model() -> Model:
    return Model([Linear(2, 8, init="xavier", rng=0), Tanh(), Linear(8, 1, init="xavier", rng=1), Sigmoid()])


def _weights(model: Model) -> list[np.ndarray]:
    return [param.copy() for _, param, _ in model.parameters()]


def _assert_same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _blobs(rng: np.random.Generator, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian clouds in 2-D with labels 0 and 1."""
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 2)) + 1.5 * y[:, None]
    return X, y


def _classifier(dropout: float = 0.0) -> Model:
    return Model(
        [Linear(2, 16, rng=0), ReLU(), Dropout(dropout, rng=5), Linear(16, 1, init="xavier", rng=1), Sigmoid()]
    )


# -- learning -------------------------------------------------------------------------------


def test_learns_xor():
    model = _xor_model()
    history = model.fit(XOR_X, XOR_Y, loss=BinaryCrossEntropy(), optimizer=Adam(0.05), epochs=300)
    predictions = model.predict(XOR_X)
    assert predictions.shape == (4, 1)
    np.testing.assert_array_equal((predictions[:, 0] > 0.5).astype(int), XOR_Y)
    assert model.evaluate(XOR_X, XOR_Y, BinaryCrossEntropy()) < 0.01
    assert history[-1]["train_loss"] < 0.01 < history[0]["train_loss"]


@pytest.mark.parametrize("batch_size", [None, 8])
def test_full_batch_and_mini_batch_both_reduce_the_loss(batch_size, rng):
    X, y = _blobs(rng)
    model, loss = _classifier(), BinaryCrossEntropy()
    before = model.evaluate(X, y, loss)
    history = model.fit(X, y, loss, SGD(0.1, momentum=0.9), epochs=50, batch_size=batch_size, seed=0)
    after = model.evaluate(X, y, loss)
    assert after < 0.8 * before
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_learns_three_classes_with_softmax_and_cross_entropy(rng):
    y = rng.integers(0, 3, 90)
    X = rng.normal(scale=0.5, size=(90, 2)) + np.array([[0, 3], [3, 0], [-3, -3]])[y]
    model = Model([Linear(2, 8, rng=0), Tanh(), Linear(8, 3, init="xavier", rng=1), Softmax()])
    model.fit(X, y, CrossEntropy(), Adam(0.05), epochs=100, batch_size=16, seed=0)
    proba = model.predict(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.mean(proba.argmax(axis=1) == y) > 0.95


def test_fit_rejects_targets_of_another_length():
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        _xor_model().fit(XOR_X, XOR_Y[:3], BinaryCrossEntropy(), SGD())


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1. Received: batch_size=0"),
        ({"batch_size": -5}, "batch_size must be an integer >= 1. Received: batch_size=-5"),
        ({"batch_size": 2.5}, "batch_size must be an integer >= 1. Received: batch_size=2.5"),
        ({"batch_size": True}, "batch_size must be an integer >= 1. Received: batch_size=True"),
        ({"epochs": -1}, "epochs must be an integer >= 0. Received: epochs=-1"),
        ({"epochs": 2.0}, "epochs must be an integer >= 0. Received: epochs=2.0"),
        ({"initial_epoch": -1}, "initial_epoch must be an integer >= 0. Received: initial_epoch=-1"),
    ],
)
def test_fit_rejects_counts_out_of_range_before_changing_anything(settings, message):
    model = _xor_model()
    before = _weights(model)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), SGD(), **{"epochs": 3, **settings})
    _assert_same_weights(_weights(model), before)


def test_fit_accepts_numpy_integers_and_no_epochs():
    model = _xor_model()
    before = _weights(model)
    assert model.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), SGD(), epochs=np.int64(0), batch_size=np.int32(2)) == []
    _assert_same_weights(_weights(model), before)
    assert len(model.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), SGD(), epochs=np.int64(2), batch_size=np.int32(2))) == 2


def test_fit_rejects_an_input_without_samples():
    with pytest.raises(ValueError, match="X has no samples"):
        _xor_model().fit(np.empty((0, 2)), np.empty(0), BinaryCrossEntropy(), SGD())


def test_predict_and_evaluate_name_an_input_of_another_width():
    model = _xor_model()
    with pytest.raises(ValueError, match="Linear expects 2 input features, got 3"):
        model.predict(np.ones((4, 3)))
    with pytest.raises(ValueError, match="Linear expects 2 input features, got 3"):
        model.evaluate(np.ones((4, 3)), XOR_Y, BinaryCrossEntropy())


def test_fit_rejects_an_input_that_is_not_2d():
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_features\)"):
        _xor_model().fit(XOR_X.ravel(), XOR_Y, BinaryCrossEntropy(), SGD())


# -- save and load --------------------------------------------------------------------------


def _trained_xor() -> Model:
    model = _xor_model()
    model.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), Adam(0.05), epochs=20)
    return model


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_then_load_gives_identical_predictions(dtype, tmp_path):
    model = _trained_xor().astype(dtype)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = Model.load(path)
    assert loaded.dtype == dtype
    assert loaded.get_config() == model.get_config()
    expected = model.predict(XOR_X)
    assert expected.dtype == dtype
    np.testing.assert_array_equal(loaded.predict(XOR_X), expected)
    assert loaded.predict(XOR_X).dtype == dtype


def test_save_and_load_work_with_file_objects():
    model = _trained_xor()
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(Model.load(buffer).predict(XOR_X), model.predict(XOR_X))


def test_loaded_model_can_keep_training():
    buffer = io.BytesIO()
    _trained_xor().save(buffer)
    buffer.seek(0)
    model = Model.load(buffer)
    history = model.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), Adam(0.05), epochs=20)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_model_file_layout(tmp_path):
    model = _trained_xor()
    model.save(tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        assert set(archive.files) == {"architecture", "0.weight", "0.bias", "2.weight", "2.bias"}
        assert archive["0.weight"].shape == (2, 8)
        assert archive["2.bias"].shape == (1,)
        np.testing.assert_array_equal(archive["0.weight"], model.layers[0].params["weight"])
        architecture = archive["architecture"]
        assert architecture.ndim == 0
        config = json.loads(str(architecture))
    assert config == model.get_config()
    assert [entry["type"] for entry in config] == ["linear", "tanh", "linear", "sigmoid"]
    assert config[0] == {"type": "linear", "in_features": 2, "out_features": 8, "init": "xavier"}


def _saved_arrays() -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    _trained_xor().save(buffer)
    buffer.seek(0)
    with np.load(buffer) as archive:
        return {name: archive[name] for name in archive.files}


def _write(path, arrays: dict[str, np.ndarray]):
    np.savez(path, **arrays)
    return path


def _without(arrays: dict, key: str) -> dict:
    return {name: value for name, value in arrays.items() if name != key}


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda a: _without(a, "2.bias"), "missing \\['2.bias'\\]"),
        (lambda a: {**a, "0.weight": a["0.weight"].T}, "'0.weight' has shape \\(8, 2\\)"),
        (lambda a: _without(a, "architecture"), "no 'architecture'"),
        (lambda a: {**a, "4.weight": np.zeros((1, 1))}, "unexpected \\['4.weight'\\]"),
        (lambda a: {**a, "architecture": np.array("not json")}, "architecture cannot be read"),
        (lambda a: {**a, "architecture": np.array(json.dumps([{"type": "conv"}]))}, "unknown layer type"),
        (lambda a: {**a, "architecture": np.array(json.dumps([{"type": "relu", "size": 3}]))}, "cannot be read"),
        (lambda a: {**a, "0.bias": a["0.bias"].astype(np.int64)}, "expected floating point"),
    ],
    ids=["missing-array", "wrong-shape", "no-architecture", "extra-array", "bad-json", "unknown-layer",
         "bad-setting", "integer-array"],
)
def test_load_rejects_a_file_that_does_not_match(corrupt, message, tmp_path):
    path = _write(tmp_path / "model.npz", corrupt(_saved_arrays()))
    with pytest.raises(ValueError, match=message):
        Model.load(path)


def test_an_untouched_file_loads(tmp_path):  # the rejections above come from the corruption
    Model.load(_write(tmp_path / "model.npz", _saved_arrays()))


# -- gradients of the whole network ---------------------------------------------------------


def _deep_sigmoid(rng):
    layers = [Linear(3, 7, rng=rng), Tanh(), Linear(7, 5, rng=rng), LeakyReLU(0.1), Linear(5, 4, rng=rng), Tanh(),
              Linear(4, 1, init="xavier", rng=rng), Sigmoid()]
    return layers, BinaryCrossEntropy(), rng.integers(0, 2, 8)


def _softmax_classifier(rng):
    layers = [Linear(3, 6, rng=rng), LeakyReLU(0.2), Linear(6, 5, init="xavier", rng=rng), Sigmoid(),
              Linear(5, 4, rng=rng), Softmax()]
    return layers, CrossEntropy(), rng.integers(0, 4, 8)


def _regressor(rng):
    layers = [Linear(3, 5, rng=rng), Tanh(), Linear(5, 4, rng=rng), ReLU(), Linear(4, 2, init="xavier", rng=rng)]
    return layers, MeanSquaredError(), rng.normal(size=(8, 2))


def _sigmoid_regressor(rng):  # MSE does not fuse with Sigmoid: the plain path runs through it
    layers = [Linear(3, 6, rng=rng), Tanh(), Linear(6, 2, init="xavier", rng=rng), Sigmoid()]
    return layers, MeanSquaredError(), rng.uniform(0, 1, size=(8, 2))


def _relu_stack(rng):
    """ReLUs after a Linear, after a ReLU, after a pass-through Dropout, after a Tanh, and last:
    training steps write some of their results over their inputs, others not."""
    layers = [Linear(3, 8, rng=rng), ReLU(), ReLU(), Linear(8, 8, rng=rng), ReLU(), Dropout(0.0), ReLU(),
              Linear(8, 8, rng=rng), Tanh(), ReLU(), Linear(8, 4, rng=rng), ReLU()]
    return layers, MeanSquaredError(), rng.uniform(0, 1, size=(8, 4))


NETWORKS: dict[str, Callable] = {
    "bce-3-7-5-4-1": _deep_sigmoid,
    "ce-3-6-5-4": _softmax_classifier,
    "mse-3-5-4-2": _regressor,
    "mse-sigmoid-3-6-2": _sigmoid_regressor,
    "mse-relu-stack": _relu_stack,
}
SEEDS = [0, 1, 2]


def _fuses(name: str) -> bool:
    """Whether the network's loss takes over its output activation during training."""
    _, loss, _ = NETWORKS[name](np.random.default_rng(0))
    return loss.activation is not None


FUSED_NETWORKS = sorted(name for name in NETWORKS if _fuses(name))


def _random_network(name: str, seed: int) -> tuple[Model, Loss, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    layers, loss, y = NETWORKS[name](rng)
    model = Model(layers)
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][...] = rng.normal(scale=0.5, size=layer.params["bias"].shape)
    X = rng.normal(size=(len(y), 3))
    return model, loss, X, y


def _target(model: Model, loss: Loss, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return loss.prepare_target(y, model.forward(X).shape[1], X.dtype)


def _total_loss(model: Model, loss: Loss, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    """The loss of the whole network, from its outputs (no fusion), as a function of its parameters."""
    target = _target(model, loss, X, y)
    return lambda: loss(target, model.forward(X))


def _parameter_pairs(model: Model, analytic: list[np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [(key, param, grad) for (key, param, _), grad in zip(model.parameters(), analytic)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_plain_backward_matches_finite_differences(name, seed):
    model, loss, X, y = _random_network(name, seed)
    target = _target(model, loss, X, y)
    _, grad = loss.value_and_grad(target, model.forward(X, training=True))
    model.backward(grad)
    analytic = [grad.copy() for _, _, grad in model.parameters()]
    assert_gradients_match(_total_loss(model, loss, X, y), _parameter_pairs(model, analytic))


def _head(model: Model, loss: Loss) -> tuple[list, bool]:
    """The layers before the loss, and whether the loss takes their output as logits."""
    fused = loss.activation is not None and isinstance(model.layers[-1], loss.activation)
    return (model.layers[:-1] if fused else model.layers), fused


def _plain_step(head: list, loss: Loss, x: np.ndarray, target: np.ndarray, fused: bool) -> float:
    """Forward and backward through each layer's plain contract; returns the loss."""
    for layer in head:
        x = layer.forward(x, training=True)
    value, grad = loss.value_and_grad(target, x, from_logits=fused)
    for layer in reversed(head):
        grad = layer.backward(grad)
    return value


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", FUSED_NETWORKS)
def test_fused_backward_matches_finite_differences(name, seed):
    model, loss, X, y = _random_network(name, seed)
    head, fused = _head(model, loss)
    assert fused  # the loss takes the logits and stands in for the output activation
    _plain_step(head, loss, X, _target(model, loss, X, y), fused)
    analytic = [grad.copy() for _, _, grad in model.parameters()]
    assert_gradients_match(_total_loss(model, loss, X, y), _parameter_pairs(model, analytic))


class GradientRecorder(Optimizer):
    """An optimizer that keeps a copy of each gradient it is given and leaves the parameters alone."""

    def __init__(self) -> None:
        super().__init__(learning_rate=1.0)
        self.seen: list[np.ndarray] = []

    def update(self, i, param, grad, scratch):
        self.seen.append(grad.copy())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_gradients_used_by_fit_match_finite_differences(name, seed):
    model, loss, X, y = _random_network(name, seed)
    recorder = GradientRecorder()
    history = model.fit(X, y, loss, recorder, epochs=1)
    assert history[0]["train_loss"] == pytest.approx(_total_loss(model, loss, X, y)(), rel=1e-12)
    flat = np.concatenate(recorder.seen)  # fit hands the optimizer one flat vector
    assert flat.size == sum(param.size for _, param, _ in model.parameters())
    sizes = np.cumsum([param.size for _, param, _ in model.parameters()])[:-1]
    analytic = [part.reshape(param.shape) for part, (_, param, _) in zip(np.split(flat, sizes), model.parameters())]
    assert_gradients_match(_total_loss(model, loss, X, y), _parameter_pairs(model, analytic))


def _first_relu_network(rng):
    layers = [ReLU(), Linear(3, 5, rng=rng), ReLU(), Linear(5, 1, init="xavier", rng=rng), Sigmoid()]
    return layers, BinaryCrossEntropy(), rng.integers(0, 2, 8)


def _dropout_network(rng):
    layers = [Linear(3, 6, rng=rng), ReLU(), Dropout(0.3, rng=int(rng.integers(2**31))), Linear(6, 6, rng=rng), ReLU(),
              Linear(6, 1, init="xavier", rng=rng), Sigmoid()]
    return layers, BinaryCrossEntropy(), rng.integers(0, 2, 8)


ORACLE_NETWORKS = {**NETWORKS, "relu-first": _first_relu_network, "dropout": _dropout_network}


def _plain_fit(model: Model, loss: Loss, optimizer: Optimizer, X: np.ndarray, y: np.ndarray, epochs: int,
               batch_size: int | None, seed: int) -> list[float]:
    """What fit must compute, written with the layers' plain contract: the same shuffles, each
    batch forward and backward layer by layer, one optimizer step per parameter array."""
    head, fused = _head(model, loss)
    target = _target(model, loss, X, y)
    rng, losses = np.random.default_rng(seed), []
    params = [p for _, p, _ in model.parameters()]
    grads = [g for _, _, g in model.parameters()]
    for _ in range(epochs):
        size = len(X) if batch_size is None or batch_size >= len(X) else batch_size
        order = np.arange(len(X)) if size == len(X) else rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), size):
            rows = order[start : start + size]
            total += _plain_step(head, loss, X[rows], target[rows], fused) * len(rows)
            optimizer.step(params, grads)
        losses.append(total / len(X))
    return losses


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 3, 4, 8])  # 3: the last batch of each epoch is short
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("name", sorted(ORACLE_NETWORKS))
def test_fit_takes_the_same_steps_as_the_plain_layers(name, optimizer, batch_size, dtype, seed):
    """fit runs a faster step (flat buffers, fused biases, results written over scratch arrays);
    epoch after epoch it must take the steps the plain forward and backward take."""
    build = ORACLE_NETWORKS[name]
    rng = np.random.default_rng(seed)
    layers, loss, y = build(rng)
    X = rng.normal(size=(len(y), 3)).astype(dtype)
    fast, plain = Model(layers).astype(dtype), Model(build(np.random.default_rng(seed))[0]).astype(dtype)
    make = (lambda: SGD(0.1, momentum=0.5)) if optimizer == "sgd" else (lambda: Adam(0.01))
    history = fast.fit(X, y, loss, make(), epochs=4, batch_size=batch_size, seed=seed)
    losses = _plain_fit(plain, loss, make(), X, y, 4, batch_size, seed)
    tolerance = {"rtol": 1e-11, "atol": 1e-13} if dtype == np.float64 else {"rtol": 2e-4, "atol": 1e-5}
    np.testing.assert_allclose(history.column("train_loss"), losses, **tolerance)
    for a, b in zip(_weights(fast), _weights(plain)):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **tolerance)


class _Witness(Layer):
    """A layer that returns fresh arrays (identity, shifted so that a ReLU after it would change
    them) and checks, when it is next called, that nobody wrote over what it returned: a plain
    layer may read its results again."""

    def forward(self, x, training=False):
        self._check()
        self._out = x - 0.25
        self._out_copy = self._out.copy()
        return self._out

    def backward(self, grad_y):
        self._check()
        self._grad = grad_y.copy()
        self._grad_copy = self._grad.copy()
        return self._grad

    def _check(self):
        for name in ("_out", "_grad"):
            if hasattr(self, name):
                np.testing.assert_array_equal(getattr(self, name), getattr(self, name + "_copy"), err_msg=name)


@pytest.mark.parametrize("batch_size", [None, 4])
def test_fit_writes_over_no_array_a_plain_layer_returned(batch_size, rng):
    X = rng.normal(size=(8, 3))
    y = rng.integers(0, 2, 8)
    model = Model([Linear(3, 5, rng=0), _Witness(), ReLU(), _Witness(), Linear(5, 1, rng=1), Sigmoid()])
    model.fit(X, y, BinaryCrossEntropy(), SGD(0.1), epochs=3, batch_size=batch_size, seed=0)


class _KeepingLoss(MeanSquaredError):
    """Mean squared error that returns a gradient array of its own (not the one it is offered)
    and checks, at its next call, that it is unchanged."""

    def value_and_grad(self, y_true, y_pred, from_logits=False, out=None):
        if hasattr(self, "_grad"):
            np.testing.assert_array_equal(self._grad, self._grad_copy)
        value, self._grad = super().value_and_grad(y_true, y_pred, from_logits)
        self._grad_copy = self._grad.copy()
        return value, self._grad


def test_fit_does_not_write_over_a_gradient_the_loss_keeps(rng):
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    Model([Linear(3, 2, rng=0), ReLU()]).fit(X, y, _KeepingLoss(), SGD(0.1), epochs=3)


def test_public_forward_and_backward_leave_the_callers_arrays_alone(rng):
    model = Model([ReLU(), Linear(3, 4, rng=0), ReLU(), Dropout(0.0), ReLU()])
    X = rng.normal(size=(6, 3))
    X_before = X.copy()
    out = model.forward(X, training=True)
    grad = rng.normal(size=out.shape)
    grad_before = grad.copy()
    model.backward(grad)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(grad, grad_before)


# -- reproducibility and resuming -----------------------------------------------------------


def _fit_classifier(seed, epochs: int = 5) -> list[np.ndarray]:
    X, y = _blobs(np.random.default_rng(3))
    model = _classifier(dropout=0.2)
    model.fit(X, y, BinaryCrossEntropy(), Adam(0.01), epochs=epochs, batch_size=10, seed=seed)
    return _weights(model)


def test_fit_with_a_seed_is_reproducible_bit_for_bit():
    _assert_same_weights(_fit_classifier(seed=42), _fit_classifier(seed=42))


def test_the_seed_decides_the_shuffle():
    first, second = _fit_classifier(seed=42), _fit_classifier(seed=43)
    assert not np.array_equal(first[0], second[0])


def test_initial_epoch_resumes_a_run_exactly():
    X, y = _blobs(np.random.default_rng(3))
    loss = BinaryCrossEntropy()

    model, optimizer = _classifier(dropout=0.2), Adam(0.01)
    model.fit(X, y, loss, optimizer, epochs=10, batch_size=10, seed=np.random.default_rng(7))
    in_one_go = _weights(model)

    model, optimizer, generator = _classifier(dropout=0.2), Adam(0.01), np.random.default_rng(7)
    first = model.fit(X, y, loss, optimizer, epochs=5, batch_size=10, seed=generator)
    second = model.fit(X, y, loss, optimizer, epochs=10, batch_size=10, seed=generator, initial_epoch=5)
    assert History(first + second).column("epoch") == list(range(1, 11))
    _assert_same_weights(_weights(model), in_one_go)


def test_resuming_from_saved_model_and_optimizer_files_is_exact():
    X, y = _blobs(np.random.default_rng(3))
    loss = BinaryCrossEntropy()
    model, optimizer = _classifier(), Adam(0.01)
    model.fit(X, y, loss, optimizer, epochs=3, batch_size=10, seed=1)
    model_file, state_file = io.BytesIO(), io.BytesIO()
    model.save(model_file)
    np.savez(state_file, **optimizer.state_dict())
    model_file.seek(0)
    state_file.seek(0)

    restored, restored_optimizer = Model.load(model_file), Adam(0.01)
    with np.load(state_file) as archive:
        restored_optimizer.load_state_dict({key: archive[key] for key in archive.files})
    model.fit(X, y, loss, optimizer, epochs=6, batch_size=10, seed=2, initial_epoch=3)
    restored.fit(X, y, loss, restored_optimizer, epochs=6, batch_size=10, seed=2, initial_epoch=3)
    _assert_same_weights(_weights(restored), _weights(model))


def test_resuming_without_the_optimizer_state_differs():  # so the resume test above can fail
    X, y = _blobs(np.random.default_rng(3))
    loss = BinaryCrossEntropy()
    model, optimizer = _classifier(), Adam(0.01)
    model.fit(X, y, loss, optimizer, epochs=10, batch_size=10, seed=np.random.default_rng(7))
    in_one_go = _weights(model)

    model, generator = _classifier(), np.random.default_rng(7)
    model.fit(X, y, loss, Adam(0.01), epochs=5, batch_size=10, seed=generator)
    model.fit(X, y, loss, Adam(0.01), epochs=10, batch_size=10, seed=generator, initial_epoch=5)
    assert not np.array_equal(_weights(model)[0], in_one_go[0])


def _pickled(value):
    return pickle.loads(pickle.dumps(value))


def _deep_classifier() -> Model:  # ReLUs after a Linear and after a ReLU, dropout, softmax
    return Model([Linear(2, 16, rng=0), ReLU(), ReLU(), Linear(16, 16, rng=1), ReLU(), Dropout(0.2, rng=5),
                  Linear(16, 2, init="xavier", rng=2), Softmax()])


@pytest.mark.parametrize("duplicate", [copy.deepcopy, _pickled], ids=["deepcopy", "pickle"])
@pytest.mark.parametrize("batch_size", [None, 10])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_copy_of_a_trained_model_trains_as_the_original_would(duplicate, batch_size, dtype):
    """A copy (with its optimizer) predicts the same, trains to the same weights bit for bit, and
    shares nothing with the original: the buffers and views a step leaves are not copied."""
    X, y = _blobs(np.random.default_rng(3))
    loss = CrossEntropy()
    model, optimizer = _deep_classifier().astype(dtype), Adam(0.01)
    model.fit(X, y, loss, optimizer, epochs=3, batch_size=batch_size, seed=1)
    trained = _weights(model)

    twin, twin_optimizer = duplicate((model, optimizer))
    np.testing.assert_array_equal(twin.predict(X), model.predict(X))
    twin.fit(X, y, loss, twin_optimizer, epochs=6, batch_size=batch_size, seed=2, initial_epoch=3)
    _assert_same_weights(_weights(model), trained)  # the original is left as it was

    model.fit(X, y, loss, optimizer, epochs=6, batch_size=batch_size, seed=2, initial_epoch=3)
    assert not np.array_equal(_weights(model)[0], trained[0])
    _assert_same_weights(_weights(twin), _weights(model))


def test_a_callback_can_keep_copies_of_the_model_as_it_trains():
    X, y = _blobs(np.random.default_rng(3))
    kept: list[tuple[Model, np.ndarray]] = []

    def keep(model, logs):
        kept.append((copy.deepcopy(model), model.predict(X)))

    _deep_classifier().fit(X, y, CrossEntropy(), Adam(0.01), epochs=4, batch_size=10, seed=1, callbacks=[keep])
    assert len(kept) == 4
    for snapshot, predictions in kept:
        np.testing.assert_array_equal(snapshot.predict(X), predictions)
    assert not np.array_equal(kept[0][1], kept[-1][1])


def test_a_parameter_set_by_hand_after_training_is_trained_from_its_new_value():
    X, y = _blobs(np.random.default_rng(3))
    loss = BinaryCrossEntropy()
    model = _classifier()
    model.fit(X, y, loss, SGD(0.1), epochs=2, batch_size=10, seed=1)
    first = model.layers[0]
    first.params["weight"] = np.linspace(-1.0, 1.0, first.params["weight"].size).reshape(first.params["weight"].shape)
    first.params["bias"] = np.full_like(first.params["bias"], 0.1)

    by_hand = _classifier()  # the same values, set in place in a model never trained
    for (_, param, _), (_, value, _) in zip(by_hand.parameters(), model.parameters()):
        param[...] = value
    for trained in (model, by_hand):  # SGD keeps no state: both take the same steps
        trained.fit(X, y, loss, SGD(0.1), epochs=3, batch_size=10, seed=2)
    _assert_same_weights(_weights(model), _weights(by_hand))
    assert not np.array_equal(model.layers[0].params["bias"], np.full(16, 0.1))


def test_fit_refuses_a_layer_object_used_twice():
    shared = Linear(4, 4, rng=0)
    model = Model([shared, ReLU(), shared, Sigmoid()])
    X = np.ones((8, 4))
    with pytest.raises(ValueError, match="layer 2 is a layer object that comes earlier"):
        model.fit(X, np.ones((8, 4)), MeanSquaredError(), SGD(0.1))


# -- history and callbacks ------------------------------------------------------------------


def test_history_column_fills_missing_entries_with_nan():
    history = History([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4, "val_loss": 0.3}])
    assert history.column("train_loss") == [0.5, 0.4]
    val_loss = history.column("val_loss")
    assert np.isnan(val_loss[0]) and val_loss[1] == 0.3


def test_fit_logs_every_epoch_with_validation(rng):
    X, y = _blobs(rng)
    model, loss = _classifier(), BinaryCrossEntropy()
    history = model.fit(X[:48], y[:48], loss, SGD(0.1), epochs=4, validation=(X[48:], y[48:]))
    assert isinstance(history, History)
    assert history.column("epoch") == [1, 2, 3, 4]
    assert history.column("val_loss")[-1] == pytest.approx(model.evaluate(X[48:], y[48:], loss), rel=1e-12)
    assert all(np.isfinite(history.column("train_loss")))


def test_callbacks_see_every_epoch_and_can_add_logs():
    seen = []

    def record(model, logs):
        seen.append(logs["epoch"])
        logs["double"] = 2 * logs["train_loss"]

    history = _xor_model().fit(XOR_X, XOR_Y, BinaryCrossEntropy(), SGD(0.1), epochs=3, callbacks=[record])
    assert seen == [1, 2, 3]
    assert history.column("double") == [2 * loss for loss in history.column("train_loss")]


def test_a_callback_can_stop_training():
    def stop_at_three(model, logs):
        if logs["epoch"] == 3:
            model.stop_training = True

    model = _xor_model()
    history = model.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), Adam(0.05), epochs=50, callbacks=[stop_at_three])
    assert history.column("epoch") == [1, 2, 3]
    three_epochs = _xor_model()
    three_epochs.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), Adam(0.05), epochs=3)
    _assert_same_weights(_weights(model), _weights(three_epochs))

    again = model.fit(XOR_X, XOR_Y, BinaryCrossEntropy(), Adam(0.05), epochs=2)  # the flag is reset by fit
    assert len(again) == 2


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 7, 8, 9, 20_000])
def test_predict_in_chunks_equals_predict_at_once(n: int) -> None:
    rng = np.random.default_rng(n)
    model = Model([Linear(3, 16, rng=1), ReLU(), Linear(16, 4, rng=2), Softmax()])
    X = rng.normal(size=(n, 3))
    whole = model.predict(X, batch_size=n)
    for batch_size in (8, 4096, 8192):
        np.testing.assert_allclose(model.predict(X, batch_size=batch_size), whole, rtol=1e-12, atol=1e-15)
        assert model.predict(X, batch_size=batch_size).shape == (n, 4)


def _moons_model(*middle) -> Model:
    return Model([Linear(2, 16, rng=0), ReLU(), Linear(16, 16, rng=1), ReLU(), *middle,
                  Linear(16, 1, init="xavier", rng=2), Sigmoid()])


def test_summary_lists_each_layer_with_its_output_shape_and_parameters_then_the_total():
    lines = _moons_model().summary().splitlines()
    assert lines[0].split() == ["#", "layer", "output", "shape", "params"]
    rows = [re.match(r"(\d+)\s+(\w+)\(.*\)\s+\(None, (\d+)\)\s+(\d+)$", line).groups() for line in lines[1:-1]]
    assert rows == [("0", "Linear", "16", "48"), ("1", "ReLU", "16", "0"), ("2", "Linear", "16", "272"),
                    ("3", "ReLU", "16", "0"), ("4", "Linear", "1", "17"), ("5", "Sigmoid", "1", "0")]
    assert "Linear(in_features=2, out_features=16, init='he')" in lines[1]
    assert lines[-1] == "total params: 337"


def test_summary_shows_dropout_with_its_rate_and_takes_the_input_width_when_no_layer_states_it():
    lines = _moons_model(Dropout(0.2)).summary().splitlines()
    assert len(lines) == 9 and lines[-1] == "total params: 337"
    assert re.match(r"4\s+Dropout\(rate=0\.2\)\s+\(None, 16\)\s+0$", lines[5])
    assert Model([ReLU(), Dropout(0.5)]).summary(in_features=3).splitlines()[1:] == [
        "0  ReLU()             (None, 3)     0", "1  Dropout(rate=0.5)  (None, 3)     0", "total params: 0"]
    with pytest.raises(ValueError, match="in_features"):
        Model([ReLU()]).summary()
    with pytest.raises(ValueError, match="expects 2 input features"):
        _moons_model().summary(in_features=3)


def test_fit_prints_one_line_per_epoch_when_verbose_and_nothing_otherwise(capsys):
    model = _xor_model()
    model.fit(XOR_X, XOR_Y, loss=BinaryCrossEntropy(), optimizer=Adam(0.01), epochs=3)
    assert capsys.readouterr().out == ""
    history = model.fit(XOR_X, XOR_Y, loss=BinaryCrossEntropy(), optimizer=Adam(0.01), epochs=5,
                        initial_epoch=3, validation=(XOR_X, XOR_Y), verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 4/5", "epoch 5/5"]
    assert lines[-1] == f"epoch 5/5  train_loss {history[-1]['train_loss']:.4f}  val_loss {history[-1]['val_loss']:.4f}"
    model.fit(XOR_X, XOR_Y, loss=BinaryCrossEntropy(), optimizer=Adam(0.01), epochs=1, verbose=True)
    assert re.fullmatch(r"epoch 1/1  train_loss \d\.\d{4}\n", capsys.readouterr().out)
