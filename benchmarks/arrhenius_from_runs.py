"""Ea and σ(T) extrapolated from several `mlip_teacher_md.py` runs at different temperatures (one
summary.json each): the Arrhenius fit of σT = A exp(-Ea/kT) that every amala MD oracle uses
(`md.analysis.fit_series` is for one simulation's series; here the points are separate runs).

    .venv/bin/python benchmarks/arrhenius_from_runs.py runs/bench/student_T600 runs/bench/student_T700 ... \
        [--at 298.15]

Prints Ea (eV) with its standard error from the fit's covariance, and σ at `--at` K (S/cm) with the
factor of its one-sigma range. The runs' σ must come with a diffusive regime (`sigma_S_cm`).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

K_B_EV = 8.617333262e-5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--at", type=float, default=298.15, help="temperature of the extrapolated σ, K")
    args = parser.parse_args()
    rows = [json.loads((run / "summary.json").read_text()) for run in args.runs]
    rows = [r for r in rows if "sigma_S_cm" in r]
    if len(rows) < 2:
        raise SystemExit("need at least two runs with a diffusive regime")
    T = np.array([r["T_K"] for r in rows])
    if len(set(T)) < 2:
        raise SystemExit("need runs at two temperatures at least")
    sigma = np.array([r["sigma_S_cm"][0] if isinstance(r["sigma_S_cm"], list) else r["sigma_S_cm"] for r in rows])
    x, y = 1.0 / T, np.log(sigma * T)
    (slope, intercept), cov = np.polyfit(x, y, 1, cov=len(rows) > 2)
    ea = -slope * K_B_EV
    ea_se = math.sqrt(cov[0][0]) * K_B_EV if len(rows) > 2 else float("nan")
    log_at = intercept + slope / args.at
    sigma_at = math.exp(log_at) / args.at
    spread = (math.sqrt(cov[0][0] / args.at ** 2 + cov[1][1] + 2 * cov[0][1] / args.at) if len(rows) > 2
              else float("nan"))
    for r, s in zip(rows, sigma):
        print(f"{r['T_K']:.0f} K: D_Li {r['d_li_cm2_s']:.2e} cm²/s, σ {s:.3g} S/cm")
    print(json.dumps({"ea_eV": ea, "ea_se_eV": ea_se, "T_K": list(T), f"sigma_{args.at:g}K_S_cm": sigma_at,
                      "sigma_factor_1sd": math.exp(spread) if spread == spread else None}, indent=1))


if __name__ == "__main__":
    main()
