"""Prediction maps: dense GeoTIFF on the stack's grid and per-window GeoPackage."""

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch

from pipeline.errors import InputError
from pipeline.nets.metrics import vote
from pipeline.nets.synthetic import write_synthetic_survey
from pipeline.nets.tileset import load_tiles
from pipeline.rasters import write_geotiff
from pipeline.skt import predict_map, predict_tiles, window_probabilities
from pipeline.skt.files import load_skt, save_skt
from pipeline.skt.model import SKTModel


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return write_synthetic_survey(tmp_path_factory.mktemp("survey"), height=60, width=52, channels=3, window=16,
                                  stride=8, split_row=40, n_sites=5, seed=1)


@pytest.fixture(scope="module")
def model_file(survey, tmp_path_factory):
    # an untrained model is enough: prediction only has to be placed right
    torch.manual_seed(0)
    model = SKTModel(survey["elements"], [1, 2], width=4, transfer=False).eval()
    with torch.no_grad():
        for net in model.targets:               # make the classes matter: distinct outputs per target
            net.fc.bias.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("model") / "skt.pt"
    save_skt(path, model, crop=12, window=16)
    return path


def test_map_is_aligned_with_the_stack(survey, model_file, tmp_path):
    out = tmp_path / "maps" / "skt_probability.tif"
    targets = [tmp_path / "maps" / f"skt_{n}.tif" for n in ("t1_rho1", "t2_rho2")]
    summary = predict_map(model_file, survey["stack"], out, overlap=0.5, batch_size=7, device="cpu",
                          threads=1, target_paths=targets)
    assert summary["window"] == 16 and summary["stride"] == 8
    with rasterio.open(survey["stack"]) as stack, rasterio.open(out) as pred:
        assert pred.crs == stack.crs and pred.transform == stack.transform
        assert (pred.width, pred.height) == (stack.width, stack.height)
        assert pred.count == 3 and pred.dtypes[0] == "float32"
        assert pred.descriptions == ("skt_probability", "t1_rho1_probability", "t2_rho2_probability")
        assert pred.overviews(1)
        values = pred.read(masked=True)
        stack_mask = np.ma.getmaskarray(stack.read(masked=True))
    all_nodata = stack_mask.all(axis=0)
    assert all_nodata.any() and (stack_mask.any(axis=0) & ~all_nodata).any()   # fixture has both cases
    assert (np.ma.getmaskarray(values) == all_nodata[None]).all()
    valid = values[:, ~all_nodata].data
    assert ((valid >= 0) & (valid <= 1)).all()
    np.testing.assert_allclose(valid[0], valid[1:].mean(axis=0), atol=1e-6)
    for i, path in enumerate(targets):
        with rasterio.open(path) as single:
            assert single.transform == pred.transform and single.descriptions == (pred.descriptions[i + 1],)
            np.testing.assert_array_equal(single.read(1), values.data[i + 1])


def test_map_averages_the_windows_covering_each_pixel(survey, model_file, tmp_path):
    # no overlap and a window that tiles the grid: every pixel holds its window's probability
    out = tmp_path / "plain.tif"
    predict_map(model_file, survey["stack"], out, overlap=0.0, window=13, batch_size=64, device="cpu", threads=1)
    model, _ = load_skt(model_file)
    with rasterio.open(survey["stack"]) as src:
        data = src.read(masked=True).filled(0.0).astype(np.float32)
    r, c = 26, 39                                # a window origin (multiple of 13) inside the grid
    expected = window_probabilities(model, data[None, :, r:r + 13, c:c + 13])
    with rasterio.open(out) as pred:
        block = pred.read(window=((r, r + 13), (c, c + 13)))
    np.testing.assert_allclose(block[1:], np.broadcast_to(expected[:, :, None], (2, 13, 13)), atol=1e-6)
    # the last row and column of windows are flush with the grid's edge (60 and 52 are not multiples of 13)
    with rasterio.open(out) as pred:
        assert np.isfinite(pred.read(1)[-1, -1]) and pred.read(1)[-1, -1] != pred.nodata


