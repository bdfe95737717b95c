"""The cell learners run by Snakemake in the cross-validation of the tiny demo."""

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from pipeline.cv.cell_models import varying_window_share
from workflow_helpers import planned_rules, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow
METHODS = ["wofe", "anchored_logistic", "context_forest"]
TARGET = "results/demo/tables/cv_summary.csv"


@pytest.fixture(scope="module")
def cell_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("cells")
    config = tiny_config()
    config["evaluate"]["cv"]["methods"] = METHODS
    config["evaluate"]["cv"]["ensemble"] = "all"
    configfile = write_config(config, work / "config.yaml")
    snakemake(work, configfile, "--", TARGET)
    return work, config


def test_fold_maps_are_probabilities_on_the_stack_grid(cell_run):
    work, _ = cell_run
    out = work / "results" / "demo" / "cv"
    plan = json.loads((out / "folds.json").read_text())
    with rasterio.open(out / "stack.tif") as stack:
        transform, shape = stack.transform, (stack.height, stack.width)
    for method in METHODS:
        for f in range(plan["n_folds"]):
            with rasterio.open(out / "maps" / method / "seed42" / f"fold{f}.tif") as src:
                assert src.crs.to_epsg() == 32649 and src.transform == transform and src.shape == shape
                prob = src.read(1, masked=True)
                assert prob.count() > 1000 and 0 <= prob.min() and prob.max() <= 1
                if method == "wofe":
                    assert src.descriptions == ("wofe posterior probability", "wofe posterior variance")
                    assert src.read(2, masked=True).min() > 0


def test_logit_shares_add_up_to_the_map(cell_run):
    work, _ = cell_run
    models = work / "results" / "demo" / "cv" / "models"
    maps = work / "results" / "demo" / "cv" / "maps"
    for method in ("wofe", "anchored_logistic"):
        record = json.loads((models / method / "seed42" / "fold0" / "model.json").read_text())
        with rasterio.open(models / method / "seed42" / "fold0" / "logit_shares.tif") as src:
            shares = src.read(masked=True).astype(np.float64)
            names = [d.split(": ", 1)[1] for d in src.descriptions]
        with rasterio.open(maps / method / "seed42" / "fold0.tif") as src:
            prob = src.read(1, masked=True).astype(np.float64).filled(np.nan)
        # float32 probabilities keep the logit only away from 0 and 1
        prob = np.where((prob > 1e-5) & (prob < 1 - 1e-5), prob, np.nan)
        logit = np.ma.masked_invalid(np.log(prob / (1 - prob)))
        total = shares.sum(axis=0)
        if method == "wofe":
            prior = record["model"]["prior"]
            total = total + np.log(prior / (1 - prior))
            assert names == list(record["model"]["layers"])
        else:
            assert names[0].startswith("reference") and names[1:] == record["elements"]
        ok = ~(np.ma.getmaskarray(logit) | np.ma.getmaskarray(total))
        assert ok.sum() > 1000
        # float32 files: equal to single precision
        assert np.allclose(np.asarray(logit)[ok], np.asarray(total)[ok], atol=1e-3, rtol=1e-4)


def test_context_forest_maps_at_cell_resolution(cell_run):
    work, config = cell_run
    window = config["tiles"]["window"]
    with rasterio.open(work / "results" / "demo" / "cv" / "maps" / "context_forest" / "seed42" / "fold0.tif") as src:
        prob = src.read(1, masked=True).filled(np.nan)
    assert varying_window_share(prob, window) > 0.9
    # a map painted one value per window fails the same check
    painted = np.repeat(np.repeat(prob[::window, ::window], window, axis=0), window, axis=1)[:prob.shape[0], :prob.shape[1]]
    assert varying_window_share(painted, window) == 0


def test_summary_rows_and_the_anchored_models_inner_choice(cell_run):
    work, _ = cell_run
    summary = pd.read_csv(work / "results" / "demo" / "tables" / "cv_summary.csv").set_index("method")
    for method in METHODS:
        assert method in summary.index and summary.loc[method, "kind"] == "trained"
        assert summary.loc[method, "tuning"] == "fixed"
        assert np.isfinite(summary.loc[method, "diff_vs_reference_fair"])
    record = json.loads((work / "results" / "demo" / "cv" / "models" / "anchored_logistic" / "seed42" / "fold0"
                         / "model.json").read_text())["model"]
    assert record["anchor"] == "reference_commodity"
    assert "inf" in record["inner_scores"] and record["n_inner_folds"] >= 2
    chosen = "inf" if record["penalty"] is None else f"{record['penalty']:g}"
    assert record["inner_scores"][chosen] == max(record["inner_scores"].values())


def test_the_ensemble_is_the_mean_rank_of_its_members(cell_run):
    work, _ = cell_run
    from pipeline.cv.commodity import rank_map

    maps = work / "results" / "demo" / "cv" / "maps"
    with rasterio.open(work / "results" / "demo" / "maps" / "reference" / "sampling_density.tif") as src:
        area = ~src.read(1, masked=True).mask
    members = []
    for method in METHODS:
        with rasterio.open(maps / method / "seed42" / "fold1.tif") as src:
            members.append(rank_map(src.read(1, masked=True).filled(np.nan), area))
    with rasterio.open(maps / "ensemble" / "seed42" / "fold1.tif") as src:
        ensemble = src.read(1, masked=True).filled(np.nan)
        assert src.tags()["members"] == ",".join(METHODS)
    stacked = np.stack(members)
    held = np.isfinite(stacked).any(axis=0)
    expected = np.where(held, np.nansum(stacked, axis=0) / np.maximum(np.isfinite(stacked).sum(axis=0), 1), np.nan)
    ok = area & held
    assert np.allclose(ensemble[ok], expected[ok], atol=1e-6)
    summary = pd.read_csv(work / "results" / "demo" / "tables" / "cv_summary.csv").set_index("method")
    assert "ensemble" in summary.index


