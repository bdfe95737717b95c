"""The dense map against a straightforward reference: every window of the
lattice scored, its score painted on its footprint, the sum divided by the
count per cell."""

import numpy as np
import pytest
import rasterio

from pipeline.dense_map import covering_starts, dense_map, lattice_mean, summed_area
from pipeline.grid import grid_from_settings
from pipeline.rasters import write_geotiff
from pipeline.stack import zscore_stack


@pytest.fixture
def stack(tmp_path):
    grid = grid_from_settings("EPSG:32649", (400000, 2400000, 402500, 2401850), width=50, height=37)
    rng = np.random.default_rng(3)
    paths = []
    for i in range(2):
        a = np.exp(rng.normal(0, 1, grid.shape))
        a[:12, :15] = np.nan          # a corner of nodata: some windows hold none, some part
        paths.append(tmp_path / f"E{i}.tif")
        write_geotiff(paths[-1], a, grid, [f"E{i}"])
    out = tmp_path / "stack.tif"
    zscore_stack(paths, ["E0", "E1"], out, transform="log10")
    return out


def _score(x):
    """Two outputs that depend on the window's content (not symmetric in position)."""
    x = np.asarray(x, dtype=np.float64)
    a = 1 / (1 + np.exp(-x[:, 0].mean(axis=(1, 2))))
    b = 1 / (1 + np.exp(-(x[:, 1, :3, :].mean(axis=(1, 2)) + 0.1 * x[:, 0, -1, -1])))
    return np.stack([a, b])


def _reference(stack_path, window, stride, core=None):
    """Every window's score painted on its footprint (its centred ``core`` when
    given, the whole windows' mean where no core reaches), divided by the count."""
    with rasterio.open(stack_path) as src:
        z = src.read(masked=True).astype(np.float64)
        fills = [float(src.tags(b)["fill"]) for b in (1, 2)]
    mask = np.ma.getmaskarray(z)
    filled = np.stack([np.where(mask[b], fills[b], z.data[b]) for b in range(2)])
    H, W = z.shape[1:]
    size = window if core is None else core
    off = (window - size) // 2
    acc, cnt = np.zeros((2, H, W)), np.zeros((H, W))
    whole_acc, whole_cnt = np.zeros((2, H, W)), np.zeros((H, W))
    for r in covering_starts(H, window, stride):
        for c in covering_starts(W, window, stride):
            if mask[:, r:r + window, c:c + window].all():
                continue
            p = _score(filled[None, :, r:r + window, c:c + window])[:, 0]
            acc[:, r + off:r + off + size, c + off:c + off + size] += p[:, None, None]
            cnt[r + off:r + off + size, c + off:c + off + size] += 1
            whole_acc[:, r:r + window, c:c + window] += p[:, None, None]
            whole_cnt[r:r + window, c:c + window] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(cnt > 0, acc / cnt, whole_acc / whole_cnt)
    out[:, mask.all(axis=0)] = np.nan
    return out, cnt


@pytest.mark.parametrize("window,stride,batch", [(10, 5, 7), (10, 3, 64), (12, 12, 1), (8, 1, 500)])
def test_dense_map_equals_painting_every_window(tmp_path, stack, window, stride, batch):
    out = tmp_path / "map.tif"
    summary = dense_map(_score, stack, ["E0", "E1"], [(out, ["a", "b", "mean"],
                                                        lambda v: np.concatenate([v, v.mean(0, keepdims=True)]))],
                        window=window, stride=stride, batch_size=batch)
    expected, _ = _reference(stack, window, stride)
    with rasterio.open(out) as src:
        got = src.read(masked=True).astype(np.float64).filled(np.nan)
        assert src.descriptions == ("a", "b", "mean") and int(src.tags()["stride"]) == stride
    np.testing.assert_array_equal(np.isnan(got[:2]), np.isnan(expected))
    np.testing.assert_allclose(got[:2], expected, rtol=2e-7, atol=1e-7)   # float32 rounding
    np.testing.assert_allclose(got[2], expected.mean(axis=0), rtol=2e-7, atol=1e-7)
    H, W = 37, 50
    n_all = len(covering_starts(H, window, stride)) * len(covering_starts(W, window, stride))
    assert 0 < summary["windows"] < n_all      # the all-nodata windows in the corner are not scored


def test_grid_smaller_than_the_window_is_padded_as_nodata(tmp_path, stack):
    out = tmp_path / "map.tif"
    summary = dense_map(_score, stack, ["E0", "E1"], [(out, ["a"], lambda v: v[:1])], window=64, stride=32)
    assert summary["windows"] == 1
    with rasterio.open(out) as src:
        got = src.read(1, masked=True)
    values = np.unique(got.compressed())
    assert len(values) == 1 and 0 < values[0] < 1   # one window covers every cell with data


def test_core_footprint_puts_each_score_on_its_window_centre(tmp_path, stack):
    """With core labels a window's score belongs to its centred core; cells no core
    covers (near the edges) keep the whole windows' mean."""
    window, stride, core = 12, 4, 6
    out = tmp_path / "core.tif"
    dense_map(_score, stack, ["E0", "E1"], [(out, ["a"], lambda v: v[:1])], window=window, stride=stride, core=core)
    expected, cnt = _reference(stack, window, stride, core)
    expected = expected[0]
    with rasterio.open(out) as src:
        got = src.read(1, masked=True).astype(np.float64).filled(np.nan)
        assert src.tags()["footprint"] == "6"
    np.testing.assert_allclose(got, expected, rtol=2e-7, atol=1e-7)
    assert np.isfinite(got[-1, -1]) and cnt[-1, -1] == 0      # an edge cell: the whole windows' mean


def test_a_block_of_cells_gets_what_painting_each_window_over_it_gives():
    # blocks of the output read only their part of the summed-area table: check
    # every block position against a plain per-cell average of the windows
    rng = np.random.default_rng(3)
    rows_n, cols_n, window = 90, 130, 16
    row_starts, col_starts = covering_starts(rows_n, window, 6), covering_starts(cols_n, window, 6)
    scores = rng.random((2, len(row_starts), len(col_starts)))
    scores[:, rng.random(scores.shape[1:]) < 0.2] = np.nan
    total = np.zeros((2, rows_n, cols_n))
    count = np.zeros((rows_n, cols_n))
    for i, r in enumerate(row_starts):
        for j, c in enumerate(col_starts):
            if np.isfinite(scores[0, i, j]):
                total[:, r:r + window, c:c + window] += scores[:, i, j, None, None]
                count[r:r + window, c:c + window] += 1
    with np.errstate(invalid="ignore"):
        expected = np.where(count > 0, total / count, np.nan)
    table = summed_area(scores)
    for top, left, h, w in [(0, 0, 90, 130), (0, 0, 7, 9), (37, 61, 20, 33), (80, 120, 10, 10)]:
        rows, cols = np.arange(top, top + h), np.arange(left, left + w)
        got = lattice_mean(table, row_starts, col_starts, window, rows, cols)
        np.testing.assert_allclose(got, expected[:, top:top + h, left:left + w], rtol=1e-12, atol=1e-12)
