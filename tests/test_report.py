"""Report figures and the self-contained HTML page, on a small synthetic results folder
written in the workflow's formats (GeoTIFFs, GeoPackages, JSON and CSV tables)."""

import base64
import json
import re
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from rasterio.transform import Affine
from shapely.geometry import box

from pipeline.atomic import write_json
from pipeline.cv.uncertainty import spread_map
from pipeline.errors import InputError
from pipeline.evaluation.maps import evaluate_map, part_mask, sites_in_part
from pipeline.evaluation.tables import json_safe
from pipeline.grid import GridSpec
from pipeline.qgis_style import write_spread_style
from pipeline.rasters import read_band, write_geotiff
from pipeline.report import ReportInputs, build_report
from pipeline.report import figures as fig
from pipeline.report.tables import map_curve_entries
from pipeline.report.scores import read_window_scores, write_window_scores
from pipeline.survey_io import write_points

GRID = GridSpec("EPSG:32649", Affine(100.0, 0.0, 400000.0, 0.0, -100.0, 2404000.0), 48, 40)
WINDOW, STRIDE, SPLIT_ROW = 16, 8, 24
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the IHDR chunk, after checking the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def assert_valid_png(path, min_side=200, max_side=4000):
    w, h = png_size(path)
    assert min_side <= w <= max_side and min_side <= h <= max_side, (path.name, w, h)
    pixels = imread(path)  # decodes the whole image: a truncated file fails here
    assert pixels.shape[:2] == (h, w)
    assert pixels[..., :3].std() > 0.01, f"{path.name} is blank"


def _probability(rng, sites_rc):
    """A map high near the sites, with a nodata corner."""
    rr, cc = np.mgrid[0:GRID.height, 0:GRID.width]
    d = np.min([np.hypot(rr - r, cc - c) for r, c in sites_rc], axis=0)
    p = np.exp(-d / 6.0) * 0.9 + 0.05 * rng.random(GRID.shape)
    p[:6, :8] = np.nan
    return p.astype(np.float32)


def _windows(grid):
    rows = []
    for r in range(0, grid.height - WINDOW + 1, STRIDE):
        for c in range(0, grid.width - WINDOW + 1, STRIDE):
            split = "train" if r + WINDOW <= SPLIT_ROW else "test" if r >= SPLIT_ROW else "skipped"
            rows.append({"tile_id": len(rows), "row": r, "col": c, "split": split})
    return pd.DataFrame(rows)


