"""One test over several surveys' cross-validations.

Each survey alone has 6 to 12 site clusters, too few for an interval to decide
between maps that differ by a few hundredths. Pooling keeps what is
independent apart: clusters are resampled *within* each survey (a stratified
bootstrap), so every survey keeps its weight in every draw, and the same draws
serve every method, so paired differences cancel what two maps share.

The pooled statistic is a weighted mean of the surveys' own statistics:
``weight: survey`` (default) gives each survey the same weight, ``sites`` each
survey its share of the scored sites. Within a survey, 'sites' averages the
held-out sites, 'clusters' averages each cluster's sites first. A method a
survey did not run is left out of that survey's pool, and the table says so.
"""

import numpy as np
import pandas as pd

from ..errors import InputError
from .yardstick import COMMODITY, FAIR, NESTED

REFERENCES = (FAIR, NESTED, COMMODITY)
DENSITY = "sampling_density"


class _Survey:
    """One survey's sites, clusters and bootstrap draws of clusters."""

    def __init__(self, name, table, n_boot, rng):
        self.name = name
        self.table = table
        self.clusters = np.array(sorted(table["cluster"].unique()))
        k = len(self.clusters)
        picks = rng.integers(0, k, size=(int(n_boot), k))
        self.draws = np.zeros((int(n_boot), k))
        np.add.at(self.draws, (np.repeat(np.arange(int(n_boot)), k), picks.ravel()), 1.0)
        self.scores = {m: g.set_index("site")["score"] for m, g in table.groupby("method", sort=False)}
        self.cluster_of = table.drop_duplicates("site").set_index("site")["cluster"]
        self.kind = table.drop_duplicates("method").set_index("method")["kind"].to_dict()

    def values(self, method, minus=None):
        """(per-site values, cluster index) of a method, or of its difference from
        ``minus`` over the sites both hold; None when the survey lacks either."""
        if method not in self.scores or (minus is not None and minus not in self.scores):
            return None
        v = self.scores[method]
        if minus is not None:
            other = self.scores[minus]
            common = v.index.intersection(other.index)
            v = v.loc[common] - other.loc[common]
        index = np.searchsorted(self.clusters, self.cluster_of.loc[v.index].to_numpy())
        return v.to_numpy(dtype=float), index

    def statistic(self, values, index):
        """(point estimate, bootstrap draws) of the site mean and of the cluster mean."""
        k = len(self.clusters)
        sums = np.bincount(index, values, minlength=k)
        counts = np.bincount(index, minlength=k).astype(float)
        held = counts > 0
        means = np.where(held, sums / np.maximum(counts, 1), 0.0)
        draws = self.draws[:, held]
        site = (draws @ sums[held]) / np.maximum(draws @ counts[held], 1e-12)
        cluster = (draws @ means[held]) / np.maximum(draws.sum(axis=1), 1e-12)
        return (sums.sum() / counts.sum(), means[held].mean()), (site, cluster)


def _interval(draws):
    return float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def _pooled(surveys, method, minus, weight):
    """Weighted estimate and interval (sites and clusters) over the surveys holding both maps."""
    parts = []
    for s in surveys:
        got = s.values(method, minus)
        if got is not None and len(got[0]):
            parts.append((s, got, len(got[0])))
    if not parts:
        return None
    w = np.array([1.0 if weight == "survey" else n for _, _, n in parts])
    w = w / w.sum()
    est_site = est_cluster = 0.0
    draw_site = draw_cluster = 0.0
    for wi, (s, (v, idx), _) in zip(w, parts):
        (es, ec), (ds, dc) = s.statistic(v, idx)
        est_site, est_cluster = est_site + wi * es, est_cluster + wi * ec
        draw_site, draw_cluster = draw_site + wi * ds, draw_cluster + wi * dc
    return {"surveys": [s.name for s, _, _ in parts], "est": (float(est_site), float(est_cluster)),
            "ci": (_interval(draw_site), _interval(draw_cluster)),
            "n_sites": int(sum(n for _, _, n in parts)),
            "n_clusters": int(sum(len(np.unique(idx)) for _, (_, idx), _ in parts))}


