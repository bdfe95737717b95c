import json

import numpy as np
import pytest
import rasterio
from affine import Affine

from pipeline.atomic import write_json
from pipeline.errors import InputError
from pipeline.evaluation.maps import (capture_at_area, evaluate_map, evaluate_map_file, locate_sites,
                                      part_mask, prediction_area, sample_background_cells,
                                      site_vs_background_auc, sites_in_part, success_rate_curve)
from pipeline.grid import GridSpec
from pipeline.rasters import write_geotiff

CELL = 100.0


def _grid(rows, cols):
    return GridSpec("EPSG:32649", Affine(CELL, 0.0, 500000.0, 0.0, -CELL, 2500000.0), cols, rows)


def _centre(grid, rows, cols):
    xs, ys = grid.cell_centres()
    return np.column_stack([xs[np.asarray(cols)], ys[np.asarray(rows)]])


def _distance_map(grid, site_xy):
    xs, ys = grid.cell_centres()
    d = np.full(grid.shape, np.inf)
    for x, y in site_xy:
        d = np.minimum(d, np.hypot(xs[None, :] - x, ys[:, None] - y))
    return d


@pytest.fixture
def scene():
    grid = _grid(100, 120)
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, 100, 40), rng.integers(0, 120, 40)
    return grid, _centre(grid, rows, cols)


def test_perfect_random_and_inverted_maps(scene):
    grid, sites = scene
    perfect = -_distance_map(grid, sites)
    good = success_rate_curve(perfect, grid, sites)
    assert good["auc"] > 0.99
    assert good["n_sites_used"] == 40 and good["n_cells"] == 12000
    random_map = np.random.default_rng(5).random(grid.shape)
    assert success_rate_curve(random_map, grid, sites)["auc"] == pytest.approx(0.5, abs=0.12)
    assert success_rate_curve(-perfect, grid, sites)["auc"] < 0.01
    area, captured = good["area_fraction"], good["captured_fraction"]
    assert area[0] == 0 and area[-1] == pytest.approx(1) and captured[-1] == pytest.approx(1)
    assert np.all(np.diff(area) >= 0) and np.all(np.diff(captured) >= 0)


def test_ties_are_fair(scene):
    grid, sites = scene
    flat = np.ones(grid.shape)
    curve = success_rate_curve(flat, grid, sites)
    assert curve["auc"] == pytest.approx(0.5)
    shares = capture_at_area(flat, grid, sites, (0.05, 0.1, 0.2))
    assert shares == pytest.approx({0.05: 0.05, 0.1: 0.1, 0.2: 0.2})
    pa = prediction_area(flat, grid, sites)
    assert pa["prediction_rate"] == pytest.approx(50.0) and pa["normalized_density"] == pytest.approx(1.0)


def test_long_curves_are_resampled_but_auc_is_exact(scene):
    grid, sites = scene
    prob = np.random.default_rng(2).random(grid.shape)
    full = success_rate_curve(prob, grid, sites, max_points=None)
    short = success_rate_curve(prob, grid, sites, max_points=101)
    assert len(full["area_fraction"]) == 12001 and len(short["area_fraction"]) == 101
    assert short["auc"] == full["auc"]