def _metric_table(names, name_column, seeds=(42, 43)):
    rng = np.random.default_rng(1)
    rows = []
    for i, name in enumerate(names):
        row = {name_column: name, "n_seeds": len(seeds), "seeds": " ".join(map(str, seeds))}
        for m in ("accuracy", "recall", "f1", "roc_auc", "average_precision", "mcc"):
            row[f"{m}_mean"], row[f"{m}_std"] = 0.5 + 0.1 * i * rng.random(), 0.05
        for m in ("accuracy", "recall", "f1"):
            row[f"paper_{m}_mean"], row[f"paper_{m}_std"] = 0.6, np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """results/{dataset} of a small run, every file the report reads."""
    d = tmp_path_factory.mktemp("results") / "demo"
    for sub in ("prepare", "rasters", "stack", "maps", "tiles", "models", "screening", "tables"):
        (d / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    sites_rc = [(5, 30), (12, 10), (18, 40), (30, 12), (35, 30)]
    xs = [GRID.transform.c + (c + 0.5) * 100 for _, c in sites_rc]
    ys = [GRID.transform.f - (r + 0.5) * 100 for r, _ in sites_rc]
    sites = gpd.GeoDataFrame({"name": [f"site {i}" for i in range(5)]},
                             geometry=gpd.points_from_xy(xs, ys), crs=GRID.crs)
    write_points(sites, d / "prepare" / "sites.gpkg")
    site_xy = np.column_stack([xs, ys])

    for name, scale in (("Au", 3.0), ("Cu", 40.0)):
        write_geotiff(d / "rasters" / f"{name}.tif", scale * rng.lognormal(size=GRID.shape), GRID, [name])
    write_json(d / "rasters" / "rasters.json", {"elements": ["Cu", "Au"]})
    write_geotiff(d / "stack" / "zscore.tif", rng.normal(size=(2,) + GRID.shape), GRID, ["Cu", "Au"])
    write_geotiff(d / "maps" / "skt_probability.tif", _probability(rng, sites_rc), GRID, ["skt_probability"])
    write_geotiff(d / "maps" / "svm_pixel_probability.tif", rng.random(GRID.shape), GRID, ["probability"])
    # spread maps of two methods' cross-validation models (three folds each)
    for name in ("skt", "svm_pixel"):
        folds = []
        for k in range(3):
            folds.append(d / "cv" / "maps" / name / "seed42" / f"fold{k}.tif")
            write_geotiff(folds[-1], _probability(rng, sites_rc[k:k + 3]), GRID, ["probability"])
        spread_map(folds, d / "maps" / f"{name}_uncertainty.tif", method=name)
        write_spread_style(d / "maps" / f"{name}_uncertainty.tif")

    index = _windows(GRID)
    index["label"] = [int(any(r <= sr < r + WINDOW and c <= sc < c + WINDOW for sr, sc in sites_rc))
                      for r, c in zip(index["row"], index["col"])]
    index["n_sites"] = index["label"]
    footprints = [box(*GRID.window_bounds(r, c, WINDOW, WINDOW)) for r, c in zip(index["row"], index["col"])]
    gpd.GeoDataFrame(index, geometry=footprints, crs=GRID.crs).to_file(d / "tiles" / "index.gpkg", layer="tiles")
    windows = index.copy()
    windows["probability"] = np.where(windows["split"] == "skipped", np.nan,
                                      0.3 + 0.5 * windows["label"] + 0.1 * rng.random(len(windows)))
    windows["vote"] = (windows["probability"] >= 0.5).astype(float).where(windows["probability"].notna())
    gpd.GeoDataFrame(windows, geometry=footprints, crs=GRID.crs).to_file(d / "maps" / "skt_windows.gpkg",
                                                                         layer="skt_windows")
    counts = {s: {"windows": int((index["split"] == s).sum()), "with_mines": int(index.loc[index["split"] == s,
                                                                                          "label"].sum())}
              for s in ("train", "test", "skipped")}
    write_json(d / "tiles" / "tiles.json", {"elements": ["Cu", "Au"], "window": WINDOW, "stride": STRIDE,
                                            "split_row": SPLIT_ROW, "grid": GRID.to_dict(), "counts": counts})

    confusion = {"t1_rho1": [[3, 1], [1, 2]], "t2_rho2": [[2, 2], [0, 3]], "vote": [[3, 1], [0, 3]]}
    primary = {k: {"n": 7, "n_with_mines": 3, "accuracy": 0.7, "recall": 0.6, "precision": 0.5, "f1": 0.6,
                   "f1_mines": 0.55, "roc_auc": 0.8, "confusion": v} for k, v in confusion.items()}
    write_json(d / "models" / "skt_metrics.json", {
        "primary": primary, "paper_protocol": {"vote": dict(primary["vote"], confusion=[[6, 2], [0, 6]])},
        "soft_mask_values": {"Cu": 1.1, "Au": 0.9}})
    epochs = np.arange(1, 6)
    pd.DataFrame({"epoch": epochs, "lr": 0.1, "loss_total": 1.0 / epochs, "test_vote_accuracy": 0.5 + epochs / 20,
                  "test_vote_f1": 0.4 + epochs / 20, "test_vote_roc_auc": 0.6}).to_csv(d / "models" / "skt_log.csv",
                                                                                       index=False)
    pd.DataFrame({"epoch": epochs, "lr": 0.1, "loss_total": 0.8 / epochs,
                  "test_vote_accuracy": 0.6}).to_csv(d / "models" / "source_log.csv", index=False)
    write_json(d / "prepare" / "qa.json", {
        "samples": {"file": "survey.csv", "rows_read": 1234, "rows_kept": 1230, "crs_in": "EPSG:4326",
                    "crs_out": "EPSG:32649",
                    "rows_rejected": {"count": 4, "by_reason": {"missing coordinate": 3, "outside the area": 1},
                                      "rows": [{"row": 17, "reason": "missing coordinate", "column": "X",
                                                "value": ""}]},
                    "values_missing": {"Au": {"total": 9}}, "values_below_detection": {"counts": {"Au": {"count": 77}}},
                    "locations_merged": {"rows_merged_away": 5, "locations_written": 1225},
                    "elements_kept": {"Au": {"unit": "ppb", "valid_locations": 1200},
                                      "Cu": {"unit": "ppm", "valid_locations": 1210}},
                    "elements_dropped": {"Mn": "fewer than 30 valid locations"},
                    "units": {"Au": "ppb", "Cu": "ppm"}},
        "sites": {"file": "sites.csv", "rows_read": 5, "rows_kept": 5, "rows_rejected": {"count": 0}}})
    pd.DataFrame({"element": ["Au", "Cu", "Mn"], "n_valid": [1200, 1210, 20], "auc": [0.7, 0.8, 0.5],
                  "z_auc": [5.1, 7.7, 0.1], "selected": [True, True, False]}).to_csv(
        d / "screening" / "elements.csv", index=False)

    comparison = _metric_table(["SVM", "KNN (per pixel)", "SKT (ours)"], "Methods")
    comparison.insert(0, "method", ["svm", "knn_pixel", "skt"])
    comparison.to_csv(d / "tables" / "comparison.csv", index=False)
    _metric_table(["rho = 1 (t1_rho1)", "Voting"], "Target Network").to_csv(d / "tables" / "per_network.csv",
                                                                             index=False)
    _metric_table(["R-S-Mask", "Ours (full SKT)"], "Methods").to_csv(d / "tables" / "ablation.csv", index=False)
    beta = _metric_table([0.1, 0.5, 0.9], "beta")
    beta.insert(1, "label", [f"beta = {b:g}" for b in (0.1, 0.5, 0.9)])
    beta.to_csv(d / "tables" / "beta_sweep.csv", index=False)
    write_window_scores(d / "tables" / "test_window_scores.csv", windows=d / "maps" / "skt_windows.gpkg",
                        tiles_index=d / "tiles" / "index.gpkg", tiles_meta=d / "tiles" / "tiles.json",
                        dense_maps={"svm_pixel": d / "maps" / "svm_pixel_probability.tif"})

    maps = {}
    for name, label in (("skt", "SKT (ours)"), ("svm_pixel", "SVM (per pixel)")):
        prob, grid = read_band(d / "maps" / f"{name}_probability.tif")
        maps[name] = {"map": name, "label": label,
                      "test_sites": evaluate_map(prob, grid, site_xy, sites_in_part(grid, site_xy, SPLIT_ROW),
                                                 area_mask=part_mask(grid, SPLIT_ROW)),
                      "all_sites": evaluate_map(prob, grid, site_xy)}
    write_json(d / "tables" / "map_evaluation.json", json_safe({"dataset": "demo", "maps": maps}))
    return d


def test_each_figure_function_writes_a_valid_png(results, tmp_path):
    d = results
    site_xy = gpd.read_file(d / "prepare" / "sites.gpkg").get_coordinates().to_numpy()
    evaluation = json.loads((d / "tables" / "map_evaluation.json").read_text())
    skt = evaluation["maps"]["skt"]["test_sites"]
    windows = gpd.read_file(d / "maps" / "skt_windows.gpkg")
    test = windows[windows["split"] == "test"]
    made = [
        fig.element_rasters_figure([d / "rasters" / "Au.tif", d / "rasters" / "Cu.tif"], tmp_path / "el.png",
                                   units={"Au": "ppb"}),
        fig.element_rasters_figure(d / "stack" / "zscore.tif", tmp_path / "stack.png"),
        fig.prospectivity_map_figure(d / "maps" / "skt_probability.tif", tmp_path / "map.png", sites_xy=site_xy,
                                     split_row=SPLIT_ROW),
        fig.probability_maps_figure({"a": d / "maps" / "skt_probability.tif",
                                     "b": d / "maps" / "svm_pixel_probability.tif"}, tmp_path / "maps.png",
                                    sites_xy=site_xy, split_row=SPLIT_ROW),
        fig.window_predictions_figure(windows, tmp_path / "win.png", grid=GRID, window=WINDOW, stride=STRIDE,
                                      sites_xy=site_xy, split_row=SPLIT_ROW),
        fig.confusion_matrix_figure({"vote": [[3, 1], [0, 3]], "empty class": [[0, 0], [1, 2]]},
                                    tmp_path / "cm.png"),
        fig.roc_figure({"skt": (test["label"], test["probability"]), "one class": ([1, 1], [0.2, 0.3])},
                       tmp_path / "roc.png"),
        fig.success_rate_figure({"skt": {**skt["curves"]["success_rate"], "auc": skt["success_rate_auc"]}},
                                tmp_path / "sr.png"),
        fig.prediction_area_figure({"skt": {**skt["curves"]["prediction_area"], "threshold": skt["pa_threshold"],
                                            "prediction_rate": skt["pa_prediction_rate"]}}, tmp_path / "pa.png"),
        fig.training_curves_figure({"SKT": d / "models" / "skt_log.csv", "source": d / "models" / "source_log.csv"},
                                   tmp_path / "train.png"),
        fig.beta_curve_figure(d / "tables" / "beta_sweep.csv", tmp_path / "beta.png"),
        fig.spread_maps_figure({"SKT": d / "maps" / "skt_uncertainty.tif"}, tmp_path / "spread.png",
                               sites_xy=site_xy),
    ]
    for path in made:
        assert_valid_png(path)
    assert not list(tmp_path.glob(".*part*")), "temporary files left behind"


def test_roc_points_match_the_rank_auc_with_ties():
    from sklearn.metrics import roc_auc_score

    y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 0, 0])
    s = np.array([0.1, 0.9, 0.4, 0.4, 0.8, 0.2, 0.4, 0.4, 0.3, np.nan])
    fpr, tpr, auc, n = fig.roc_points(y, s)
    assert n == 9 and fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert auc == pytest.approx(roc_auc_score(y[:9], s[:9]))
    assert fig.roc_points([1, 1], [0.3, 0.4]) is None


