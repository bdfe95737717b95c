"""Snakemake imports the workflow's parse-time modules on every start (a dry run
included): they must not pull in the heavy libraries."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torchvision", "sklearn", "rasterio", "geopandas")


def test_parse_time_modules_import_nothing_heavy():
    code = ("import sys; import pipeline.config, pipeline.device_plan, pipeline.errors, pipeline.methods, pipeline.paths; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"loaded at parse time: {out.stdout.strip()}"


def test_rule_files_import_only_parse_time_modules():
    imported = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] == ["from"] and words[1].startswith("pipeline"):
                imported.add(words[1])
            elif words[:1] == ["import"] and words[1].startswith("pipeline"):
                imported.add(words[1])
    assert imported <= {"pipeline.config", "pipeline.device_plan", "pipeline.errors", "pipeline.methods",
                        "pipeline.paths"}, imported


def test_per_pixel_fold_jobs_start_without_torch():
    # 4 per-pixel methods x every fold are separate jobs: torch's import (3-5 s) each is wasted
    code = ("import sys; import pipeline.cv.models, pipeline.cv.fold_screening, pipeline.baselines.classical; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
