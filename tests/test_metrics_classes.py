"""nnfw_cli.metrics for k >= 2 classes, against scikit-learn's own functions on the same probabilities."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn import metrics as sk

from nnfw_cli.metrics import (class_count, class_names_for, class_probabilities, classification_metrics,
                              confusion_counts, evaluation_metrics, macro_roc_auc, multiclass_metrics,
                              per_class_scores, roc_auc)

pytestmark = pytest.mark.filterwarnings("error")  # no UndefinedMetricWarning, no RuntimeWarning

PENGUINS = ["Adelie", "Chinstrap", "Gentoo"]


def _softmax_output(rng: np.random.Generator, n: int, k: int, signal: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Labels of k classes and softmax outputs that favour the right class, noisily."""
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + signal * np.eye(k)[y]
    return y, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def _sigmoid_output(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Labels and one sigmoid column, overlapping, as a two-class model predicts them."""
    y = rng.integers(0, 2, n)
    return y, (1 / (1 + np.exp(-(2.0 * y - 1 + rng.normal(scale=1.2, size=n)))))[:, None]


def _assert_json_safe(value: object) -> None:
    """Strict JSON (no NaN, no Infinity) holds it."""
    json.dumps(value, allow_nan=False)


@pytest.fixture(params=[2, 3, 10], ids=["k2", "k3", "k10"])
def case(request, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, output, proba)``: a model's output for k classes and the (n, k) probabilities it means."""
    if request.param == 2:
        y, output = _sigmoid_output(rng)
        return y, output, np.column_stack([1 - output[:, 0], output[:, 0]])
    y, output = _softmax_output(rng, 600, request.param)
    return y, output, output


# -- against scikit-learn ---------------------------------------------------------------------


def test_headline_metrics_are_scikit_learns(case) -> None:
    y, output, proba = case
    k = proba.shape[1]
    scores = multiclass_metrics(y, output)
    expected_auc = sk.roc_auc_score(y, proba[:, 1]) if k == 2 else sk.roc_auc_score(y, proba, multi_class="ovr")
    assert scores["roc_auc"] == pytest.approx(expected_auc, abs=1e-15)
    assert scores["accuracy"] == sk.accuracy_score(y, proba.argmax(axis=1))
    assert scores["log_loss"] == pytest.approx(sk.log_loss(y, proba, labels=np.arange(k)), rel=1e-12)
    assert ("roc_auc_thresholded" in scores) == (k == 2)  # the article's figure is for two classes only
    assert list(scores) == ["roc_auc", *(["roc_auc_thresholded"] if k == 2 else []), "accuracy", "log_loss",
                            "f1_macro", "per_class", "confusion_matrix"]
    _assert_json_safe(scores)


def test_per_class_scores_are_scikit_learns(case) -> None:
    y, output, proba = case
    k = proba.shape[1]
    names = [f"class number {label}" for label in range(k)]
    scores = per_class_scores(y, output, names)
    predicted = proba.argmax(axis=1)
    precision, recall, f1, support = sk.precision_recall_fscore_support(y, predicted, labels=np.arange(k))
    assert list(scores["per_class"]) == names
    for i, name in enumerate(names):
        assert scores["per_class"][name] == pytest.approx(
            {"precision": precision[i], "recall": recall[i], "f1": f1[i], "support": support[i]}, abs=1e-15)
        assert isinstance(scores["per_class"][name]["support"], int)
    assert scores["f1_macro"] == pytest.approx(sk.f1_score(y, predicted, average="macro"), abs=1e-15)


def test_confusion_counts_are_scikit_learns(case) -> None:
    y, output, proba = case
    k = proba.shape[1]
    matrix = confusion_counts(y, output)
    assert matrix["class_names"] == [str(label) for label in range(k)]
    assert matrix["counts"] == sk.confusion_matrix(y, proba.argmax(axis=1), labels=np.arange(k)).tolist()
    assert all(type(count) is int for row in matrix["counts"] for count in row)  # noqa: E721 (not numpy ints)


def test_class_names_are_kept_in_order(rng: np.random.Generator) -> None:
    y, output = _softmax_output(rng, 90, 3)
    scores = multiclass_metrics(y, output, PENGUINS)
    assert list(scores["per_class"]) == PENGUINS
    assert scores["confusion_matrix"]["class_names"] == PENGUINS
    assert sum(entry["support"] for entry in scores["per_class"].values()) == 90


@pytest.mark.parametrize("names, message", [(["Adelie", "Gentoo"], "2 names for 3 classes"),
                                            (["Adelie", "Adelie", "Gentoo"], "distinct")])
def test_class_names_must_fit(rng: np.random.Generator, names: list[str], message: str) -> None:
    y, output = _softmax_output(rng, 30, 3)
    with pytest.raises(ValueError, match=message):
        multiclass_metrics(y, output, names)


@pytest.mark.parametrize("y", [np.array([0, 1, 3]), np.array([0, -1, 2]), np.array([0.0, 1.5, 2.0])],
                         ids=["too-large", "negative", "fractional"])
def test_labels_must_be_classes_of_the_output(y: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"integer labels 0\.\.2"):
        multiclass_metrics(y, np.full((3, 3), 1 / 3))


# -- the two-class case, unchanged ------------------------------------------------------------

# What classification_metrics and evaluation_metrics wrote before k classes came, for
# _recorded_input(): metrics.json and eval.json must stay byte for byte the same.
RECORDED = {
    "classification_metrics": '{"roc_auc": 0.9312924998104098, "roc_auc_thresholded": 0.847518895826487, '
                              '"accuracy": 0.845}',
    "evaluation_metrics": '{"roc_auc": 0.9312924998104098, "roc_auc_thresholded": 0.847518895826487, '
                          '"accuracy": 0.845, "log_loss": 0.3893767297986138, "tn": 156, "fp": 23, "fn": 39, '
                          '"tp": 182}',
}


def _recorded_input() -> tuple[np.ndarray, np.ndarray]:
    y = np.random.default_rng(0).integers(0, 2, 400)
    noise = np.random.default_rng(1).normal(scale=1.2, size=400)
    return y, (1 / (1 + np.exp(-(2.0 * y - 1 + noise))))[:, None]


def _as_recorded_here(y: np.ndarray, output: np.ndarray) -> str:
    """RECORDED["evaluation_metrics"] with its log_loss as the installed scikit-learn computes it
    for the same probabilities: its last digit moved with scikit-learn 1.9 (a sum taken in another
    order), not with nnfw. Every other figure stays the one recorded."""
    recorded = json.loads(RECORDED["evaluation_metrics"])
    proba = np.column_stack([1 - output[:, 0], output[:, 0]])
    here = float(sk.log_loss(y, proba, labels=[0, 1]))
    assert here == pytest.approx(recorded["log_loss"], rel=1e-15)
    return json.dumps({**recorded, "log_loss": here})


def test_two_class_metrics_are_as_recorded() -> None:
    y, output = _recorded_input()
    assert json.dumps(classification_metrics(y, output)) == RECORDED["classification_metrics"]
    assert json.dumps(evaluation_metrics(y, output)) == _as_recorded_here(y, output)
    two_columns = np.column_stack([1 - output[:, 0], output[:, 0]])
    assert json.dumps(evaluation_metrics(y, two_columns)) == _as_recorded_here(y, output)


@pytest.mark.parametrize("shape", ["column", "flat", "softmax"])
def test_two_class_multiclass_metrics_agree_with_evaluation_metrics(shape: str) -> None:
    y, output = _recorded_input()
    given = {"column": output, "flat": output[:, 0], "softmax": np.column_stack([1 - output[:, 0], output[:, 0]])}
    scores = multiclass_metrics(y, given[shape])
    before = json.loads(RECORDED["evaluation_metrics"])
    for key in ("roc_auc", "roc_auc_thresholded", "accuracy", "log_loss"):
        assert scores[key] == pytest.approx(before[key], abs=1e-15), key
    tn, fp, fn, tp = (before[key] for key in ("tn", "fp", "fn", "tp"))
    assert scores["confusion_matrix"]["counts"] == [[tn, fp], [fn, tp]]


# -- classes missing, one class, a diverged model ---------------------------------------------


@pytest.mark.parametrize("k, absent", [(3, [2]), (10, [0, 7]), (10, [9])])
def test_a_class_absent_from_the_test_split(rng: np.random.Generator, k: int, absent: list[int]) -> None:
    y, output = _softmax_output(rng, 500, k)
    keep = ~np.isin(y, absent)
    y, output = y[keep], output[keep]
    scores = multiclass_metrics(y, output)
    _assert_json_safe(scores)
    present = np.unique(y)
    expected = sk.roc_auc_score(y[:, None] == present, output[:, present], average="macro")  # the ovr AUCs
    assert scores["roc_auc"] == pytest.approx(expected, abs=1e-15)
    assert roc_auc(y, output) == scores["roc_auc"] == macro_roc_auc(y, output)  # did raise while training
    for label in absent:
        entry = scores["per_class"][str(label)]
        assert entry["support"] == 0 and entry["recall"] is None
        assert scores["confusion_matrix"]["counts"][label] == [0] * k
    predicted = output.argmax(axis=1)
    assert scores["f1_macro"] == pytest.approx(sk.f1_score(y, predicted, average="macro"), abs=1e-15)
    assert scores["log_loss"] == pytest.approx(sk.log_loss(y, output, labels=np.arange(k)), rel=1e-12)


def test_a_class_never_predicted() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    output = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1],
                       [0.3, 0.6, 0.1]])  # class 2 is never the most probable
    scores = multiclass_metrics(y, output, PENGUINS)
    _assert_json_safe(scores)
    assert scores["per_class"]["Gentoo"] == {"precision": None, "recall": 0.0, "f1": 0.0, "support": 2}
    assert scores["f1_macro"] == pytest.approx(sk.f1_score(y, output.argmax(axis=1), average="macro"), abs=1e-15)
    assert scores["roc_auc"] == pytest.approx(sk.roc_auc_score(y, output, multi_class="ovr"), abs=1e-15)


