"""Maps against a known answer (pipeline.evaluation.truth)."""

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.evaluation.truth import truth_auc, truth_on_grid, truth_table
from pipeline.grid import grid_from_settings
from pipeline.rasters import write_geotiff


@pytest.fixture
def truth_path(tmp_path):
    # 10 x 10 cells of 200 m; a deposit in the cells of rows 2-3, columns 6-7
    coarse = grid_from_settings("EPSG:32649", (400000, 2400000, 402000, 2402000), width=10, height=10)
    truth = np.zeros(coarse.shape)
    truth[2:4, 6:8] = 1.0
    write_geotiff(tmp_path / "truth.tif", truth, coarse, ["truth"])
    return tmp_path / "truth.tif"


@pytest.fixture
def grid():
    # the same frame in 100 m cells
    return grid_from_settings("EPSG:32649", (400000, 2400000, 402000, 2402000), width=20, height=20)


def test_truth_is_resampled_onto_the_map_grid(truth_path, grid):
    t = truth_on_grid(truth_path, grid)
    assert t.shape == (20, 20)
    assert t[5, 13] == pytest.approx(1.0) and t[15, 2] == pytest.approx(0.0)


def test_a_map_equal_to_the_truth_scores_one_and_its_inverse_zero(truth_path, grid, tmp_path):
    t = truth_on_grid(truth_path, grid)
    area = np.ones(grid.shape, dtype=bool)
    assert truth_auc(t, t, area)["truth_auc"] == pytest.approx(1.0)
    assert truth_auc(-t, t, area)["truth_auc"] == pytest.approx(0.0)
    # a map that leaves the deposit empty ranks it lowest and counts the cells
    holed = np.where(t > 0.5, np.nan, 0.3)
    result = truth_auc(holed, t, area)
    assert result["n_no_value"] == int((t > 0.5).sum()) and result["truth_auc"] < 0.5
    write_geotiff(tmp_path / "good.tif", t, grid, ["p"])
    write_geotiff(tmp_path / "flat.tif", np.full(grid.shape, 0.5), grid, ["p"])
    table = truth_table(truth_path, {"good": tmp_path / "good.tif", "flat": tmp_path / "flat.tif"}, area, grid)
    assert list(table["method"]) == ["good", "flat"]
    assert table["truth_auc"].tolist() == pytest.approx([1.0, 0.5])


def test_truth_outside_the_area_is_an_error(truth_path, grid):
    t = truth_on_grid(truth_path, grid)
    with pytest.raises(InputError, match="does not overlap"):
        truth_auc(t, t, np.zeros(grid.shape, dtype=bool))
