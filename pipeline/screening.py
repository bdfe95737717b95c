"""Element screening by ROC AUC and its significance (paper section 2.2, eqs. 1-2).

Each sample is labelled "with mines" when a known site lies within a radius.
An element's AUC measures how well its concentration separates the two groups;
Z_AUC tests whether that AUC differs from 0.5 (Hanley and McNeil's standard
error, eq. 1), and elements with Z_AUC above the critical value are selected.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .errors import InputError
from .evaluation.metrics import roc_auc

COLUMNS = ["element", "n_valid", "n_with_mines", "n_without_mines", "auc", "rank_auc",
           "s_auc", "z_auc", "selected"]


def s_auc(auc, c_p, c_n):
    """Standard deviation of the AUC, paper eq. 1 (Hanley and McNeil 1982)."""
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc ** 2 / (1.0 + auc)
    var = (auc * (1.0 - auc) + (c_p - 1) * (q1 - auc ** 2) + (c_n - 1) * (q2 - auc ** 2)) / (c_p * c_n)
    return math.sqrt(max(var, 0.0))


def z_auc(auc, c_p, c_n):
    """Paper eq. 2: how many standard deviations the AUC lies above 0.5."""
    sd = s_auc(auc, c_p, c_n)
    return float("inf") if sd == 0 else (auc - 0.5) / sd


def label_by_distance(sample_xy, site_xy, radius):
    """1 for samples within ``radius`` of a site, else 0; also the distance to the nearest site."""
    sample_xy = np.asarray(sample_xy, dtype=float)
    site_xy = np.asarray(site_xy, dtype=float)
    if len(site_xy) == 0:
        raise InputError("there are no known sites to label the samples with")
    dist, _ = cKDTree(site_xy).query(sample_xy, k=1)
    return (dist <= radius).astype(np.int8), dist


def svm_auc(values, labels, *, c=1.0, folds=5, seed=0, max_samples=4000):
    """Out-of-fold ROC AUC of an RBF support vector machine on one element.

    The SVM sees the log concentration, so one very rich sample cannot dominate
    the kernel. Decision values come from cross-validation: an in-sample AUC of an
    SVM would reward overfitting. Large surveys are subsampled (stratified) to
    ``max_samples`` because kernel SVM training grows quadratically.
    """
    x = np.log10(np.clip(np.asarray(values, dtype=float), 1e-12, None)).reshape(-1, 1)
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    if len(y) > max_samples:
        keep = []
        for cls in (0, 1):
            idx = np.flatnonzero(y == cls)
            n = max(1, round(max_samples * len(idx) / len(y)))
            keep.append(rng.choice(idx, size=min(n, len(idx)), replace=False))
        keep = np.sort(np.concatenate(keep))
        x, y = x[keep], y[keep]
    folds = min(folds, int(np.bincount(y, minlength=2).min()))
    if folds < 2:
        return float("nan")
    model = make_pipeline(StandardScaler(), SVC(C=c, kernel="rbf", gamma="scale", class_weight="balanced"))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, x, y, cv=cv, method="decision_function")
    return roc_auc(y, scores)


def extent_text(xy):
    """"x 2.0 km by y 1.6 km (412000..414000, 2431000..2432600)" for the error messages; '' without points."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if not len(xy):
        return ""
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return (f"the samples span {(x1 - x0) / 1000:.2f} km east-west by {(y1 - y0) / 1000:.2f} km north-south "
            f"(x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f})")


def check_class_sizes(labels, min_class_size, *, label_radius=None, distances=None, xy=None):
    """Stop unless both classes ("with mines" and "without mines") hold ``min_class_size`` samples.

    An AUC from two samples near a site is 1 or 0 by chance, and with no sample
    away from every site there is nothing to compare with. The message names
    ``screen.label_radius``, the counts and the survey's extent, and, given the
    distance of each sample to its nearest site, the radii that would leave
    enough samples in each class.
    """
    labels = np.asarray(labels)
    c_p, c_n = int(labels.sum()), int(len(labels) - labels.sum())
    if min(c_p, c_n) >= min_class_size:
        return c_p, c_n
    radius = f"{label_radius:g} m" if label_radius is not None else "screen.label_radius"
    parts = [f"{c_p} of {len(labels)} samples lie within {radius} of a known site (\"with mines\") and {c_n} "
             f"farther away (\"without mines\"); screening needs at least screen.min_class_size = "
             f"{min_class_size} in each class to compute an AUC"]
    if xy is not None and extent_text(xy):
        parts.append(extent_text(xy))
    fix = "change screen.label_radius"
    if distances is not None:
        d = np.sort(np.asarray(distances, dtype=float))
        m = int(min_class_size)
        if len(d) >= 2 * m and d[m - 1] < d[len(d) - m - 1]:
            fix = (f"set screen.label_radius between {d[m - 1]:.0f} and {d[len(d) - m - 1]:.0f} m "
                   f"(it leaves at least {m} samples in each class)")
        else:
            fix = (f"the survey has too few samples ({len(d)}) for two classes of {m}: lower screen.min_class_size "
                   "or use a larger survey")
    elif c_n < min_class_size:
        fix = "lower screen.label_radius (the survey is small compared with it)"
    elif c_p < min_class_size:
        fix = "raise screen.label_radius, or check the sites' CRS (sites_crs)"
    parts.append(fix)
    raise InputError("; ".join(parts), column="screen.label_radius")


