"""Classification metrics for the "with mines" class in the training logs and
metrics files: the shared window metrics (``pipeline.evaluation.metrics``) with
None for undefined values (JSON has no NaN) and the confusion matrix as a list;
and the vote that turns a network's outputs into one prediction.

The vote lives here, not with SKT's model, because the training loop scores every
network by it: SKT's target networks vote, a single-output network votes alone
(its own prediction)."""

import math

import numpy as np

from ..evaluation.metrics import THRESHOLD, classification_metrics as window_metrics

SUMMARY = ("accuracy", "recall", "f1", "roc_auc")


def classification_metrics(y_true, probability, y_pred=None):
    """Metrics of ``probability`` (class 1) against 0/1 labels; predictions are the
    shared rule (probability >= 0.5) unless ``y_pred`` is given (e.g. the vote).

    ``f1`` is the macro F1, the paper's (see ``pipeline.evaluation.metrics``);
    ``confusion`` is [[tn, fp], [fn, tp]]; ``roc_auc`` is None with one class only.
    """
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    if len(y_true) == 0:
        return {"n": 0, "n_with_mines": 0, "accuracy": None, "precision": None, "recall": None, "f1": None,
                "f1_macro": None, "f1_mines": None, "f1_weighted": None, "roc_auc": None, "confusion": None}
    m = window_metrics(y_true, np.asarray(probability, dtype=np.float64).reshape(-1), y_pred=y_pred)
    out = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in m.items()}
    out["n_with_mines"] = m["n_pos"]
    out["confusion"] = [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
    return out


def constant_baseline(y_true):
    """Accuracy of always predicting the most frequent class (what a model must beat)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    if len(y_true) == 0:
        return None
    return float(max((y_true == 1).mean(), (y_true == 0).mean()))


def vote(probabilities):
    """Majority vote over the outputs (SKT: the target networks).

    probabilities: (m, N) "with mines" probabilities. A network votes 1 when its
    probability is at least 0.5 (the rule of every metric here); a tie (even m)
    goes to the mean probability by the same rule.
    Returns (classes (N,) int64, mean probability (N,)).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    m = p.shape[0]
    votes = (p >= THRESHOLD).sum(axis=0)
    mean = p.mean(axis=0)
    classes = np.where(2 * votes > m, 1, np.where(2 * votes < m, 0, (mean >= THRESHOLD).astype(np.int64)))
    return classes.astype(np.int64), mean
