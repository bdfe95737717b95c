"""Folds built from clusters of known sites.

Sites a few kilometres apart share their geology and their sampling: a model
that saw one has in effect seen its neighbour. Sites are therefore clustered by
single linkage (two sites closer than ``cluster_distance`` are in one cluster,
and so transitively) and whole clusters are held out. With more clusters than
folds, clusters are dealt to folds by site count, largest first, so the folds
hold similar numbers of sites.
"""

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..errors import InputError
from ..grid import window_distance

#: columns of a sites layer tried, in order, for a readable site name
NAME_COLUMNS = ("SHORT_NAME", "Name", "NAME", "name", "SITE_NAME", "site_name", "Site", "site")

SCORED, OUTSIDE_GRID, OUTSIDE_AREA = "scored", "outside_grid", "outside_area"


def cluster_sites(site_xy, distance):
    """Single-linkage cluster label (0..k-1) of each site at ``distance`` (map units).

    Labels are numbered in order of each cluster's first site, so the same sites
    always give the same labels.
    """
    xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(float(distance), output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) \
        else coo_matrix((n, n))
    _, raw = connected_components(graph, directed=False)
    # renumber by first appearance
    order = {}
    return np.array([order.setdefault(int(c), len(order)) for c in raw], dtype=np.int64)


def assign_folds(cluster_sizes, n_folds, seed=0):
    """Fold (0..n_folds-1) of each cluster: every cluster its own fold when there
    are no more clusters than folds, else clusters dealt largest first to the
    fold with the fewest sites so far (ties among equal clusters broken by a
    permutation drawn from ``seed``; ties among folds by the lowest fold)."""
    sizes = np.asarray(cluster_sizes, dtype=np.int64)
    k = len(sizes)
    n_folds = int(n_folds)
    if n_folds >= k:
        return np.arange(k, dtype=np.int64)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(k)
    order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]
    load = np.zeros(n_folds, dtype=np.int64)
    fold = np.empty(k, dtype=np.int64)
    for c in order:
        f = int(np.argmin(load))
        fold[c] = f
        load[f] += sizes[c]
    return fold


def site_names(sites):
    """A readable name per site from the first name-like column, else 'site N'."""
    for column in NAME_COLUMNS:
        if column in sites.columns:
            names = sites[column].astype(str).tolist()
            return [n if n.strip() and n != "nan" else f"site {i + 1}" for i, n in enumerate(names)]
    return [f"site {i + 1}" for i in range(len(sites))]


def site_status(grid, site_xy, area_mask):
    """Per site: 'scored' (on a cell of the evaluated area), 'outside_grid' or
    'outside_area' (on the grid, but no sample near enough for a map value)."""
    xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    rows, cols = grid.rowcol(xy[:, 0], xy[:, 1])
    inside = (rows >= 0) & (rows < grid.height) & (cols >= 0) & (cols < grid.width)
    status = np.full(len(xy), OUTSIDE_GRID, dtype=object)
    on_area = np.zeros(len(xy), dtype=bool)
    on_area[inside] = np.asarray(area_mask, dtype=bool)[rows[inside], cols[inside]]
    status[inside & on_area] = SCORED
    status[inside & ~on_area] = OUTSIDE_AREA
    return status