def _stats(surveys, method, weight):
    """The columns of one method's row over ``surveys`` (None if none holds it)."""
    base = _pooled(surveys, method, None, weight)
    if base is None:
        return None
    row = {"n_surveys": len(base["surveys"]), "surveys": " ".join(base["surveys"]),
           "n_sites": base["n_sites"], "n_clusters": base["n_clusters"],
           "heldout_auc": base["est"][0], "ci_low": base["ci"][0][0], "ci_high": base["ci"][0][1],
           "heldout_auc_clusters": base["est"][1], "ci_low_clusters": base["ci"][1][0],
           "ci_high_clusters": base["ci"][1][1]}
    for ref in REFERENCES + (DENSITY,):
        d = _pooled(surveys, method, ref, weight) if method != ref else None
        (est, ci) = ((d["est"], d["ci"]) if d else ((np.nan, np.nan), ((np.nan, np.nan), (np.nan, np.nan))))
        row[f"diff_vs_{ref}"], (row[f"diff_{ref}_ci_low"], row[f"diff_{ref}_ci_high"]) = est[0], ci[0]
        if ref == DENSITY:
            row["near_sampling_density"] = bool(d) and ci[0][0] <= 0 <= ci[0][1]
            continue
        row[f"beats_{ref}"] = bool(d) and ci[0][0] > 0
        row[f"diff_vs_{ref}_clusters"] = est[1]
        row[f"diff_{ref}_clusters_ci_low"], row[f"diff_{ref}_clusters_ci_high"] = ci[1]
        row[f"beats_{ref}_clusters"] = bool(d) and ci[1][0] > 0
        if d and set(d["surveys"]) != set(base["surveys"]):
            row.setdefault("note", []).append(f"{ref} only on {' '.join(d['surveys'])}")
    row["note"] = "; ".join(row.get("note", []))
    return row


def pooled_tables(site_tables, *, weight="survey", n_boot=2000, seed=0):
    """(pooled summary, per-survey sign table) from each survey's cv_sites table
    ({survey: DataFrame with method, kind, site, cluster, score})."""
    if weight not in ("survey", "sites"):
        raise InputError(f"pooled.weight must be 'survey' or 'sites', got {weight!r}")
    if not site_tables:
        raise InputError("pooled.surveys is empty: name the surveys to pool")
    rng = np.random.default_rng(seed)
    surveys = [_Survey(name, site_tables[name], n_boot, rng) for name in sorted(site_tables)]
    kinds = {}
    for s in surveys:
        for m, k in s.kind.items():
            kinds.setdefault(m, k)
    rows, signs = [], []
    for method, kind in kinds.items():
        row = _stats(surveys, method, weight)
        held = row["surveys"].split()
        rows.append({"method": method, "kind": kind, **row, "weight": weight,
                     "missing": " ".join(s.name for s in surveys if s.name not in held)})
        for s in surveys:
            if s.name not in held:
                continue
            one = _stats([s], method, weight)
            signs.append({"method": method, "kind": kind, "survey": s.name, "n_sites": one["n_sites"],
                          "n_clusters": one["n_clusters"], "heldout_auc": one["heldout_auc"],
                          **{k: one[k] for k in one if k.startswith(("diff_", "beats_"))},
                          "verdict": _verdict(one.get(f"diff_{FAIR}_ci_low"), one.get(f"diff_{FAIR}_ci_high"))})
    order = {k: i for i, k in enumerate(("trained", "probe", "reference"))}
    summary = pd.DataFrame(rows)
    summary = summary.sort_values(["kind", "heldout_auc"], key=lambda c: c.map(order) if c.name == "kind" else -c,
                                  kind="stable").reset_index(drop=True)
    return summary, pd.DataFrame(signs)


def _verdict(low, high):
    if low is None or not np.isfinite(low):
        return "n/a"
    return "beats reference_fair" if low > 0 else "worse than reference_fair" if high < 0 else "not a difference"


