import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

from pipeline.baselines.classical import (NAMES, auto_pool, canonical_name, fit_pixel_baseline,
                                          fit_window_baseline, pool_windows, predict_stack, predict_windows,
                                          read_index, select_windows, window_probabilities)
from pipeline.errors import InputError
from pipeline.evaluation.maps import evaluate_map_file, sites_in_part
from pipeline.evaluation.metrics import classification_metrics
from pipeline.grid import GridSpec
from pipeline.rasters import write_geotiff
from pipeline.tiles import TileLayout, write_tiles

BANDS = ["Au", "Cu", "Pb"]


def _windows(n, seed, size=16):
    """Noise windows; those with mines carry a blob in bands 0 and 1 somewhere."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(BANDS), size, size)).astype(np.float32)
    y = np.r_[np.ones(n // 3, int), np.zeros(n - n // 3, int)]
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, size - 8, 2)
        x[i, :2, r:r + 8, c:c + 8] += 1.5
    return x, y


def test_pool_factor_and_pooling():
    assert auto_pool((8, 256, 256)) == 16 and auto_pool((8, 64, 64)) == 4
    assert auto_pool((3, 16, 16), max_features=10 ** 6) == 1
    x = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    pooled = pool_windows(x, 2)
    assert pooled.shape == (2, 4)
    assert pooled[0].tolist() == [2.5, 4.5, 10.5, 12.5]
    with pytest.raises(InputError, match="must divide"):
        pool_windows(x, 3)


def test_names():
    assert canonical_name("RandomForest") == "random_forest"
    assert canonical_name("Decision tree") == "decision_tree"
    with pytest.raises(InputError, match="unknown classical baseline"):
        canonical_name("xgboost")


@pytest.mark.parametrize("name", NAMES)
def test_window_baselines_learn_a_separable_signal(name):
    x_train, y_train = _windows(150, 0)
    x_test, y_test = _windows(60, 1)
    model = fit_window_baseline(name, x_train, y_train, pool=4, seed=3)
    assert model.counts["features"] == 3 * 4 * 4
    assert model.counts["augmented_with_mines"] == 100  # 50 with mines, copied to balance 100 without
    prob = predict_windows(model, x_test)
    assert prob.shape == (60,) and np.all((prob >= 0) & (prob <= 1))
    assert classification_metrics(y_test, prob)["roc_auc"] > 0.75
    again = predict_windows(fit_window_baseline(name, x_train, y_train, pool=4, seed=3), x_test)
    assert np.array_equal(prob, again)


def test_window_baseline_options_and_errors():
    x, y = _windows(60, 2)
    model = fit_window_baseline("knn", x, y, seed=0, balance="weights")
    assert model.pool == 1 and model.notes  # 3 x 16 x 16 = 768 features fit unpooled
    assert "augmented" not in model.counts
    with pytest.raises(InputError, match="differs from the training pool"):
        predict_windows(model, x, pool=2)
    with pytest.raises(InputError, match="windows of shape"):
        predict_windows(model, x[:, :2])
    with pytest.raises(InputError, match="at least 2 distinct training samples of each class"):
        fit_window_baseline("svm", x[:21], np.r_[np.ones(1, int), np.zeros(20, int)])  # before noise copies


def _scene(tmp_path):
    """A 3-band z-score stack with haloes round sites, a nodata corner and tiles."""
    grid = GridSpec("EPSG:32649", Affine(100.0, 0, 400000.0, 0, -100.0, 2450000.0), 96, 96)
    rng = np.random.default_rng(4)
    site_rc = np.column_stack([rng.integers(4, 92, 14), rng.integers(4, 92, 14)])
    site_rc[:4, 0] = rng.integers(70, 92, 4)  # some sites in the test part
    xs, ys = grid.cell_centres()
    site_xy = np.column_stack([xs[site_rc[:, 1]], ys[site_rc[:, 0]]])
    dist = np.min(np.hypot(xs[None, :, None] - site_xy[:, 0], ys[:, None, None] - site_xy[:, 1]), axis=2)
    halo = np.exp(-dist / 300.0)
    stack = rng.normal(0, 0.5, size=(3, 96, 96))
    stack[0] += 2.5 * halo
    stack[2] -= 2.0 * halo
    stack[:, :20, :12] = np.nan
    path = tmp_path / "zscore.tif"
    write_geotiff(path, stack.astype(np.float32), grid, BANDS)
    write_tiles(path, site_xy, TileLayout(window=32, stride=16, split_row=64), tmp_path / "tiles")
    return path, site_xy, grid


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return _scene(tmp_path_factory.mktemp("scene"))


@pytest.mark.parametrize("name", NAMES)
def test_pixel_baselines_write_an_aligned_map(name, scene, tmp_path):
    stack_path, site_xy, grid = scene
    index = stack_path.parent / "tiles" / "index.csv"
    model = fit_pixel_baseline(name, stack_path, index, site_xy, window=32, label_distance=250.0, seed=1)
    assert model.bands == tuple(BANDS)
    assert model.counts["sampled_with_mines"] == model.counts["sampled_without_mines"] > 10
    out = predict_stack(model, stack_path, tmp_path / f"{name}.tif", block_rows=40)
    with rasterio.open(stack_path) as src, rasterio.open(out) as dst:
        assert dst.transform == src.transform and dst.crs == src.crs
        assert (dst.width, dst.height, dst.count) == (src.width, src.height, 1)
        assert dst.nodata == -9999.0 and dst.descriptions[0] == f"{name} probability"
        stack_nodata = src.read_masks().min(axis=0) == 0
        prob = dst.read(1, masked=True)
        assert np.array_equal(np.ma.getmaskarray(prob), stack_nodata)
        assert prob.min() >= 0 and prob.max() <= 1
    test_sites = sites_in_part(grid, site_xy, 64)
    result = evaluate_map_file(out, site_xy, test_sites, n_background=1000, min_distance=500.0)
    assert result["site_vs_background_auc"] > 0.8
    frame = read_index(index)
    scores = window_probabilities(out, frame, 32)
    assert np.isnan(scores[(frame["split"] == "skipped").to_numpy()]).all()
    assert np.isfinite(scores[(frame["split"] != "skipped").to_numpy()]).all()


def test_window_probabilities_reduce(scene, tmp_path):
    stack_path, _, grid = scene
    prob = np.zeros(grid.shape, dtype=np.float32)
    prob[0, 0] = 1.0
    write_geotiff(tmp_path / "p.tif", prob, grid, ["p"])
    frame = pd.DataFrame({"tile_id": [0, 1], "row": [0, 32], "col": [0, 0], "split": ["train", "test"],
                          "label": [1, 0]})
    assert window_probabilities(tmp_path / "p.tif", frame, 32)[0] == pytest.approx(1 / 1024)  # mean
    assert window_probabilities(tmp_path / "p.tif", frame, 32, "max").tolist() == [1.0, 0.0]
    assert window_probabilities(tmp_path / "p.tif", frame, 32, 0.99).tolist() == [0.0, 0.0]
    with pytest.raises(InputError, match="reduce"):
        window_probabilities(tmp_path / "p.tif", frame, 32, "median")


def test_select_windows_follows_tile_ids(scene):
    stack_path, _, _ = scene
    tiles = stack_path.parent / "tiles"
    windows = np.load(tiles / "windows.npy", mmap_mode="r")
    x, y, ids = select_windows(windows, tiles / "index.csv", "test")
    frame = pd.read_csv(tiles / "index.csv")
    assert ids.tolist() == frame.loc[frame["split"] == "test", "tile_id"].tolist()
    assert np.array_equal(x[0], windows[ids[0]]) and y.tolist() == frame.loc[frame["split"] == "test", "label"].tolist()


def test_pixel_baseline_errors(scene, tmp_path):
    stack_path, site_xy, grid = scene
    index = stack_path.parent / "tiles" / "index.csv"
    with pytest.raises(InputError, match="need at least 2 of each"):
        fit_pixel_baseline("random_forest", stack_path, index, site_xy + 1e6, window=32, label_distance=250.0)
    bad = pd.read_csv(index)
    bad.loc[3, "split"] = "validation"
    bad.to_csv(tmp_path / "index.csv", index=False)
    with pytest.raises(InputError, match=r"index.csv, column 'split', row 5"):
        fit_pixel_baseline("knn", stack_path, tmp_path / "index.csv", site_xy, window=32, label_distance=250.0)
    model = fit_pixel_baseline("decision_tree", stack_path, index, site_xy, window=32, label_distance=250.0)
    other = tmp_path / "other.tif"
    write_geotiff(other, np.zeros((3, 96, 96), np.float32), grid, ["Au", "Zn", "Pb"])
    with pytest.raises(InputError, match="has no band named"):
        predict_stack(model, other, tmp_path / "out.tif")


def test_pixel_baseline_is_deterministic_and_ignores_test_sites(scene, tmp_path):
    stack_path, site_xy, grid = scene
    index = stack_path.parent / "tiles" / "index.csv"
    kwargs = dict(window=32, label_distance=250.0, seed=5)
    first = fit_pixel_baseline("random_forest", stack_path, index, site_xy, **kwargs)
    second = fit_pixel_baseline("random_forest", stack_path, index, site_xy, **kwargs)
    a = predict_stack(first, stack_path, tmp_path / "a.tif")
    b = predict_stack(second, stack_path, tmp_path / "b.tif")
    with rasterio.open(a) as ra, rasterio.open(b) as rb:
        assert np.array_equal(ra.read(1), rb.read(1))
    # a site just below the train/test boundary (row 64) labels no training pixel
    xs, ys = grid.cell_centres()
    extra = np.vstack([site_xy, [[xs[50], ys[65]]]])
    near_boundary = fit_pixel_baseline("decision_tree", stack_path, index, extra, **kwargs)
    assert near_boundary.counts == first.counts
    above = np.vstack([site_xy, [[xs[50], ys[62]]]])
    assert fit_pixel_baseline("decision_tree", stack_path, index, above, **kwargs).counts["pixels_with_mines"] > \
        first.counts["pixels_with_mines"]
