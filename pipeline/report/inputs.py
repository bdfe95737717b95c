"""What the report reads: the paths of one dataset's results (ReportInputs),
their readers, and the tile layout every map figure shares (Layout).

Every input is optional: a missing one leaves its section with a note, so
the report of a partial run still opens. A present but malformed one raises
InputError naming the file.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..grid import GridSpec
from ..records import read_json


@dataclass
class ReportInputs:
    """Paths the report reads; any may be None (or empty) when not produced."""

    rasters: list = field(default_factory=list)
    stack: Path = None
    sites: Path = None
    tiles_meta: Path = None
    tiles_index: Path = None
    probability: Path = None
    windows: Path = None
    skt_metrics: Path = None
    skt_log: Path = None
    source_log: Path = None
    qa: Path = None
    elements: Path = None
    comparison: Path = None
    per_network: Path = None
    ablation: Path = None
    beta_sweep: Path = None
    map_evaluation: Path = None
    #: labels and scores of the test windows for the ROC figure (tables/test_window_scores.csv)
    window_scores: Path = None
    cv_summary: Path = None
    dense_maps: dict = field(default_factory=dict)
    #: {method: spread map} of the cross-validation's fold models (maps/{method}_uncertainty.tif)
    uncertainty_maps: dict = field(default_factory=dict)
    #: {method: (figure, table)} of the top elements at the held-out sites (tables/{method}_attribution_sites.*)
    attribution: dict = field(default_factory=dict)

    @classmethod
    def from_results(cls, results_dir):
        """The standard layout under ``results/{dataset}``, keeping only files that exist."""
        d = Path(results_dir)

        def opt(rel):
            p = d / rel
            return p if p.exists() else None

        maps = {p.name[:-len("_probability.tif")]: p for p in sorted((d / "maps").glob("*_probability.tif"))}
        maps.pop("skt", None)
        spreads = {p.name[:-len("_uncertainty.tif")]: p for p in sorted((d / "maps").glob("*_uncertainty.tif"))}
        attribution = {p.name[:-len("_attribution_sites.png")]: (p, p.with_suffix(".csv"))
                       for p in sorted((d / "tables").glob("*_attribution_sites.png")) if p.with_suffix(".csv").exists()}
        return cls(rasters=raster_files(d / "rasters"), stack=opt("stack/zscore.tif"),
                   sites=opt("prepare/sites.gpkg"), tiles_meta=opt("tiles/tiles.json"),
                   tiles_index=opt("tiles/index.gpkg"), probability=opt("maps/skt_probability.tif"),
                   windows=opt("maps/skt_windows.gpkg"), skt_metrics=opt("models/skt_metrics.json"),
                   skt_log=opt("models/skt_log.csv"), source_log=opt("models/source_log.csv"),
                   qa=opt("prepare/qa.json"), elements=opt("screening/elements.csv"),
                   comparison=opt("tables/comparison.csv"), per_network=opt("tables/per_network.csv"),
                   ablation=opt("tables/ablation.csv"), beta_sweep=opt("tables/beta_sweep.csv"),
                   map_evaluation=opt("tables/map_evaluation.json"),
                   window_scores=opt("tables/test_window_scores.csv"), cv_summary=opt("tables/cv_summary.csv"),
                   dense_maps=maps, uncertainty_maps=spreads, attribution=attribution)


@dataclass
class Layout:
    """The tiling the map figures share: tiles.json, its grid and train/test row, and the known sites."""

    meta: dict = field(default_factory=dict)
    grid: GridSpec = None
    split_row: int = None
    sites_xy: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))


def read_layout(inputs):
    """Layout from tiles.json and the sites, each optional."""
    meta = read_json(inputs.tiles_meta) if inputs.tiles_meta else {}
    grid = GridSpec.from_dict(meta["grid"]) if "grid" in meta else None
    sites_xy = np.empty((0, 2))
    if inputs.sites:
        from ..survey_io import read_points

        sites_xy = read_points(inputs.sites).get_coordinates().to_numpy()
    return Layout(meta=meta, grid=grid, split_row=meta.get("split_row"), sites_xy=sites_xy)


def raster_files(folder):
    """Element GeoTIFFs of the interpolate stage, in the order of rasters.json when present."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = {p.stem: p for p in sorted(folder.glob("*.tif"))}
    meta = folder / "rasters.json"
    if meta.exists():
        order = read_json(meta).get("elements", [])
        return [files.pop(e) for e in order if e in files] + list(files.values())
    return list(files.values())


def read_csv(path, **kwargs):
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV table: {exc}", path=path) from None


def require_columns(frame, columns, path):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"lacks columns {missing}", path=path, column=missing[0])


def method_label(name):
    from ..methods import label

    return label(name)
