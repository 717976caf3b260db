"""Classification metrics from predicted probabilities (scikit-learn's implementations)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def positive_proba(output: np.ndarray) -> np.ndarray:
    """Probability of class 1 from a network output: one sigmoid column, or softmax columns."""
    output = np.asarray(output)
    return output[:, -1] if output.ndim == 2 else output


def predicted_labels(output: np.ndarray) -> np.ndarray:
    """The most probable class of each sample."""
    output = np.asarray(output)
    if output.ndim == 2 and output.shape[1] > 1:
        return output.argmax(axis=1)
    return (positive_proba(output) >= 0.5).astype(np.int64)


def roc_auc(y_true: np.ndarray, output: np.ndarray) -> float:
    """ROC AUC from probabilities (for several classes, ``macro_roc_auc``); NaN if it is undefined.

    Two classes: ``auc(roc_curve(...))`` with the larger label positive, which is how
    ``roc_auc_score`` computes it, without its checks of the labels' kind: those are most of its
    time on a small test split, scored at every epoch.
    """
    from sklearn.metrics import auc, roc_curve

    output = np.asarray(output)
    labels = np.unique(y_true)
    if not np.all(np.isfinite(output)) or len(labels) < 2:
        return float("nan")
    if output.ndim == 2 and output.shape[1] > 2:
        value = macro_roc_auc(y_true, output)  # a class absent from y_true must not raise mid-training
        return float("nan") if value is None else value
    fpr, tpr, _ = roc_curve(y_true, positive_proba(output), pos_label=labels[-1])
    return float(auc(fpr, tpr))


def classification_metrics(y_true: np.ndarray, output: np.ndarray, auc: float | None = None) -> dict[str, float]:
    """``roc_auc`` (from probabilities; ``auc`` when it is known already), ``roc_auc_thresholded``
    (from 0/1 labels, as the article computed it, for comparison only) and ``accuracy`` (the
    share of rows whose class is predicted: ``accuracy_score``'s number, without its checks)."""
    labels = predicted_labels(output)
    two_class = np.asarray(output).ndim == 1 or np.asarray(output).shape[1] <= 2
    return {
        "roc_auc": roc_auc(y_true, output) if auc is None else auc,
        "roc_auc_thresholded": roc_auc(y_true, labels.astype(float)) if two_class else float("nan"),
        "accuracy": float(np.mean(labels == np.asarray(y_true).ravel())),
    }


def evaluation_metrics(y_true: np.ndarray, output: np.ndarray) -> dict[str, float | int]:
    """``classification_metrics`` plus log loss and, for two classes, the confusion counts."""
    from sklearn.metrics import confusion_matrix, log_loss

    metrics: dict[str, float | int] = dict(classification_metrics(y_true, output))
    # A regression output (mean squared error, linear last layer) may leave [0, 1]: log loss
    # scores it as the probability it is closest to.
    output = np.clip(np.asarray(output), 0.0, 1.0)
    proba = np.column_stack([1 - output[:, 0], output[:, 0]]) if output.shape[1] == 1 else output
    metrics["log_loss"] = float(log_loss(y_true, proba, labels=np.arange(proba.shape[1])))
    if proba.shape[1] == 2:
        tn, fp, fn, tp = confusion_matrix(y_true, predicted_labels(output), labels=[0, 1]).ravel()
        metrics.update(tn=int(tn), fp=int(fp), fn=int(fn), tp=int(tp))
    return metrics


# -- any number of classes --------------------------------------------------------------------
#
# The functions below serve k >= 2 classes and return only what JSON holds: a metric that is
# undefined on the data given (a single class in y_true, a diverged output) is None, never NaN.


def class_count(output: np.ndarray) -> int:
    """The number of classes a network output scores: 2 for one sigmoid column (or a flat
    vector), else its number of columns."""
    output = np.asarray(output)
    return 2 if output.ndim == 1 or output.shape[1] == 1 else int(output.shape[1])


def class_probabilities(output: np.ndarray) -> np.ndarray:
    """``(n_samples, k)`` probabilities from a network output: ``[1 - p, p]`` for one sigmoid
    column, else the columns as they are; clipped to [0, 1], as ``evaluation_metrics`` scores them.

    Rows of k > 2 columns that do not sum to 1 (an output layer other than softmax) are divided
    by their sum, a row of zeros becoming uniform.
    """
    output = np.clip(np.asarray(output, dtype=float), 0.0, 1.0)
    if output.ndim == 1 or output.shape[1] == 1:
        p = output.reshape(-1)
        return np.column_stack([1 - p, p])
    sums = output.sum(axis=1, keepdims=True)
    if output.shape[1] > 2 and np.isfinite(sums).all() and not np.allclose(sums, 1.0, rtol=1e-8, atol=0.0):
        with np.errstate(invalid="ignore", divide="ignore"):
            output = np.where(sums > 0, output / sums, 1.0 / output.shape[1])
    return output


def class_names_for(n_classes: int, class_names: Sequence[str] | None = None) -> list[str]:
    """``class_names`` as strings, checked against ``n_classes``; ``["0", "1", ...]`` when None."""
    if class_names is None:
        return [str(label) for label in range(n_classes)]
    names = [str(name) for name in class_names]
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names for {n_classes} classes. Received {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be distinct. Received {names}")
    return names


def _labels(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    """``y_true`` as a flat integer array, checked to hold labels 0..n_classes-1 only."""
    y = np.asarray(y_true).ravel()
    if y.size and (not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y))
                   or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y_true must hold integer labels 0..{n_classes - 1} for an output of "
                         f"{n_classes} classes. Received labels {np.unique(y)[:10].tolist()}")
    return y.astype(np.int64)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def macro_roc_auc(y_true: np.ndarray, output: np.ndarray) -> float | None:
    """ROC AUC from probabilities, or None where it is undefined.

    Two classes: the AUC of P(class 1), as ``roc_auc``. More: the macro average of the one-vs-rest
    AUCs (scikit-learn's ``roc_auc_score(..., multi_class="ovr")``), taken over the classes present
    in ``y_true``: a class absent from the test split has no AUC and is left out of the average.
    None when fewer than two classes are present or the output is not finite.
    """
    from sklearn.metrics import roc_auc_score

    k = class_count(output)
    y = _labels(y_true, k)
    if k == 2:
        return _finite_or_none(roc_auc(y, output))
    scores = np.asarray(output, dtype=float)
    present = np.unique(y)
    if len(present) < 2 or not np.isfinite(scores).all():
        return None
    # One-vs-rest over the present classes: scikit-learn's own "ovr" averages exactly these
    # binary AUCs, but refuses a y_true that lacks a class.
    return float(roc_auc_score(y[:, None] == present, scores[:, present], average="macro"))


def per_class_scores(y_true: np.ndarray, output: np.ndarray,
                     class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Precision, recall, F1 and support of each class, by name, and their macro F1.

    Returns ``{"f1_macro": float, "per_class": {name: {"precision", "recall", "f1", "support"}}}``
    with every class listed. A ratio with nothing to count is None: precision of a class never
    predicted, recall of a class absent from ``y_true``, F1 of a class neither present nor
    predicted. ``f1_macro`` averages F1 over the classes present or predicted (scikit-learn's
    ``f1_score(average="macro")``).
    """
    from sklearn.metrics import precision_recall_fscore_support

    k = class_count(output)
    y, names = _labels(y_true, k), class_names_for(k, class_names)
    predicted = predicted_labels(output)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=np.arange(k), zero_division=np.nan)
    seen = np.isin(np.arange(k), np.concatenate([y, predicted]))
    return {
        "f1_macro": _finite_or_none(float(np.mean(f1[seen]))) if seen.any() else None,
        "per_class": {
            name: {"precision": _finite_or_none(p), "recall": _finite_or_none(r), "f1": _finite_or_none(f),
                   "support": int(s)}
            for name, p, r, f, s in zip(names, precision, recall, f1, support)
        },
    }


def confusion_counts(y_true: np.ndarray, output: np.ndarray,
                     class_names: Sequence[str] | None = None) -> dict[str, list]:
    """The confusion matrix as JSON holds it: ``{"class_names": [...], "counts": [[...], ...]}``,
    row i the samples of true class i, column j those predicted as class j (every class, in
    label order, even one absent from both)."""
    from sklearn.metrics import confusion_matrix

    k = class_count(output)
    y, names = _labels(y_true, k), class_names_for(k, class_names)
    counts = confusion_matrix(y, predicted_labels(output), labels=np.arange(k))
    return {"class_names": names, "counts": counts.astype(int).tolist()}


def multiclass_metrics(y_true: np.ndarray, output: np.ndarray,
                       class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Every metric of a k-class output on ``y_true`` (integer labels 0..k-1), ready for JSON.

    Keys, in order: ``roc_auc`` (``macro_roc_auc``), ``roc_auc_thresholded`` (two classes only:
    the AUC of the 0/1 predictions, as the article computed it), ``accuracy``, ``log_loss``,
    ``f1_macro``, ``per_class`` (``per_class_scores``) and ``confusion_matrix``
    (``confusion_counts``). For two classes the first four equal ``evaluation_metrics``'s.
    Undefined values are None, never NaN: ``roc_auc`` and ``roc_auc_thresholded`` with a single
    class in ``y_true``, ``roc_auc`` of an output that is not finite, ``log_loss`` of one holding
    NaN (an infinity is scored as the probability it is closest to, 0 or 1), and the per-class
    ratios ``per_class_scores`` describes.
    """
    from sklearn.metrics import accuracy_score, log_loss

    k = class_count(output)
    y = _labels(y_true, k)
    labels = predicted_labels(output)
    metrics: dict[str, Any] = {"roc_auc": macro_roc_auc(y, output)}
    if k == 2:
        metrics["roc_auc_thresholded"] = _finite_or_none(roc_auc(y, labels.astype(float)))
    metrics["accuracy"] = float(accuracy_score(y, labels)) if len(y) else None
    proba = class_probabilities(output)
    finite = len(y) > 0 and bool(np.isfinite(proba).all())
    metrics["log_loss"] = float(log_loss(y, proba, labels=np.arange(k))) if finite else None
    metrics.update(per_class_scores(y, output, class_names))
    metrics["confusion_matrix"] = confusion_counts(y, output, class_names)
    return metrics


# -- did the run learn anything ---------------------------------------------------------------

CHANCE_MARGIN = 0.02  # a ROC AUC this close to 0.5 is no better than chance


def learned_nothing(roc_auc: float | None, losses: Sequence[float]) -> list[str]:
    """Warnings, for people, about a run that learned nothing: a test ``roc_auc`` within
    CHANCE_MARGIN of chance (0.5), or training ``losses`` (one an epoch) that never fell below
    the first epoch's. An undefined ROC AUC (None, NaN) and a single epoch say nothing."""
    found = []
    # the tolerance: 0.52 - 0.5 is 0.020000000000000018 in floating point
    if isinstance(roc_auc, float) and math.isfinite(roc_auc) and abs(roc_auc - 0.5) <= CHANCE_MARGIN + 1e-12:
        found.append(f"the model learned nothing: its test ROC AUC, {roc_auc:.4f}, is within {CHANCE_MARGIN} of "
                     "chance (0.5); try another training.learning_rate, more epochs or a larger network")
    if len(losses) > 1 and math.isfinite(losses[0]) and min(losses[1:]) >= losses[0]:
        found.append(f"the model learned nothing: its training loss never fell below the first epoch's "
                     f"({losses[0]:.4g}); try another training.learning_rate")
    return found
