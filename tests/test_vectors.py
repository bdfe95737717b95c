"""GeoPackages are written as version 1.2, which QGIS 3.22 with GDAL 3.6 opens without
the "GeoPackage v1.4.0 may only be partially supported" warning (tests/test_qgis.py
checks that with real QGIS on the workflow's outputs)."""

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from pipeline.survey_io import read_points, write_points
from pipeline.vectors import GPKG_APPLICATION_ID, GPKG_USER_VERSION, gpkg_version, write_gpkg

REPO = Path(__file__).resolve().parent.parent


def test_write_gpkg_makes_a_geopackage_1_2(tmp_path):
    frame = gpd.GeoDataFrame({"name": ["a", "b"], "vote": pd.array([1, None], dtype="Int64")},
                             geometry=[Point(0, 0), Point(1, 1)], crs="EPSG:32649")
    path = write_gpkg(frame, tmp_path / "layer.gpkg", layer="points")
    assert gpkg_version(path) == (GPKG_APPLICATION_ID, GPKG_USER_VERSION) == (0x47504B47, 10200)
    back = gpd.read_file(path, layer="points")
    assert back.crs.to_epsg() == 32649 and back["name"].tolist() == ["a", "b"]


def test_points_keep_their_units_in_a_geopackage_1_2(tmp_path):
    frame = pd.DataFrame({"x": [500000.0, 500100.0], "y": [7000000.0, 7000100.0], "Cu": [1.0, np.nan]})
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs="EPSG:32649")
    gdf.attrs["units"] = {"Cu": "ppm"}
    path = write_points(gdf, tmp_path / "samples.gpkg")
    assert gpkg_version(path)[1] == 10200
    assert read_points(path).attrs["units"] == {"Cu": "ppm"}


def test_every_geopackage_write_goes_through_write_gpkg():
    """No module writes a GeoPackage by itself (GDAL's default would be 1.4 again)."""
    writes = re.compile(r"\.to_file\(|write_dataframe\(|driver\s*=\s*[\"']GPKG")
    offenders = []
    for path in sorted((REPO / "pipeline").rglob("*.py")) + sorted((REPO / "workflow").rglob("*.py")):
        if path.name == "vectors.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if writes.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "write GeoPackages with pipeline.vectors.write_gpkg:\n" + "\n".join(offenders)
