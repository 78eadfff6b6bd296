"""Report figures for campaigns whose oracle runs molecular dynamics.

Where a lookup campaign has one number per candidate, an MD evaluation has a temperature series
and a structure behind its number. These figures let a reader check both before trusting the
ranking: the Arrhenius plot (measured σ(T) with error bars, the fitted line and its extrapolation
to 300 K, where the objective is read) and the radial distribution functions of the best glass.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from amala.core.log_scale import log10_std  # noqa: E402
from amala.oracles.md import temperature_series  # noqa: E402
from amala.oracles.md.analysis import K_B_EV  # noqa: E402


def arrhenius_figure(series: list[tuple[str, dict]], path: Path, extrapolate_to_K: float = 300.0) -> bool:
    """log10 σ against 1000/T for each (label, values) evaluation; False if nothing to draw."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    drawn = 0
    for i, (label, values) in enumerate(series):
        points = temperature_series.points(values, "conductivity")
        if not points or "ea" not in values or "log10_prefactor" not in values:
            continue
        T = np.array([t for t, _ in points])
        sigma = np.array([v["value"] for _, v in points])
        err = np.array([log10_std(v["value"], v.get("std") or 0.0) for _, v in points])
        color = f"C{i % 10}"
        ax.errorbar(1000 / T, np.log10(sigma), yerr=err, fmt="o", ms=4, color=color, label=label)
        grid = np.linspace(1000 / T.max(), 1000 / extrapolate_to_K, 50)
        fit = values["log10_prefactor"]["value"] - values["ea"]["value"] * grid / 1000 / (math.log(10) * K_B_EV)
        ax.plot(grid, fit, "-", lw=0.8, color=color, alpha=0.7)
        drawn += 1
    if drawn:
        ax.axvline(1000 / extrapolate_to_K, color="k", lw=0.6, ls=":")
        ax.set_xlabel("1000 / T [1/K]")
        ax.set_ylabel("log10 σ_Li [log10(S/cm)]")
        ax.set_title(f"Arrhenius plots: MD points (±1 std) and fits, extrapolated to {extrapolate_to_K:g} K")
        ax.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return drawn > 0


def rdf_figure(rdf_csv: Path, path: Path, title: str) -> bool:
    """Partial and total g(r) from the oracle's rdf.csv; False if the file is missing."""
    if not Path(rdf_csv).is_file():
        return False
    with open(rdf_csv) as handle:
        names = handle.readline().strip().split(",")
    data = np.loadtxt(rdf_csv, delimiter=",", skiprows=1, ndmin=2)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for column, name in enumerate(names[1:], 1):
        ax.plot(data[:, 0], data[:, column], lw=2 if name == "total" else 1, color="k" if name == "total" else None,
                label=name)
    ax.set_xlabel("r [Å]")
    ax.set_ylabel("g(r)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