def test_capture_at_area_constructed_case():
    grid = _grid(10, 10)
    prob = (100.0 - np.arange(100)).reshape(10, 10)  # rank k (0 = best) at flat index k
    ranks = [0, 5, 30, 80]
    sites = _centre(grid, np.array(ranks) // 10, np.array(ranks) % 10)
    shares = capture_at_area(prob, grid, sites, (0.05, 0.10, 0.20, 0.31, 1.0))
    assert shares == pytest.approx({0.05: 0.25, 0.10: 0.5, 0.20: 0.5, 0.31: 0.75, 1.0: 1.0})


def test_sites_outside_grid_or_on_nodata_are_counted_and_left_out():
    grid = _grid(10, 10)
    prob = (100.0 - np.arange(100)).reshape(10, 10)
    prob[9, 9] = np.nan
    sites = np.vstack([_centre(grid, [0, 5], [0, 5]), _centre(grid, [9], [9]), [[0.0, 0.0]]])
    rows, cols, counts = locate_sites(prob, grid, sites)
    assert counts == {"n_sites": 4, "n_sites_outside_grid": 1, "n_sites_on_nodata": 1,
                      "n_sites_outside_area": 0, "n_sites_used": 2}
    assert rows.tolist() == [0, 5] and cols.tolist() == [0, 5]
    area = part_mask(grid, 5)
    *_, counts = locate_sites(prob, grid, sites, area_mask=area)
    assert counts["n_sites_outside_area"] == 1 and counts["n_sites_used"] == 1
    assert success_rate_curve(prob, grid, sites)["n_cells"] == 99


def test_prediction_area_constructed_case():
    grid = _grid(10, 10)
    values = np.arange(100.0)[::-1].reshape(10, 10)  # 99 .. 0; thresholds 0, 1, ..., 99
    site_values = [95, 90, 60, 10]
    flat = [99 - v for v in site_values]
    sites = _centre(grid, np.array(flat) // 10, np.array(flat) % 10)
    pa = prediction_area(values, grid, sites, n_thresholds=100)
    assert pa["thresholds"].tolist() == list(range(100))
    assert pa["pct_area"][0] == 100 and pa["pct_area"][60] == pytest.approx(40)
    assert pa["pct_sites"][60] == 75 and pa["pct_sites"][61] == 50
    # pct_sites + pct_area - 100 falls from 15 at t = 60 to -11 at t = 61: the
    # curves meet inside the cell of value 60, at 11/26 of its step
    w = 11 / 26
    assert pa["threshold"] == 60
    assert pa["prediction_rate"] == pytest.approx(50 + 25 * w)
    assert pa["occupied_area"] == pytest.approx(100 - pa["prediction_rate"])
    assert pa["normalized_density"] == pytest.approx(pa["prediction_rate"] / pa["occupied_area"])
    assert pa["weight"] == pytest.approx(np.log(pa["normalized_density"]))


def test_prediction_area_of_a_perfect_map(scene):
    grid, sites = scene
    perfect = -_distance_map(grid, sites)  # all sites share the top value 0
    pa = prediction_area(perfect, grid, sites)
    top_area = 100 * len({tuple(s) for s in sites.tolist()}) / 12000
    assert pa["occupied_area"] == pytest.approx(100 * top_area / (100 + top_area))
    assert pa["prediction_rate"] > 99 and pa["threshold"] == 0
    assert prediction_area(-perfect, grid, sites)["prediction_rate"] < 1


def test_background_cells_keep_away_from_sites(scene):
    grid, sites = scene
    valid = np.ones(grid.shape, dtype=bool)
    rows, cols = sample_background_cells(valid, grid, sites, 100000, 450.0, 0)
    assert 0 < len(rows) < valid.sum()
    assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)
    assert _distance_map(grid, sites)[rows, cols].min() >= 450.0
    far = (_distance_map(grid, sites) >= 450.0).sum()
    assert len(rows) == far  # all qualifying cells when more are asked for
    few, _ = sample_background_cells(valid, grid, sites, 50, 450.0, 0)
    assert len(few) == 50
    assert np.array_equal(few, sample_background_cells(valid, grid, sites, 50, 450.0, 0)[0])


def test_background_auc_excludes_the_halo_round_sites(scene):
    grid, sites = scene
    halo = (_distance_map(grid, sites) <= 300.0).astype(float)  # sites and their halo score 1
    strict = site_vs_background_auc(halo, grid, sites, 100000, 400.0, 0)
    assert strict["auc"] == pytest.approx(1.0)
    loose = site_vs_background_auc(halo, grid, sites, 100000, 0.0, 0)
    assert loose["auc"] < 0.99  # halo cells counted as background drag the AUC down
    assert loose["n_background"] == 12000


def test_evaluate_map_on_test_part_and_all_sites(scene, tmp_path):
    grid, sites = scene
    prob = np.exp(-_distance_map(grid, sites) / 500.0)
    prob[:5, :5] = np.nan
    split_row = 75
    in_test = sites_in_part(grid, sites, split_row)
    assert in_test.tolist() == (grid.rowcol(sites[:, 0], sites[:, 1])[0] >= split_row).tolist()
    test = evaluate_map(prob, grid, sites, in_test, area_mask=part_mask(grid, split_row), n_background=500)
    everything = evaluate_map(prob, grid, sites, n_background=500)
    assert test["n_sites_selected"] == in_test.sum() and test["n_sites_total"] == 40
    assert test["n_cells"] == 25 * 120 and everything["n_cells"] == 12000 - 25
    for result in (test, everything):
        assert result["success_rate_auc"] > 0.95 and result["site_vs_background_auc"] > 0.95
        assert result["capture_at_5pct_area"] <= result["capture_at_10pct_area"] <= result["capture_at_20pct_area"]
        assert 50 < result["pa_prediction_rate"] < 100
        assert result["background_min_distance"] == 300.0
    # the whole result, curves included, goes to JSON
    write_json(tmp_path / "map.json", test)
    loaded = json.loads((tmp_path / "map.json").read_text())
    curve = test["curves"]["success_rate"]["area_fraction"]
    assert loaded["curves"]["success_rate"]["area_fraction"] == pytest.approx(curve.tolist())


def test_evaluate_map_file_reads_nodata(scene, tmp_path):
    grid, sites = scene
    prob = np.exp(-_distance_map(grid, sites) / 500.0).astype(np.float32)
    r, c = grid.rowcol(sites[0, 0], sites[0, 1])
    prob[r, c] = np.nan
    path = tmp_path / "prob.tif"
    write_geotiff(path, prob, grid, ["probability"])
    with rasterio.open(path) as src:
        assert src.nodata == -9999.0
    result = evaluate_map_file(path, sites, n_background=200)
    assert result["n_sites_on_nodata"] >= 1
    assert result["n_sites_used"] == 40 - result["n_sites_on_nodata"]


def test_bad_shapes_raise_input_error(scene):
    grid, sites = scene
    with pytest.raises(InputError, match="does not match the grid"):
        success_rate_curve(np.zeros((5, 5)), grid, sites)
    with pytest.raises(InputError, match="site mask has 3 entries"):
        evaluate_map(np.zeros(grid.shape), grid, sites, np.ones(3, bool))
    with pytest.raises(InputError, match="NaN"):
        success_rate_curve(np.zeros(grid.shape), grid, np.array([[np.nan, 1.0]]))
