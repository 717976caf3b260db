"""Weight initialisers: each draw has the mean, spread and range its formula gives, from its seed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnfw_cli.nn.initializers import INITIALIZERS, get_initializer

# A large draw of a weight of shape (fan_in, fan_out), fan_in != fan_out so that the two cannot
# be mixed up: sample means and standard deviations are then within a fraction of a percent.
FAN_IN, FAN_OUT = 300, 1000
N = FAN_IN * FAN_OUT


def _draw(name: str, seed: int = 0, shape: tuple = (FAN_IN, FAN_OUT)) -> np.ndarray:
    return get_initializer(name)(shape, np.random.default_rng(seed))


def _assert_moments(w: np.ndarray, mean: float, std: float) -> None:
    """Sample mean and standard deviation within five standard errors of ``mean`` and ``std``."""
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(w.size), (w.mean(), mean)
    assert w.std() == pytest.approx(std, rel=5 / math.sqrt(2 * w.size) + 1e-3), (w.std(), std)


def test_uniform_is_the_articles_0_to_1():
    w = _draw("uniform")
    assert 0 <= w.min() and w.max() < 1
    assert w.min() < 1e-3 and w.max() > 1 - 1e-3  # the whole interval is used
    _assert_moments(w, 0.5, math.sqrt(1 / 12))


@pytest.mark.parametrize("name", ["xavier", "glorot"])
def test_xavier_is_uniform_within_its_limit(name):
    limit = math.sqrt(6 / (FAN_IN + FAN_OUT))
    w = _draw(name)
    assert -limit <= w.min() and w.max() <= limit
    assert w.min() < -0.99 * limit and w.max() > 0.99 * limit
    _assert_moments(w, 0.0, limit / math.sqrt(3))  # = sqrt(2 / (fan_in + fan_out))
    counts, _ = np.histogram(w, bins=10, range=(-limit, limit))
    assert counts.min() > 0.95 * N / 10  # flat, not bell-shaped


@pytest.mark.parametrize("name", ["he", "kaiming"])
def test_he_is_normal_with_its_std_from_fan_in(name):
    std = math.sqrt(2 / FAN_IN)
    w = _draw(name)
    _assert_moments(w, 0.0, std)
    within_one = np.mean(np.abs(w) < std)
    assert within_one == pytest.approx(0.6827, abs=0.005)  # normal, not uniform (0.577 of a uniform)


def test_zeros():
    w = _draw("zeros", shape=(3, 4))
    assert w.shape == (3, 4) and not w.any()


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_shape_and_type(name):
    w = _draw(name, shape=(5, 7))
    assert w.shape == (5, 7) and w.dtype == np.float64


@pytest.mark.parametrize("name", sorted(set(INITIALIZERS) - {"zeros"}))
def test_reproducible_from_the_seed(name):
    np.testing.assert_array_equal(_draw(name, seed=3, shape=(4, 6)), _draw(name, seed=3, shape=(4, 6)))
    assert not np.array_equal(_draw(name, seed=3, shape=(4, 6)), _draw(name, seed=4, shape=(4, 6)))


@pytest.mark.parametrize("alias, name", [("glorot", "xavier"), ("kaiming", "he")])
def test_aliases_draw_the_same_weights(alias, name):
    np.testing.assert_array_equal(_draw(alias, shape=(4, 6)), _draw(name, shape=(4, 6)))


def test_the_generator_passed_in_is_the_only_randomness():
    np.random.seed(1)
    first = _draw("he", shape=(4, 6))
    np.random.seed(2)
    assert np.array_equal(first, _draw("he", shape=(4, 6)))


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as caught:
        get_initializer("glorot_uniform")
    message = str(caught.value)
    assert "glorot_uniform" in message
    for name in INITIALIZERS:
        assert repr(name) in message
