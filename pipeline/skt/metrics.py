"""Classification metrics for the "with mines" class."""

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

SUMMARY = ("accuracy", "recall", "f1", "roc_auc")


def classification_metrics(y_true, y_pred, probability):
    """accuracy, precision and recall of class 1, F1 three ways, ROC AUC of
    ``probability`` (None with one class only), confusion matrix [[tn, fp], [fn, tp]].

    The keys mean what they mean in ``pipeline.evaluation.metrics`` and the tables:
    ``f1`` is the macro F1, the paper's (its 65.00 with recall 40.33 and accuracy
    69.09 cannot be the class-1 F1), ``f1_macro`` the same value under its own
    name, ``f1_mines`` the binary F1 of "with mines" and ``f1_weighted`` the
    support-weighted mean.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    probability = np.asarray(probability, dtype=np.float64)
    n = len(y_true)
    if n == 0:
        return {"n": 0, "n_with_mines": 0, "accuracy": None, "precision": None, "recall": None, "f1": None,
                "f1_macro": None, "f1_mines": None, "f1_weighted": None, "roc_auc": None, "confusion": None}
    both = len(np.unique(y_true)) == 2
    macro = float(f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0))
    return {
        "n": int(n),
        "n_with_mines": int((y_true == 1).sum()),
        "accuracy": float((y_true == y_pred).mean()),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": macro,
        "f1_macro": macro,
        "f1_mines": float(f1_score(y_true, y_pred, zero_division=0)),
        "f1_weighted": float(f1_score(y_true, y_pred, average="weighted", labels=[0, 1], zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, probability)) if both else None,
        "confusion": confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
    }


def constant_baseline(y_true):
    """Accuracy of always predicting the most frequent class (what a model must beat)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    if len(y_true) == 0:
        return None
    return float(max((y_true == 1).mean(), (y_true == 0).mean()))
