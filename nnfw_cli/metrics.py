"""Classification metrics from predicted probabilities (scikit-learn's implementations)."""

from __future__ import annotations

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
    """ROC AUC from probabilities (one-vs-rest for several classes); NaN if it is undefined."""
    from sklearn.metrics import roc_auc_score

    output = np.asarray(output)
    if not np.all(np.isfinite(output)) or len(np.unique(y_true)) < 2:
        return float("nan")
    if output.ndim == 2 and output.shape[1] > 2:
        return float(roc_auc_score(y_true, output, multi_class="ovr"))
    return float(roc_auc_score(y_true, positive_proba(output)))


def classification_metrics(y_true: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """``roc_auc`` (from probabilities), ``roc_auc_thresholded`` (from 0/1 labels, as the article
    computed it, for comparison only) and ``accuracy``."""
    from sklearn.metrics import accuracy_score

    labels = predicted_labels(output)
    two_class = np.asarray(output).ndim == 1 or np.asarray(output).shape[1] <= 2
    return {
        "roc_auc": roc_auc(y_true, output),
        "roc_auc_thresholded": roc_auc(y_true, labels.astype(float)) if two_class else float("nan"),
        "accuracy": float(accuracy_score(y_true, labels)),
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
