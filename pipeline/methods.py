"""The registry of methods: each one's name, label, kind, where it runs and what fits it in a fold.

Rules, the cross-validation, the tables, the report and the QGIS project read their names, labels and
wildcard patterns from here; adding a method is one entry here plus the code that fits it. Kept free of
heavy imports (numpy, scikit-learn, torch): Snakemake imports this on every start, a dry run included, so a
fitter is named as "module:function" and imported only when a job runs (``fold_fitter``).
"""

import importlib
from dataclasses import dataclass

#: what each kind is; the order is the tables' order
KINDS = {
    "window": "classical learner on flattened windows (paper Table 3)",
    "pixel": "classical learner on each cell's element values",
    "network": "deep network of paper Table 3, trained by the same code as SKT",
    "skt": "the paper's selective knowledge transfer network",
    "cell": "learner that scores each cell (pipeline.learners), cross-validation only",
    "ensemble": "mean area rank of other trained maps, cross-validation only",
    "reference": "map that needs no training: a yardstick",
    "probe": "map of the survey design, not the chemistry: a confound probe",
}
TRAINED_KINDS = ("window", "pixel", "network", "skt", "cell", "ensemble")


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    kind: str
    paper: bool = True   # runs under the paper's single split (Tables 3-5, the map evaluation)
    cv: bool = True      # refitted (or, for references, scored) in every cross-validation fold
    fit: str = ""        # "module:function" that makes its map in one fold; "" for what is not fitted


_WINDOW_FIT = "pipeline.cv.models:window_fold_map"
_PIXEL_FIT = "pipeline.cv.models:pixel_fold_map"
_DEEP_FIT = "pipeline.cv.models:deep_fold_map"
_CELL_FIT = "pipeline.cv.cell_models:cell_fold_map"

_CLASSICAL_LABELS = (("svm", "SVM"), ("knn", "KNN"), ("random_forest", "RandomForest"),
                     ("decision_tree", "Decisiontree"))
_NETWORK_LABELS = (("resnet18", "ResNet-18"), ("shufflenet_v2", "ShuffleNetV2"), ("googlenet", "GoogLeNet"),
                   ("mobilenet_v2", "MobileNetV2"), ("mnasnet", "MnasNet"), ("scnet", "SCNet"),
                   ("efficientnet_b0", "EfficientNet-b0"), ("t2t_vit_14", "T2T-ViT-14"), ("snl", "SNL"))

REGISTRY = {m.name: m for m in (
    *(Method(name, label, "window", fit=_WINDOW_FIT) for name, label in _CLASSICAL_LABELS),
    *(Method(f"{name}_pixel", f"{label} (per pixel)", "pixel", fit=_PIXEL_FIT) for name, label in _CLASSICAL_LABELS),
    *(Method(name, label, "network", fit=_DEEP_FIT) for name, label in _NETWORK_LABELS),
    Method("skt", "SKT (ours)", "skt", fit=_DEEP_FIT),
    Method("wofe", "Weights of evidence", "cell", paper=False, fit=_CELL_FIT),
    Method("anchored_logistic", "Anchored logistic (reference + correction)", "cell", paper=False, fit=_CELL_FIT),
    Method("context_forest", "RandomForest (per cell, neighbourhood features)", "cell", paper=False, fit=_CELL_FIT),
    # made from the other methods' fold maps (rule cv_ensemble), not fitted
    Method("ensemble", "Ensemble (mean area rank of the trained maps)", "ensemble", paper=False),
    Method("reference_fair", "reference_fair (stronger of commodity and nested)", "reference", paper=False),
    Method("reference_nested", "reference_nested (element chosen on each fold's training sites)", "reference",
           paper=False),
    Method("reference_commodity", "reference_commodity (declared commodity element)", "reference", paper=False),
    Method("oracle_reference", "oracle_reference (best reference picked on the test sites)", "reference",
           paper=False),
    Method("sampling_density", "Sampling density (survey design, no chemistry)", "reference", paper=False),
    Method("robust_anomaly", "Robust multivariate anomaly (MCD Mahalanobis, log values)", "reference",
           paper=False),
    Method("campaign", "Campaign of the nearest sample (confound probe)", "probe", paper=False),
)}


def names(*kinds, paper=None, cv=None):
    """Names of the registered methods of these kinds (all when none given), in registry order."""
    return tuple(m.name for m in REGISTRY.values()
                 if (not kinds or m.kind in kinds) and (paper is None or m.paper == paper)
                 and (cv is None or m.cv == cv))


def label(name):
    """The name a user reads in tables, the report and QGIS; an element raster ``idw_Au`` is "Au (IDW raster)"."""
    if name in REGISTRY:
        return REGISTRY[name].label
    if name.startswith("idw_"):
        return f"{name[4:]} (IDW raster)"
    return name


def kind(name):
    """A method's kind; element rasters (``idw_*``) are references."""
    if name in REGISTRY:
        return REGISTRY[name].kind
    if name.startswith("idw_"):
        return "reference"
    raise KeyError(f"unknown method {name!r} (registered: {', '.join(REGISTRY)})")


def fold_fitter(name):
    """The function that makes one fold's map of a trained method, imported now (at run time, not parse)."""
    method = REGISTRY[name]
    if not method.fit:
        raise KeyError(f"{name!r} is not fitted in a fold")
    module, function = method.fit.split(":")
    return getattr(importlib.import_module(module), function)


def pattern(*method_names):
    """A wildcard constraint matching exactly these names."""
    return "|".join(sorted(method_names, key=len, reverse=True))


#: the paper's classical baselines (Table 3), by their window names
CLASSICAL = names("window")
#: per-pixel forms of the classical baselines
PIXEL = names("pixel")
#: the Table 3 networks torchvision ships
TORCHVISION_CNNS = ("resnet18", "shufflenet_v2", "googlenet", "mobilenet_v2", "mnasnet", "efficientnet_b0")
#: the Table 3 networks no package ships, written here from their papers (pipeline/baselines/)
TABLE3_NETS = ("scnet", "t2t_vit_14", "snl")
#: every deep network of Table 3 but SKT, in the paper's order; all trained by the same code
CNNS = names("network")
#: learners that score each cell (pipeline.learners), refitted per fold in the cross-validation
CELL_LEARNERS = names("cell")
#: the cell learners whose logit decomposes exactly into one share per input (their attribution maps)
ATTRIBUTED = ("wofe", "anchored_logistic")
#: Paper Table 5 variants: label and the ``skt`` settings switched off.
ABLATIONS = {
    "r_s_mask": ("R-S-Mask", {"soft_mask": False}),
    "r_d_convolution": ("R-D-Convolution", {"dilation": False}),
    "r_sk_transfer": ("R-Sk-Transfer", {"transfer": False}),
    "r_s_distillation": ("R-S-Distillation", {"distillation": False}),
}
