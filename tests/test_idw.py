import math
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from pipeline import idw, rasters
from pipeline.errors import InputError
from pipeline.grid import GridSpec
from pipeline.idw import idw_array, interpolate_to_geotiffs
from pipeline.rasters import NODATA

CRS = "EPSG:32649"


def make_grid(width, height, cell=10.0, x0=500000.0, y0=2500000.0):
    return GridSpec(CRS, Affine(cell, 0.0, x0, 0.0, -cell, y0 + height * cell), width, height)


def brute_force(xy, values, grid, power=2.0, k=12, radius=None, max_distance=None):
    """Eq. 4 straight from its definition, one cell at a time."""
    xs, ys = grid.cell_centres()
    out = np.full((values.shape[1], grid.height, grid.width), np.nan)
    for j in range(values.shape[1]):
        ok = np.isfinite(values[:, j])
        pts, vals = xy[ok], values[ok, j]
        for r, y in enumerate(ys):
            for c, x in enumerate(xs):
                d = np.hypot(pts[:, 0] - x, pts[:, 1] - y)
                near = np.argsort(d, kind="stable")[:k]
                if max_distance is not None and d[near[0]] > max_distance:
                    continue
                if radius is not None:
                    near = near[d[near] <= radius]
                if near.size == 0:
                    continue
                dn, vn = d[near], vals[near]
                if dn[0] == 0:
                    out[j, r, c] = vn[dn == 0].mean()
                else:
                    w = 1.0 / dn ** power
                    out[j, r, c] = (w * vn).sum() / w.sum()
    return out


@pytest.fixture
def random_case():
    rng = np.random.default_rng(7)
    grid = make_grid(31, 23, cell=10.0)
    xmin, ymin, xmax, ymax = grid.bounds
    xy = np.column_stack([rng.uniform(xmin - 20, xmax + 20, 60),
                          rng.uniform(ymin - 20, ymax + 20, 60)])
    values = rng.lognormal(size=(60, 3))
    return xy, values, ["Cu", "Pb", "Zn"], grid


def test_cell_on_a_sample_takes_its_value():
    grid = make_grid(10, 8)
    xs, ys = grid.cell_centres()
    xy = np.array([[xs[3], ys[2]], [xs[7], ys[5]], [xs[7], ys[5]], [xs[0] + 3.3, ys[7] - 1.1]])
    values = np.array([[12.5], [4.0], [6.0], [100.0]])
    out = idw_array(xy, values, ["Au"], grid, n_neighbors=4)
    assert out[0, 2, 3] == np.float32(12.5)
    # coincident samples on one centre: their mean, not a division by zero
    assert out[0, 5, 7] == np.float32(5.0)
    assert np.isfinite(out).all()


def test_three_points_by_hand():
    grid = make_grid(3, 3, cell=1.0, x0=0.0, y0=0.0)
    cx, cy = 1.5, 1.5  # centre of the middle cell
    xy = np.array([[cx + 1.0, cy], [cx, cy + 2.0], [cx - 4.0, cy]])
    values = np.array([[10.0], [20.0], [40.0]])
    squared = idw_array(xy, values, ["Cu"], grid, n_neighbors=3, power=2.0)
    # weights 1, 1/4, 1/16: (10 + 20/4 + 40/16) / (1 + 1/4 + 1/16) = 40/3
    assert squared[0, 1, 1] == pytest.approx(40.0 / 3.0, rel=1e-6)
    linear = idw_array(xy, values, ["Cu"], grid, n_neighbors=3, power=1.0)
    # weights 1, 1/2, 1/4: 30 / 1.75 = 120/7
    assert linear[0, 1, 1] == pytest.approx(120.0 / 7.0, rel=1e-6)
    nearest_two = idw_array(xy, values, ["Cu"], grid, n_neighbors=2, power=2.0)
    assert nearest_two[0, 1, 1] == pytest.approx((10 + 20 / 4) / (1 + 1 / 4), rel=1e-6)


@pytest.mark.parametrize("radius, max_distance, k", [
    (None, None, 12), (None, None, 5), (35.0, None, 5), (None, 25.0, 5), (60.0, 40.0, 8)])
def test_matches_brute_force(random_case, radius, max_distance, k):
    xy, values, names, grid = random_case
    out = idw_array(xy, values, names, grid, n_neighbors=k, search_radius=radius,
                    max_distance=max_distance, block_rows=5)
    ref = brute_force(xy, values, grid, k=k, radius=radius, max_distance=max_distance)
    if radius is not None or max_distance is not None:
        assert np.isnan(ref).any() and np.isfinite(ref).any()  # the case exercises both
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_allclose(out, ref, rtol=2e-6, equal_nan=True)


