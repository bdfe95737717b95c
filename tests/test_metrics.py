import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, matthews_corrcoef, roc_auc_score

from pipeline.errors import InputError
from pipeline.evaluation.metrics import (PAPER_TEST_FACTORS, PAPER_TRAIN_FACTORS, aggregate_seeds,
                                         balanced_noise_copies, classification_metrics)


def _matrix(tp, fn, tn, fp):
    y = np.r_[np.ones(tp + fn, int), np.zeros(tn + fp, int)]
    pred = np.r_[np.ones(tp, int), np.zeros(fn, int), np.zeros(tn, int), np.ones(fp, int)]
    return y, pred


def test_hand_computed_confusion_matrix():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    prob = np.array([0.9, 0.6, 0.4, 0.2, 0.7, 0.3, 0.1, 0.1, 0.05, 0.5])
    m = classification_metrics(y, prob)  # threshold 0.5: predicted 1 at 0.9, 0.6, 0.7, 0.5
    assert (m["tp"], m["fn"], m["tn"], m["fp"]) == (2, 2, 4, 2)
    assert (m["n"], m["n_pos"]) == (10, 4)
    assert m["accuracy"] == pytest.approx(6 / 10)
    assert m["recall"] == pytest.approx(2 / 4)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["specificity"] == pytest.approx(4 / 6)
    assert m["f1_mines"] == pytest.approx(2 * 2 / (2 * 2 + 2 + 2))
    assert m["f1_no_mines"] == pytest.approx(2 * 4 / (2 * 4 + 2 + 2))
    assert m["f1"] == m["f1_macro"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["f1_weighted"] == pytest.approx((4 * 0.5 + 6 * 2 / 3) / 10)
    pred = (prob >= 0.5).astype(int)
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["f1_weighted"] == pytest.approx(f1_score(y, pred, average="weighted"))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, prob))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, prob))


def test_threshold_and_explicit_predictions():
    y = np.array([1, 0, 1, 0])
    prob = np.array([0.8, 0.6, 0.3, 0.1])
    assert classification_metrics(y, prob, threshold=0.7)["tp"] == 1
    assert classification_metrics(y, prob, threshold=0.7)["fp"] == 0
    assert classification_metrics(y, prob, threshold=0.2)["fp"] == 1
    m = classification_metrics(y, prob, y_pred=[1, 1, 1, 1])
    assert (m["tp"], m["fp"]) == (2, 2)
    assert m["roc_auc"] == pytest.approx(0.75)  # ranking metrics still use prob
    assert math.isnan(m["threshold"])
    m = classification_metrics(y, y_pred=[1, 0, 0, 0])
    assert m["recall"] == 0.5 and math.isnan(m["roc_auc"])


def test_ties_in_scores_match_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    prob = np.round(rng.random(300) * 0.5 + 0.3 * y, 1)  # heavy ties
    m = classification_metrics(y, prob)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, prob))
    assert m["average_precision"] == pytest.approx(average_precision_score(y, prob))


def test_paper_f1_is_the_macro_average():
    # SKT "Ours" (Tables 3-5) on the 275-window test set (119 with mines):
    # accuracy 69.09 and recall 40.33 fix TP 48, FN 71, TN 142, FP 14
    y, pred = _matrix(tp=48, fn=71, tn=142, fp=14)
    m = classification_metrics(y, y_pred=pred)
    assert math.floor(m["accuracy"] * 1e4) / 100 == 69.09
    assert math.floor(m["recall"] * 1e4) / 100 == 40.33  # the paper truncates
    assert m["f1"] == pytest.approx(0.6500, abs=5e-5)  # printed F1: 65.00
    assert m["f1_weighted"] == pytest.approx(0.6661, abs=5e-5)
    assert m["f1_mines"] == pytest.approx(0.5304, abs=5e-5)


@pytest.mark.parametrize("accuracy, recall, printed_f1", [
    (57.45, 31.93, 53.30), (65.45, 41.17, 62.08), (61.45, 35.29, 57.38),  # Table 4, rho 1, 6, 12
    (70.18, 47.05, 67.34), (64.72, 37.81, 60.70),                          # rho 18, 24
    (62.54, 30.25, 56.83), (65.81, 31.09, 59.72),                          # Table 5
    # (R-S-Mask and R-D-Convolution fit too, with their printed F1 values swapped)
])
def test_table4_and_5_rows_have_integer_matrices_with_macro_f1(accuracy, recall, printed_f1):
    tp = round(recall / 100 * 119)
    tn = round(accuracy / 100 * 275) - tp
    y, pred = _matrix(tp=tp, fn=119 - tp, tn=tn, fp=156 - tn)
    m = classification_metrics(y, y_pred=pred)
    assert 100 * m["accuracy"] == pytest.approx(accuracy, abs=0.01)
    assert 100 * m["f1"] == pytest.approx(printed_f1, abs=0.011)
    assert 100 * m["f1_weighted"] > printed_f1 + 1  # the weighted reading does not fit


