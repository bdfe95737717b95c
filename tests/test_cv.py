"""Spatial cross-validation (pipeline.cv): folds from site clusters, what a fold may
see, held-out-site scores and their intervals, on small synthetic surveys with a
known answer."""

import numpy as np
import pandas as pd
import pytest
from affine import Affine

from pipeline.cv.evaluate import evaluate_method, layout_index, summary_table, window_table
from pipeline.cv.fold_screening import fold_sample_labels, screen_fold
from pipeline.cv.folds import assign_folds, cluster_sites, fold_sites, make_folds, site_status, window_distance
from pipeline.cv.models import fold_tiles, pixel_fold_map, window_fold_map, windows_to_map
from pipeline.cv.references import campaign_probe_map, robust_anomaly_map, sampled_area, sampling_density_map
from pipeline.cv.scores import gad_auc, gad_samples, pa_intersection, site_scores
from pipeline.cv.tables import summary_markdown
from pipeline.cv.yardstick import fixed_references
from pipeline.errors import InputError
from pipeline.grid import GridSpec, near_points_mask
from pipeline.rasters import read_band, write_geotiff
from pipeline.stack import zscore_stack
from pipeline.tiles import TileLayout, write_tiles

CELL = 100.0
SIZE = 120  # cells a side: 12 km
GRID = GridSpec("EPSG:32750", Affine(CELL, 0, 500000.0, 0, -CELL, 7000000.0), SIZE, SIZE)
# six clusters of two sites, 400 m apart within a cluster, kilometres between clusters
CENTRES = [(1.5, 1.5), (1.5, 6.0), (1.5, 10.5), (6.0, 3.5), (10.5, 1.5), (10.5, 9.0)]  # (row km, col km)


def planted_sites():
    xy = []
    for r_km, c_km in CENTRES:
        for dc in (0.0, 0.4):
            xy.append([GRID.transform.c + (c_km + dc) * 1000 + 50, GRID.transform.f - r_km * 1000 - 50])
    return np.array(xy)


def random_sites(seed=3):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(500, SIZE * CELL - 500, size=(6, 2))
    xy = np.concatenate([centres, centres + [400.0, 0.0]])
    return np.column_stack([GRID.transform.c + xy[:, 0], GRID.transform.f - xy[:, 1]])