def test_search_radius_edge_is_inclusive():
    grid = make_grid(1, 1, cell=2.0, x0=0.0, y0=0.0)  # one cell centred at (1, 1)
    xy = np.array([[1.0, 4.0], [1.0, 6.0]])
    out = idw_array(xy, np.array([[3.0], [9.0]]), ["Cu"], grid, search_radius=3.0)
    assert out[0, 0, 0] == 3.0  # the sample 3 m away counts, the one 5 m away does not


def test_groups_with_different_missing_masks_equal_separate_runs(random_case, monkeypatch):
    xy, values, names, grid = random_case
    values = np.column_stack([values, values[:, 0] * 2])
    names = names + ["As"]
    values[::3, 0] = np.nan       # Cu: own mask
    values[5:50, 1] = np.nan      # Pb: only 15 valid samples
    values[::3, 3] = np.nan       # As: same mask as Cu, so it shares Cu's tree
    trees = []
    real_tree = idw.cKDTree
    monkeypatch.setattr(idw, "cKDTree", lambda pts: trees.append(len(pts)) or real_tree(pts))
    together = idw_array(xy, values, names, grid, n_neighbors=20, search_radius=80.0)
    assert sorted(trees) == [15, 40, 60]  # one tree per distinct mask
    for j, name in enumerate(names):
        alone = idw_array(xy, values[:, j:j + 1], [name], grid, n_neighbors=20, search_radius=80.0)
        np.testing.assert_array_equal(together[j], alone[0])
    np.testing.assert_allclose(together[3], 2 * together[0], rtol=1e-6)


def test_one_tree_for_the_common_case(random_case, monkeypatch):
    xy, values, names, grid = random_case
    trees = []
    real_tree = idw.cKDTree
    monkeypatch.setattr(idw, "cKDTree", lambda pts: trees.append(len(pts)) or real_tree(pts))
    idw_array(xy, values, names, grid, block_rows=4)
    assert trees == [60]


@pytest.mark.parametrize("workers", [1, 2])
def test_block_size_and_threads_do_not_change_the_result(random_case, workers):
    xy, values, names, grid = random_case
    whole = idw_array(xy, values, names, grid, search_radius=40.0, max_distance=30.0,
                      block_rows=1000)
    for rows in (1, 7):
        np.testing.assert_array_equal(
            idw_array(xy, values, names, grid, search_radius=40.0, max_distance=30.0,
                      block_rows=rows, workers=workers), whole)


@pytest.mark.parametrize("chunk", [37, 600])
def test_chunks_of_cells_do_not_change_the_result(random_case, monkeypatch, chunk):
    xy, values, names, grid = random_case
    whole = idw_array(xy, values, names, grid, block_rows=1000)
    monkeypatch.setattr(idw, "_CHUNK_CELLS", chunk)
    for workers in (1, 2):
        np.testing.assert_array_equal(
            idw_array(xy, values, names, grid, block_rows=1000, workers=workers), whole)


def test_geotiffs(tmp_path, random_case):
    xy, values, names, grid = random_case
    grid = make_grid(64, 48, cell=4.0)  # big enough for overviews
    xmin, ymin, xmax, ymax = grid.bounds
    xy = np.column_stack([np.linspace(xmin, xmax, 60),
                          np.random.default_rng(1).uniform(ymin, ymax, 60)])
    values[:10, 2] = np.nan
    paths = [tmp_path / "out" / f"{n}.tif" for n in names]
    stats = interpolate_to_geotiffs(xy, values, names, grid, paths, search_radius=40.0,
                                    max_distance=15.0, block_rows=16)
    expected = idw_array(xy, values, names, grid, search_radius=40.0, max_distance=15.0)
    for j, (name, path) in enumerate(zip(names, paths)):
        with rasterio.open(path) as src:
            assert src.count == 1
            assert src.crs.to_string() == CRS
            assert src.transform == grid.transform
            assert src.dtypes[0] == "float32"
            assert src.nodata == NODATA
            assert src.profile["tiled"]
            assert src.overviews(1)
            assert src.descriptions == (name,)
            data = src.read(1, masked=True)
        filled = data.filled(np.nan)
        assert np.isnan(filled).any() and np.isfinite(filled).any()  # max_distance made holes
        np.testing.assert_array_equal(filled, expected[j])
        assert stats[j]["element"] == name and stats[j]["path"] == str(path)
        assert stats[j]["n_samples"] == int(np.isfinite(values[:, j]).sum())
        assert stats[j]["n_valid_cells"] == int(np.isfinite(expected[j]).sum())
        assert stats[j]["min"] == pytest.approx(float(np.nanmin(expected[j])))
        assert stats[j]["max"] == pytest.approx(float(np.nanmax(expected[j])))
    assert stats[2]["n_samples"] == 50
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def test_writes_block_by_block(tmp_path, random_case, monkeypatch):
    xy, values, names, grid = random_case
    seen = []
    real_write = idw._write_block
    monkeypatch.setattr(idw, "_write_block",
                        lambda outputs, block, window: seen.append(block.shape) or
                        real_write(outputs, block, window))
    paths = [tmp_path / f"{n}.tif" for n in names]
    interpolate_to_geotiffs(xy, values, names, grid, paths, block_rows=7, workers=2)
    # 23 rows in blocks of 7: never a whole grid in memory
    assert seen == [(3, 7, 31)] * 3 + [(3, 2, 31)]
    whole = idw_array(xy, values, names, grid, block_rows=1000)
    for j, path in enumerate(paths):
        with rasterio.open(path) as src:
            np.testing.assert_array_equal(src.read(1, masked=True).filled(np.nan), whole[j])


