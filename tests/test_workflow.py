"""The workflow run by Snakemake itself on a tiny configuration of the demo survey."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from workflow_helpers import planned_rules, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow


# tiny_run: the session's tiny workflow run (conftest.py)


def test_outputs_follow_the_contract(tiny_run):
    work, config, _ = tiny_run
    out = work / "results" / "demo"
    samples = gpd.read_file(out / "prepare" / "samples.gpkg")
    assert samples.crs.to_epsg() == 32649 and len(samples) > 1000
    qa = json.loads((out / "prepare" / "qa.json").read_text())
    assert qa["samples"]["rows_read"] > len(samples)

    table = pd.read_csv(out / "screening" / "elements.csv")
    assert list(table.columns)[:4] == ["element", "n_valid", "n_with_mines", "n_without_mines"]
    selected = table.loc[table["selected"], "element"].tolist()
    assert selected

    for element in selected:
        with rasterio.open(out / "rasters" / f"{element}.tif") as src:
            assert src.crs.to_epsg() == 32649 and src.nodata is not None
            assert src.dtypes[0] == "float32" and src.descriptions[0] == element
            assert (src.width, src.height) == (128, 128)
            assert src.overviews(1)
    with rasterio.open(out / "stack" / "zscore.tif") as src:
        assert list(src.descriptions) == selected
        stack_transform = src.transform
    meta = json.loads((out / "tiles" / "tiles.json").read_text())
    assert meta["elements"] == selected + ["valid"] and meta["validity_band"] and meta["split_row"] == 96
    index = gpd.read_file(out / "tiles" / "index.gpkg")
    assert {"tile_id", "row", "col", "split", "label", "n_sites"} <= set(index.columns)
    assert index.crs.to_epsg() == 32649
    windows = np.load(out / "tiles" / "windows.npy", mmap_mode="r")
    assert windows.shape[1:] == (len(selected) + 1, 32, 32)      # the elements and the validity band
    assert rasterio.Affine(*meta["grid"]["transform"]) == stack_transform


def test_changing_idw_power_reruns_interpolation_not_prepare_or_screen(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, interpolate=dict(config["interpolate"], power=3.0))
    rules = planned_rules(work, write_config(changed, work / "power.yaml"))
    assert {"interpolate", "stack", "tiles"} <= rules
    assert not rules & {"prepare", "screen"}


def test_changing_the_transform_reruns_the_stack_not_interpolation(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, stack=dict(config["stack"], transform="clr"))
    rules = planned_rules(work, write_config(changed, work / "clr.yaml"))
    assert {"stack", "cv_stack", "tiles", "train_skt"} <= rules
    assert not rules & {"prepare", "screen", "interpolate", "reference_maps"}


def test_changing_stride_reruns_tiles_not_interpolation(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, tiles=dict(config["tiles"], stride=8))
    rules = planned_rules(work, write_config(changed, work / "stride.yaml"))
    assert "tiles" in rules
    assert not rules & {"prepare", "screen", "interpolate", "stack"}


def test_unchanged_config_has_nothing_to_do(tiny_run):
    work, _, configfile = tiny_run
    assert planned_rules(work, configfile) == set()


def test_same_settings_in_another_key_order_rerun_nothing(tiny_run, tmp_path):
    work, config, _ = tiny_run

    def reverse(value):
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        return value

    reordered = write_config(reverse(config), tmp_path / "reordered.yaml")
    assert list(reverse(config)) != list(config)
    assert planned_rules(work, reordered) == set()


def test_bad_config_stops_before_any_job(tmp_path):
    config = tiny_config()
    config["interpolate"]["n_neighbours"] = 12  # misspelt key
    result = snakemake(tmp_path, write_config(config, tmp_path / "bad.yaml"), "--dry-run", check=False)
    assert result.returncode != 0
    assert "n_neighbours" in result.stdout + result.stderr


def test_probability_map_is_aligned_with_the_stack(tiny_run):
    work, _, _ = tiny_run
    out = work / "results" / "demo"
    with rasterio.open(out / "stack" / "zscore.tif") as stack, \
            rasterio.open(out / "maps" / "skt_probability.tif") as prob:
        assert prob.transform == stack.transform and prob.shape == stack.shape and prob.crs == stack.crs
        assert prob.dtypes[0] == "float32" and prob.nodata is not None
        assert prob.descriptions[0] == "skt_probability" and prob.count == 1 + 3  # vote + one per target
        stack_nodata = stack.read_masks().max(axis=0) == 0  # nodata in every band
        p = prob.read(1, masked=True)
        np.testing.assert_array_equal(p.mask, stack_nodata)
        assert 0.0 <= float(p.min()) and float(p.max()) <= 1.0
        assert prob.overviews(1)


def test_window_predictions_layer(tiny_run):
    work, _, _ = tiny_run
    layer = gpd.read_file(work / "results" / "demo" / "maps" / "skt_windows.gpkg")
    index = gpd.read_file(work / "results" / "demo" / "tiles" / "index.gpkg")
    assert len(layer) == len(index) and layer.crs == index.crs
    scored = layer[layer["split"] != "skipped"]
    assert {"probability", "vote", "label"} <= set(layer.columns)
    assert scored["probability"].between(0, 1).all() and set(scored["vote"].unique()) <= {0, 1}


def test_comparison_tables(tiny_run):
    work, _, _ = tiny_run
    tables = work / "results" / "demo" / "tables"
    comparison = pd.read_csv(tables / "comparison.csv")
    assert list(comparison["method"]) == ["decision_tree", "decision_tree_pixel", "mobilenet_v2", "skt"]
    assert list(comparison.columns[:2]) == ["method", "Methods"]
    for key in ("accuracy", "recall", "f1", "f1_weighted", "f1_mines", "roc_auc", "average_precision", "mcc"):
        assert f"{key}_mean" in comparison.columns and f"{key}_std" in comparison.columns
    assert comparison["accuracy_mean"].between(0, 1).all() and (comparison["n_seeds"] == 1).all()
    # every method is scored on the same test windows
    assert comparison["n_mean"].nunique() == 1 and comparison["n_pos_mean"].nunique() == 1
    # SKT's row comes from its vote, as in the per-network table
    per_network = pd.read_csv(tables / "per_network.csv")
    assert list(per_network["network"]) == ["t1_rho1", "t2_rho2", "t3_rho3", "vote"]
    vote = per_network.set_index("network").loc["vote"]
    skt = comparison.set_index("method").loc["skt"]
    assert vote["accuracy_mean"] == skt["accuracy_mean"] and vote["f1_mean"] == skt["f1_mean"]
    ablation = pd.read_csv(tables / "ablation.csv")
    assert list(ablation["Methods"]) == ["R-Sk-Transfer", "Ours (full SKT)"]
    assert (work / "results" / "demo" / "models" / "ablation" / "r_sk_transfer" / "seed42" / "skt.pt").exists()
    text = (tables / "comparison.md").read_text()
    assert "| Methods | Accuracy | Recall | F1-Score |" in text and "## Map-level evaluation" in text


def test_baseline_maps_and_map_evaluation(tiny_run):
    work, _, _ = tiny_run
    out = work / "results" / "demo"
    with rasterio.open(out / "stack" / "zscore.tif") as stack:
        for name in ("decision_tree_pixel", "mobilenet_v2"):
            with rasterio.open(out / "maps" / f"{name}_probability.tif") as prob:
                assert (prob.transform, prob.shape, prob.crs) == (stack.transform, stack.shape, stack.crs)
                p = prob.read(1, masked=True)
                assert 0.0 <= float(p.min()) and float(p.max()) <= 1.0
    result = json.loads((out / "tables" / "map_evaluation.json").read_text())
    assert set(result["maps"]) == {"skt", "decision_tree_pixel", "mobilenet_v2"}
    for entry in result["maps"].values():
        test, everywhere = entry["test_sites"], entry["all_sites"]
        assert test["n_sites_used"] < everywhere["n_sites_used"]
        curve = test["curves"]["success_rate"]
        assert curve["area_fraction"][0] == 0 and curve["area_fraction"][-1] == 1
        assert 0 <= test["success_rate_auc"] <= 1
    flat = pd.read_csv(out / "tables" / "map_evaluation.csv")
    assert set(flat["scope"]) == {"test_sites", "all_sites"} and len(flat) == 6
    # the demo's known answer: every trained and reference map ranked against the true deposit field
    truth = pd.read_csv(out / "tables" / "truth_auc.csv")
    assert {"skt", "decision_tree_pixel", "mobilenet_v2", "sampling_density", "robust_anomaly", "idw_Au"} <= set(
        truth["method"])
    assert truth["truth_auc"].between(0, 1).all() and (truth["n_positive"] > 0).all()
    # the references fixed before the test: the declared commodity (Au) ranks the cells exactly as its raster
    by_method = truth.set_index("method")
    assert {"reference_commodity", "reference_nested", "reference_fair"} <= set(by_method.index)
    assert by_method.loc["reference_commodity", "truth_auc"] == pytest.approx(by_method.loc["idw_Au", "truth_auc"])
    assert by_method.loc["reference_fair", "truth_auc"] == max(by_method.loc["reference_commodity", "truth_auc"],
                                                                 by_method.loc["reference_nested", "truth_auc"])
    assert "training sites" in by_method.loc["reference_nested", "note"]


def test_changing_beta_reruns_skt_and_evaluation_not_baselines_or_source(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, skt=dict(config["skt"], beta=0.5))
    rules = planned_rules(work, write_config(changed, work / "beta.yaml"))
    assert {"train_skt", "train_skt_variant", "evaluate_skt", "comparison_table", "ablation_table"} <= rules
    assert not rules & {"train_source", "baseline_window", "baseline_pixel", "baseline_cnn", "baseline_cnn_map",
                        "tiles"}


def test_extra_seed_adds_runs_of_every_method(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, evaluate=dict(config["evaluate"], seeds=[42, 7]))
    rules = planned_rules(work, write_config(changed, work / "seeds.yaml"))
    assert {"train_source_seed", "train_skt_seed", "baseline_window", "baseline_pixel_seed", "baseline_cnn",
            "train_skt_variant", "evaluate_skt", "comparison_table"} <= rules
    assert not rules & {"train_source", "train_skt", "baseline_pixel", "baseline_cnn_map"}


def test_cross_validation_tables(tiny_run):
    work, _, _ = tiny_run
    out = work / "results" / "demo"
    plan = json.loads((out / "cv" / "folds.json").read_text())
    assert plan["n_folds"] == 3 and plan["buffer"] == 3000.0
    summary = pd.read_csv(out / "tables" / "cv_summary.csv").set_index("method")
    assert {"kind", "heldout_auc", "ci_low", "ci_high", "top10", "n_sites", "n_clusters", "n_folds",
            "seeds"} <= set(summary.columns)
    assert summary.loc["decision_tree_pixel", "kind"] == "trained"
    assert summary.loc["sampling_density", "kind"] == "reference"
    rasters = json.loads((out / "rasters" / "rasters.json").read_text())["elements"]
    assert {f"idw_{e}" for e in rasters} <= set(summary.index)      # every element's raster, not only the selected
    assert (summary["ci_low"] <= summary["heldout_auc"]).all() and (summary["heldout_auc"] <= summary["ci_high"]).all()
    assert (summary["n_folds"] == 3).all() and (summary["n_sites"] == plan["n_scored"]).all()
    assert "bootstrap draws of site clusters" in (out / "tables" / "cv_summary.md").read_text()
    # the yardstick: references fixed without the held-out sites, differences from them, the oracle apart
    assert {"reference_commodity", "reference_nested", "reference_fair", "oracle_reference"} <= set(summary.index)
    for ref in ("reference_fair", "reference_nested", "reference_commodity"):
        assert {f"diff_vs_{ref}", f"diff_{ref}_ci_low", f"diff_{ref}_ci_high", f"beats_{ref}",
                f"diff_vs_{ref}_clusters", f"beats_{ref}_clusters"} <= set(summary.columns)
    assert "beats_oracle_reference" not in summary.columns and "beats_best_reference" not in summary.columns
    assert set(summary["tuning"]) <= {"fixed", "nested", "oracle"}
    assert summary.loc["reference_nested", "tuning"] == "nested"
    assert summary.loc["reference_commodity", "heldout_auc"] == pytest.approx(summary.loc["idw_Au", "heldout_auc"])
    assert summary.loc["reference_fair", "heldout_auc"] == pytest.approx(
        summary.loc[["reference_commodity", "reference_nested"], "heldout_auc"].max())
    nested = pd.read_csv(out / "tables" / "cv_nested.csv")
    assert list(nested["fold"]) == [0, 1, 2] and nested["chosen"].str.startswith(("idw_", "robust_anomaly")).all()
    sites = pd.read_csv(out / "tables" / "cv_sites.csv")
    assert (sites.groupby("method").size() == plan["n_scored"]).all()
    with rasterio.open(out / "maps" / "reference" / "commodity.tif") as src:
        assert src.crs.to_epsg() == 32649 and src.tags()["elements"] == "Au"
    windows = pd.read_csv(out / "tables" / "cv_windows.csv")
    assert set(windows["fold"].astype(str)) >= {"0", "1", "2", "pooled"}
    gad = pd.read_csv(out / "tables" / "gad_protocol.csv").set_index("method")
    assert {"sampling_density", "decision_tree_pixel"} <= set(gad.index)
    assert gad["gad_auc"].between(0, 1).all()
    # each fold map lies on the stack's grid
    with rasterio.open(out / "cv" / "stack.tif") as stack:
        for f in range(3):
            with rasterio.open(out / "cv" / "maps" / "decision_tree_pixel" / "seed42" / f"fold{f}.tif") as m:
                assert m.transform == stack.transform and m.crs == stack.crs
    for name in ("sampling_density", "robust_anomaly"):
        with rasterio.open(out / "maps" / "reference" / f"{name}.tif") as src:
            assert src.crs.to_epsg() == 32649 and src.nodata is not None
    # the spread of the fold models: std across the three fold maps, on the stack's grid, with its style
    folds = []
    for f in range(3):
        with rasterio.open(out / "cv" / "maps" / "decision_tree_pixel" / "seed42" / f"fold{f}.tif") as m:
            folds.append(m.read(1, masked=True).astype(np.float64))
    with rasterio.open(out / "maps" / "decision_tree_pixel_uncertainty.tif") as src, \
            rasterio.open(out / "cv" / "stack.tif") as stack:
        assert src.transform == stack.transform and src.crs == stack.crs and src.shape == stack.shape
        assert src.dtypes[0] == "float32" and src.nodata is not None and src.tags()["n_models"] == "3"
        spread = src.read(1, masked=True)
    every = ~np.any([f.mask for f in folds], axis=0)   # cells all three fold models map
    assert not spread.mask[every].any() and spread.max() <= 0.5
    assert np.allclose(spread[every], np.std([f.data[every] for f in folds], axis=0), atol=1e-5)
    assert (out / "maps" / "decision_tree_pixel_uncertainty.qml").exists()
    assert "Where the models disagree" in (out / "report" / "report.html").read_text()
    report = (out / "report" / "report.html").read_text()
    assert "Held-out sites (spatial cross-validation)" in report
    assert "Sampling density (survey design, no chemistry)" in report   # the reference rows are in its table


def test_more_folds_rerun_the_folds_not_the_unsupervised_stages(tiny_run):
    work, config, _ = tiny_run
    changed = dict(config, evaluate=dict(config["evaluate"], cv=dict(config["evaluate"]["cv"], max_folds=4)))
    rules = planned_rules(work, write_config(changed, work / "folds.yaml"))
    assert "cv_folds" in rules
    assert not rules & {"prepare", "screen", "interpolate", "stack", "tiles", "reference_maps", "cv_stack",
                        "train_skt", "baseline_pixel"}


def test_window_auto_is_resolved_from_the_sample_spacing(tiny_run, tmp_path):
    """tiles.window and stride 'auto' on a copy of the finished run's stack: the
    tiles stage picks the window from the median sample spacing and records it."""
    import shutil

    from pipeline.window_plan import median_spacing, plan_window

    work, config, _ = tiny_run
    for part in ("prepare", "screening", "rasters", "stack"):
        shutil.copytree(work / "results" / "demo" / part, tmp_path / "results" / "demo" / part)
    auto = dict(config, tiles=dict(config["tiles"], window="auto", stride="auto", test_fraction=0.4),
                train=dict(config["train"], crop="auto"), skt=dict(config["skt"], dilations="auto"))
    snakemake(tmp_path, write_config(auto, tmp_path / "auto.yaml"), "--forcerun", "tiles", "--",
              "results/demo/tiles/tiles.json")
    meta = json.loads((tmp_path / "results" / "demo" / "tiles" / "tiles.json").read_text())
    samples = gpd.read_file(work / "results" / "demo" / "prepare" / "samples.gpkg")
    spacing = median_spacing(samples.get_coordinates().to_numpy())
    cell = abs(meta["grid"]["transform"][0])
    assert meta["median_sample_spacing"] == pytest.approx(spacing)
    assert meta["window"] == plan_window(spacing, cell)["window"] and meta["stride"] == meta["window"] // 4
    log = (tmp_path / "results" / "demo" / "logs" / "tiles.log").read_text()
    assert f"window {meta['window']} cells, stride {meta['stride']}" in log


def test_skt_and_a_cnn_are_refitted_in_every_fold_of_the_cross_validation(tiny_run):
    """deep_fold_map under the workflow: per fold an SKT with its own source network and a CNN, trained on that
    fold's screened elements, mapped on the stack's grid, scored and spread like every other method."""
    from pipeline.baselines.cnn import load_cnn
    from pipeline.skt.files import load_skt, load_source

    work, _, _ = tiny_run
    out = work / "results" / "demo"
    summary = pd.read_csv(out / "tables" / "cv_summary.csv").set_index("method")
    with rasterio.open(out / "cv" / "stack.tif") as stack:
        grid = (stack.transform, stack.crs, stack.shape)
    for method in ("skt", "mobilenet_v2"):
        assert summary.loc[method, "kind"] == "trained" and summary.loc[method, "n_folds"] == 3
        assert 0 <= summary.loc[method, "heldout_auc"] <= 1 and np.isfinite(summary.loc[method, "diff_vs_reference_fair"])
        weights = []
        for fold in range(3):
            selected = pd.read_csv(out / "cv" / f"fold{fold}" / "elements.csv").query("selected")["element"].tolist()
            models = out / "cv" / "models" / method / "seed42" / f"fold{fold}"
            if method == "skt":
                _, info = load_skt(models / "skt.pt")
                _, source_elements, _ = load_source(models / "source.pt")   # the fold's own source network
                assert [e for e in source_elements if e != "valid"] == selected
            else:
                network, info = load_cnn(models / "model.pt")
                weights.append(next(iter(network.state_dict().values())).clone())
            assert [e for e in info["elements"] if e != "valid"] == selected
            with rasterio.open(out / "cv" / "maps" / method / "seed42" / f"fold{fold}.tif") as m:
                assert (m.transform, m.crs, m.shape) == grid
                values = m.read(1, masked=True)
                assert values.count() > 0 and 0 <= values.min() and values.max() <= 1
        if weights:   # three trainings, not one model copied into three folds (folds may differ in elements)
            assert any(w.shape != weights[0].shape or not np.allclose(weights[0].numpy(), w.numpy())
                       for w in weights[1:])
        with rasterio.open(out / "maps" / f"{method}_uncertainty.tif") as src:
            assert src.tags()["n_models"] == "3" and (src.transform, src.crs, src.shape) == grid