def test_map_evaluation_entries_follow_the_table_layout(results):
    evaluation = json.loads((results / "tables" / "map_evaluation.json").read_text())
    entries = map_curve_entries(evaluation)
    assert {(label, scope) for label, scope, _ in entries} == {
        ("SKT (ours)", "test"), ("SKT (ours)", "all"), ("SVM (per pixel)", "test"), ("SVM (per pixel)", "all")}
    # a bare evaluate_map result nested under a method name
    bare = {"skt": {"test": evaluation["maps"]["skt"]["test_sites"]}}
    assert [(label, scope) for label, scope, _ in map_curve_entries(bare)] == [("skt", "test")]


def _images(page):
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*data-file="([^"]+)"', page)


def test_report_embeds_every_figure_and_table(results, tmp_path):
    out = tmp_path / "report" / "report.html"
    summary = build_report(ReportInputs.from_results(results), out, tmp_path / "report" / "figures",
                           dataset="demo", settings={"tiles": {"window": WINDOW, "stride": STRIDE}})
    page = out.read_text()
    names = {p.name for p in summary["figures"]}
    assert names == {"prospectivity_skt.png", "windows_skt.png", "prospectivity_baselines.png",
                     "roc_test_windows.png", "success_rate_test.png", "prediction_area_test.png",
                     "success_rate_all.png", "prediction_area_all.png", "confusion_skt.png", "training.png",
                     "beta_sweep.png", "elements.png", "uncertainty.png"}
    for path in summary["figures"]:
        assert_valid_png(path)
    images = _images(page)
    assert {name for _, name in images} == names
    for data, name in images:  # the embedded bytes are the PNG on disk
        assert base64.b64decode(data) == (tmp_path / "report" / "figures" / name).read_bytes()
    # self-contained: every image inline, no script, no stylesheet or image fetched from elsewhere
    assert not re.search(r'src="(?!data:)', page) and "<script" not in page and "<link" not in page
    # tables from the CSVs, QA counts, screening and settings
    for text in ("SVM", "KNN (per pixel)", "SKT (ours)", "rho = 1 (t1_rho1)", "Voting", "R-S-Mask",
                 "Ours (full SKT)", "beta = 0.5", "1234", "missing coordinate", "fewer than 30 valid locations",
                 "ppb", "z_auc", "Mn", "stride: 8", "success_rate_auc", "F1 (macro, paper)",
                 "svm_pixel_probability.tif", "skt_uncertainty.tif", "skt_uncertainty.qml",
                 "svm_pixel_uncertainty.tif", "not a probability of error", "3 models"):
        assert text in page, text
    assert "± 0.050" in page  # mean ± std over seeds
    assert summary["sections"][:2] == ["Summary", "Prospectivity maps"]