def test_wide_grids_are_cut_into_column_pieces(tmp_path, random_case, monkeypatch):
    """Blocks are bounded in cells, not rows: a wide grid is written in tile-aligned
    column pieces, with the same values as one whole-grid block."""
    xy, values, names, grid = random_case
    whole = idw_array(xy, values, names, grid, block_rows=1000)
    monkeypatch.setattr(rasters, "TILE", 16)
    monkeypatch.setattr(rasters, "BLOCK_CELLS", 7 * 16)
    seen = []
    real_write = idw._write_block
    monkeypatch.setattr(idw, "_write_block",
                        lambda outputs, block, window: seen.append((window.col_off, window.row_off, block.shape))
                        or real_write(outputs, block, window))
    paths = [tmp_path / f"{n}.tif" for n in names]
    interpolate_to_geotiffs(xy, values, names, grid, paths, block_rows=7, workers=2)
    # 31 columns in pieces of one 16-cell tile, 23 rows in blocks of 7
    assert [(c, r) for c, r, _ in seen] == [(c, r) for r in (0, 7, 14, 21) for c in (0, 16)]
    assert max(np.prod(shape[1:]) for _, _, shape in seen) <= 7 * 16
    for j, path in enumerate(paths):
        with rasterio.open(path) as src:
            np.testing.assert_array_equal(src.read(1, masked=True).filled(np.nan), whole[j])
    np.testing.assert_array_equal(idw_array(xy, values, names, grid, block_rows=7, workers=2), whole)


@pytest.mark.parametrize("workers", [1, 2])
def test_failure_midway_leaves_no_files(tmp_path, random_case, monkeypatch, workers):
    xy, values, names, grid = random_case
    calls = []
    real_write = idw._write_block

    def failing(outputs, block, window):
        calls.append(window)
        if len(calls) == 2:
            raise OSError("disk full")
        real_write(outputs, block, window)

    monkeypatch.setattr(idw, "_write_block", failing)
    with pytest.raises(OSError, match="disk full"):
        interpolate_to_geotiffs(xy, values, names, grid, [tmp_path / f"{n}.tif" for n in names],
                                block_rows=5, workers=workers)
    assert list(tmp_path.iterdir()) == []


def test_empty_cells_and_no_cells(tmp_path):
    grid = make_grid(20, 20)
    xy = np.array([[grid.bounds[0] + 5.0, grid.bounds[3] - 5.0]])  # centre of the top-left cell
    paths = [tmp_path / "a.tif"]
    stats = interpolate_to_geotiffs(xy, np.array([[7.0]]), ["Au"], grid, paths, max_distance=15.0)
    assert stats[0]["n_valid_cells"] == 4  # the cell itself and three within 15 m
    assert stats[0]["min"] == stats[0]["max"] == 7.0
    far = interpolate_to_geotiffs(xy + 1000.0, np.array([[7.0]]), ["Au"], grid, paths,
                                  search_radius=50.0)
    assert far[0] == {"element": "Au", "path": str(paths[0]), "n_samples": 1,
                      "n_valid_cells": 0, "min": None, "max": None}
    with rasterio.open(paths[0]) as src:
        assert (src.read(1) == NODATA).all()


