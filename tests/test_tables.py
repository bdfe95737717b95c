"""Tables of the paper (3, 4, 5, Figure 6) from small run-record files: layout and
mean / std over seeds."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.atomic import write_json
from pipeline.errors import InputError
from pipeline.evaluation.tables import (ablation_markdown, ablation_table, beta_sweep_table, comparison_markdown,
                                        comparison_table, map_table, markdown_table, metrics_record,
                                        per_network_table, read_record, run_record, write_table)

Y = np.array([0, 0, 0, 0, 1, 1, 0, 1, 0, 0])


def _record(method, seed, pred, prob=None, **extra):
    prob = pred * 0.8 + 0.1 if prob is None else prob
    primary = metrics_record(Y, prob, y_pred=pred)
    return run_record(method, seed, primary, metrics_record(np.r_[Y, 1, 1], np.r_[prob, 0.9, 0.2]), **extra)


@pytest.fixture
def files(tmp_path):
    """Run records on disk as the workflow writes them: two seeds of two methods and SKT."""
    preds = {"svm": [np.zeros(10, int), np.r_[np.zeros(9, int), 1]],
             "resnet18": [Y.copy(), np.r_[Y[:9], 1]]}
    paths = {}
    for method, runs in preds.items():
        for seed, pred in zip((1, 2), runs):
            path = tmp_path / method / f"seed{seed}.json"
            write_json(path, _record(method, seed, pred, family="cnn" if method == "resnet18" else "classical",
                                     form="window"))
            paths.setdefault(method, []).append(path)
    for seed in (1, 2):
        nets = {"t1_rho1": metrics_record(Y, Y * 0.6 + 0.2), "t2_rho2": metrics_record(Y, np.full(10, 0.3)),
                "vote": metrics_record(Y, Y * 0.7 + 0.1)}
        record = run_record("skt", seed, nets["vote"], None, family="skt", study="skt", variant="full",
                            targets=["t1_rho1", "t2_rho2"], dilations=[1, 2],
                            per_network={"primary": nets, "paper_protocol": None}, skt={"beta": 0.7})
        path = tmp_path / "skt" / f"seed{seed}.json"
        write_json(path, record)
        paths.setdefault("skt", []).append(path)
    return paths


def _groups(paths):
    groups = {}
    for method, files in paths.items():
        groups[method] = [read_record(p) for p in files]
    return groups


def test_records_are_valid_json_with_nan_as_null(files):
    text = files["svm"][0].read_text()
    record = json.loads(text)              # strict JSON: no NaN tokens
    assert "NaN" not in text
    assert record["primary"]["recall"] == 0.0 and record["primary"]["confusion"] == [[7, 0], [3, 0]]
    assert record["primary"]["precision"] is None          # 0/0: nothing predicted "with mines"


def test_comparison_table_has_the_paper_layout_and_seed_statistics(files, tmp_path):
    groups = _groups(files)
    table = comparison_table(groups, {m: rs[0].get("family", "") for m, rs in groups.items()})
    assert list(table["method"]) == ["svm", "resnet18", "skt"]
    assert list(table["Methods"]) == ["SVM", "ResNet-18", "SKT (ours)"]
    assert {"accuracy_mean", "accuracy_std", "recall_mean", "f1_mean", "f1_weighted_mean", "f1_mines_mean",
            "roc_auc_mean", "average_precision_mean", "mcc_mean", "tn_mean", "paper_accuracy_mean",
            "n_seeds"} <= set(table.columns)
    svm = table.set_index("method").loc["svm"]
    # seed 1 predicts no mines (7/10 right), seed 2 adds one false positive (6/10)
    assert svm["accuracy_mean"] == pytest.approx(0.65)
    assert svm["accuracy_std"] == pytest.approx(np.std([0.7, 0.6], ddof=1))
    assert svm["n_seeds"] == 2 and svm["seeds"] == "1 2"
    resnet = table.set_index("method").loc["resnet18"]
    assert resnet["accuracy_mean"] == pytest.approx(0.95) and resnet["recall_mean"] == pytest.approx(1.0)
    # macro F1 of a perfect run is 1; with one false positive: mean of 2*6/13 and 2*3/7
    assert resnet["f1_mean"] == pytest.approx((1 + (12 / 13 + 6 / 7) / 2) / 2)
    assert np.isnan(table.set_index("method").loc["skt", "paper_accuracy_mean"])  # these have no paper protocol
    write_table(table, tmp_path / "comparison.csv")
    back = pd.read_csv(tmp_path / "comparison.csv")
    assert list(back["Methods"]) == ["SVM", "ResNet-18", "SKT (ours)"]


def test_markdown_prints_percent_mean_and_std(files):
    table = comparison_table(_groups(files))
    text = markdown_table(table)
    header = text.splitlines()[0]
    assert header.startswith("| Methods | Accuracy | Recall | F1-Score | ROC AUC |")
    svm_line = next(line for line in text.splitlines() if line.startswith("| SVM "))
    assert "65.00 ± 7.07" in svm_line and "| 2 |" in svm_line
    skt_line = next(line for line in text.splitlines() if line.startswith("| SKT"))
    assert "n/a" in skt_line


def test_single_seed_has_no_std(files):
    groups = {m: rs[:1] for m, rs in _groups(files).items()}
    table = comparison_table(groups)
    assert table["accuracy_std"].isna().all() and (table["n_seeds"] == 1).all()
    assert "±" not in markdown_table(table)


def test_per_network_table_lists_each_target_and_the_vote(files):
    table = per_network_table(_groups(files)["skt"])
    assert list(table["network"]) == ["t1_rho1", "t2_rho2", "vote"]
    assert list(table["Target Network"]) == ["rho = 1 (t1_rho1)", "rho = 2 (t2_rho2)", "Voting"]
    assert list(table["dilation"][:2]) == [1, 2]
    row = table.set_index("network").loc["t2_rho2"]
    assert row["recall_mean"] == 0.0 and row["accuracy_mean"] == pytest.approx(0.7)
    with pytest.raises(InputError):
        per_network_table([])


def test_ablation_table_rows_and_labels(files):
    base = read_record(files["skt"][0])
    groups = {v: [dict(base, variant=v)] for v in ("r_s_mask", "r_d_convolution", "r_sk_transfer",
                                                     "r_s_distillation")}
    groups["skt"] = [base]
    table = ablation_table(groups)
    assert list(table["Methods"]) == ["R-S-Mask", "R-D-Convolution", "R-Sk-Transfer", "R-S-Distillation",
                                      "Ours (full SKT)"]
    assert table.set_index("variant").loc["r_d_convolution", "switched_off"] == "dilation=False"
    assert ablation_markdown(table).startswith("# Ablation (Table 5)")


def test_beta_sweep_is_sorted_by_beta(files):
    base = read_record(files["skt"][0])
    table = beta_sweep_table({0.7: [base], 0.1: [base, read_record(files["skt"][1])]})
    assert list(table["beta"]) == [0.1, 0.7] and list(table["n_seeds"]) == [2, 1]


def test_map_table_and_comparison_markdown(files):
    result = {"label": "SKT", "test_sites": {"success_rate_auc": 0.8, "capture_at_10pct_area": 0.25,
                                             "site_vs_background_auc": 0.7, "n_sites_used": 4,
                                             "pa_prediction_rate": 70.0, "curves": {"success_rate": {}}},
              "all_sites": {"success_rate_auc": 0.9, "n_sites_used": 40, "site_vs_background_auc": None,
                            "curves": {}}}
    maps = map_table({"skt": result})
    assert list(maps["scope"]) == ["test_sites", "all_sites"] and "curves" not in maps.columns
    text = comparison_markdown(comparison_table(_groups(files)), per_network_table(_groups(files)["skt"]), maps,
                               {"SNL": "not in torchvision"})
    assert "## Target networks and voting (Table 4)" in text and "## Map-level evaluation" in text
    assert "| SKT | test part only | 0.800 |" in text and "- SNL: not in torchvision" in text
    assert "10 windows, 3 with mines" in text and "Seeds: 1, 2" in text


def test_bad_record_is_named(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        read_record(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"method": "x"}))
    with pytest.raises(InputError, match="primary"):
        read_record(tmp_path / "other.json")


def test_regions_table_lines_up_methods_and_ranks_them(files, tmp_path):
    from pipeline.evaluation.regions import mean_ranks, regions_markdown, regions_table

    groups = _groups(files)
    write_table(comparison_table(groups), tmp_path / "north.csv")
    # the second region lacks the CNN: it must show as n/a, not shift the other rows
    write_table(comparison_table({k: v for k, v in groups.items() if k != "resnet18"}), tmp_path / "south.csv")
    maps = map_table({"skt": {"label": "SKT", "test_sites": {"success_rate_auc": 0.8},
                              "all_sites": {"success_rate_auc": 0.95}}})
    write_table(maps, tmp_path / "north_maps.csv")
    table = regions_table({"north": tmp_path / "north.csv", "south": tmp_path / "south.csv"},
                          {"north": tmp_path / "north_maps.csv"})
    assert list(table["region"]) == ["north"] * 3 + ["south"] * 2
    skt_north = table[(table["region"] == "north") & (table["method"] == "skt")].iloc[0]
    assert skt_north["success_rate_auc"] == pytest.approx(0.8)          # test-part sites, not all sites
    assert np.isnan(table[(table["region"] == "south") & (table["method"] == "skt")]["success_rate_auc"]).all()
    north = comparison_table(groups).set_index("method")
    assert skt_north["roc_auc_mean"] == pytest.approx(north.loc["skt", "roc_auc_mean"])
    ranks = mean_ranks(table, "roc_auc_mean")
    expected = {m: [] for m in ("svm", "resnet18", "skt")}
    for region in ("north", "south"):
        part = table[table["region"] == region].set_index("method")["roc_auc_mean"]
        for method, rank in part.rank(ascending=False, method="average").items():
            expected[method].append(rank)
    assert ranks == pytest.approx({m: float(np.mean(r)) for m, r in expected.items()})
    text = regions_markdown(table)
    assert "## Window ROC AUC (test split)" in text and "| Method | north | south | Mean rank |" in text
    resnet_row = next(line for line in text.splitlines() if line.startswith("| ResNet-18 |"))
    assert resnet_row.split(" | ")[2] == "n/a"


def test_regions_table_names_a_bad_input(tmp_path):
    from pipeline.evaluation.regions import regions_table

    (tmp_path / "c.csv").write_text("method,value\nsvm,1\n")
    with pytest.raises(InputError, match=r"c\.csv.*Methods"):
        regions_table({"a": tmp_path / "c.csv"})
    with pytest.raises(InputError, match="missing comparison table"):
        regions_table({"a": tmp_path / "none.csv"})
