"""The pages under docs/results are generated: each renders again, from the data folder it cites, to the very
text committed, so a number typed into a page or a table changed without its page fails here."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"
# Pages written before their generator kept the tables it read; they are replaced by the next run of
# `python benchmarks/pooled_cv.py --label ...`, which saves docs/results/data/pooled_{label}/.
WITHOUT_DATA = {"pooled_recommended.md", "pooled_literal.md"}


def _module(name):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages():
    return sorted(p.name for p in RESULTS.glob("*.md"))


@pytest.mark.parametrize("name", _pages())
def test_each_page_renders_again_from_the_data_it_cites(name):
    page = (RESULTS / name).read_text()
    assert "do not edit by hand" in page and page.startswith("# ")
    if name == "performance.md":
        assert _module("performance_page").render(RESULTS / "data" / "performance") == page
    elif name == "demo.md":
        assert _module("demo_page").render(RESULTS / "data" / "demo") == page
    elif name.startswith("pooled_"):
        data = RESULTS / "data" / name.removesuffix(".md")
        if not data.exists():
            assert name in WITHOUT_DATA, f"{name}: no data folder {data}"
            return
        assert _module("pooled_cv").render(data) == page
    else:
        pytest.fail(f"{name}: no generator is known for this page")


def _demo_record(wall_s=540.0, cpu_s=990.0):
    return {"benchmark": "bench_demo", "commit": "abc1234", "uncommitted_changes": False,
            "date": "2026-12-04 03:00 UTC", "machine": "vm (2 CPUs, x86_64, Python 3.11.7)", "seconds": wall_s,
            "cores": 2, "wall_s": wall_s, "cpu_s": cpu_s, "utilisation": round(cpu_s / (2 * wall_s), 3), "jobs": 124,
            "load_before": 0.5, "load_after": 1.9,
            "rules": [{"rule": "train_skt", "jobs": 1, "wall_s": 50.0, "cpu_s": 90.0, "max_rss_mib": 900.0},
                      {"rule": "screen", "jobs": 1, "wall_s": 5.0, "cpu_s": 8.0, "max_rss_mib": 300.0},
                      {"rule": "qgis_style", "jobs": 3, "wall_s": 0.3, "cpu_s": 0.1, "max_rss_mib": 6.0}]}


def test_performance_page_says_which_targets_are_met_and_how_to_measure_the_rest(tmp_path):
    module = _module("performance_page")
    (tmp_path / "demo.json").write_text(json.dumps(_demo_record()))
    page = module.render(tmp_path)
    demo = page.split("## The demo, end to end", 1)[1].split("\n## ", 1)[0]
    assert "| wall time | 540 s (9.0 min) | <= 600 s | met |" in demo
    assert "| utilisation, CPU / (wall x 2 cores) | 92% | >= 85% | met |" in demo
    assert "| train_skt | 1 | 50.0 | 90.0 | 900 |" in demo and "commit abc1234" in demo
    assert "55 s of job wall time and 98 s of job CPU over 3 rules" in demo
    assert "| 1 rules under 1 s each | 3 | 0.3 | 0.1 | 6 |" in demo and "| qgis_style |" not in demo
    # a record not made yet is named, with the command that makes it; no figure is invented
    for name in ("noop", "idw", "scale"):
        assert f"Not measured yet: `{module.COMMANDS[name]}`" in page
    (tmp_path / "demo.json").write_text(json.dumps(_demo_record(wall_s=900.0, cpu_s=1000.0)))
    slow = module.render(tmp_path)
    assert "| wall time | 900 s (15.0 min) | <= 600 s | **missed** |" in slow
    assert "| utilisation, CPU / (wall x 2 cores) | 56% | >= 85% | **missed** |" in slow


def test_performance_page_command_copies_the_records_it_renders(tmp_path):
    module = _module("performance_page")
    records, data, page = tmp_path / "out", tmp_path / "data", tmp_path / "performance.md"
    records.mkdir()
    (records / "demo.json").write_text(json.dumps(_demo_record()))
    module.main([str(records), "--page", str(page), "--data", str(data)])
    assert (data / "demo.json").exists() and page.read_text() == module.render(data)
    # a later call with only some records keeps the published copies of the others
    (records / "demo.json").unlink()
    module.main([str(records), "--page", str(page), "--data", str(data)])
    assert "540 s" in page.read_text()
