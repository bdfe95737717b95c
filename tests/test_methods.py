"""The registry of methods (pipeline.methods): one entry each, read by rules, tables, report and QGIS."""

import re
import subprocess
import sys

import pytest

from pipeline import methods
from pipeline.cv.tables import method_label as cv_label
from pipeline.evaluation.tables import METHOD_LABELS


def test_every_entry_has_a_known_kind_a_label_and_a_fitter_that_imports():
    for name, method in methods.REGISTRY.items():
        assert method.name == name and method.label and method.kind in methods.KINDS
        if method.kind in ("window", "pixel", "network", "skt", "cell"):
            assert callable(methods.fold_fitter(name)), name
        else:
            with pytest.raises(KeyError):
                methods.fold_fitter(name)


def test_the_tables_read_their_labels_and_kinds_from_the_registry():
    assert METHOD_LABELS == {n: methods.REGISTRY[n].label for n in methods.names(*methods.TRAINED_KINDS)}
    assert cv_label("reference_fair") == methods.REGISTRY["reference_fair"].label
    assert cv_label("idw_Au") == "Au (IDW raster)" and methods.kind("idw_Au") == "reference"
    assert methods.CNNS[:2] == ("resnet18", "shufflenet_v2") and methods.CLASSICAL == (
        "svm", "knn", "random_forest", "decision_tree")
    assert methods.names("pixel") == tuple(f"{m}_pixel" for m in methods.CLASSICAL)
    assert set(methods.names(paper=False, cv=True)) >= set(methods.CELL_LEARNERS) | {"ensemble"}
    with pytest.raises(KeyError, match="unknown method"):
        methods.kind("nonsense")


def test_a_wildcard_pattern_matches_its_names_whole_and_nothing_else():
    regex = re.compile(f"^(?:{methods.pattern(*methods.names('pixel', 'window'))})$")
    assert all(regex.match(n) for n in methods.names("pixel", "window"))
    assert not regex.match("svm_pix") and not regex.match("resnet18")
    # in a path, as Snakemake uses it: the longer name is not cut at the shorter one
    path = re.compile(f"cv/maps/(?P<m>{methods.pattern('svm', 'svm_pixel')})/fold1.tif")
    assert path.fullmatch("cv/maps/svm_pixel/fold1.tif")["m"] == "svm_pixel"


def test_the_registry_imports_nothing_heavy():
    code = ("import sys, pipeline.methods; heavy = {'numpy', 'torch', 'sklearn', 'pandas', 'rasterio'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_schema_offers_every_trained_method_of_the_registry_for_the_cross_validation():
    import yaml

    from pipeline.config import SCHEMA_PATH

    def enums(node):
        if isinstance(node, dict):
            if "enum" in node and "skt" in node["enum"]:
                yield node["enum"]
            for value in node.values():
                yield from enums(value)
        elif isinstance(node, list):
            for value in node:
                yield from enums(value)

    (offered,) = list(enums(yaml.safe_load(SCHEMA_PATH.read_text())))
    # the ensemble is chosen by evaluate.cv.ensemble, not listed
    assert set(offered) == set(methods.names("window", "pixel", "network", "skt", "cell"))
