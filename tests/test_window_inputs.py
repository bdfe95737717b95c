"""The models' inputs: transformed and scaled stack bands, nodata filled with the
band's median and a validity band, the same in the tiles (training) and in every
dense map (prediction). Expected values are worked out here with numpy from the
rasters written, not taken from the code under test."""

import json

import numpy as np
import pytest
import rasterio

from pipeline.dense_map import dense_map
from pipeline.errors import InputError
from pipeline.grid import grid_from_settings
from pipeline.nets.tileset import load_tiles
from pipeline.rasters import write_geotiff
from pipeline.stack import zscore_stack
from pipeline.tiles import TileLayout, write_tiles
from pipeline.window_inputs import VALIDITY, fill_block


@pytest.fixture
def grid():
    return grid_from_settings("EPSG:32649", (400000, 2400000, 402000, 2402000), width=40, height=40)


def _lognormal(tmp_path, grid, n=3, seed=1):
    rng = np.random.default_rng(seed)
    paths, arrays = [], []
    for i in range(n):
        a = np.exp(rng.normal(i, 1.5, grid.shape))
        a[:, 30:] = np.nan     # the east quarter is unsampled
        path = tmp_path / f"E{i}.tif"
        write_geotiff(path, a, grid, [f"E{i}"])
        paths.append(path)
        with rasterio.open(path) as src:            # what the file holds (float32)
            arrays.append(src.read(1, masked=True).astype(np.float64).filled(np.nan))
    return paths, arrays


def test_log10_then_zscore_and_median_fill(tmp_path, grid):
    paths, arrays = _lognormal(tmp_path, grid)
    stats = zscore_stack(paths, ["E0", "E1", "E2"], tmp_path / "s.tif", transform="log10")
    with rasterio.open(tmp_path / "s.tif") as src:
        assert src.tags()["transform"] == "log10"
        for band, a in enumerate(arrays, start=1):
            v = np.log10(a[np.isfinite(a)])
            expected = (v - v.mean()) / v.std()
            z = src.read(band, masked=True)
            np.testing.assert_allclose(z.compressed(), expected, rtol=1e-4, atol=1e-5)
            fill = float(src.tags(band)["fill"])
            assert fill == pytest.approx(np.median(expected), abs=1e-5)
            assert fill != pytest.approx(0.0, abs=1e-3)  # skewed: the median is not the mean
    assert stats["E0"]["transform"] == "log10" and stats["E0"]["n_raised_to_floor"] == 0


def test_log10_raises_non_positive_values_to_the_smallest_positive_and_counts_them(tmp_path, grid):
    a = np.linspace(0.5, 40, grid.width * grid.height).reshape(grid.shape)
    a[0, :3] = [0.0, -1.0, 0.0]
    write_geotiff(tmp_path / "a.tif", a, grid, ["A"])
    stats = zscore_stack([tmp_path / "a.tif"], ["A"], tmp_path / "s.tif", transform="log10")
    assert stats["A"]["n_raised_to_floor"] == 3
    assert stats["A"]["log_floor"] == pytest.approx(a[0, 3], rel=1e-6)
    with rasterio.open(tmp_path / "s.tif") as src:
        z = src.read(1)
    assert z[0, 0] == z[0, 1] == z[0, 2] == pytest.approx(z[0, 3])


def test_clr_is_log_ratio_to_the_geometric_mean(tmp_path, grid):
    paths, arrays = _lognormal(tmp_path, grid)
    zscore_stack(paths, ["E0", "E1", "E2"], tmp_path / "s.tif", transform="clr", scaling="robust")
    logs = np.log(np.stack(arrays))
    clr = logs - logs.mean(axis=0)
    with rasterio.open(tmp_path / "s.tif") as src:
        for band in range(3):
            v = clr[band][np.isfinite(clr[band])]
            med = np.median(v)
            expected = (v - med) / (1.4826 * np.median(np.abs(v - med)))
            np.testing.assert_allclose(src.read(band + 1, masked=True).compressed(), expected, rtol=1e-4, atol=1e-4)
            assert float(src.tags(band + 1)["fill"]) == pytest.approx(0.0, abs=1e-12)


def test_log_of_a_band_without_positive_values_is_refused(tmp_path, grid):
    write_geotiff(tmp_path / "a.tif", -np.ones(grid.shape), grid, ["Neg"])
    with pytest.raises(InputError, match="Neg has no positive value"):
        zscore_stack([tmp_path / "a.tif"], ["Neg"], tmp_path / "s.tif", transform="log10")


def test_fill_block_sets_each_band_to_its_fill_and_appends_validity():
    data = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3)
    mask = np.zeros_like(data, dtype=bool)
    mask[:, 0, 0] = True
    mask[1, 1, 2] = True
    out = fill_block(np.ma.masked_array(data, mask), [-1.5, 7.0], valid=~mask.any(axis=0))
    assert out.dtype == np.float32 and out.shape == (3, 2, 3)
    assert out[0, 0, 0] == -1.5 and out[1, 0, 0] == 7.0 and out[1, 1, 2] == 7.0 and out[0, 1, 2] == data[0, 1, 2]
    np.testing.assert_array_equal(out[2], [[0, 1, 1], [1, 1, 0]])


def test_half_nodata_window_is_median_filled_with_a_validity_band_in_training_and_prediction(tmp_path, grid):
    paths, _ = _lognormal(tmp_path, grid, n=2)
    stack = tmp_path / "s.tif"
    zscore_stack(paths, ["E0", "E1"], stack, transform="log10")
    with rasterio.open(stack) as src:
        z = src.read(masked=True)
    medians = [float(np.median(b.compressed())) for b in z]
    # the window at column 20 is half in the unsampled east quarter (columns 30-39)
    layout = TileLayout(window=20, stride=10, split_row=20)
    write_tiles(stack, np.array([[400000 + 25 * 50, 2402000 - 5 * 50]]), layout, tmp_path / "tiles",
                min_valid_fraction=0.4, validity_band=True)
    tiles = load_tiles(tmp_path / "tiles")
    assert tiles.elements == ["E0", "E1", VALIDITY]
    assert json.loads((tmp_path / "tiles" / "tiles.json").read_text())["validity_band"] is True
    row = tiles.index[(tiles.index.row == 0) & (tiles.index.col == 20)].iloc[0]
    assert row.valid_fraction == pytest.approx(0.5)
    trained = np.asarray(tiles.windows[int(row.tile_id)])
    for band in range(2):
        np.testing.assert_allclose(trained[band][:, 10:], medians[band], rtol=1e-5)
        np.testing.assert_array_equal(trained[band][:, :10], z[band, 0:20, 20:30].filled(np.nan))
    np.testing.assert_array_equal(trained[2], np.repeat([[1.0] * 10 + [0.0] * 10], 20, axis=0))
    # a view keeps the validity band; the network sees it as its last channel
    assert tiles.view(["E1"]).elements == ["E1", VALIDITY]

    seen = {}

    def score(x):
        for w in x:
            seen.setdefault(len(seen), w.copy())
        return np.full((1, len(x)), 0.5)

    dense_map(score, stack, ["E0", "E1", VALIDITY], [(tmp_path / "m.tif", ["p"], lambda v: v)], window=20,
              stride=10)
    assert any(np.array_equal(w, trained) for w in seen.values())