def test_report_of_a_partial_run_says_what_is_missing(results, tmp_path):
    inputs = ReportInputs(probability=results / "maps" / "skt_probability.tif", sites=results / "prepare" /
                          "sites.gpkg", tiles_meta=results / "tiles" / "tiles.json")
    out = tmp_path / "report.html"
    summary = build_report(inputs, out, tmp_path / "figures", dataset="partial")
    page = out.read_text()
    # nothing is recomputed: without tables/map_evaluation.json no map curves, without the scores no ROC
    assert {p.name for p in summary["figures"]} == {"prospectivity_skt.png"}
    assert "No map-level evaluation (tables/map_evaluation.json)" in page
    assert "No comparison table" in page and "No SKT metrics" in page


def test_window_scores_are_the_window_layer_and_the_maps_on_the_test_windows(results):
    from pipeline.baselines.classical import window_probabilities
    from pipeline.methods import label

    table = pd.read_csv(results / "tables" / "test_window_scores.csv")
    assert list(table.columns) == ["method", "window_score", "label", "probability"]
    windows = gpd.read_file(results / "maps" / "skt_windows.gpkg")
    test = windows[windows["split"] == "test"]
    skt = table[table["method"] == "skt"]
    assert (skt["window_score"] == "model").all() and skt["label"].tolist() == test["label"].tolist()
    assert np.array_equal(skt["probability"].to_numpy(), test["probability"].to_numpy())   # full precision
    index = pd.DataFrame(gpd.read_file(results / "tiles" / "index.gpkg").drop(columns="geometry"))
    on_test = (index["split"] == "test").to_numpy()
    svm = table[table["method"] == "svm_pixel"]
    assert (svm["window_score"] == "mean").all() and svm["label"].tolist() == index.loc[on_test, "label"].tolist()
    np.testing.assert_array_equal(svm["probability"].to_numpy(),
                                  window_probabilities(results / "maps" / "svm_pixel_probability.tif", index,
                                                       WINDOW)[on_test])
    scores = read_window_scores(results / "tables" / "test_window_scores.csv")
    assert list(scores) == [label("skt"), f"{label('svm_pixel')} (map, window mean)"]


