"""Layers: gradients against finite differences, values against reference formulas, configs."""

from __future__ import annotations

import json
import re
from typing import Callable

import numpy as np
import pytest
from gradcheck import assert_gradients_match

from nnfw_cli.nn import (
    LAYERS,
    Dropout,
    Layer,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    layer_from_config,
)

N_SAMPLES, IN_FEATURES = 5, 4
MASK_SEED = 11  # dropout draws its mask from a generator re-seeded with this before each forward


def _linear(rng: np.random.Generator) -> Linear:
    layer = Linear(IN_FEATURES, 3, rng=rng)
    layer.params["bias"][...] = rng.normal(size=3)  # biases start at 0; make them count
    return layer


LAYER_FACTORIES: dict[str, Callable[[np.random.Generator], Layer]] = {
    "linear": _linear,
    "relu": lambda rng: ReLU(),
    "leaky_relu": lambda rng: LeakyReLU(negative_slope=0.2),
    "tanh": lambda rng: Tanh(),
    "sigmoid": lambda rng: Sigmoid(),
    "softmax": lambda rng: Softmax(),
    "dropout": lambda rng: Dropout(rate=0.4, rng=MASK_SEED),
}
DETERMINISTIC = sorted(set(LAYERS) - {"dropout"})  # same values in and out of training


def _inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values with 0.2 <= |x| <= 1.5: no input sits on the kink of ReLU or LeakyReLU."""
    return rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def _forward_training(layer: Layer, x: np.ndarray) -> np.ndarray:
    """The training-mode forward, with dropout's mask fixed so that every call draws the same one."""
    if isinstance(layer, Dropout):
        layer.rng = np.random.default_rng(MASK_SEED)
    return layer.forward(x, training=True)


def test_every_registered_layer_has_a_test_case():
    assert set(LAYER_FACTORIES) == set(LAYERS)


# -- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradients_match_finite_differences(name, rng):
    layer = LAYER_FACTORIES[name](rng)
    x = _inputs(rng, (N_SAMPLES, IN_FEATURES))
    grad_y = rng.normal(size=(N_SAMPLES, layer.output_width(IN_FEATURES)))

    _forward_training(layer, x)
    grad_x = layer.backward(grad_y)

    def total() -> float:  # the scalar whose gradient backward computes: sum(y * grad_y)
        return float(np.sum(_forward_training(layer, x) * grad_y))

    pairs = [("x", x, grad_x)] + [(f"params[{key!r}]", layer.params[key], layer.grads[key]) for key in layer.params]
    assert_gradients_match(total, pairs)