def test_svm_row_of_table3_cannot_be_binary_f1():
    # recall 17.64 caps the binary F1 at 2r / (1 + r) even with no false positive
    y, pred = _matrix(tp=21, fn=98, tn=156, fp=0)
    m = classification_metrics(y, y_pred=pred)
    assert math.floor(m["recall"] * 1e4) / 100 == 17.64
    assert m["f1_mines"] < 0.4373


def test_single_class_is_handled():
    m = classification_metrics(np.zeros(5, int), np.array([0.1, 0.2, 0.7, 0.3, 0.4]))
    assert math.isnan(m["roc_auc"]) and math.isnan(m["average_precision"]) and math.isnan(m["recall"])
    assert m["accuracy"] == pytest.approx(0.8) and m["fp"] == 1 and m["n_pos"] == 0
    assert m["f1_mines"] == 0.0 and m["f1_no_mines"] == pytest.approx(8 / 9)
    m = classification_metrics(np.ones(3, int), np.ones(3))
    assert m["f1"] == 1.0 and m["recall"] == 1.0 and math.isnan(m["specificity"])
    assert m["mcc"] == 0.0


@pytest.mark.parametrize("y, prob, message", [
    ([0, 1, 2], [0.1, 0.2, 0.3], "0 \\(without mines\\) or 1"),
    ([0, 1], [0.1], "1 probabilities for 2 labels"),
    ([0, 1], [0.1, np.nan], "NaN"),
])
def test_bad_input_raises_input_error(y, prob, message):
    with pytest.raises(InputError, match=message):
        classification_metrics(y, prob)


def test_aggregate_seeds():
    runs = [{"accuracy": 0.6, "roc_auc": 0.7, "tp": 3, "name": "a"},
            {"accuracy": 0.8, "roc_auc": float("nan"), "tp": 5, "name": "b"},
            {"accuracy": 0.7, "roc_auc": 0.9, "tp": 4, "name": "c"}]
    out = aggregate_seeds(runs)
    assert out["n_runs"] == 3
    assert out["accuracy_mean"] == pytest.approx(0.7)
    assert out["accuracy_std"] == pytest.approx(0.1)
    assert out["roc_auc_mean"] == pytest.approx(0.8) and out["roc_auc_n"] == 2
    assert out["tp_mean"] == pytest.approx(4.0)
    assert "name_mean" not in out
    assert math.isnan(aggregate_seeds(runs[:1])["accuracy_std"])
    with pytest.raises(InputError):
        aggregate_seeds([])


def test_paper_protocol_counts_and_noise():
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(69, 2, 8, 8)).astype(np.float32)
    labels = np.r_[np.ones(17, int), np.zeros(52, int)]
    x, y, source = balanced_noise_copies(windows, labels, 0.01, 7, factors=PAPER_TEST_FACTORS)
    assert len(x) == 275 and int(y.sum()) == 119 and int((y == 0).sum()) == 156
    assert np.array_equal(x[:69], windows) and np.array_equal(y, labels[source])
    noise = x[69:] - windows[source[69:]]
    assert noise.mean() == pytest.approx(0.0, abs=0.01)
    assert noise.var() == pytest.approx(0.01, rel=0.05)
    again, _, _ = balanced_noise_copies(windows, labels, 0.01, 7, factors=PAPER_TEST_FACTORS)
    assert np.array_equal(x, again)
    # the training counts of section 2.2: 78 + 359 -> 1092 + 1077
    y_train = np.r_[np.ones(78, int), np.zeros(359, int)]
    _, y_aug, _ = balanced_noise_copies(np.zeros((437, 1)), y_train, 0.01, 0, factors=PAPER_TRAIN_FACTORS)
    assert (int(y_aug.sum()), int((y_aug == 0).sum())) == (1092, 1077)


def test_default_noise_copies_balance_the_classes():
    labels = np.r_[np.ones(10, int), np.zeros(52, int)]
    _, y, _ = balanced_noise_copies(np.zeros((62, 3)), labels, 0.01, 0)
    assert int(y.sum()) == 50 and int((y == 0).sum()) == 52


def test_youden_threshold():
    from pipeline.evaluation.metrics import youden_threshold

    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    score = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9])
    # score >= 0.6 gives recall 3/4, specificity 1 (J 0.75); >= 0.35 gives 1 and 3/4 (J 0.75):
    # the tie goes to the higher cut, placed half-way to the next lower score
    assert youden_threshold(y, score) == pytest.approx(0.5)
    m = classification_metrics(y, score, threshold=youden_threshold(y, score))
    assert (m["tp"], m["fp"]) == (3, 0)
    assert youden_threshold([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.5)
    with pytest.raises(InputError, match="both classes"):
        youden_threshold([1, 1], [0.2, 0.3])