def make_folds(site_xy, names, status, *, cluster_distance, folds="loco", max_folds=10, seed=0,
               buffer=None):
    """The fold plan as a JSON-ready dict.

    Every site is clustered (a site off the map can still link two that are on
    it); a cluster is held out only when at least one of its sites can be
    scored. ``folds``: "loco" (one cluster per fold, at most ``max_folds``) or a
    number of folds. Clear errors, naming the setting to change, when fewer
    than two clusters can be held out.
    """
    xy = np.asarray(site_xy, dtype=float).reshape(-1, 2)
    status = np.asarray(status, dtype=object)
    cluster = cluster_sites(xy, cluster_distance)
    scored = status == SCORED
    if not scored.any():
        raise InputError(f"none of the {len(xy)} sites lies on a cell with map values (outside the grid: "
                         f"{int((status == OUTSIDE_GRID).sum())}, on the grid but far from every sample: "
                         f"{int((status == OUTSIDE_AREA).sum())}); cross-validation needs sites inside the "
                         "sampled area: check sites_crs, the grid extent (interpolate.extent) and "
                         "interpolate.max_distance")
    usable = np.unique(cluster[scored])
    if len(usable) < 2:
        raise InputError(f"all {int(scored.sum())} scorable sites form one cluster at "
                         f"evaluate.cv.cluster_distance = {cluster_distance:g} m, so no fold can hold sites out "
                         "while others train: lower evaluate.cv.cluster_distance (for a small camp, a few hundred "
                         "metres) or set evaluate.cv.folds: 0 to turn cross-validation off")
    if folds == "loco":
        n_folds = min(len(usable), int(max_folds))
    else:
        n_folds = int(folds)
        if n_folds < 2 or n_folds > len(usable):
            raise InputError(f"evaluate.cv.folds = {n_folds}, but there are {len(usable)} clusters of sites "
                             f"with map values at evaluate.cv.cluster_distance = {cluster_distance:g} m: choose "
                             f"2 to {len(usable)}, or 'loco'")
    sizes = np.array([int((scored & (cluster == c)).sum()) for c in usable])
    fold_of_cluster = dict(zip(usable.tolist(), assign_folds(sizes, n_folds, seed).tolist()))
    site_fold = np.array([fold_of_cluster.get(int(c), -1) for c in cluster], dtype=np.int64)
    plan_folds = []
    for f in range(n_folds):
        members = np.flatnonzero(site_fold == f)
        plan_folds.append({"fold": f, "clusters": sorted({int(cluster[i]) for i in members}),
                           "sites": members.tolist(), "n_scored": int(scored[members].sum())})
    sites = [{"id": i, "name": str(names[i]), "x": float(xy[i, 0]), "y": float(xy[i, 1]),
              "cluster": int(cluster[i]), "fold": int(site_fold[i]), "status": str(status[i])}
             for i in range(len(xy))]
    return {"cluster_distance": float(cluster_distance), "buffer": None if buffer is None else float(buffer),
            "seed": int(seed), "n_sites": int(len(xy)), "n_scored": int(scored.sum()),
            "n_outside_grid": int((status == OUTSIDE_GRID).sum()),
            "n_outside_area": int((status == OUTSIDE_AREA).sum()),
            "n_clusters": int(len(np.unique(cluster))), "n_clusters_held_out": int(len(usable)),
            "n_folds": int(n_folds), "folds": plan_folds, "sites": sites}


def fold_sites(plan, fold):
    """(held-out site xy, training site xy) of one fold of a plan.

    Sites of clusters that are never held out (all their sites off the map)
    stay training sites in every fold.
    """
    xy = np.array([[s["x"], s["y"]] for s in plan["sites"]], dtype=float).reshape(-1, 2)
    held = np.array([s["fold"] == int(fold) for s in plan["sites"]], dtype=bool)
    return xy[held], xy[~held]


def fold_window_roles(grid, index, window, plan, fold, buffer, core=None):
    """Split of every kept window in one fold: 'train' beyond ``buffer`` of every
    held-out site, 'test' within it (these are the windows a fold tests; a
    window that also holds a training site is left out), 'skipped' otherwise.
    Labels: a site of any fold inside the window's centred ``core`` (cells; None:
    the whole window). Returns a copy of ``index``.
    """
    held_xy, train_xy = fold_sites(plan, fold)
    out = index.copy()
    kept = out["split"].isin(("train", "test")).to_numpy()
    rows, cols = out["row"].to_numpy(), out["col"].to_numpy()
    d_held = window_distance(grid, rows, cols, window, held_xy)
    d_train = window_distance(grid, rows, cols, window, train_xy)
    split = np.where(~kept, "skipped", np.where(d_held > buffer, "train", "test"))
    split = np.where((split == "test") & (d_train <= 0), "skipped", split)
    out["split"] = split
    if core is None or int(core) >= window:
        out["label"] = ((d_held <= 0) | (d_train <= 0)).astype(np.int64)
    else:
        off = (window - int(core)) // 2
        inside = np.minimum(window_distance(grid, rows + off, cols + off, int(core), held_xy),
                            window_distance(grid, rows + off, cols + off, int(core), train_xy))
        out["label"] = (inside <= 0).astype(np.int64)
    return out
