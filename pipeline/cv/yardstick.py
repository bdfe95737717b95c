"""References fixed before the test: what a trained map has to beat.

- ``reference_commodity``: the raster of the survey's declared commodity
  element (``pipeline.cv.commodity``), fixed before any site is held out.
- ``reference_nested``: in each fold, the element raster (or the label-free
  robust anomaly map) that ranks that fold's *training* sites highest, then
  read at the fold's held-out sites. What a geologist who knew only the
  training deposits would pick.
- ``reference_fair``: the stronger of the two on the held-out sites. Both are
  fixed without the test sites, so taking the higher can only raise the bar.
- ``oracle_reference``: the best single reference map picked on the held-out
  sites themselves; an upper bound no user holds in advance, never a verdict.

Every function here takes the JSON records of ``pipeline.cv.evaluate`` (each
site's score in every reference map) and the fold plan, so the nested choice
is a pure function of the training sites' scores; a test moves the held-out
sites and shows the choice unchanged.
"""

import numpy as np

from ..errors import InputError

COMMODITY, NESTED, FAIR, ORACLE = "reference_commodity", "reference_nested", "reference_fair", "oracle_reference"
#: the references a verdict is given against (beats_* columns), in the order the tables show them
VERDICT_REFERENCES = (FAIR, NESTED, COMMODITY)
DERIVED = (NESTED, FAIR, ORACLE)


def nested_candidates(records):
    """Names of the maps the nested choice picks among: every element raster and
    the robust anomaly (no probe, no sampling density: a geologist would not
    pick the survey design as a map)."""
    return [r["method"] for r in records
            if r["kind"] == "reference" and (r["method"].startswith("idw_") or r["method"] == "robust_anomaly")]


def _site_means(record):
    return {s["id"]: (s["fold"], float(np.mean(s["score"]))) for s in record["sites"]}


def nested_choice(records, plan, candidates=None):
    """Per fold, the candidate map that ranks the fold's training sites highest
    (mean site-against-area score of the scored sites of every other fold; ties
    go to the first candidate). Returns one dict per fold: fold, chosen,
    training_auc, n_training_sites, runner_up, runner_up_auc."""
    by_name = {r["method"]: r for r in records}
    candidates = list(candidates if candidates is not None else nested_candidates(records))
    if not candidates:
        raise InputError("no element raster to choose reference_nested from")
    means = {c: _site_means(by_name[c]) for c in candidates}
    out = []
    for f in range(int(plan["n_folds"])):
        aucs = []
        n_train = 0
        for c in candidates:
            train = [v for fold, v in means[c].values() if fold != f]
            n_train = len(train)
            aucs.append(float(np.mean(train)) if train else float("nan"))
        aucs = np.array(aucs)
        if not np.isfinite(aucs).any():
            raise InputError(f"fold {f} has no training site with a map value to choose reference_nested on")
        order = np.argsort(-np.where(np.isfinite(aucs), aucs, -np.inf), kind="stable")
        best = int(order[0])
        second = int(order[1]) if len(order) > 1 else None
        out.append({"fold": f, "chosen": candidates[best], "training_auc": float(aucs[best]),
                    "n_training_sites": n_train,
                    "runner_up": candidates[second] if second is not None else None,
                    "runner_up_auc": float(aucs[second]) if second is not None else float("nan")})
    return out


def composed_record(name, per_fold, by_name, n_folds):
    """A record whose fold ``f`` is record ``per_fold[f]``'s fold ``f``: its
    held-out sites' scores, its window metrics and its map."""
    sites, windows, maps = [], [], {}
    for f in range(int(n_folds)):
        src = by_name[per_fold[f]]
        sites += [dict(s) for s in src["sites"] if s["fold"] == f]
        windows += [dict(w, seed=0) for w in src["windows"] if w["fold"] == f and w["seed"] == src["seeds"][0]]
        maps[str(f)] = src.get("maps", {}).get(str(src["seeds"][0]), {}).get(str(f))
    return {"method": name, "kind": "reference", "seeds": [0], "n_folds": int(n_folds), "maps": {"0": maps},
            "probability": False, "sites": sorted(sites, key=lambda s: s["id"]), "windows": windows,
            "chosen": [per_fold[f] for f in range(int(n_folds))]}


def heldout_auc(record):
    """Mean over held-out sites of each site's seed-mean score."""
    return float(np.mean([np.mean(s["score"]) for s in record["sites"]])) if record["sites"] else float("nan")


def fixed_references(records, plan):
    """``records`` plus reference_nested, reference_fair and oracle_reference,
    and the nested choice of each fold. ``records`` must hold the element
    rasters' records and, for reference_fair, ``reference_commodity``."""
    by_name = {r["method"]: r for r in records}
    n_folds = int(plan["n_folds"])
    choices = nested_choice(records, plan)
    nested = composed_record(NESTED, {c["fold"]: c["chosen"] for c in choices}, by_name, n_folds)
    out = list(records) + [nested]
    by_name[NESTED] = nested
    pool = [r for r in records if r["kind"] == "reference" and r["method"] not in (COMMODITY,) + DERIVED]
    if pool:
        best = max(pool, key=heldout_auc)["method"]   # picked on the held-out sites: an upper bound
        out.append(dict(composed_record(ORACLE, {f: best for f in range(n_folds)}, by_name, n_folds),
                        chosen=[best] * n_folds))
    if COMMODITY in by_name:
        stronger = max((COMMODITY, NESTED), key=lambda n: heldout_auc(by_name[n]))
        fair = composed_record(FAIR, {f: stronger for f in range(n_folds)}, by_name, n_folds)
        fair["chosen"] = [stronger] * n_folds
        fair["chosen_chain"] = by_name[stronger].get("chosen")
        out.append(fair)
    return out, choices


def best_on_sites(maps, area_mask, rows, cols):
    """(name, mean site-against-area score) of the map among ``maps`` ({name: 2-D
    array}) that ranks the given training sites' cells highest; ties go to the
    first. What reference_nested does inside a fold, for a single split."""
    from .scores import site_scores

    best, best_auc = None, -np.inf
    for name, values in maps.items():
        auc = float(np.mean(site_scores(values, area_mask, rows, cols)[0])) if len(rows) else float("nan")
        if np.isfinite(auc) and auc > best_auc:
            best, best_auc = name, auc
    if best is None:
        raise InputError("no training site lies on a cell of the sampled area to choose reference_nested on")
    return best, best_auc


def tuning_of(method, kind):
    """How a row's settings were fixed: 'nested' (chosen inside each fold on its
    training sites), 'oracle' (picked on the held-out sites: an upper bound) or
    'fixed' (the config's settings, set by rules that read no held-out score)."""
    if method == NESTED:
        return "nested"
    if method == ORACLE:
        return "oracle"
    return "fixed"
