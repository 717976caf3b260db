"""Losses: values against plain numpy formulas, gradients against finite differences, stability."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import assert_gradients_match

from nnfw_cli.nn import LOSSES, BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, get_loss

N_SAMPLES = 6


def _bce_case(rng: np.random.Generator) -> dict:
    shape = (N_SAMPLES, 2)
    return {
        "y_true": rng.integers(0, 2, shape).astype(float),
        "y_pred": rng.uniform(0.05, 0.95, shape),
        "logits": rng.normal(0, 2, shape),
    }


def _mse_case(rng: np.random.Generator) -> dict:
    shape = (N_SAMPLES, 3)
    return {"y_true": rng.normal(size=shape), "y_pred": rng.normal(size=shape), "logits": None}


def _ce_case(rng: np.random.Generator) -> dict:
    logits = rng.normal(0, 2, (N_SAMPLES, 4))
    return {
        "y_true": rng.integers(0, 4, N_SAMPLES),
        "y_pred": np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True),
        "logits": rng.normal(0, 2, (N_SAMPLES, 4)),
    }


CASES = {"binary_cross_entropy": _bce_case, "mean_squared_error": _mse_case, "cross_entropy": _ce_case}
FUSED = sorted(name for name, cls in LOSSES.items() if cls.activation is not None)


def reference_value(loss: Loss, y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool = False) -> float:
    """Each loss written out from its textbook formula."""
    if isinstance(loss, BinaryCrossEntropy):
        if from_logits:  # log(1 + exp(z)) - y z
            return float(np.mean(np.logaddexp(0, y_pred) - y_true * y_pred))
        return float(-np.mean(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred)))
    if isinstance(loss, MeanSquaredError):
        return float(np.mean((y_pred - y_true) ** 2))
    rows = np.arange(len(y_true))
    if from_logits:  # logsumexp(z) - z[label]
        return float(np.mean(np.logaddexp.reduce(y_pred, axis=1) - y_pred[rows, y_true]))
    return float(-np.mean(np.log(y_pred[rows, y_true])))


def _activation(loss: Loss, logits: np.ndarray) -> np.ndarray:
    return loss.activation().forward(logits)


def test_every_registered_loss_has_a_test_case():
    assert set(CASES) == set(LOSSES)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_get_loss_builds_the_registered_class(name):
    assert type(get_loss(name)) is LOSSES[name]


def test_unknown_loss_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown loss 'hinge'") as error:
        get_loss("hinge")
    assert all(name in str(error.value) for name in LOSSES)


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_value_matches_reference(name, rng):
    loss, case = LOSSES[name](), CASES[name](rng)
    value, _ = loss.value_and_grad(case["y_true"], case["y_pred"])
    assert value == pytest.approx(reference_value(loss, case["y_true"], case["y_pred"]), rel=1e-12)
    assert loss(case["y_true"], case["y_pred"]) == value


@pytest.mark.parametrize("name", FUSED)
def test_value_from_logits_matches_reference_and_the_activated_value(name, rng):
    loss, case = LOSSES[name](), CASES[name](rng)
    y_true, logits = case["y_true"], case["logits"]
    value = loss(y_true, logits, from_logits=True)
    assert value == pytest.approx(reference_value(loss, y_true, logits, from_logits=True), rel=1e-12)
    assert value == pytest.approx(loss(y_true, _activation(loss, logits)), rel=1e-12)


def test_binary_cross_entropy_accepts_soft_targets(rng):
    y_true, y_pred = rng.uniform(0, 1, (N_SAMPLES, 1)), rng.uniform(0.05, 0.95, (N_SAMPLES, 1))
    loss = BinaryCrossEntropy()
    assert loss(y_true, y_pred) == pytest.approx(reference_value(loss, y_true, y_pred), rel=1e-12)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_reduction_is_the_batch_mean(name, rng):
    loss, case = LOSSES[name](), CASES[name](rng)
    y_true, y_pred = case["y_true"], case["y_pred"]
    value, grad = loss.value_and_grad(y_true, y_pred)
    grad = grad.copy()
    doubled_value, doubled_grad = loss.value_and_grad(np.concatenate([y_true, y_true]), np.concatenate([y_pred, y_pred]))
    assert doubled_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(doubled_grad, np.concatenate([grad, grad]) / 2, rtol=1e-14)


# -- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_matches_finite_differences(name, rng):
    loss, case = LOSSES[name](), CASES[name](rng)
    y_true, y_pred = case["y_true"], case["y_pred"]
    _, grad = loss.value_and_grad(y_true, y_pred)
    assert_gradients_match(lambda: loss(y_true, y_pred), [("y_pred", y_pred, grad)])


@pytest.mark.parametrize("name", FUSED)
def test_gradient_from_logits_matches_finite_differences(name, rng):
    loss, case = LOSSES[name](), CASES[name](rng)
    y_true, logits = case["y_true"], case["logits"]
    _, grad = loss.value_and_grad(y_true, logits, from_logits=True)
    assert_gradients_match(lambda: loss(y_true, logits, from_logits=True), [("logits", logits, grad)])


@pytest.mark.parametrize(
    ("name", "from_logits"), [(name, False) for name in sorted(LOSSES)] + [(name, True) for name in FUSED]
)
def test_gradient_can_be_written_into_a_given_buffer(name, from_logits, rng):
    loss, case = LOSSES[name](), CASES[name](rng)
    y_pred = case["logits"] if from_logits else case["y_pred"]
    value, grad = loss.value_and_grad(case["y_true"], y_pred, from_logits)
    out = np.full(y_pred.shape, np.nan)
    value_out, grad_out = loss.value_and_grad(case["y_true"], y_pred, from_logits, out=out)
    assert grad_out is out
    assert value_out == value
    np.testing.assert_array_equal(out, grad)


def test_fused_binary_cross_entropy_gradient_is_sigmoid_minus_target_over_n(rng):
    y_true = rng.integers(0, 2, (N_SAMPLES, 1)).astype(float)
    z = rng.uniform(-10, 10, (N_SAMPLES, 1))
    _, grad = BinaryCrossEntropy().value_and_grad(y_true, z, from_logits=True)
    np.testing.assert_allclose(grad, (1 / (1 + np.exp(-z)) - y_true) / N_SAMPLES, rtol=1e-12, atol=1e-17)


def test_fused_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(rng):
    labels, z = rng.integers(0, 3, N_SAMPLES), rng.uniform(-10, 10, (N_SAMPLES, 3))
    _, grad = CrossEntropy().value_and_grad(labels, z, from_logits=True)
    expected = (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) - np.eye(3)[labels]) / N_SAMPLES
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-17)


# -- saturation -----------------------------------------------------------------------------


def test_fused_binary_cross_entropy_is_finite_at_saturated_logits():
    z = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    y_true = np.array([[1.0], [0.0], [0.0], [1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = BinaryCrossEntropy().value_and_grad(y_true, z, from_logits=True)
    assert value == 5e3  # right answers cost 0, wrong ones cost |z| = 1e4
    sigmoid_z = np.array([[1.0], [0.0], [1.0], [0.0]])
    np.testing.assert_array_equal(grad, (sigmoid_z - y_true) / 4)


def test_fused_cross_entropy_is_finite_at_saturated_logits():
    z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]])
    labels = np.array([0, 1, 2, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = CrossEntropy().value_and_grad(labels, z, from_logits=True)
    assert value == pytest.approx((0 + 2e4 + np.log(2) + np.log(3)) / 4, rel=1e-15)
    softmax_z = np.array([[1, 0, 0], [1, 0, 0], [0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(grad, (softmax_z - np.eye(3)[labels]) / 4, rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", FUSED)
def test_losses_from_probabilities_stay_finite_at_exact_zero_and_one(name):
    loss = LOSSES[name]()
    if name == "cross_entropy":
        y_true, y_pred = np.array([0, 1]), np.array([[0.0, 1.0], [1.0, 0.0]])
    else:
        y_true, y_pred = np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]])
    value, grad = loss.value_and_grad(y_true, y_pred)
    assert np.isfinite(value) and value > 20  # confidently wrong: large but finite
    assert np.all(np.isfinite(grad))


# -- targets --------------------------------------------------------------------------------


def test_prepare_target_makes_a_column_of_a_vector():
    y = BinaryCrossEntropy().prepare_target([0, 1, 1], 1, np.float32)
    assert y.shape == (3, 1) and y.dtype == np.float32


def test_cross_entropy_targets_are_integer_labels():
    y = CrossEntropy().prepare_target(np.array([0.0, 2.0, 1.0]), 3, np.float64)
    assert y.dtype == np.intp
    np.testing.assert_array_equal(y, [0, 2, 1])


@pytest.mark.parametrize("bad", [np.array([0.5, 1.0]), np.array([[0, 1], [1, 0]])])
def test_cross_entropy_rejects_targets_that_are_not_labels(bad):
    with pytest.raises(ValueError, match="integer class labels"):
        CrossEntropy().prepare_target(bad, 2, np.float64)


@pytest.mark.parametrize("labels, shown", [([0, 1, 3], "from 0 to 3"), ([0, -1, 2], "from -1 to 2")])
def test_cross_entropy_rejects_labels_outside_the_outputs(labels, shown):
    # -1 would otherwise pick the last class silently, and 3 fail inside numpy's indexing
    with pytest.raises(ValueError, match=f"labels from 0 to 2 for a model with 3 outputs. Received labels {shown}"):
        CrossEntropy().prepare_target(np.array(labels), 3, np.float64)


@pytest.mark.parametrize("loss", [BinaryCrossEntropy(), MeanSquaredError()])
@pytest.mark.parametrize("shape, outputs", [((4, 3), 1), ((4, 1), 2), ((2, 2, 1), 1)])
def test_targets_of_another_width_than_the_outputs_are_refused(loss, shape, outputs):
    with pytest.raises(ValueError, match=rf"targets of shape \(n_samples, {outputs}\) .* Received shape"):
        loss.prepare_target(np.zeros(shape), outputs, np.float64)
