"""Scoring one method's fold maps: held-out-site scores per seed, window
metrics per fold, and the summary table across methods."""

import numpy as np
import pandas as pd

from ..errors import InputError
from ..evaluation.metrics import classification_metrics
from ..rasters import read_band
from ..tiles import TileLayout, build_tile_index
from .folds import SCORED, fold_window_roles
from .scores import capture, cluster_bootstrap, paired_difference, pa_intersection, site_scores, window_scores
from .yardstick import COMMODITY, FAIR, NESTED, ORACLE, tuning_of

KINDS = ("reference", "probe", "trained")
WINDOW_METRICS = ("roc_auc", "accuracy", "recall", "f1", "mcc")


def layout_index(grid, area_mask, window, stride, min_valid_fraction):
    """Windows over the whole grid (no train/test cut) with their valid share of
    the evaluated area; those below ``min_valid_fraction`` are 'skipped'."""
    index = build_tile_index(grid, np.empty((0, 2)), TileLayout(int(window), int(stride), grid.height))
    area = np.asarray(area_mask, dtype=bool)
    share = np.array([area[r:r + window, c:c + window].mean() for r, c in zip(index["row"], index["col"])])
    index["split"] = np.where(share >= min_valid_fraction, "train", "skipped")
    index["valid_fraction"] = share
    index.insert(0, "tile_id", np.arange(len(index)))
    return index


def evaluation_setting(density_path, tiles):
    """(area mask, whole-grid window index, grid) every record is scored on: the
    sampled area is where the sampling-density reference map has values."""
    density, grid = read_band(density_path)
    area = np.isfinite(density)
    index = layout_index(grid, area, tiles["window"], tiles["stride"], tiles["min_valid_fraction"])
    return area, index, grid


def evaluate_method(name, kind, fold_maps, plan, area_mask, *, window_index=None, window=None, buffer=None,
                    probability=None):
    """Score one method. ``fold_maps``: {seed: {fold: path}} (a reference map
    gives the same path for every fold). Returns a JSON-ready record with each
    held-out site's score per seed and the window metrics of each fold.

    ``window_index``: windows over the whole grid (``layout_index``); a fold
    tests those within ``buffer`` of its held-out sites. ``probability``: whether
    the map holds probabilities (threshold metrics at 0.5 are then given).
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    area = np.asarray(area_mask, dtype=bool)
    scored = [s for s in plan["sites"] if s["status"] == SCORED and s["fold"] >= 0]
    seeds = sorted(fold_maps)
    site_rows = {}
    windows = []
    tests = {}  # each fold's test windows, the same for every seed
    for seed in seeds:
        for f in range(plan["n_folds"]):
            path = fold_maps[seed].get(f)
            if path is None:
                raise InputError(f"{name}: no map for fold {f} of seed {seed}")
            prob, grid = read_band(path, 1)
            if prob.shape != area.shape:
                raise InputError(f"{name}: map shape {prob.shape} differs from the evaluated area {area.shape}",
                                 path=path)
            held = [s for s in scored if s["fold"] == f]
            if held:
                xy = np.array([[s["x"], s["y"]] for s in held])
                rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
                score, from_top = site_scores(prob, area, rows, cols)
                mapped = np.isfinite(prob[rows, cols])
                for s, v, a, ok in zip(held, score, from_top, mapped):
                    site_rows.setdefault(s["id"], {"id": s["id"], "name": s["name"], "cluster": s["cluster"],
                                                   "fold": f, "score": [], "area_from_top": [], "no_value": 0})
                    site_rows[s["id"]]["score"].append(float(v))
                    site_rows[s["id"]]["area_from_top"].append(float(a))
                    site_rows[s["id"]]["no_value"] += int(not ok)
            if window_index is not None:
                if f not in tests:
                    roles = fold_window_roles(grid, window_index, window, plan, f, buffer)
                    tests[f] = roles[roles["split"] == "test"]
                test = tests[f]
                ws = window_scores(prob, area, test["row"].to_numpy(), test["col"].to_numpy(), window)
                ok = np.isfinite(ws)
                windows.append({"seed": seed, "fold": f, "labels": test["label"].to_numpy()[ok].tolist(),
                                "scores": ws[ok].tolist()})
    sites = [site_rows[k] for k in sorted(site_rows)]
    return {"method": name, "kind": kind, "seeds": seeds, "n_folds": plan["n_folds"],
            "maps": {str(seed): {str(f): str(p) for f, p in fold_maps[seed].items()} for seed in seeds},
            "probability": bool(probability if probability is not None else kind == "trained"),
            "sites": sites, "windows": windows}


def _window_metrics(labels, scores, probability):
    labels, scores = np.asarray(labels, int), np.asarray(scores, float)
    if labels.size == 0:
        return {k: float("nan") for k in WINDOW_METRICS} | {"n": 0, "n_pos": 0}
    m = classification_metrics(labels, scores)
    out = {k: m[k] for k in WINDOW_METRICS}
    if not probability:  # a raw map has no 0.5 threshold: only the ranking means something
        out.update(accuracy=float("nan"), recall=float("nan"), f1=float("nan"), mcc=float("nan"))
    return out | {"n": int(labels.size), "n_pos": int(labels.sum())}


def _mean_over_seeds(metrics):
    """Each window metric averaged over seeds (NaN when no seed has it), with the counts."""
    out = {k: float(np.nanmean([m[k] for m in metrics])) if any(np.isfinite(m[k]) for m in metrics)
           else float("nan") for k in WINDOW_METRICS}
    return out | {"n": metrics[0]["n"], "n_pos": metrics[0]["n_pos"]}


def window_table(records):
    """Window metrics per method: each fold (mean over seeds) and pooled over folds."""
    rows = []
    for rec in records:
        by_fold = {}
        for w in rec["windows"]:
            by_fold.setdefault(w["fold"], []).append(w)
        for fold, entries in sorted(by_fold.items()):
            ms = [_window_metrics(e["labels"], e["scores"], rec["probability"]) for e in entries]
            rows.append({"method": rec["method"], "kind": rec["kind"], "fold": str(fold), **_mean_over_seeds(ms)})
        seeds = sorted({w["seed"] for w in rec["windows"]})
        pooled = []
        for seed in seeds:
            entries = [w for w in rec["windows"] if w["seed"] == seed]
            pooled.append(_window_metrics(sum((e["labels"] for e in entries), []),
                                          sum((e["scores"] for e in entries), []), rec["probability"]))
        if pooled:
            rows.append({"method": rec["method"], "kind": rec["kind"], "fold": "pooled", **_mean_over_seeds(pooled)})
    return pd.DataFrame(rows)


def _by_cluster(sites, key="score"):
    groups = {}
    for s in sites:
        groups.setdefault(s["cluster"], []).append(float(np.mean(s[key])))
    return [np.array(groups[c]) for c in sorted(groups)]


def cluster_means(groups):
    """Each cluster's mean as a group of one: the bootstrap of these weighs every cluster alike."""
    return [np.array([float(np.mean(g))]) for g in groups if len(g)]