def test_a_class_neither_present_nor_predicted_has_no_scores() -> None:
    y = np.array([0, 0, 1, 1])
    output = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    scores = multiclass_metrics(y, output)
    assert scores["per_class"]["2"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert scores["f1_macro"] == 1.0  # over the classes present or predicted
    assert scores["roc_auc"] == 1.0


@pytest.mark.parametrize("k", [2, 3, 10])
def test_a_single_class_in_y_true(rng: np.random.Generator, k: int) -> None:
    """The AUCs are None (NaN today in classification_metrics), everything else is scored."""
    n = 50
    output = rng.uniform(size=(n, 1)) if k == 2 else _softmax_output(rng, n, k)[1]
    y = np.full(n, 1)
    scores = multiclass_metrics(y, output)
    _assert_json_safe(scores)
    assert scores["roc_auc"] is None and scores.get("roc_auc_thresholded") is None
    assert scores["accuracy"] == sk.accuracy_score(y, class_probabilities(output).argmax(axis=1))
    assert math.isfinite(scores["log_loss"])
    assert scores["per_class"]["1"]["support"] == n
    assert scores["per_class"]["0"]["recall"] is None
    assert macro_roc_auc(y, output) is None and math.isnan(roc_auc(y, output))


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_diverged_output(rng: np.random.Generator, k: int, bad: float) -> None:
    y, output = _softmax_output(rng, 40, k) if k > 2 else _sigmoid_output(rng, 40)
    output = output.copy()
    output[3] = bad
    with np.errstate(invalid="ignore"):
        scores = multiclass_metrics(y, output)
    _assert_json_safe(scores)
    assert scores["roc_auc"] is None
    # log loss scores an output outside [0, 1] as the probability it is closest to, as evaluation_metrics does
    assert scores["log_loss"] is None if np.isnan(bad) else math.isfinite(scores["log_loss"])
    assert 0.0 <= scores["accuracy"] <= 1.0


def test_nan_free_for_every_class_of_a_tiny_split(rng: np.random.Generator) -> None:
    """Ten classes, eight samples: most classes absent, some never predicted."""
    y, output = _softmax_output(rng, 8, 10, signal=0.3)
    _assert_json_safe(multiclass_metrics(y, output, [f"digit {label}" for label in range(10)]))


# -- helpers ------------------------------------------------------------------------------------


def test_class_count_and_probabilities() -> None:
    column = np.array([[0.2], [0.9]])
    assert class_count(column) == class_count(column[:, 0]) == class_count(np.hstack([1 - column, column])) == 2
    np.testing.assert_allclose(class_probabilities(column), [[0.8, 0.2], [0.1, 0.9]])
    np.testing.assert_allclose(class_probabilities(np.array([-0.3, 1.4])), [[1.0, 0.0], [0.0, 1.0]])  # clipped
    softmax = np.array([[0.2, 0.3, 0.5]])
    assert class_count(softmax) == 3
    assert class_probabilities(softmax) is not softmax and np.array_equal(class_probabilities(softmax), softmax)
    unnormalised = np.array([[0.2, 0.2, 0.4], [0.0, 0.0, 0.0]])  # sigmoid columns, say
    np.testing.assert_allclose(class_probabilities(unnormalised), [[0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_log_loss_of_unnormalised_rows_is_of_the_normalised_ones() -> None:
    y = np.array([0, 1, 2])
    output = np.array([[0.8, 0.1, 0.3], [0.2, 0.9, 0.1], [0.1, 0.2, 0.6]])
    expected = sk.log_loss(y, output / output.sum(axis=1, keepdims=True))
    assert multiclass_metrics(y, output)["log_loss"] == pytest.approx(expected, rel=1e-12)


def test_class_names_for() -> None:
    assert class_names_for(3) == ["0", "1", "2"]
    assert class_names_for(2, ("no", "yes")) == ["no", "yes"]
    assert class_names_for(2, [0, 1]) == ["0", "1"]
