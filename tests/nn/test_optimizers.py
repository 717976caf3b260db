"""Optimizers: steps against updates computed by hand, state round-trips, settings."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from nnfw_cli.nn import OPTIMIZERS, SGD, Adam, Optimizer
from nnfw_cli.nn.optimizers import FLUSH_EVERY

SHAPES = [(3, 2), (2,)]  # two parameters, so that state is checked per position

OPTIMIZER_CASES = {
    "sgd": {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.01},
    "momentum": {"learning_rate": 0.1, "momentum": 0.8, "weight_decay": 0.0},
    "adam": {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6, "weight_decay": 0.01},
}
STATEFUL_CASES = {  # every optimizer with state, and plain SGD, which has none beyond its step count
    **OPTIMIZER_CASES,
    "sgd-plain": {"learning_rate": 0.1, "momentum": 0.0, "weight_decay": 0.0},
}


def _make(case: str) -> Optimizer:
    return OPTIMIZERS[case.split("-")[0]](**STATEFUL_CASES[case])


def _params_and_grad_steps(rng: np.random.Generator, n_steps: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    params = [rng.normal(size=shape) for shape in SHAPES]
    grads = [[rng.normal(size=shape) for shape in SHAPES] for _ in range(n_steps)]
    return params, grads


def _run(optimizer: Optimizer, params: list[np.ndarray], grad_steps: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Step ``optimizer`` through ``grad_steps`` on copies of ``params``; the gradients are copied too."""
    params = [p.copy() for p in params]
    for grads in grad_steps:
        optimizer.step(params, [g.copy() for g in grads])
    return params


def test_every_registered_optimizer_has_a_test_case():
    assert set(OPTIMIZER_CASES) == set(OPTIMIZERS)


# -- updates against hand computations ------------------------------------------------------


@pytest.mark.parametrize("n_steps", [1, 2])
def test_plain_sgd(n_steps, rng):
    lr = 0.1
    params, grad_steps = _params_and_grad_steps(rng, n_steps)
    expected = [p.copy() for p in params]
    for grads in grad_steps:
        expected = [p - lr * g for p, g in zip(expected, grads)]
    got = _run(SGD(learning_rate=lr), params, grad_steps)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-15, atol=0)


def test_sgd_with_momentum_two_steps(rng):
    lr, mu = 0.1, 0.9
    params, ((g1, h1), (g2, h2)) = _params_and_grad_steps(rng, 2)
    got = _run(SGD(learning_rate=lr, momentum=mu), params, [[g1, h1], [g2, h2]])
    # PyTorch: v1 = g1; v2 = mu v1 + g2; p -= lr v at each step.
    for p, first, second, out in zip(params, (g1, h1), (g2, h2), got):
        v1 = first
        v2 = mu * v1 + second
        np.testing.assert_allclose(out, p - lr * v1 - lr * v2, rtol=1e-14, atol=1e-15)


def _adam_by_hand(param, grads, lr, beta1, beta2, eps, weight_decay=0.0):
    """PyTorch's Adam written out step by step."""
    m = np.zeros_like(param)
    v = np.zeros_like(param)
    for t, grad in enumerate(grads, start=1):
        grad = grad + weight_decay * param
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    return param


@pytest.mark.parametrize("n_steps", [1, 2])
def test_adam(n_steps, rng):
    settings = {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6}
    params, grad_steps = _params_and_grad_steps(rng, n_steps)
    got = _run(Adam(0.05, beta1=0.8, beta2=0.95, epsilon=1e-6), params, grad_steps)
    for i, param in enumerate(params):
        expected = _adam_by_hand(param, [grads[i] for grads in grad_steps], **settings)
        np.testing.assert_allclose(got[i], expected, rtol=1e-14, atol=1e-15)


def test_adam_first_step_moves_each_weight_by_the_learning_rate(rng):
    # With m_hat = g and v_hat = g**2 the first step is lr * sign(g), whatever the size of g.
    param, grad = rng.normal(size=5), rng.normal(size=5) * 1e3
    got = _run(Adam(learning_rate=0.01, epsilon=1e-12), [param], [[grad]])[0]
    np.testing.assert_allclose(got, param - 0.01 * np.sign(grad), rtol=1e-12)


