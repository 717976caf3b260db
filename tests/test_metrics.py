"""nnfw_cli.metrics against scikit-learn's own functions on the same probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from nnfw_cli.metrics import classification_metrics, evaluation_metrics, positive_proba, predicted_labels, roc_auc


@pytest.fixture
def binary(rng):
    """Labels and overlapping sigmoid outputs, one column, as a model predicts them."""
    y = rng.integers(0, 2, 400)
    proba = 1 / (1 + np.exp(-(2.0 * y - 1 + rng.normal(scale=1.2, size=400))))
    return y, proba[:, None]


@pytest.fixture
def three_classes(rng):
    """Labels of three classes and softmax outputs that favour the right class, noisily."""
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def test_roc_auc_is_scikit_learns_on_the_probabilities(binary):
    y, proba = binary
    expected = sk.roc_auc_score(y, proba[:, 0])
    assert roc_auc(y, proba) == pytest.approx(expected, abs=1e-15)
    assert roc_auc(y, proba[:, 0]) == pytest.approx(expected, abs=1e-15)  # a flat vector too
    two_columns = np.column_stack([1 - proba[:, 0], proba[:, 0]])  # softmax over two classes
    assert roc_auc(y, two_columns) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("labels", [(0, 1), (0.0, 1.0), (False, True), (1, 2), (-1, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_class_roc_auc_equals_roc_auc_score_exactly(labels, dtype):
    rng = np.random.default_rng(len(str(labels)) + np.dtype(dtype).itemsize)
    for n in [2, 3, 5, 17, 60, 301, 2000]:
        y = np.array(labels)[rng.integers(0, 2, n)]
        y[:2] = labels  # both classes present
        for digits in (None, 1, 2):  # continuous scores, and scores with many ties
            scores = rng.random(n).astype(dtype)
            scores = scores if digits is None else np.round(scores, digits).astype(dtype)
            assert roc_auc(y, scores[:, None]) == float(sk.roc_auc_score(y, scores)), (labels, n, digits)


def test_roc_auc_is_from_probabilities_not_from_labels(binary):
    y, proba = binary
    scores = classification_metrics(y, proba)
    labels = (proba[:, 0] >= 0.5).astype(int)
    assert scores["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba[:, 0]), abs=1e-15)
    assert scores["roc_auc_thresholded"] == pytest.approx(sk.roc_auc_score(y, labels), abs=1e-15)
    assert scores["roc_auc"] > scores["roc_auc_thresholded"]  # 0/1 predictions lose the ranking


def test_a_perfect_ranking_is_auc_1_whatever_the_threshold():
    y = np.array([0, 0, 0, 1, 1, 1])
    proba = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])[:, None]  # all below 0.5
    scores = classification_metrics(y, proba)
    assert scores["roc_auc"] == 1.0 and scores["roc_auc_thresholded"] == 0.5
    assert scores["accuracy"] == 0.5


def test_accuracy_and_labels_are_scikit_learns(binary):
    y, proba = binary
    labels = predicted_labels(proba)
    np.testing.assert_array_equal(labels, (proba[:, 0] >= 0.5).astype(int))
    assert classification_metrics(y, proba)["accuracy"] == sk.accuracy_score(y, labels)
    assert list(predicted_labels(np.array([[0.5], [0.4999]]))) == [1, 0]  # 0.5 is class 1


def test_several_classes(three_classes):
    y, proba = three_classes
    scores = classification_metrics(y, proba)
    assert scores["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba, multi_class="ovr"), abs=1e-15)
    assert scores["accuracy"] == sk.accuracy_score(y, proba.argmax(axis=1))
    assert math.isnan(scores["roc_auc_thresholded"])  # the article's figure is for two classes only
    np.testing.assert_array_equal(predicted_labels(proba), proba.argmax(axis=1))
    np.testing.assert_array_equal(positive_proba(proba), proba[:, -1])


@pytest.mark.parametrize("y, output", [
    (np.zeros(5, dtype=int), np.linspace(0.1, 0.9, 5)[:, None]),  # one class only
    (np.array([0, 1, 0, 1]), np.array([[0.1], [np.nan], [0.2], [0.9]])),  # a diverged model
    (np.array([0, 1, 0, 1]), np.array([[0.1], [np.inf], [0.2], [0.9]])),
], ids=["one-class", "nan", "inf"])
def test_roc_auc_is_nan_where_it_is_undefined(y, output):
    assert math.isnan(roc_auc(y, output))


def test_evaluation_metrics_are_scikit_learns(binary):
    y, proba = binary
    scores = evaluation_metrics(y, proba)
    p = proba[:, 0]
    assert scores["log_loss"] == pytest.approx(sk.log_loss(y, np.column_stack([1 - p, p])), rel=1e-12)
    tn, fp, fn, tp = sk.confusion_matrix(y, (p >= 0.5).astype(int)).ravel()
    assert (scores["tn"], scores["fp"], scores["fn"], scores["tp"]) == (tn, fp, fn, tp)
    assert {"roc_auc", "roc_auc_thresholded", "accuracy"} <= set(scores)


def test_evaluation_metrics_of_several_classes(three_classes):
    y, proba = three_classes
    scores = evaluation_metrics(y, proba)
    assert scores["log_loss"] == pytest.approx(sk.log_loss(y, proba), rel=1e-12)
    assert not {"tn", "fp", "fn", "tp"} & set(scores)  # confusion counts are for two classes


def test_log_loss_of_outputs_outside_0_1_scores_the_nearest_probability():
    y = np.array([0, 1, 1, 0])
    output = np.array([[-0.3], [1.4], [0.8], [0.2]])  # a linear output trained with squared error
    p = np.clip(output[:, 0], 0, 1)
    expected = sk.log_loss(y, np.column_stack([1 - p, p]))
    assert evaluation_metrics(y, output)["log_loss"] == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(expected)
