"""The campaign report a person reads in the morning: HTML with PNG figures.

Three parts, one concept each: `report_data` reads from the store what the report shows (plain
data), `report_figures` draws it, and the Jinja2 template `templates/report.html.j2` lays it out.
This module joins them (`write_report`) and gives the template its filters (`report_format`).
Shows the best-so-far curve against what random search would be expected to find in the same
pool, the top candidates with their structures, every measured property with its unit, the
model's prediction (mean ± std) at selection, failures with reasons, approvals and the event log,
and what produced the run (amala version, seed, dataset source, the stored config).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from amala.loop.report.data import ReportData, report_data
from amala.loop.report.figures import draw_figures, random_search_expectation  # noqa: F401 (public)
from amala.loop.report.format import (  # noqa: F401
    candidate_html,
    format_acquisition,
    format_composition,
    format_measurement,
    format_number,
    format_prediction,
    readable,
)
from amala.loop.status import StoredObjective
from amala.loop.store import Store
from amala.loop.tables import CampaignRow

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:middle}th{background:#f3f3f3}code{font-size:11px}
.wide{overflow-x:auto;max-width:100%;margin-bottom:1em}
img{max-width:100%;height:auto}
pre{overflow-x:auto;background:#f7f7f7;padding:6px;font-size:12px}
p code,li code{overflow-wrap:anywhere}
.caveat{background:#fff3cd;border:1px solid #e0c060;padding:6px}
.comp,.num{white-space:nowrap}"""


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment: autoescaped HTML, an unknown name is an error, not an empty cell."""
    env = Environment(loader=PackageLoader("amala.loop.report", "templates"),
                      autoescape=select_autoescape(["j2", "html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        candidate=lambda pair: candidate_html(*pair), measurement=format_measurement, number=format_number,
        prediction=format_prediction, acquisition=format_acquisition, readable=readable,
        percent=lambda share: f"{share:.0%}", with_unit=lambda pair: f"{pair[0]} [{pair[1]}]",
        svg=lambda drawing, smiles: escape(smiles) if drawing is None else Markup(drawing))  # RDKit's own SVG
    return env


def render(data: ReportData, figures: dict) -> str:
    """The report page for `data`, showing the figures `draw_figures` drew."""
    return environment().get_template("report.html.j2").render(d=data, fig=figures, style=STYLE)


def write_report(store: Store, campaign: CampaignRow, objective, out_dir: Path,
                 pool_values: np.ndarray | None = None, top_k: int = 20) -> Path:
    """Write report.html and its figures into `out_dir`; returns the page's path. `objective` is an
    `Objective` or the `StoredObjective` read back from the store; `pool_values` the dataset's
    objective values for the random-search baseline (default: those the objective carries)."""
    if pool_values is None and isinstance(objective, StoredObjective):
        pool_values = objective.pool
    data = report_data(store, campaign, objective, pool_values, top_k)
    figures = draw_figures(data, out_dir)
    path = out_dir / "report.html"
    path.write_text(render(data, figures))
    return path