def test_sgd_weight_decay_adds_an_l2_gradient(rng):
    lr, wd = 0.1, 0.5
    params, grad_steps = _params_and_grad_steps(rng, 2)
    expected = [p.copy() for p in params]
    for grads in grad_steps:
        expected = [p - lr * (g + wd * p) for p, g in zip(expected, grads)]
    got = _run(SGD(learning_rate=lr, weight_decay=wd), params, grad_steps)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-14, atol=1e-15)


def test_adam_weight_decay_adds_an_l2_gradient(rng):
    settings = {"lr": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.5}
    params, grad_steps = _params_and_grad_steps(rng, 2)
    got = _run(Adam(0.05, weight_decay=0.5), params, grad_steps)
    for i, param in enumerate(params):
        expected = _adam_by_hand(param, [grads[i] for grads in grad_steps], **settings)
        np.testing.assert_allclose(got[i], expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_keeps_the_parameter_arrays_and_their_dtype(name, rng):
    params = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
    originals = list(params)
    OPTIMIZERS[name](**OPTIMIZER_CASES[name]).step(params, [np.ones_like(p) for p in params])
    for param, original in zip(params, originals):
        assert param is original and param.dtype == np.float32  # updated in place


# -- state ----------------------------------------------------------------------------------


@pytest.mark.parametrize("through_npz", [False, True])
@pytest.mark.parametrize("case", sorted(STATEFUL_CASES))
def test_state_dict_round_trip_gives_identical_later_steps(case, through_npz, rng):
    params, grad_steps = _params_and_grad_steps(rng, 5)
    original = _make(case)
    params = _run(original, params, grad_steps[:2])
    state = original.state_dict()
    if through_npz:  # the way a run saves it
        buffer = io.BytesIO()
        np.savez(buffer, **state)
        buffer.seek(0)
        with np.load(buffer) as archive:
            state = {key: archive[key] for key in archive.files}
    restored = _make(case)
    restored.load_state_dict(state)
    assert restored.iterations == original.iterations == 2

    resumed = _run(restored, params, grad_steps[2:])
    continued = _run(original, params, grad_steps[2:])
    for a, b in zip(resumed, continued):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(resumed[0], params[0])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_restored_state_matters(name, rng):
    # Without the saved state a fresh optimizer steps differently: the round-trip test can fail.
    params, grad_steps = _params_and_grad_steps(rng, 3)
    original = OPTIMIZERS[name](**OPTIMIZER_CASES[name])
    params = _run(original, params, grad_steps[:2])
    fresh = _run(OPTIMIZERS[name](**OPTIMIZER_CASES[name]), params, grad_steps[2:])
    continued = _run(original, params, grad_steps[2:])
    assert not np.allclose(fresh[0], continued[0])


@pytest.mark.parametrize("case", sorted(STATEFUL_CASES))
def test_state_dict_is_a_snapshot(case, rng):
    # A state kept in memory (say, of the best epoch so far) must not follow later steps.
    params, grad_steps = _params_and_grad_steps(rng, 4)
    original = _make(case)
    params = _run(original, params, grad_steps[:2])
    state = original.state_dict()
    saved = {key: value.copy() for key, value in state.items()}
    _run(original, params, grad_steps[2:3])
    for key, value in saved.items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)

    restored = _make(case)
    restored.load_state_dict(state)
    copy = _make(case)
    copy.load_state_dict(saved)
    for a, b in zip(_run(restored, params, grad_steps[3:]), _run(copy, params, grad_steps[3:])):
        np.testing.assert_array_equal(a, b)


def test_state_dict_names_its_arrays_by_slot_and_position(rng):
    optimizer = Adam()
    _run(optimizer, *_params_and_grad_steps(rng, 1))
    assert set(optimizer.state_dict()) == {"iterations", "m_sum.0", "m_sum.1", "v_sum.0", "v_sum.1"}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))  # those with state slots