def screen_elements(samples, elements, labels, *, method="svm", z_critical=2.58, explicit=None,
                    min_selected=1, direction="enriched", svm_c=1.0, cv_folds=5, seed=0, min_class_size=10,
                    workers=1):
    """Per-element AUC, S_AUC, Z_AUC and the selection, as a DataFrame in ``COLUMNS`` order.

    ``samples`` is a DataFrame with one column per element (NaN missing), and
    ``x``/``y`` where known (they go into error messages).
    ``explicit`` (a list of element names) overrides the Z_AUC selection.
    ``direction="enriched"`` selects only elements whose concentration is higher
    near sites (rank AUC above 0.5): an SVM's AUC cannot tell enrichment from
    depletion, and a depleted element is rarely what a geologist means by an
    indicator. ``"any"`` follows the paper's SVM AUC alone.
    ``min_class_size``: fewest samples each class needs; fewer in the survey is an
    InputError (check_class_sizes), fewer among one element's valid values leaves
    that element's AUC empty (and it is never selected).
    ``workers``: elements screened at once, in threads (libsvm releases the GIL);
    the table does not depend on it.
    """
    labels = np.asarray(labels)
    if labels.sum() == 0:
        raise InputError("no sample lies within the labelling radius of a known site: "
                         "increase screen.label_radius or check the sites' CRS (sites_crs)")
    xy = samples[["x", "y"]].to_numpy(dtype=float) if {"x", "y"} <= set(samples.columns) else None
    check_class_sizes(labels, min_class_size, xy=xy)

    def screen_one(name):
        values = samples[name].to_numpy(dtype=float)
        valid = np.isfinite(values)
        y = labels[valid]
        c_p, c_n = int(y.sum()), int((1 - y).sum())
        counts = dict(element=name, n_valid=int(valid.sum()), n_with_mines=c_p, n_without_mines=c_n)
        varies = bool(valid.any() and np.nanmax(values) > np.nanmin(values))
        if min(c_p, c_n) < max(min_class_size, 1):
            return dict(counts, auc=np.nan, rank_auc=np.nan, s_auc=np.nan, z_auc=np.nan), varies
        rank = roc_auc(y, values[valid])
        auc = svm_auc(values[valid], y, c=svm_c, folds=cv_folds, seed=seed) if method == "svm" else rank
        if not np.isfinite(auc):
            return dict(counts, auc=np.nan, rank_auc=rank, s_auc=np.nan, z_auc=np.nan), varies
        return dict(counts, auc=auc, rank_auc=rank, s_auc=s_auc(auc, c_p, c_n), z_auc=z_auc(auc, c_p, c_n)), varies

    if workers > 1 and len(elements) > 1:
        with ThreadPoolExecutor(min(int(workers), len(elements))) as pool:
            results = list(pool.map(screen_one, elements))
    else:
        results = [screen_one(name) for name in elements]
    rows = [row for row, _ in results]
    varies = {row["element"]: v for row, v in results}
    table = pd.DataFrame(rows, columns=COLUMNS[:-1])
    usable = np.isfinite(table["auc"].to_numpy(dtype=float)) & table["element"].map(varies).to_numpy(dtype=bool)
    table["selected"] = select(table, z_critical, explicit=explicit, min_selected=min_selected,
                               direction=direction, usable=usable)
    return table


def select(table, z_critical, *, explicit=None, min_selected=1, direction="any", usable=None):
    """Boolean selection: Z_AUC above the critical value, or the explicit list.

    Only elements with a finite Z_AUC (and, where ``usable`` is given, only those
    it marks: a finite AUC and values that vary) can be chosen. When fewer than
    ``min_selected`` pass, the highest Z_AUC of those are added so that later
    stages always have input (an element raised near sites before a depleted one
    under ``direction="enriched"``); the table says which were chosen. No usable
    element at all is an InputError: a later stage would fail on an element the
    user never chose.
    """
    names = list(table["element"])
    if explicit:
        missing = [e for e in explicit if e not in names]
        if missing:
            raise InputError(f"screen.elements names {missing}, which the prepared survey does not hold "
                             f"(available: {', '.join(names)})")
        return table["element"].isin(explicit).to_numpy()
    raw = table["z_auc"].to_numpy(dtype=float)
    ok = ~np.isnan(raw)
    if usable is not None:
        ok &= np.asarray(usable, dtype=bool)
    z = raw.copy()
    if direction == "enriched" and "rank_auc" in table:
        z = np.where(table["rank_auc"].to_numpy(dtype=float) > 0.5, z, np.nan)
    chosen = ok & (np.nan_to_num(z, nan=-np.inf, posinf=np.inf) > z_critical)
    if chosen.sum() < min_selected:
        if not ok.any():
            raise InputError("no element can be selected: none has an AUC that could be computed from values that "
                             f"vary ({', '.join(names)}); check the prepared values (qa.json: values_missing, "
                             "elements_dropped), screen.label_radius, or list screen.elements")
        # enriched first (by Z_AUC), then the rest by Z_AUC; unusable elements last and never taken
        key = np.where(ok, np.where(np.isnan(z), 0, 1), -1)
        order = np.lexsort((-np.nan_to_num(raw, nan=-np.inf), -key))
        for i in order:
            if chosen.sum() >= min_selected or not ok[i]:
                break
            chosen[i] = True
    return chosen
