"""Spread (uncertainty) maps of the cross-validation's fold models (pipeline.cv.uncertainty):
the population standard deviation (ddof=0) of the probability across the models, per cell."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from pipeline.cv.uncertainty import fold_map_paths, spread_map
from pipeline.errors import InputError
from pipeline.grid import GridSpec
from pipeline.qgis_style import MAGMA, SPREAD_MAX, write_spread_style
from pipeline.rasters import NODATA, write_geotiff

GRID = GridSpec("EPSG:32649", Affine(100.0, 0.0, 400000.0, 0.0, -100.0, 2404000.0), 40, 30)
#: the one region where the fold models disagree
REGION = (slice(10, 20), slice(5, 15))


def _fold_maps(root, values_by_model, grid=GRID):
    """Write one fold map per (seed, fold) -> array; returns their paths."""
    paths = []
    for (seed, fold), array in values_by_model.items():
        path = root / "cv" / "maps" / "m" / f"seed{seed}" / f"fold{fold}.tif"
        write_geotiff(path, array, grid, ["m probability"])
        paths.append(path)
    return paths


def _agree_except_region(inside):
    """Each model: 0.4 everywhere, ``inside[k]`` in REGION."""
    out = {}
    for k, v in enumerate(inside):
        a = np.full(GRID.shape, 0.4, dtype=np.float32)
        a[REGION] = v
        out[(42, k)] = a
    return out


def test_two_folds_that_disagree_in_one_region(tmp_path):
    # folds at 0.2 and 0.6 there: mean 0.4, population std sqrt(((0.2)^2 + (0.2)^2) / 2) = 0.2
    paths = _fold_maps(tmp_path, _agree_except_region([0.2, 0.6]))
    out = tmp_path / "maps" / "m_uncertainty.tif"
    summary = spread_map(paths, out, method="m")
    with rasterio.open(out) as src:
        spread, count = src.read(1), src.read(2)
        assert src.dtypes == ("float32", "float32") and src.nodata == NODATA
        assert src.crs.to_string() == GRID.crs and src.transform == GRID.transform
        assert (src.width, src.height) == (GRID.width, GRID.height)
        tags = src.tags()
        assert tags["n_models"] == "2" and tags["ddof"] == "0" and tags["method"] == "m"
        assert "standard deviation" in tags["statistic"]
        assert src.descriptions[0].startswith("probability std")
    region = np.zeros(GRID.shape, bool)
    region[REGION] = True
    assert np.allclose(spread[region], 0.2, atol=1e-6)
    assert (spread[~region] == 0).all()            # agreeing models: exactly zero, not rounding noise
    assert (count == 2).all()
    assert summary["n_models"] == 2 and summary["max_spread"] == pytest.approx(0.2, abs=1e-6)


def test_spread_over_seeds_and_folds_is_the_population_std(tmp_path):
    maps = _agree_except_region([0.1, 0.1, 0.4])
    maps[(43, 0)] = maps.pop((42, 2))              # a second seed counts as one more model
    out = tmp_path / "spread.tif"
    summary = spread_map(_fold_maps(tmp_path, maps), out, method="m")
    with rasterio.open(out) as src:
        spread = src.read(1)
        assert src.tags()["seeds"] == "42,43" and src.tags()["folds"] == "0,1"
    assert spread[REGION] == pytest.approx(np.std([0.1, 0.1, 0.4], ddof=0), abs=1e-6)   # sqrt(0.02) = 0.1414
    assert summary["seeds"] == [42, 43] and summary["n_models"] == 3


def test_cells_with_fewer_than_two_models_are_nodata(tmp_path):
    maps = _agree_except_region([0.2, 0.6, 0.6])
    maps[(42, 0)][:3] = np.nan                     # one model leaves the top rows empty
    maps[(42, 1)][:2] = np.nan                     # and another the top two of them
    maps[(42, 2)][:1] = np.nan                     # and the third the first row: no model there
    out = tmp_path / "spread.tif"
    spread_map(_fold_maps(tmp_path, maps), out, method="m")
    with rasterio.open(out) as src:
        spread = src.read(1, masked=True)
        count = src.read(2, masked=True)
    assert spread.mask[:2].all() and not spread.mask[2:].any()
    assert count.mask[0].all() and (count[1] == 1).all() and (count[2] == 2).all() and (count[3:] == 3).all()
    assert (spread[2] == 0).all()                  # two models at 0.4 there


def test_spread_in_row_blocks_equals_whole(tmp_path):
    rng = np.random.default_rng(0)
    maps = {(42, k): rng.random(GRID.shape).astype(np.float32) for k in range(4)}
    paths = _fold_maps(tmp_path, maps)
    spread_map(paths, tmp_path / "a.tif", method="m", block_rows=7)
    spread_map(paths, tmp_path / "b.tif", method="m")
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        assert np.array_equal(a.read(), b.read())
        expected = np.std(np.stack(list(maps.values())).astype(np.float64), axis=0, ddof=0)
        assert np.allclose(a.read(1), expected, atol=1e-6)


def test_one_model_or_another_grid_is_a_clear_error(tmp_path):
    paths = _fold_maps(tmp_path, {(42, 0): np.zeros(GRID.shape)})
    with pytest.raises(InputError, match="at least 2 fold models"):
        spread_map(paths, tmp_path / "s.tif", method="m")
    other = GridSpec(GRID.crs, GRID.transform, GRID.width + 1, GRID.height)
    paths += _fold_maps(tmp_path / "other", {(42, 1): np.zeros(other.shape)}, grid=other)
    with pytest.raises(InputError, match="not on the grid"):
        spread_map(paths, tmp_path / "s.tif", method="m")
    with pytest.raises(InputError, match="seed"):
        fold_map_paths([tmp_path / "x.tif"])


def test_spread_style_is_magma_fixed_to_half(tmp_path):
    qml = write_spread_style(tmp_path / "m_uncertainty.tif").read_text()
    assert 'classificationMax="0.5"' in qml and SPREAD_MAX == 0.5
    assert MAGMA[0] in qml and MAGMA[-1] in qml and 'nodataColor=""' in qml
