"""Several regions in one run: each dataset gets its own results and the
cross-region table lines their methods up."""

import numpy as np
import pandas as pd
import pytest

from pipeline.cv.pooled import pooled_markdown, read_pooled_tables
from workflow_helpers import planned_rules, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow


def test_two_regions_run_side_by_side_and_are_compared(tmp_path):
    config = tiny_config()
    config["baselines"].update(classical=["decision_tree"], pixel=["decision_tree"], cnn=[])
    config["evaluate"].update(ablations=[])
    demo = config["datasets"]["demo"]
    # a second "region": the same survey on a finer grid with its own settings
    config["datasets"]["fine"] = dict(demo, settings={"interpolate": {"width": 160, "height": 160}})
    config["pooled"] = {"surveys": ["demo", "fine"], "n_boot": 200}
    configfile = write_config(config, tmp_path / "config.yaml")

    planned = planned_rules(tmp_path, configfile)
    assert "regions_table" in planned                       # part of `all` when there are several datasets

    snakemake(tmp_path, configfile, "results/regions/comparison.csv")
    table = pd.read_csv(tmp_path / "results" / "regions" / "comparison.csv")
    assert list(dict.fromkeys(table["region"])) == ["demo", "fine"]
    for region in ("demo", "fine"):
        own = pd.read_csv(tmp_path / "results" / region / "tables" / "comparison.csv").set_index("method")
        part = table[table["region"] == region].set_index("method")
        assert list(part.index) == list(own.index) == ["decision_tree", "decision_tree_pixel", "skt"]
        assert part["roc_auc_mean"].to_numpy() == pytest.approx(own["roc_auc_mean"].to_numpy(), nan_ok=True)
        maps = pd.read_csv(tmp_path / "results" / region / "tables" / "map_evaluation.csv")
        skt = maps[(maps["map"] == "skt") & (maps["scope"] == "test_sites")]["success_rate_auc"].iloc[0]
        assert part.loc["skt", "success_rate_auc"] == pytest.approx(skt)
    # the two regions really differ: their grids do
    import rasterio
    with rasterio.open(tmp_path / "results" / "demo" / "stack" / "zscore.tif") as a, \
            rasterio.open(tmp_path / "results" / "fine" / "stack" / "zscore.tif") as b:
        assert (a.width, b.width) == (128, 160)
    text = (tmp_path / "results" / "regions" / "comparison.md").read_text()
    assert "| Method | demo | fine | Mean rank |" in text

    # the cross-validated scores of both regions, side by side
    assert "regions_cv_table" in planned
    snakemake(tmp_path, configfile, "results/regions/cv_summary.csv")
    cv = pd.read_csv(tmp_path / "results" / "regions" / "cv_summary.csv").set_index("method")
    for region in ("demo", "fine"):
        own = pd.read_csv(tmp_path / "results" / region / "tables" / "cv_summary.csv").set_index("method")
        assert cv.loc["decision_tree_pixel", f"{region}_auc"] == pytest.approx(
            own.loc["decision_tree_pixel", "heldout_auc"])
    assert "oracle_element" in cv.index and "reference_fair" in cv.index and cv["mean_rank"].is_monotonic_increasing

    # one pooled test over both: every survey weighs the same, clusters resampled within each
    snakemake(tmp_path, configfile, "pooled")
    pooled = pd.read_csv(tmp_path / "results" / "pooled" / "tables" / "pooled_summary.csv").set_index("method")
    own = {r: pd.read_csv(tmp_path / "results" / r / "tables" / "cv_summary.csv").set_index("method")
           for r in ("demo", "fine")}
    row = pooled.loc["decision_tree_pixel"]
    assert row["n_surveys"] == 2 and row["n_clusters"] == sum(o.loc["decision_tree_pixel", "n_clusters"]
                                                             for o in own.values())
    assert row["heldout_auc"] == pytest.approx(np.mean([o.loc["decision_tree_pixel", "heldout_auc"]
                                                         for o in own.values()]), abs=2e-4)
    assert row["ci_low"] <= row["heldout_auc"] <= row["ci_high"]
    assert {"diff_vs_reference_fair", "diff_reference_fair_ci_low", "beats_reference_fair",
            "diff_vs_reference_nested", "diff_vs_reference_commodity"} <= set(pooled.columns)
    signs = pd.read_csv(tmp_path / "results" / "pooled" / "tables" / "pooled_signs.csv")
    assert set(signs[signs["method"] == "decision_tree_pixel"]["survey"]) == {"demo", "fine"}
    tables = tmp_path / "results" / "pooled" / "tables"
    markdown = (tables / "pooled_summary.md").read_text()
    assert "Survey by survey" in markdown
    # the Markdown is a function of the CSVs as written: a results page citing them can be rendered again
    summary, signs = read_pooled_tables(tables / "pooled_summary.csv", tables / "pooled_signs.csv")
    assert pooled_markdown(summary, signs, n_boot=200, weight="survey") == markdown
    assert "| nan" not in markdown and "(nan)" not in markdown
