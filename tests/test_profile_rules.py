"""benchmarks/profile_rules.py reads Snakemake's benchmark files of a run."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def load():
    spec = importlib.util.spec_from_file_location("profile_rules", REPO / "benchmarks" / "profile_rules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_jobs_are_read_and_grouped_by_rule(tmp_path, capsys):
    bench = tmp_path / "results" / "demo" / "benchmarks"
    (bench / "cv").mkdir(parents=True)
    (bench / "prepare.tsv").write_text(HEADER + "2.5\t0:00:02\t100.0\t1\t1\t1\t0\t0\t50\t1.5\n")
    for fold, wall in ((0, 10.0), (1, 30.0)):
        (bench / "cv" / f"skt_seed42_fold{fold}.tsv").write_text(
            HEADER + f"{wall}\t0:00:10\t{500 + fold}.0\t1\t1\t1\t0\t0\t90\t{wall / 2}\n")
    # a rerun appends a line: the latest counts
    (bench / "cv" / "skt_seed42_fold1.tsv").write_text(
        (bench / "cv" / "skt_seed42_fold1.tsv").read_text() + "20.0\t0:00:20\t400.0\t1\t1\t1\t0\t0\t90\t8.0\n")
    profile = load()
    jobs = profile.read_benchmarks(tmp_path / "results" / "demo").set_index("job")
    assert jobs.loc["cv/skt_seed42_fold1", "wall_s"] == 20.0 and jobs.loc["prepare", "cpu_s"] == 1.5
    rules = profile.by_rule(jobs.reset_index()).set_index("rule")
    assert rules.loc["cv/skt", "jobs"] == 2 and rules.loc["cv/skt", "wall_s"] == pytest.approx(30.0)
    assert rules.loc["cv/skt", "max_rss_mib"] == 500.0
    profile.main([str(tmp_path / "results" / "demo"), "--by-rule"])
    out = capsys.readouterr().out
    assert out.index("cv/skt") < out.index("prepare")          # slowest first
    assert "total: 32.5 s wall, 14.5 s CPU over 2 rules" in out