def test_a_state_without_the_optimizer_slots_is_refused(case, rng):
    # say, a checkpoint written by an optimizer that kept other state
    optimizer = _make(case)
    _run(optimizer, *_params_and_grad_steps(rng, 1))
    state = {"iterations": np.array(1), "other.0": np.zeros(3)}
    with pytest.raises(ValueError, match="after 1 steps has no"):
        _make(case).load_state_dict(state)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_config_round_trip(name):
    optimizer = OPTIMIZERS[name](**OPTIMIZER_CASES[name])
    config = optimizer.get_config()
    assert config == OPTIMIZER_CASES[name]
    assert type(optimizer)(**config).get_config() == config


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "settings", "quoted"),
    [
        (SGD, {"learning_rate": 0}, "learning_rate=0"),
        (SGD, {"learning_rate": -0.1}, "learning_rate=-0.1"),
        (Adam, {"learning_rate": float("nan")}, "learning_rate=nan"),
        (Adam, {"learning_rate": float("inf")}, "learning_rate=inf"),
        (SGD, {"weight_decay": -1}, "weight_decay=-1"),
        (SGD, {"momentum": 1.0}, "momentum=1.0"),
        (SGD, {"momentum": -0.5}, "momentum=-0.5"),
        (Adam, {"beta1": 1.0}, "beta1=1.0"),
        (Adam, {"beta2": -0.1}, "beta2=-0.1"),
        (Adam, {"epsilon": 0}, "epsilon=0"),
    ],
)
def test_invalid_settings_raise_a_value_error_quoting_the_value(cls, settings, quoted):
    with pytest.raises(ValueError, match=re.escape(quoted)):
        cls(**settings)


@pytest.mark.parametrize("case", sorted(STATEFUL_CASES))
def test_step_leaves_the_gradients_as_they_are(case, rng):
    params, grad_steps = _params_and_grad_steps(rng, 3)
    optimizer = _make(case)
    for grads in grad_steps:
        before = [g.copy() for g in grads]
        optimizer.step(params, grads)
        for g, b in zip(grads, before):
            np.testing.assert_array_equal(g, b)


def test_adam_moments_of_an_idle_parameter_never_linger_as_subnormals(rng):
    # A gradient that stays 0 (a dead unit) lets Adam's moments decay through the subnormal
    # floats, where arithmetic is slow; they are flushed to 0 every FLUSH_EVERY steps.
    param = rng.normal(size=64).astype(np.float32)
    start = param.copy()
    grads = [rng.normal(size=64).astype(np.float32) * 1e-3] + [np.zeros(64, np.float32)] * 1200
    optimizer = Adam(0.001)
    tiny = np.finfo(np.float32).smallest_normal
    lingering = 0
    for grad in grads:
        optimizer.step([param], [grad])
        if optimizer.iterations % FLUSH_EVERY == 0:
            for moment in (optimizer.state["m_sum"][0], optimizer.state["v_sum"][0]):
                lingering += int(((moment != 0) & (np.abs(moment) < tiny)).sum())
    assert lingering == 0
    expected = _adam_by_hand(start.astype(np.float64), [g.astype(np.float64) for g in grads],
                             lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8)
    np.testing.assert_allclose(param, expected, rtol=2e-6)  # float32 rounding, no more


@pytest.mark.parametrize("case", sorted(STATEFUL_CASES))
def test_an_optimizer_refuses_parameters_of_other_shapes_and_changes_nothing(case):
    optimizer = _make(case)
    optimizer.step([np.zeros(5)], [np.ones(5)])
    state = {key: [a.copy() for a in arrays] for key, arrays in optimizer.state.items()}
    other = np.zeros(3)
    with pytest.raises(ValueError, match=r"shape \(5,\) at position 0, and was given one of shape \(3,\)"):
        optimizer.step([other], [np.ones(3)])
    assert optimizer.iterations == 1 and not other.any()
    for key, arrays in optimizer.state.items():
        for a, b in zip(arrays, state[key]):
            np.testing.assert_array_equal(a, b)


def test_momentum_is_sgd_with_momentum_09_by_default(rng):
    from nnfw_cli.nn import Momentum

    params, grad_steps = _params_and_grad_steps(rng, 3)
    for a, b in zip(_run(Momentum(0.1), params, grad_steps), _run(SGD(0.1, momentum=0.9), params, grad_steps)):
        np.testing.assert_array_equal(a, b)