def test_changing_a_learner_setting_reruns_only_the_cell_learners(cell_run, tmp_path):
    work, config = cell_run
    changed = dict(config, learners={"context_radii": [1, 3]})
    rules = planned_rules(work, write_config(changed, tmp_path / "radii.yaml"), TARGET)
    assert "cv_fit_cell" in rules
    assert not rules & {"cv_fit", "cv_screen", "cv_folds", "cv_stack", "cv_tiles", "interpolate", "prepare"}


def test_adding_a_method_runs_only_its_folds(cell_run, tmp_path):
    work, config = cell_run
    changed = dict(config, evaluate=dict(config["evaluate"], cv=dict(config["evaluate"]["cv"],
                                                                     methods=METHODS + ["decision_tree_pixel"])))
    rules = planned_rules(work, write_config(changed, tmp_path / "more.yaml"), TARGET)
    assert "cv_fit" in rules and "cv_ensemble" in rules
    assert not rules & {"cv_fit_cell", "cv_screen", "cv_folds", "cv_stack", "interpolate", "prepare"}


def test_attribution_map_is_the_mean_of_the_fold_shares_and_the_sites_read_their_own_fold(cell_run):
    from pipeline.cv.attribution import read_shares

    work, _ = cell_run
    snakemake(work, work / "config.yaml", "--", *[f"results/demo/tables/{m}_attribution_sites.csv"
                                                   for m in ("wofe", "anchored_logistic")])
    out = work / "results" / "demo"
    plan = json.loads((out / "cv" / "folds.json").read_text())
    for method in ("wofe", "anchored_logistic"):
        folds = [read_shares(out / "cv" / "models" / method / "seed42" / f"fold{f}" / "logit_shares.tif")
                 for f in range(plan["n_folds"])]
        with rasterio.open(out / "maps" / f"{method}_attribution.tif") as src:
            names = [d.removeprefix("logit share: ") for d in src.descriptions]
            mean = src.read(masked=True).astype(np.float64)
        assert set(names) == {n for f in folds for n in f}
        # one cell inside every fold's map: the band is the plain mean (0 where a fold did not use the input)
        valid = np.all([np.isfinite(next(iter(f.values()))) for f in folds], axis=0)
        r, c = np.argwhere(valid)[len(np.argwhere(valid)) // 2]
        for k, name in enumerate(names):
            expected = np.mean([f.get(name, np.zeros(valid.shape))[r, c] for f in folds])
            assert mean[k, r, c] == pytest.approx(expected, abs=1e-5)
        style = (out / "maps" / f"{method}_attribution.qml").read_text()
        assert 'type="singlebandpseudocolor"' in style and 'classificationMin="-' in style
        sites = pd.read_csv(out / "tables" / f"{method}_attribution_sites.csv")
        assert len(sites) == sum(s["status"] == "scored" for s in plan["sites"])
        for _, row in sites.iterrows():
            shares = folds[int(row["fold"])]
            site = next(s for s in plan["sites"] if s["name"] == row["site"] and s["fold"] == row["fold"])
            from pipeline.rasters import grid_of

            rr, cc = grid_of(out / "maps" / f"{method}_attribution.tif").rowcol(site["x"], site["y"])
            elements = {n: v[int(rr), int(cc)] for n, v in shares.items()
                        if n not in ("prior", "reference (offset + intercept)")}
            # WofE's binary layers tie often: the top element is one holding the largest share
            assert row["share1"] == pytest.approx(max(elements.values()), abs=1e-4)
            assert elements[row["top1"]] == pytest.approx(row["share1"], abs=1e-4)
            assert row["logit"] == pytest.approx(sum(v[int(rr), int(cc)] for v in shares.values()), abs=1e-3)
            # the shares sum to the held-out site's logit in its fold's map
            with rasterio.open(out / "cv" / "maps" / method / "seed42" / f"fold{int(row['fold'])}.tif") as src:
                p = float(src.read(1)[int(rr), int(cc)])
            if 1e-5 < p < 1 - 1e-5:
                assert row["logit"] == pytest.approx(np.log(p / (1 - p)), abs=1e-2)
        assert (out / "tables" / f"{method}_attribution_sites.png").stat().st_size > 1000


def test_the_report_shows_the_attribution_at_the_held_out_sites(cell_run):
    work, _ = cell_run
    snakemake(work, work / "config.yaml", "--", "results/demo/report/report.html")
    html = (work / "results" / "demo" / "report" / "report.html").read_text()
    assert "What made the held-out sites stand out (attribution)" in html
    assert html.count('data-file="wofe_attribution_sites.png"') == 1
    assert 'data-file="anchored_logistic_attribution_sites.png"' in html
