import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from pipeline.errors import InputError
from pipeline.grid import grid_from_settings
from pipeline.rasters import write_geotiff
from pipeline.stack import band_statistics, zscore_stack
from pipeline.tiles import TileLayout, build_tile_index, resolve_split_row, window_origins, write_tiles


@pytest.fixture
def grid():
    return grid_from_settings("EPSG:32649", (400000, 2400000, 404000, 2404000), width=80, height=80)


def _rasters(tmp_path, grid, n=3, seed=0):
    rng = np.random.default_rng(seed)
    paths, arrays = [], []
    for i in range(n):
        a = np.exp(rng.normal(i, 1.0, grid.shape)).astype(np.float32)
        a[:5, :7] = np.nan  # nodata corner
        path = tmp_path / f"E{i}.tif"
        write_geotiff(path, a, grid, [f"E{i}"])
        paths.append(path)
        arrays.append(a)
    return paths, arrays


def test_zscore_stack_matches_eq5_and_keeps_grid(tmp_path, grid):
    paths, arrays = _rasters(tmp_path, grid)
    out = tmp_path / "stack.tif"
    stats = zscore_stack(paths, ["E0", "E1", "E2"], out, block_rows=7)
    with rasterio.open(out) as src:
        assert src.count == 3 and src.descriptions == ("E0", "E1", "E2")
        assert src.crs.to_string() == "EPSG:32649" and src.transform == grid.transform
        assert src.dtypes[0] == "float32" and src.nodata == -9999.0
        for band, a in enumerate(arrays, start=1):
            z = src.read(band, masked=True)
            valid = np.isfinite(a)
            assert (~z.mask == valid).all()
            expected = (a[valid] - a[valid].mean()) / a[valid].std()
            np.testing.assert_allclose(z.compressed(), expected, rtol=1e-4, atol=1e-5)
            assert float(z.mean()) == pytest.approx(0, abs=1e-5)
            assert float(z.std()) == pytest.approx(1, abs=1e-4)
            assert src.tags(band)["element"] == f"E{band - 1}"
    assert stats["E1"]["n_valid"] == 80 * 80 - 35