def test_bad_input_is_named(tmp_path):
    grid = make_grid(5, 5)
    xy = np.array([[500010.0, 2500010.0], [np.nan, 2500020.0], [500030.0, np.inf]])
    values = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    with pytest.raises(InputError, match=r"column 'x'.*row 1"):
        idw_array(xy, values[:, :1], ["Cu"], grid)
    xy[1, 0] = 500020.0
    with pytest.raises(InputError, match=r"column 'y'.*row 2"):
        idw_array(xy, values[:, :1], ["Cu"], grid)
    xy[2, 1] = 2500030.0
    with pytest.raises(InputError, match="'Sn'.*no valid values"):
        idw_array(xy, values, ["Cu", "Sn"], grid)
    with pytest.raises(InputError, match="n_neighbors"):
        idw_array(xy, values[:, :1], ["Cu"], grid, n_neighbors=0)
    with pytest.raises(InputError, match="n_neighbors"):
        idw_array(xy, values[:, :1], ["Cu"], grid, n_neighbors=2.5)
    with pytest.raises(InputError, match="power"):
        idw_array(xy, values[:, :1], ["Cu"], grid, power=-1)
    with pytest.raises(InputError, match="power"):
        idw_array(xy, values[:, :1], ["Cu"], grid, power="two")
    with pytest.raises(InputError, match="block_rows"):
        idw_array(xy, values[:, :1], ["Cu"], grid, block_rows=0)
    with pytest.raises(InputError, match="workers"):
        idw_array(xy, values[:, :1], ["Cu"], grid, workers=0)
    with pytest.raises(InputError, match="search_radius"):
        idw_array(xy, values[:, :1], ["Cu"], grid, search_radius=0)
    with pytest.raises(InputError, match=r"'Cu'.*row 0.*infinite"):
        idw_array(xy, np.array([[np.inf], [1.0], [2.0]]), ["Cu"], grid)
    with pytest.raises(InputError, match="element names"):
        idw_array(xy, values, ["Cu"], grid)
    with pytest.raises(InputError, match="output paths"):
        interpolate_to_geotiffs(xy, values[:, :1], ["Cu"], grid, [tmp_path / "a", tmp_path / "b"])
    assert not list(tmp_path.iterdir())


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("SKT_SHARED_DATA"), reason="SKT_SHARED_DATA not set")
def test_real_till_survey(tmp_path):
    import geopandas as gpd

    path = Path(os.environ["SKT_SHARED_DATA"]) / "gtk_kolari" / "till_geochemistry.gpkg"
    samples = gpd.read_file(path)
    columns = ["Cu_ppm_511", "Ni_ppm_511", "Co_ppm_511"]
    xy = np.column_stack([samples.geometry.x, samples.geometry.y])
    values = samples[columns].to_numpy(dtype=float)
    xmin, ymin, xmax, ymax = samples.total_bounds
    cell = 2000.0
    width, height = math.ceil((xmax - xmin) / cell), math.ceil((ymax - ymin) / cell)
    grid = GridSpec(samples.crs.to_string(), Affine(cell, 0, xmin, 0, -cell, ymax), width, height)
    paths = [tmp_path / f"{c}.tif" for c in columns]
    stats = interpolate_to_geotiffs(xy, values, columns, grid, paths, search_radius=8000.0,
                                    max_distance=4000.0, block_rows=9)
    ref = brute_force(xy, values, grid, k=12, radius=8000.0, max_distance=4000.0)
    for j, p in enumerate(paths):
        with rasterio.open(p) as src:
            got = src.read(1, masked=True).filled(np.nan)
            assert src.crs.to_epsg() == 3067
        np.testing.assert_allclose(got, ref[j], rtol=2e-6, equal_nan=True)
        assert stats[j]["n_valid_cells"] > 0.5 * grid.width * grid.height


def test_geotiffs_stay_plain_deflate_with_float_predictor(tmp_path, random_case):
    """The fast deflate level must still give files any deflate reader opens,
    with the floating-point predictor and internal overviews."""
    xy, values, names, _ = random_case
    grid = make_grid(320, 288, cell=1.0)
    xmin, ymin, xmax, ymax = grid.bounds
    xy = np.column_stack([np.linspace(xmin, xmax, 60), np.linspace(ymin, ymax, 60)])
    path = tmp_path / "Cu.tif"
    interpolate_to_geotiffs(xy, values[:, :1], names[:1], grid, [path])
    with rasterio.open(path) as src:
        assert src.compression.name == "deflate"
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        assert src.profile["tiled"] and src.block_shapes == [(256, 256)]
        assert src.overviews(1) == [2, 4, 8, 16, 32]
        np.testing.assert_array_equal(src.read(1), idw_array(xy, values[:, :1], names[:1], grid)[0])