@pytest.mark.parametrize(("in_features", "out_features"), [(1, 3), (3, 1), (1, 1), (2, 5)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_with_a_side_of_one_unit(in_features, out_features, dtype, rng):
    # one input or one output unit: the products are outer products, done by broadcasting
    layer = Linear(in_features, out_features, rng=rng, dtype=dtype)
    layer.params["bias"][...] = rng.normal(size=out_features)
    x = _inputs(rng, (N_SAMPLES, in_features)).astype(dtype)
    grad_y = rng.normal(size=(N_SAMPLES, out_features)).astype(dtype)
    weight, bias = layer.params["weight"], layer.params["bias"]
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(layer.forward(x, training=True), x @ weight + bias, **tol)
    grad_x = layer.backward(grad_y)
    np.testing.assert_allclose(grad_x, grad_y @ weight.T, **tol)
    np.testing.assert_allclose(layer.grads["weight"], x.T @ grad_y, **tol)
    np.testing.assert_allclose(layer.grads["bias"], grad_y.sum(axis=0), **tol)
    if dtype == np.float64:  # and against finite differences

        def total() -> float:
            return float(np.sum(layer.forward(x, training=True) * grad_y))

        pairs = [("x", x, grad_x)] + [(f"params[{k!r}]", layer.params[k], layer.grads[k]) for k in layer.params]
        assert_gradients_match(total, pairs)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_training_and_inference_give_the_same_values(name, rng):
    layer = LAYER_FACTORIES[name](rng)
    x = _inputs(rng, (N_SAMPLES, IN_FEATURES))
    grad_y = rng.normal(size=(N_SAMPLES, layer.output_width(IN_FEATURES)))
    y_train = layer.forward(x, training=True).copy()
    grad_train = layer.backward(grad_y).copy()
    y_eval = layer.forward(x, training=False)
    grad_eval = layer.backward(grad_y)
    np.testing.assert_allclose(y_eval, y_train, rtol=1e-15, atol=0)
    np.testing.assert_allclose(grad_eval, grad_train, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_reused_training_buffers_do_not_leak_between_steps(name, rng):
    layer = LAYER_FACTORIES[name](rng)
    first, second = _inputs(rng, (2, N_SAMPLES, IN_FEATURES))
    grad_y = rng.normal(size=(N_SAMPLES, layer.output_width(IN_FEATURES)))
    expected_y = layer.forward(second, training=False)
    expected_grad = layer.backward(grad_y)

    layer.forward(first, training=True)
    layer.backward(-grad_y)
    y = layer.forward(second, training=True)
    np.testing.assert_allclose(y, expected_y, rtol=1e-15, atol=0)
    np.testing.assert_allclose(layer.backward(grad_y), expected_grad, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_inference_returns_fresh_arrays(name, rng):
    layer = LAYER_FACTORIES[name](rng)
    first, second = _inputs(rng, (2, N_SAMPLES, IN_FEATURES))
    y_first = layer.forward(first)
    kept = y_first.copy()
    layer.forward(second)
    np.testing.assert_array_equal(y_first, kept)


# -- shapes and configs ---------------------------------------------------------------------


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_shapes_are_samples_major(name, training, rng):
    layer = LAYER_FACTORIES[name](rng)
    width = layer.output_width(IN_FEATURES)
    y = layer.forward(_inputs(rng, (N_SAMPLES, IN_FEATURES)), training=training)
    assert y.shape == (N_SAMPLES, width)
    assert layer.backward(np.ones((N_SAMPLES, width))).shape == (N_SAMPLES, IN_FEATURES)
    for key, param in layer.params.items():
        assert layer.grads[key].shape == param.shape


def test_linear_parameter_shapes():
    layer = Linear(4, 3, rng=0)
    assert layer.params["weight"].shape == (4, 3)
    assert layer.params["bias"].shape == (3,)
    np.testing.assert_array_equal(layer.params["bias"], 0.0)


def test_linear_rejects_an_input_of_the_wrong_width():
    with pytest.raises(ValueError, match="expects 4 input features, got 5"):
        Linear(4, 3, rng=0).output_width(5)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_round_trip(name, rng):
    layer = LAYER_FACTORIES[name](rng)
    config = layer.get_config()
    json.dumps(config)  # configs are saved as JSON in model files
    assert LAYERS[layer.name] is type(layer)
    assert type(layer)(**config).get_config() == config
    rebuilt = layer_from_config({"type": layer.name, **config})
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config


def test_config_keeps_non_default_settings():
    assert Linear(2, 5, init="xavier", rng=0).get_config() == {"in_features": 2, "out_features": 5, "init": "xavier"}
    assert LeakyReLU(0.3).get_config() == {"negative_slope": 0.3}
    assert Dropout(0.25).get_config() == {"rate": 0.25}


@pytest.mark.parametrize(
    ("cls", "settings", "quoted"),
    [
        (Linear, {"in_features": 0, "out_features": 3}, "in_features=0"),
        (Linear, {"in_features": 3, "out_features": -1}, "out_features=-1"),
        (Linear, {"in_features": 3, "out_features": 2, "init": "nope"}, "'nope'"),
        (LeakyReLU, {"negative_slope": 2}, "negative_slope=2"),
        (LeakyReLU, {"negative_slope": -0.1}, "negative_slope=-0.1"),
        (Dropout, {"rate": 1.0}, "rate=1.0"),
        (Dropout, {"rate": -0.5}, "rate=-0.5"),
    ],
)
def test_bad_settings_raise_a_value_error_quoting_the_value(cls, settings, quoted):
    with pytest.raises(ValueError, match=re.escape(quoted)):
        cls(**settings)


def test_unknown_layer_type_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown layer type 'conv'") as error:
        layer_from_config({"type": "conv"})
    assert all(name in str(error.value) for name in LAYERS)


# -- values ---------------------------------------------------------------------------------


def _reference_output(layer: Layer, x: np.ndarray) -> np.ndarray:
    """Each layer's output written from its textbook formula."""
    if isinstance(layer, Linear):
        return x @ layer.params["weight"] + layer.params["bias"]
    if isinstance(layer, LeakyReLU):
        return np.where(x > 0, x, layer.negative_slope * x)
    formulas = {
        ReLU: lambda: np.where(x > 0, x, 0.0),
        Tanh: lambda: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1),
        Sigmoid: lambda: 1 / (1 + np.exp(-x)),
        Softmax: lambda: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True),
        Dropout: lambda: x,  # outside training
    }
    return formulas[type(layer)]()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_outputs_match_reference_formulas(name, rng):
    layer = LAYER_FACTORIES[name](rng)
    x = rng.uniform(-5, 5, (N_SAMPLES, IN_FEATURES))
    np.testing.assert_allclose(layer.forward(x), _reference_output(layer, x), rtol=1e-12, atol=1e-15)


def test_softmax_rows_sum_to_one(rng):
    y = Softmax().forward(rng.normal(0, 10, (20, 6)))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-14)
    assert np.all(y >= 0)


def test_sigmoid_is_finite_and_saturates_at_large_inputs():
    x = np.array([[-1e4, -1e3, -50.0, 0.0, 50.0, 1e3, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        layer = Sigmoid()
        y = layer.forward(x, training=True)
        grad = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(grad))
    assert y[0, 0] == 0.0 and y[0, -1] == 1.0 and y[0, 3] == 0.5
    assert np.all((y >= 0) & (y <= 1))


def test_softmax_is_finite_at_large_inputs():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        layer = Softmax()
        y = layer.forward(x, training=True)
        grad = layer.backward(np.ones_like(x))
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], rtol=1e-15)
    assert np.all(np.isfinite(grad))


# -- dropout --------------------------------------------------------------------------------


def test_dropout_with_rate_zero_is_the_identity(rng):
    layer = Dropout(rate=0.0, rng=0)
    x, grad_y = rng.normal(size=(2, N_SAMPLES, IN_FEATURES))
    np.testing.assert_array_equal(layer.forward(x, training=True), x)
    np.testing.assert_array_equal(layer.backward(grad_y), grad_y)


def test_dropout_is_the_identity_outside_training(rng):
    layer = Dropout(rate=0.5, rng=0)
    x, grad_y = rng.normal(size=(2, N_SAMPLES, IN_FEATURES))
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(grad_y), grad_y)