def fields(seed=0):
    """Au: smooth noise plus a bump on every planted site; Cu: smooth noise only."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    xs, ys = GRID.cell_centres()
    bump = np.zeros(GRID.shape)
    for x, y in planted_sites():
        bump += np.exp(-((xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2) / (2 * 300.0 ** 2))
    noise = [gaussian_filter(rng.normal(size=GRID.shape), 4) for _ in range(2)]
    noise = [n / n.std() for n in noise]
    return {"Au": 10.0 + noise[0] + 4.0 * bump, "Cu": 50.0 + noise[1]}


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    paths = {}
    for name, band in fields().items():
        paths[name] = root / f"{name}.tif"
        write_geotiff(paths[name], band.astype(np.float32), GRID, [name])
    stack = root / "stack.tif"
    zscore_stack([paths["Au"], paths["Cu"]], ["Au", "Cu"], stack)
    return root, paths, stack


def plan_for(site_xy, **kw):
    status = site_status(GRID, site_xy, np.ones(GRID.shape, bool))
    return make_folds(site_xy, [f"s{i}" for i in range(len(site_xy))], status,
                      **{"cluster_distance": 1500.0, "buffer": 1000.0, **kw})


def evaluate(name, kind, maps, plan):
    return evaluate_method(name, kind, maps, plan, np.ones(GRID.shape, bool))


# ------------------------------------------------------------------ folds

def test_single_linkage_chains_sites_and_keeps_far_ones_apart():
    xy = np.array([[0, 0], [4000, 0], [8000, 0], [30000, 0], [0, 30000]], float)
    # 0-1-2 chain at 4 km steps (0 and 2 are 8 km apart) under a 5 km distance
    np.testing.assert_array_equal(cluster_sites(xy, 5000.0), [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(cluster_sites(xy, 3000.0), [0, 1, 2, 3, 4])


def test_clusters_are_dealt_to_folds_by_site_count():
    fold = assign_folds([5, 4, 3, 3, 1], 2, seed=0)
    loads = np.bincount(fold, weights=[5, 4, 3, 3, 1])
    np.testing.assert_array_equal(sorted(loads), [8, 8])
    np.testing.assert_array_equal(assign_folds([2, 1, 1], 5), [0, 1, 2])  # fewer clusters: one each


def test_plan_holds_out_whole_clusters():
    plan = plan_for(planted_sites())
    assert plan["n_clusters"] == 6 and plan["n_folds"] == 6
    for f in plan["folds"]:
        clusters = {plan["sites"][i]["cluster"] for i in f["sites"]}
        assert len(clusters) == 1 and len(f["sites"]) == 2
    grouped = plan_for(planted_sites(), max_folds=4)
    assert grouped["n_folds"] == 4 and sorted(f["n_scored"] for f in grouped["folds"]) == [2, 2, 4, 4]


def test_one_cluster_is_a_clear_error_naming_the_setting():
    xy = planted_sites()[:2]
    with pytest.raises(InputError, match="evaluate.cv.cluster_distance"):
        plan_for(xy)
    with pytest.raises(InputError, match="evaluate.cv.folds = 9"):
        plan_for(planted_sites(), folds=9)


def test_sites_off_the_map_are_counted_apart_and_listed():
    xy = np.vstack([planted_sites(), [[GRID.transform.c - 50000, GRID.transform.f]]])
    area = np.ones(GRID.shape, bool)
    area[:, :5] = False  # the first column band has no samples near
    xy = np.vstack([xy, [[GRID.transform.c + 150, GRID.transform.f - 6000]]])
    status = site_status(GRID, xy, area)
    assert list(status[-2:]) == ["outside_grid", "outside_area"]
    plan = make_folds(xy, [f"s{i}" for i in range(len(xy))], status, cluster_distance=1500.0, buffer=1000.0)
    assert plan["n_outside_grid"] == 1 and plan["n_outside_area"] == 1 and plan["n_scored"] == 12
    with pytest.raises(InputError, match="none of the 2 sites lies on a cell with map values"):
        make_folds(xy[-2:], ["a", "b"], status[-2:], cluster_distance=1500.0)


def test_site_in_its_own_folds_buffer_is_never_a_training_positive(survey):
    root, _, stack = survey
    plan = plan_for(planted_sites())
    tiles = root / "tiles"
    tiles.mkdir(exist_ok=True)
    write_tiles(stack, planted_sites(), TileLayout(20, 10, GRID.height), tiles, min_valid_fraction=0.5)
    for f in range(plan["n_folds"]):
        view, grid = fold_tiles(tiles, ["Au", "Cu"], plan, f, plan["buffer"])
        held_xy, _ = fold_sites(plan, f)
        train = view.index[view.index["split"] == "train"]
        d = window_distance(grid, train["row"], train["col"], 20, held_xy)
        assert (d > plan["buffer"]).all()
        test = view.index[view.index["split"] == "test"]
        assert (window_distance(grid, test["row"], test["col"], 20, held_xy) == 0).any()
        # the pixel models' training area leaves the buffer out too
        rows, cols = grid.rowcol(held_xy[:, 0], held_xy[:, 1])
        assert near_points_mask(grid, held_xy, plan["buffer"])[rows, cols].all()


def test_core_labels_in_a_fold_need_a_training_site_in_the_window_centre(survey):
    root, _, stack = survey
    plan = plan_for(planted_sites())
    tiles = root / "tiles_core"
    tiles.mkdir(exist_ok=True)
    write_tiles(stack, planted_sites(), TileLayout(20, 10, GRID.height, core=10), tiles, min_valid_fraction=0.5)
    view, grid = fold_tiles(tiles, ["Au", "Cu"], plan, 0, plan["buffer"])
    _, train_xy = fold_sites(plan, 0)
    train = view.index[view.index["split"] == "train"]
    in_core = window_distance(grid, train["row"] + 5, train["col"] + 5, 10, train_xy) <= 0
    in_window = window_distance(grid, train["row"], train["col"], 20, train_xy) <= 0
    assert (train["label"].to_numpy() == in_core.astype(int)).all()
    assert (in_window & ~in_core).any()        # windows with a site off-centre are not positives


def test_window_fold_map_paints_scores_on_the_predict_core(survey, tmp_path):
    # windows of 20 at stride 10: whole windows make the map constant on blocks aligned with multiples of
    # 10; painted on half the window (predict.core 0.5) it is constant on the cores, offset by 5
    root, _, stack = survey
    plan = plan_for(planted_sites())
    tiles = root / "tiles_paint"
    tiles.mkdir(exist_ok=True)
    write_tiles(stack, planted_sites(), TileLayout(20, 10, GRID.height), tiles, min_valid_fraction=0.5)
    maps = {}
    for core in (None, 0.5):
        out = tmp_path / f"core_{core}.tif"
        window_fold_map("random_forest", tiles, ["Au", "Cu"], plan, 0, out, buffer=plan["buffer"], core=core)
        maps[core] = read_band(out)[0]
    core_block = maps[0.5][25:35, 25:35]
    assert np.ptp(core_block) == 0 and np.ptp(maps[None][20:30, 20:30]) == 0
    assert np.ptp(maps[None][25:35, 25:35]) > 0          # it straddles four whole-window blocks


def test_fold_without_training_windows_names_the_buffer(survey):
    root, _, stack = survey
    plan = plan_for(planted_sites(), buffer=20000.0)
    with pytest.raises(InputError, match="evaluate.cv.buffer"):
        fold_tiles(root / "tiles", ["Au"], plan, 0, plan["buffer"])


def test_fold_screening_never_sees_held_out_sites():
    rng = np.random.default_rng(1)
    xy = rng.uniform([GRID.transform.c, GRID.transform.f - 12000], [GRID.transform.c + 12000, GRID.transform.f],
                     size=(1500, 2))
    sites = planted_sites()
    plan = plan_for(sites)
    held_xy, _ = fold_sites(plan, 0)
    near_held = np.min(np.hypot(*(xy[:, None, :] - held_xy[None]).transpose(2, 0, 1)), axis=1) < 600
    # X is raised only around fold 0's held-out sites; Y is noise
    samples = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "X": rng.lognormal(0, 0.3, len(xy)) + 5.0 * near_held,
                            "Y": rng.lognormal(0, 0.3, len(xy))})
    labels, keep = fold_sample_labels(xy, plan, 0, 600.0, plan["buffer"])
    assert not keep[near_held].any() and labels[keep].sum() > 0
    table = screen_fold(samples, ["X", "Y"], plan, 0, label_radius=600.0, buffer=plan["buffer"], method="rank",
                        min_selected=1)
    assert table.set_index("element").loc["X", "n_with_mines"] == labels[keep].sum()
    assert abs(table.set_index("element").loc["X", "rank_auc"] - 0.5) < 0.15
    assert int(table["n_left_out"].iloc[0]) == int((~keep).sum())


# ------------------------------------------------------------------ scores

def test_site_scores_rank_against_the_area_with_ties_half():
    prob = np.array([[1.0, 2.0], [3.0, 3.0]])
    area = np.ones((2, 2), bool)
    score, from_top = site_scores(prob, area, [1, 0], [0, 0])
    # value 3: two cells below, two tied (itself and its twin) -> (2 + 1) / 4; value 1: none below, itself tied
    np.testing.assert_allclose(score, [0.75, 0.125])
    np.testing.assert_allclose(from_top, [0.25, 0.875])
    # a cell the map leaves empty ranks lowest
    prob[0, 1] = np.nan
    np.testing.assert_allclose(site_scores(prob, area, [0], [1])[0], [0.125])


def test_pa_intersection():
    assert pa_intersection([0.01, 0.02]) == pytest.approx(0.98)     # both sites in the top 2 %
    assert pa_intersection([0.99]) == pytest.approx(0.01)
    assert pa_intersection(np.linspace(0, 1, 1001)) == pytest.approx(0.5, abs=0.002)


def test_planted_anomaly_is_found_by_its_element_and_the_pixel_forest(survey, tmp_path):
    _, paths, stack = survey
    plan = plan_for(planted_sites())
    same = {0: {f: paths["Au"] for f in range(plan["n_folds"])}}
    au = evaluate("idw_Au", "reference", same, plan)
    cu = evaluate("idw_Cu", "reference", {0: {f: paths["Cu"] for f in range(plan["n_folds"])}}, plan)
    maps = {}
    for f in range(plan["n_folds"]):
        maps[f] = tmp_path / f"rf{f}.tif"
        pixel_fold_map("random_forest", stack, ["Au", "Cu"], plan, f, maps[f], label_distance=300.0,
                       buffer=plan["buffer"], seed=0)
    rf = evaluate("random_forest_pixel", "trained", {42: maps}, plan)
    # the declared commodity is the wrong element here (Cu): the nested choice, made on training sites, finds Au
    commodity = dict(cu, method="reference_commodity")
    records, choices = fixed_references([au, cu, commodity, rf], plan)
    assert [c["chosen"] for c in choices] == ["idw_Au"] * plan["n_folds"]
    table = summary_table(records, plan, n_boot=500, density="none").set_index("method")
    for name in ("idw_Au", "random_forest_pixel"):
        assert table.loc[name, "heldout_auc"] > 0.9 and table.loc[name, "ci_low"] > 0.5
    assert table.loc["idw_Au", "top10"] == 1.0
    assert table.loc["idw_Cu", "ci_low"] < 0.5 < table.loc["idw_Cu", "ci_high"] or \
        table.loc["idw_Cu", "heldout_auc"] < 0.7
    assert table.loc["random_forest_pixel", "oracle_reference_is"] == "idw_Au"
    assert table.loc["random_forest_pixel", "reference_fair_is"] == "reference_nested"
    assert table.loc["reference_nested", "tuning"] == "nested" and table.loc["oracle_reference", "tuning"] == "oracle"
    assert table.loc["random_forest_pixel", "tuning"] == "fixed"
    # against the wrong commodity the forest wins; against the fair reference (Au itself) it does not
    assert table.loc["random_forest_pixel", "beats_reference_commodity"]
    assert not table.loc["random_forest_pixel", "beats_reference_fair"]
    assert "beats_oracle_reference" not in table.columns


def test_random_sites_interval_covers_chance(survey):
    _, paths, _ = survey
    plan = plan_for(random_sites())
    au = evaluate("idw_Au", "reference", {0: {f: paths["Au"] for f in range(plan["n_folds"])}}, plan)
    row = summary_table([au], plan, n_boot=1000, density="none").iloc[0]
    assert row["ci_low"] < 0.5 < row["ci_high"]


def test_inverted_map_scores_below_chance(survey, tmp_path):
    _, paths, _ = survey
    plan = plan_for(planted_sites())
    inverted = tmp_path / "minus_au.tif"
    write_geotiff(inverted, -fields()["Au"].astype(np.float32), GRID, ["-Au"])
    rec = evaluate("minus_au", "reference", {0: {f: inverted for f in range(plan["n_folds"])}}, plan)
    assert summary_table([rec], plan, n_boot=200, density="none").iloc[0]["ci_high"] < 0.2


def test_window_metrics_use_each_folds_test_windows(survey):
    _, paths, _ = survey
    plan = plan_for(planted_sites())
    area = np.ones(GRID.shape, bool)
    index = layout_index(GRID, area, 20, 10, 0.5)
    rec = evaluate_method("idw_Au", "reference", {0: {f: paths["Au"] for f in range(plan["n_folds"])}}, plan, area,
                          window_index=index, window=20, buffer=plan["buffer"])
    table = window_table([rec])
    pooled = table[table["fold"] == "pooled"].iloc[0]
    assert pooled["n_pos"] >= plan["n_folds"] and pooled["roc_auc"] > 0.8
    assert np.isnan(pooled["accuracy"])  # a raw map has no probability threshold


def test_markdown_states_the_protocol_and_lists_unscored_sites(survey):
    _, paths, _ = survey
    xy = np.vstack([planted_sites(), [[GRID.transform.c - 50000, GRID.transform.f]]])
    status = site_status(GRID, xy, np.ones(GRID.shape, bool))
    names = [f"s{i}" for i in range(len(xy) - 1)] + ["Far Away"]
    plan = make_folds(xy, names, status, cluster_distance=1500.0, buffer=1000.0)
    au = evaluate("idw_Au", "reference", {0: {f: paths["Au"] for f in range(plan["n_folds"])}}, plan)
    table = summary_table([au], plan, n_boot=200, density="none")
    assert table.iloc[0]["n_sites"] == 12 and table.iloc[0]["n_sites_outside_grid"] == 1
    text = summary_markdown(table, plan, 200)
    assert "bootstrap draws of site clusters" in text and "Far Away (outside grid)" in text


# ------------------------------------------------------------------ reference maps and probes

def test_sampling_density_ranks_dense_ground_higher():
    xs, ys = GRID.cell_centres()
    dense = np.array([[x, ys[10]] for x in xs[::3]])            # a line of close samples along row 10
    sparse = np.array([[xs[i], ys[100]] for i in range(0, SIZE, 30)])
    density = sampling_density_map(GRID, np.vstack([dense, sparse]), k=4)
    assert density[10, 60] > density[100, 60]
    area = sampled_area(GRID, np.vstack([dense, sparse]), max_distance=500.0)
    assert area[10, 60] and not area[55, 60]


def test_robust_anomaly_flags_the_multivariate_outlier():
    rng = np.random.default_rng(0)
    bands = rng.lognormal(0, 0.2, size=(3, 40, 40))
    bands[:, 20, 20] *= 20.0
    bands[2] = 1.0  # no spread: left out
    out, used, dropped = robust_anomaly_map(bands, ["Au", "Cu", "Zr"], np.ones((40, 40), bool))
    assert used == ["Au", "Cu"] and dropped == ["Zr"]
    assert np.nanargmax(out) == 20 * 40 + 20


def test_campaign_probe_learns_the_share_of_sites_per_campaign():
    codes = np.array([[0, 0, 1, 1]])
    positive = np.array([[True, False, False, False]])
    out = campaign_probe_map(codes, positive, np.ones((1, 4), bool), np.ones((1, 4), bool))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.25, 0.25]])  # (1 + 1) / (2 + 2), (0 + 1) / (2 + 2)


def test_windows_to_map_averages_covering_windows():
    grid = GridSpec("EPSG:32750", Affine(1, 0, 0, 0, -1, 4), 4, 4)
    out = windows_to_map([1.0, 3.0], [0, 0], [0, 2], 2, grid)
    assert out[0, 0] == 1.0 and out[1, 3] == 3.0 and np.isnan(out[3, 3])
    out = windows_to_map([1.0, 3.0], [0, 0], [0, 1], 2, grid)
    assert out[0, 1] == 2.0


def test_gad_protocol_reference_values():
    xy = np.array([[0, 0], [100, 0], [10000, 0], [20000, 0], [30000, 0]], float)
    nearest, pool = gad_samples(xy, np.array([[10, 0]]))
    assert nearest.tolist() == [0] and pool.tolist() == [2, 3, 4]
    assert gad_auc([5.0], [1.0, 2.0, 3.0]) == (1.0, 0.0)
    assert gad_auc([2.0], [2.0, 2.0])[0] == 0.5


def test_a_site_on_a_cell_the_map_leaves_empty_ranks_lowest_and_is_counted(survey, tmp_path):
    _, paths, _ = survey
    plan = plan_for(planted_sites())
    holed = fields()["Au"].astype(np.float32)
    x, y = planted_sites()[0]
    r, c = GRID.rowcol(np.array([x]), np.array([y]))
    holed[r[0], c[0]] = np.nan
    path = tmp_path / "holed.tif"
    write_geotiff(path, holed, GRID, ["Au"])
    rec = evaluate("idw_Au", "reference", {0: {f: path for f in range(plan["n_folds"])}}, plan)
    site = next(s for s in rec["sites"] if s["id"] == 0)
    assert site["no_value"] == 1 and site["score"][0] < 1e-3
    assert summary_table([rec], plan, n_boot=100, density="none").iloc[0]["n_sites_no_value"] == 1


def test_fold_with_too_few_labelled_samples_keeps_every_element_without_screening():
    rng = np.random.default_rng(2)
    xy = rng.uniform([GRID.transform.c, GRID.transform.f - 12000], [GRID.transform.c + 12000, GRID.transform.f],
                     size=(400, 2))
    samples = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "X": rng.lognormal(size=400),
                            "Y": rng.lognormal(size=400), "Z": rng.lognormal(size=400)})
    plan = plan_for(planted_sites())
    table = screen_fold(samples, ["X", "Y", "Z"], plan, 0, label_radius=50.0, buffer=plan["buffer"],
                        available=["X", "Z"], method="rank", min_class_size=10)
    assert table["selected"].tolist() == [True, False, True]
    assert table["auc"].isna().all() and table["screening"].iloc[0].startswith("skipped")
    explicit = screen_fold(samples, ["X", "Y", "Z"], plan, 0, label_radius=50.0, buffer=plan["buffer"],
                           available=["X", "Z"], method="rank", min_class_size=10, explicit=["Z"])
    assert explicit["selected"].tolist() == [False, False, True]
    screened = screen_fold(samples, ["X", "Y", "Z"], plan, 0, label_radius=1500.0, buffer=plan["buffer"],
                           available=["X", "Z"], method="rank", min_class_size=10)
    assert (screened["screening"] == "screened").all() and screened["auc"].notna().all()