def test_window_scores_of_the_per_pixel_baselines_use_the_configured_reduction(results, tmp_path):
    from pipeline.baselines.classical import window_probabilities
    from pipeline.methods import label

    svm = results / "maps" / "svm_pixel_probability.tif"
    out = tmp_path / "test_window_scores.csv"
    write_window_scores(out, windows=None, tiles_index=results / "tiles" / "index.gpkg",
                        tiles_meta=results / "tiles" / "tiles.json", dense_maps={"svm_pixel": svm, "mobilenet_v2": svm},
                        reduce=0.9)
    scores = read_window_scores(out)
    assert list(scores) == [f"{label('svm_pixel')} (map, window 0.9)", f"{label('mobilenet_v2')} (map, window mean)"]
    index = pd.DataFrame(gpd.read_file(results / "tiles" / "index.gpkg").drop(columns="geometry"))
    on_test = (index["split"] == "test").to_numpy()
    np.testing.assert_array_equal(scores[f"{label('svm_pixel')} (map, window 0.9)"][1],
                                  window_probabilities(svm, index, WINDOW, 0.9)[on_test])


def test_report_functions_are_short():
    """The house rule: the report is assembled from small functions (none over about 60 lines)."""
    import ast
    from pathlib import Path

    import pipeline.report

    folder = Path(pipeline.report.__file__).parent
    long = []
    for name in ("build.py", "sections.py", "inputs.py", "tables.py", "scores.py"):
        for node in ast.walk(ast.parse((folder / name).read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def test_malformed_inputs_name_the_file(results, tmp_path):
    bad = tmp_path / "map_evaluation.json"
    bad.write_text("{not json")
    inputs = ReportInputs(probability=results / "maps" / "skt_probability.tif", map_evaluation=bad)
    with pytest.raises(InputError, match="map_evaluation.json"):
        build_report(inputs, tmp_path / "r.html", tmp_path / "f", dataset="x")
    no_label = tmp_path / "test_window_scores.csv"
    pd.DataFrame({"method": ["skt"], "probability": [0.5]}).to_csv(no_label, index=False)
    with pytest.raises(InputError, match="test_window_scores.csv"):
        build_report(ReportInputs(window_scores=no_label), tmp_path / "r.html", tmp_path / "f", dataset="x")
    no_beta = tmp_path / "beta.csv"
    pd.DataFrame({"f1_mean": [0.5]}).to_csv(no_beta, index=False)
    with pytest.raises(InputError, match="beta"):
        fig.beta_curve_figure(no_beta, tmp_path / "b.png")
    with pytest.raises(InputError, match="2 x 2"):
        fig.confusion_matrix_figure({"x": [[1, 2, 3]]}, tmp_path / "c.png")


def test_sites_off_the_grid_are_counted_apart_in_the_legend():
    from matplotlib.figure import Figure

    transform = Affine(10.0, 0, 0.0, 0, -10.0, 400.0)    # 40 x 40 cells, split at row 20 (y = 200)
    sites = np.array([[50.0, 350.0], [60.0, 50.0], [5000.0, 50.0], [-900.0, 20.0]])  # two on the grid
    ax = Figure().add_subplot(1, 1, 1)
    fig._draw_sites_and_boundary(ax, sites, transform, 40, 40, 20)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "sites outside the grid (2, not drawn)" in labels
    assert "training-part sites (1)" in labels and "test-part sites (1)" in labels