#: the references every row's paired difference is given against: (name, with a beats verdict)
DIFFERENCES = ((FAIR, True), (NESTED, True), (COMMODITY, True), (ORACLE, False))


def summary_table(records, plan, *, fractions=(0.05, 0.1, 0.2), n_boot=2000, seed=0, density="sampling_density"):
    """One row per method: held-out-site AUC over sites and over clusters with
    cluster-bootstrap 95 % intervals, capture in the top fractions of the area,
    the P-A prediction rate, counts, and the paired difference (same bootstrap
    draws of clusters) from the references fixed before the test
    (reference_fair, reference_nested, reference_commodity: see
    ``pipeline.cv.yardstick``, with a beats verdict each), from the oracle
    reference (an upper bound, no verdict) and from the sampling-density map."""
    rows = []
    by_name = {r["method"]: r for r in records}
    for rec in records:
        sites = rec["sites"]
        if not sites:
            raise InputError(f"{rec['method']}: no held-out site has a map value")
        per_seed = np.array([[s["score"][i] for s in sites] for i in range(len(rec["seeds"]))])
        auc_by_seed = per_seed.mean(axis=1)
        groups = _by_cluster(sites)
        low, high = cluster_bootstrap(groups, n_boot, seed)
        c_low, c_high = cluster_bootstrap(cluster_means(groups), n_boot, seed)
        area_top = np.array([[s["area_from_top"][i] for s in sites] for i in range(len(rec["seeds"]))])
        chosen = rec.get("chosen")
        row = {"method": rec["method"], "kind": rec["kind"], "heldout_auc": float(auc_by_seed.mean()),
               "ci_low": low, "ci_high": high,
               "heldout_auc_clusters": float(np.mean([g.mean() for g in groups])),
               "ci_low_clusters": c_low, "ci_high_clusters": c_high,
               "seed_std": float(auc_by_seed.std()) if len(auc_by_seed) > 1 else float("nan"),
               "tuning": ("nested" if rec["method"] == FAIR and rec.get("chosen_chain") else
                          tuning_of(rec["method"], rec["kind"])),
               # the map each fold's scores came from (once when every fold took the same)
               "chosen": (chosen[0] if len(set(chosen)) == 1 else " ".join(chosen)) if chosen else ""}
        for f in fractions:
            row[f"top{f * 100:g}"] = float(np.mean([capture(a, [f])[float(f)] for a in area_top]))
        row["pa_prediction_rate"] = float(np.mean([pa_intersection(a) for a in area_top]))
        row.update(n_sites=len(sites), n_sites_no_value=int(sum(s.get("no_value", 0) > 0 for s in sites)),
                   n_sites_unscored=int(plan["n_sites"] - len(sites)),
                   n_sites_outside_grid=plan["n_outside_grid"], n_sites_outside_area=plan["n_outside_area"],
                   n_clusters=len({s["cluster"] for s in sites}), n_folds=rec["n_folds"],
                   seeds=" ".join(str(s) for s in rec["seeds"]) if rec["kind"] == "trained" else "n/a")
        rows.append(row)
    table = pd.DataFrame(rows)
    others = [(name, verdict) for name, verdict in DIFFERENCES if name in by_name]
    others.append(("sampling_density", False) if density in by_name else ("sampling_density", None))
    for label, verdict in others:
        other = density if label == "sampling_density" else label
        cols = {k: [] for k in ("d", "lo", "hi", "dc", "clo", "chi")}
        for rec in records:
            if verdict is None:
                for v in cols.values():
                    v.append(np.nan)
                continue
            a, b = _paired(rec["sites"], by_name[other]["sites"])
            d, lo, hi = paired_difference(a, b, n_boot, seed)
            diffs = [x - y for x, y in zip(a, b)]
            dc = float(np.mean([g.mean() for g in diffs])) if diffs else float("nan")
            clo, chi = cluster_bootstrap(cluster_means(diffs), n_boot, seed)
            for k, v in zip(cols, (d, lo, hi, dc, clo, chi)):
                cols[k].append(v)
        table[f"diff_vs_{label}"] = cols["d"]
        table[f"diff_{label}_ci_low"] = cols["lo"]
        table[f"diff_{label}_ci_high"] = cols["hi"]
        if verdict:
            table[f"beats_{label}"] = table[f"diff_{label}_ci_low"] > 0
            table[f"diff_vs_{label}_clusters"] = cols["dc"]
            table[f"diff_{label}_clusters_ci_low"] = cols["clo"]
            table[f"diff_{label}_clusters_ci_high"] = cols["chi"]
            table[f"beats_{label}_clusters"] = table[f"diff_{label}_clusters_ci_low"] > 0
    for name in (FAIR, ORACLE):
        table[f"{name}_is"] = by_name[name]["chosen"][0] if name in by_name else ""
    # a method whose interval of difference from the sampling-density map covers 0 is indistinguishable from it
    table["near_sampling_density"] = (table["diff_sampling_density_ci_low"] <= 0) & \
        (table["diff_sampling_density_ci_high"] >= 0)
    order = {k: i for i, k in enumerate(("trained", "probe", "reference"))}
    table = table.sort_values(["kind", "heldout_auc"], key=lambda c: c.map(order) if c.name == "kind" else -c,
                              kind="stable").reset_index(drop=True)
    return table


def site_table(records):
    """Every held-out site's seed-mean score in every record (the long table the
    pooled test reads): method, kind, site, name, cluster, fold, score, and
    the map the fold's score came from for the composed references."""
    rows = []
    for rec in records:
        chosen = rec.get("chosen")
        for s in rec["sites"]:
            rows.append({"method": rec["method"], "kind": rec["kind"], "site": s["id"], "name": s["name"],
                         "cluster": s["cluster"], "fold": s["fold"], "score": float(np.mean(s["score"])),
                         "source": chosen[s["fold"]] if chosen else rec["method"]})
    return pd.DataFrame(rows, columns=["method", "kind", "site", "name", "cluster", "fold", "score", "source"])


def _paired(sites_a, sites_b):
    """Per-cluster arrays of the seed-mean scores of the sites both records hold."""
    b = {s["id"]: s for s in sites_b}
    common = [s for s in sites_a if s["id"] in b]
    return _by_cluster(common), _by_cluster([b[s["id"]] for s in common])
