"""The report: PNG figures (``figures``), a self-contained HTML page
(``html``) and the assembly of one dataset's report from the workflow's
outputs (``build``).

    from pipeline.report import ReportInputs, build_report
    build_report(ReportInputs.from_results("results/demo"), "results/demo/report/report.html",
                 "results/demo/report/figures", dataset="demo")
"""

from .build import build_report
from .inputs import ReportInputs

__all__ = ["ReportInputs", "build_report"]
