"""Smoke tests of the benchmarks that feed docs/results/performance.md, on tiny inputs: each runs, writes the
record the page reads, and the page renders it (the timings themselves are not asserted)."""

import json
import subprocess
import sys
from pathlib import Path

from test_results_pages import _module

REPO = Path(__file__).resolve().parent.parent


def test_bench_scale_writes_a_record_with_the_ratios_the_page_shows(tmp_path):
    out = tmp_path / "scale.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_scale.py"), "--scales", "0.04", "0.08",
                    "--workdir", str(tmp_path / "work"), "--threads", "1", "--summary-json", str(out)],
                   check=True, capture_output=True, text=True, timeout=600)
    record = json.loads(out.read_text())
    assert record["benchmark"] == "bench_scale" and record["commit"] and record["machine"]
    assert [r["scale"] for r in record["records"]] == [0.04, 0.08]
    for r in record["records"]:
        assert set(r["stages"]) == {"prepare", "idw", "stack", "tiles", "load", "predict"}
        assert all(v["seconds"] > 0 for v in r["stages"].values()) and r["predict_windows"] > 0
    (ratio,) = record["ratios"]
    assert ratio["scale"] == 0.08 and ratio["base_scale"] == 0.04 and ratio["chain_per_mcell_wall"] > 0
    page_module = _module("performance_page")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "scale.json").write_text(out.read_text())
    page = page_module.render(tmp_path / "records")
    assert f"| 0.08x / 0.04x | {ratio['predict_per_window_wall']:.2f} |" in page
