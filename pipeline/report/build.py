"""The report of one dataset: figures from the workflow's outputs and one
self-contained HTML page that shows them with the tables, QA counts,
screening and run settings.

The report reads the tables the workflow wrote (tables/map_evaluation.json,
tables/test_window_scores.csv, ...) and recomputes none of them. Every input
is optional: a missing one leaves its section with a note, so the report of a
partial run still opens. A present but malformed one raises InputError naming
the file. What is read lives in ``inputs``, the tables and curves shown in
``tables``, one function per section in ``sections``.
"""

import logging
from pathlib import Path

from ..records import read_json
from . import html as h
from . import sections as s
from .inputs import read_layout

log = logging.getLogger("pipeline.report")


def build_report(inputs, out_html, figures_dir, *, dataset, settings=None, title=None):
    """Write the figures into ``figures_dir`` and the self-contained HTML page
    ``out_html``. ``settings``: the dataset's run settings (config view) shown
    on the page. Returns {"figures": [paths], "sections": [headings]}."""
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out_html = Path(out_html)
    layout = read_layout(inputs)
    qa = read_json(inputs.qa) if inputs.qa else {}
    metrics = read_json(inputs.skt_metrics) if inputs.skt_metrics else {}
    sections = [section for section in (
        s.summary_section(dataset, layout, metrics),
        s.maps_section(inputs, layout, folder),
        s.cv_section(inputs.cv_summary),
        s.uncertainty_section(inputs.uncertainty_maps, layout.sites_xy, folder),
        s.attribution_section(inputs.attribution),
        s.comparison_section(inputs, folder),
        s.map_evaluation_section(inputs.map_evaluation, folder),
        s.skt_section(metrics, inputs.skt_log, inputs.source_log, folder),
        s.ablation_section(inputs.ablation, inputs.beta_sweep, folder),
        s.screening_section(inputs, qa, folder),
        s.qa_section(qa),
        s.settings_section(settings),
        s.files_section(inputs, out_html.parent),
    ) if section is not None]
    made = [path for section in sections for path in section.figures]
    h.write_page(out_html, title or f"Prospectivity report: {dataset}",
                 [(section.id, section.heading, section.body) for section in sections],
                 subtitle="SKT (Huang et al. 2022) prospectivity workflow")
    log.info("report: %d figures, %d sections -> %s", len(made), len(sections), out_html)
    return {"figures": made, "sections": [section.heading for section in sections]}
