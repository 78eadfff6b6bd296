"""The report's figure of how the campaign's machine-learned potential grew.

Teacher calls per candidate against the candidate's place among those its system's potential
learned, one series per chemical system: a potential that generalises shows calls falling towards
zero as the campaign goes on. Failed candidates are drawn as crosses, because their teacher calls
were spent all the same.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def teacher_calls_figure(growth, path: Path) -> bool:
    """Teacher calls against learned order per system (`potential_growth.PotentialGrowth`); False
    when there is nothing to draw (no growth data, or no row with a call count)."""
    rows = [] if growth is None else [row for row in growth.rows if row.teacher_calls is not None]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, system in enumerate(dict.fromkeys(row.system for row in rows)):
        mine = [row for row in rows if row.system == system]
        color = f"C{i % 10}"
        ax.plot([r.position for r in mine], [r.teacher_calls for r in mine], "-o", ms=4, color=color, label=system)
        failed = [r for r in mine if r.status != "ok"]
        if failed:
            ax.scatter([r.position for r in failed], [r.teacher_calls for r in failed], marker="x", s=50,
                       color="k", zorder=3, label=f"{system}: failed evaluation")
    ax.set_xlabel("candidate's place among those its system's potential learned (0 = first)")
    ax.set_ylabel("teacher calls per candidate")
    ax.set_ylim(bottom=-0.04 * max(max(row.teacher_calls for row in rows), 1))  # a zero stays a whole dot
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Teacher calls per candidate as the potential grows")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