def test_dropout_backward_reuses_the_forward_mask(rng):
    rate = 0.4
    layer = Dropout(rate=rate, rng=0)
    x = _inputs(rng, (200, 50))
    grad_y = rng.normal(size=x.shape)
    mask = layer.forward(x, training=True) / x
    np.testing.assert_allclose(layer.backward(grad_y), grad_y * mask, rtol=1e-15, atol=0)

    kept = np.isclose(mask, 1 / (1 - rate), rtol=1e-14)
    assert np.all(kept | (mask == 0))  # every entry dropped or scaled by 1/(1 - rate)
    assert abs(1 - kept.mean() - rate) < 0.02  # about a fraction `rate` dropped
    assert abs(mask.mean() - 1) < 0.05  # inverted dropout keeps the expected value


def test_dropout_draws_a_new_mask_each_step_from_its_generator(rng):
    x = _inputs(rng, (30, 20))
    first, second = Dropout(0.5, rng=3), Dropout(0.5, rng=3)
    step_one = first.forward(x, training=True).copy()
    np.testing.assert_array_equal(second.forward(x, training=True), step_one)
    assert not np.array_equal(first.forward(x, training=True), step_one)


def test_the_writing_a_layer_example_in_the_docstring_trains():
    """layers.py's docstring shows a new layer in the plain style; it must train as shown."""
    import doctest

    from nnfw_cli.nn import layers

    result = doctest.testmod(layers)
    assert result.attempted >= 5 and result.failed == 0