def test_map_does_not_depend_on_batching(survey, model_file, tmp_path):
    predict_map(model_file, survey["stack"], tmp_path / "a.tif", overlap=0.5, batch_size=3, device="cpu", threads=1)
    predict_map(model_file, survey["stack"], tmp_path / "b.tif", overlap=0.5, batch_size=500, device="cpu",
                threads=1)
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        np.testing.assert_allclose(a.read(), b.read(), atol=1e-6)


def test_map_needs_the_model_bands(survey, model_file, tmp_path):
    with rasterio.open(survey["stack"]) as src:
        data = src.read(masked=True).filled(np.nan)
    from pipeline.rasters import grid_of
    other = tmp_path / "other.tif"
    write_geotiff(other, data, grid_of(survey["stack"]), ["E0", "Cu", "E2"])
    with pytest.raises(InputError, match="E1"):
        predict_map(model_file, other, tmp_path / "x.tif", device="cpu")
    with pytest.raises(InputError, match="overlap"):
        predict_map(model_file, survey["stack"], tmp_path / "x.tif", overlap=1.0, device="cpu")
    assert not (tmp_path / "x.tif").exists()


def test_window_layer(survey, model_file, tmp_path):
    out = tmp_path / "skt_windows.gpkg"
    predict_tiles(model_file, survey["tiles"], out, batch_size=5, device="cpu", threads=1)
    gdf = gpd.read_file(out, layer="skt_windows")
    tiles = load_tiles(survey["tiles"])
    assert len(gdf) == len(tiles.index) and gdf.crs == survey["grid"].crs
    first = gdf.iloc[0]
    assert first.geometry.bounds == pytest.approx(survey["grid"].window_bounds(int(first["row"]), int(first["col"]),
                                                                               16, 16))
    used = gdf["split"].isin(["train", "test"])
    assert gdf.loc[used, "probability"].between(0, 1).all()
    assert gdf.loc[~used, "probability"].isna().all() and (~used).any()
    per_target = gdf.loc[used, ["p_t1_rho1", "p_t2_rho2"]].to_numpy().T
    classes, mean = vote(per_target)
    np.testing.assert_allclose(gdf.loc[used, "probability"], mean)
    assert (gdf.loc[used, "vote"].to_numpy() == classes).all()
    # the same windows scored directly (whole windows, as in the test metrics)
    model, _ = load_skt(model_file)
    ids = gdf.loc[used, "tile_id"].to_numpy()
    direct = window_probabilities(model, np.asarray(tiles.windows)[ids])
    np.testing.assert_allclose(per_target, direct, atol=1e-6)


def test_predict_core_paints_each_score_on_its_window_centre(survey, model_file, tmp_path):
    # stride 8 with a core of half the 16-cell window: the cores tile the grid, so an inner cell
    # holds the one window whose centre it lies in, not the mean of the four windows over it
    out = tmp_path / "core.tif"
    predict_map(model_file, survey["stack"], out, overlap=0.5, batch_size=64, device="cpu", threads=1, core=0.5)
    whole = tmp_path / "whole.tif"
    predict_map(model_file, survey["stack"], whole, overlap=0.5, batch_size=64, device="cpu", threads=1)
    model, _ = load_skt(model_file)
    with rasterio.open(survey["stack"]) as src:
        data = src.read(masked=True).filled(0.0).astype(np.float32)
    r, c = 16, 24                                          # a window corner on the stride-8 lattice
    expected = window_probabilities(model, data[None, :, r:r + 16, c:c + 16])
    with rasterio.open(out) as pred:
        assert pred.tags()["footprint"] == "8"
        centre = pred.read(window=((r + 4, r + 12), (c + 4, c + 12)))
    np.testing.assert_allclose(centre[1:], np.broadcast_to(expected[:, :, None], (2, 8, 8)), atol=1e-6)
    with rasterio.open(whole) as pred:
        assert pred.tags()["footprint"] == "16"
        assert not np.allclose(pred.read(window=((r + 4, r + 12), (c + 4, c + 12)))[1:], centre[1:])


def test_predict_core_must_be_a_share_of_the_window(survey, model_file, tmp_path):
    with pytest.raises(InputError, match="predict.core"):
        predict_map(model_file, survey["stack"], tmp_path / "x.tif", overlap=0.5, device="cpu", threads=1, core=8)