def test_zscore_stack_in_column_pieces_equals_whole_rows(tmp_path, grid, monkeypatch):
    """Wide grids are cut into column pieces; the stack and its statistics do not change."""
    from pipeline import rasters

    paths, _ = _rasters(tmp_path, grid)
    whole = zscore_stack(paths, ["E0", "E1", "E2"], tmp_path / "whole.tif", block_rows=7)
    monkeypatch.setattr(rasters, "TILE", 16)
    monkeypatch.setattr(rasters, "BLOCK_CELLS", 7 * 16)
    windows = list(rasters.block_windows(grid.height, grid.width, 7))
    assert {w.width for w in windows} == {16} and max(w.width * w.height for w in windows) <= 7 * 16
    pieces = zscore_stack(paths, ["E0", "E1", "E2"], tmp_path / "pieces.tif", block_rows=7)
    assert pieces.keys() == whole.keys()
    for name in whole:
        assert pieces[name]["n_valid"] == whole[name]["n_valid"]
        assert pieces[name]["mean"] == pytest.approx(whole[name]["mean"], rel=1e-12)
        assert pieces[name]["std"] == pytest.approx(whole[name]["std"], rel=1e-9)
    with rasterio.open(tmp_path / "whole.tif") as a, rasterio.open(tmp_path / "pieces.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_constant_band_is_refused_with_its_name(tmp_path, grid):
    path = tmp_path / "flat.tif"
    write_geotiff(path, np.full(grid.shape, 3.0), grid, ["Ba"])
    with pytest.raises(InputError, match="Ba is constant"):
        zscore_stack([path], ["Ba"], tmp_path / "s.tif")


def test_band_statistics_ignore_nodata(tmp_path, grid):
    a = np.ones(grid.shape, dtype=np.float32)
    a[0] = np.nan
    a[1] = 3
    write_geotiff(tmp_path / "a.tif", a, grid, ["A"])
    s = band_statistics(tmp_path / "a.tif", block_rows=3)
    assert s["n_valid"] == 79 * 80 and s["max"] == 3 and s["min"] == 1


def test_paper_grid_gives_437_train_and_69_test_windows():
    split = resolve_split_row(3072, 256, test_fraction=1 / 6)
    assert split == 2560
    origins = window_origins(3072, 3072, TileLayout(256, 128, split))
    splits = [s for *_, s in origins]
    assert splits.count("train") == 437 and splits.count("test") == 69
    # no window straddles the boundary
    assert all((r + 256 <= split) if s == "train" else (r >= split) for r, _, s in origins)


def test_split_must_leave_a_window_each_side():
    with pytest.raises(InputError, match="train/test boundary"):
        resolve_split_row(300, 256, test_fraction=0.1)


def test_labels_count_sites_inside_windows(grid):
    layout = TileLayout(window=20, stride=10, split_row=60)
    # cell size 50 m: a site at the centre of cell (row 5, col 5) and one at (row 65, col 35)
    x0, y0 = grid.transform.c, grid.transform.f
    sites = np.array([[x0 + 5.5 * 50, y0 - 5.5 * 50], [x0 + 35.5 * 50, y0 - 65.5 * 50], [0, 0]])
    index = build_tile_index(grid, sites, layout)
    first = index[(index.row == 0) & (index.col == 0)].iloc[0]
    assert first.label == 1 and first.n_sites == 1
    test_hits = index[(index.split == "test") & (index.label == 1)]
    assert sorted(zip(test_hits.row, test_hits.col)) == [(60, 20), (60, 30)]
    assert index.n_sites.sum() == 1 + 2  # the site at (0, 0) is far outside the grid


def test_write_tiles_products(tmp_path, grid):
    paths, _ = _rasters(tmp_path, grid)
    stack = tmp_path / "stack.tif"
    zscore_stack(paths, ["E0", "E1", "E2"], stack)
    x0, y0 = grid.transform.c, grid.transform.f
    sites = np.array([[x0 + 30 * 50, y0 - 30 * 50], [x0 + 70 * 50, y0 - 75 * 50]])
    layout = TileLayout(window=20, stride=10, split_row=60)
    summary = write_tiles(stack, sites, layout, tmp_path / "tiles", min_valid_fraction=0.95)
    windows = np.load(tmp_path / "tiles" / "windows.npy", mmap_mode="r")
    index = pd.read_csv(tmp_path / "tiles" / "index.csv")
    gdf = gpd.read_file(tmp_path / "tiles" / "index.gpkg")
    meta = json.loads((tmp_path / "tiles" / "tiles.json").read_text())
    assert meta == json.loads(json.dumps(summary))
    assert list(index.columns) == ["tile_id", "row", "col", "split", "label", "n_sites", "valid_fraction"]
    used = index[index.split != "skipped"]
    assert windows.shape == (len(used), 3, 20, 20) and windows.dtype == np.float32
    assert (used.tile_id.to_numpy() == np.arange(len(used))).all()
    # the window at (0, 0) overlaps the 5 x 7 nodata corner: 35 of 400 cells, below 0.95 valid
    skipped = index[index.split == "skipped"]
    assert [(r, c) for r, c in zip(skipped.row, skipped.col)] == [(0, 0)]
    assert skipped.valid_fraction.iloc[0] == pytest.approx(1 - 35 / 400)
    # windows hold the stack's values
    with rasterio.open(stack) as src:
        k = int(used.index[used.row.eq(40) & used.col.eq(30)][0])
        expected = src.read(window=((40, 60), (30, 50)))
    np.testing.assert_array_equal(windows[k], expected)
    # footprints in the working CRS, readable attributes
    assert gdf.crs.to_epsg() == 32649 and len(gdf) == len(index)
    row = gdf[(gdf.row == 40) & (gdf["col"] == 30)].iloc[0]
    assert row.geometry.bounds == pytest.approx(grid.window_bounds(40, 30, 20, 20))
    assert meta["counts"]["test"]["with_mines"] == int(((index.split == "test") & (index.label == 1)).sum()) >= 1
    assert meta["elements"] == ["E0", "E1", "E2"]


def test_no_sites_inside_the_grid_is_a_clear_error(tmp_path, grid):
    paths, _ = _rasters(tmp_path, grid, n=1)
    stack = tmp_path / "stack.tif"
    zscore_stack(paths, ["E0"], stack)
    with pytest.raises(InputError, match="none of the 1 sites lies inside the grid"):
        write_tiles(stack, np.array([[0.0, 0.0]]), TileLayout(20, 10, 60), tmp_path / "t")


def test_a_split_part_without_sites_is_a_clear_error():
    from pipeline.errors import InputError
    from pipeline.tiles import check_split_has_sites

    summary = {"split_row": 448, "sites_inside_grid": 20, "sites_total": 26,
               "counts": {"train": {"windows": 300, "with_mines": 12}, "test": {"windows": 26, "with_mines": 0},
                          "skipped": {"windows": 5, "with_mines": 0}}}
    with pytest.raises(InputError, match="test part .* 26 windows but none with a site.*tiles.split_row"):
        check_split_has_sites(summary)
    summary["counts"]["test"]["with_mines"] = 2
    check_split_has_sites(summary)


def test_core_labels_need_a_site_in_the_window_centre(grid):
    from pipeline.window_plan import core_side

    layout = TileLayout(window=20, stride=10, split_row=60, core=core_side(20, 0.5))
    assert layout.core_side == 10 and layout.core_offset == 5
    x0, y0 = grid.transform.c, grid.transform.f
    # a site in cell (row 12, col 12): the centre (rows 5-14) of window (0, 0) and the edge of window (10, 10)
    index = build_tile_index(grid, np.array([[x0 + 12.5 * 50, y0 - 12.5 * 50]]), layout)
    label = {(r, c): (lab, n) for r, c, lab, n in zip(index.row, index.col, index.label, index.n_sites)}
    assert label[(0, 0)] == (1, 1)
    assert label[(10, 10)] == (0, 1)           # in the window, not in its centred half: no label, still counted
    assert label[(0, 10)] == (0, 1) and label[(10, 0)] == (0, 1)


def test_split_row_auto_puts_a_quarter_of_the_sites_below_the_cut():
    from pipeline.tiles import resolve_split_row, sites_split_row

    rows = [10, 20, 30, 40, 50, 60, 70, 80]           # 8 sites: 2 tested
    assert sites_split_row(200, 32, rows) == 65        # halfway between rows 60 and 70
    assert resolve_split_row(200, 32, 0.25, "auto", rows) == 65
    # kept a window from either edge, and off-grid sites ignored
    assert sites_split_row(100, 32, [1, 2, 3, 4, 500]) == 32
    # fewer than two sites on the grid: the fixed fraction
    assert sites_split_row(200, 32, [5]) == 150


def test_tiles_keep_only_valid_windows_in_one_pass_and_a_readable_header(tmp_path, grid):
    """Most windows fall on nodata: the kept count has fewer digits than the window count, so the .npy header
    written for all windows is rewritten, at its length, for the kept ones; every kept window holds the
    model inputs the dense maps read (pipeline.window_inputs.read_inputs) at its place."""
    from rasterio.windows import Window

    from pipeline.window_inputs import read_inputs

    rng = np.random.default_rng(3)
    paths = []
    for i in range(2):
        a = np.exp(rng.normal(i, 1.0, grid.shape)).astype(np.float32)
        a[:70, :] = np.nan
        a[75:, 20:30] = np.nan  # a hole inside the kept rows: filled, and counted in the valid fraction
        write_geotiff(tmp_path / f"E{i}.tif", a, grid, [f"E{i}"])
        paths.append(tmp_path / f"E{i}.tif")
    stack = tmp_path / "stack.tif"
    zscore_stack(paths, ["E0", "E1"], stack)
    x0, y0 = grid.transform.c, grid.transform.f
    sites = np.array([[x0 + 10 * 50, y0 - 74 * 50], [x0 + 60 * 50, y0 - 78 * 50]])
    layout = TileLayout(window=4, stride=2, split_row=72)
    write_tiles(stack, sites, layout, tmp_path / "tiles", min_valid_fraction=0.5, validity_band=True)
    index = pd.read_csv(tmp_path / "tiles" / "index.csv")
    windows = np.load(tmp_path / "tiles" / "windows.npy", mmap_mode="r")
    used = index[index.split != "skipped"]
    assert len(index) >= 1000 > len(used) >= 100
    assert windows.shape == (len(used), 3, 4, 4)
    # row 68 holds two valid rows of four; no window starts at 70 (it would straddle the split at 72)
    assert set(used.row) == {68, 72, 74, 76}
    with rasterio.open(stack) as src:
        for k, (row, col) in enumerate(zip(used.row, used["col"])):
            expected, _ = read_inputs(src, ["E0", "E1", "valid"], Window(int(col), int(row), 4, 4))
            np.testing.assert_array_equal(windows[k], expected)
            valid = expected[2].mean()
            assert used.valid_fraction.iloc[k] == pytest.approx(valid) and valid >= 0.5
    assert (index[index.split == "skipped"].valid_fraction < 0.5).all()