def read_pooled_tables(summary_csv, signs_csv):
    """pooled_summary.csv and pooled_signs.csv as pooled_markdown reads them: the Markdown is made from the
    tables as written (four decimals), so a page citing them can be rendered again from the files alone."""
    def read(path, text_columns):
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        for column in (c for c in text_columns if c in table.columns):
            # a column empty in every row reads as float NaN: text it is
            table[column] = table[column].astype(object).where(table[column].notna(), "")
        return table
    return read(summary_csv, ("missing", "label")), read(signs_csv, ("verdict",))


def pooled_markdown(summary, signs, *, n_boot, weight):
    """The pooled table and the per-survey signs, as a user reads them."""
    from .tables import _f, method_label

    def interval(r, est, low, high):
        return f"{_f(r[est])} [{_f(r[low])}, {_f(r[high])}]"

    def mark(r, key):
        low, high = r[f"diff_{key}_ci_low"], r[f"diff_{key}_ci_high"]
        return "n/a" if not np.isfinite(low) else "yes" if low > 0 else "worse" if high < 0 else "no"

    surveys = sorted(set(signs["survey"])) if len(signs) else []
    weighting = ("every survey weighs the same" if weight == "survey" else
                 "each survey weighs its share of the scored sites")
    lines = ["# Held-out sites pooled over surveys", "",
             f"Surveys: {', '.join(surveys)}. Each survey's cross-validation is pooled: {weighting}; 'sites' "
             "averages a survey's held-out sites, 'clusters' its clusters' means. 95 % intervals from "
             f"{n_boot} bootstrap draws that resample site clusters within each survey (the same draws for every "
             "method, so differences are paired). reference_fair is, per survey, the stronger of "
             "reference_commodity (the declared commodity element) and reference_nested (the element that ranks "
             "each fold's training sites highest); a difference whose interval covers 0 is not a difference.", "",
             "| Method | Kind | Surveys | Clusters | Held-out AUC, sites [95% CI] | clusters [95% CI] | "
             "Minus reference_fair, sites [95% CI] | Beats it | Minus reference_fair, clusters [95% CI] | "
             "Beats it (clusters) | Minus reference_nested [95% CI] | Minus reference_commodity [95% CI] | "
             "Same as sampling density | Left out of |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in summary.iterrows():
        lines.append(
            f"| {method_label(r['method'])} | {r['kind']} | {int(r['n_surveys'])} | {int(r['n_clusters'])} | "
            f"{interval(r, 'heldout_auc', 'ci_low', 'ci_high')} | "
            f"{interval(r, 'heldout_auc_clusters', 'ci_low_clusters', 'ci_high_clusters')} | "
            f"{interval(r, f'diff_vs_{FAIR}', f'diff_{FAIR}_ci_low', f'diff_{FAIR}_ci_high')} | {mark(r, FAIR)} | "
            f"{interval(r, f'diff_vs_{FAIR}_clusters', f'diff_{FAIR}_clusters_ci_low', f'diff_{FAIR}_clusters_ci_high')}"
            f" | {mark(r, FAIR + '_clusters')} | "
            f"{interval(r, f'diff_vs_{NESTED}', f'diff_{NESTED}_ci_low', f'diff_{NESTED}_ci_high')} | "
            f"{interval(r, f'diff_vs_{COMMODITY}', f'diff_{COMMODITY}_ci_low', f'diff_{COMMODITY}_ci_high')} | "
            f"{'yes' if r['near_sampling_density'] and r['method'] != DENSITY else ''} | {r['missing'] or ''} |")
    if len(signs):
        lines += ["", "## Survey by survey: the difference from reference_fair", "",
                  "| Method | " + " | ".join(surveys) + " |", "|---|" + "---|" * len(surveys)]
        for method in summary["method"]:
            cells = []
            for s in surveys:
                hit = signs[(signs["method"] == method) & (signs["survey"] == s)]
                if not len(hit):
                    cells.append("not run")
                    continue
                r = hit.iloc[0]
                cells.append(f"{_f(r[f'diff_vs_{FAIR}'])} [{_f(r[f'diff_{FAIR}_ci_low'])}, "
                             f"{_f(r[f'diff_{FAIR}_ci_high'])}] ({r['verdict']})")
            lines.append(f"| {method_label(method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
