"""The report's figures, drawn from `report_data.ReportData` (matplotlib PNGs, RDKit SVGs).

Best so far against what random search would be expected to find in the same pool (when the
dataset's values are known), measured against predicted-at-selection, and for MD campaigns the
Arrhenius plots and the best glass's RDFs (`md_figures`), and for MLIP campaigns the teacher calls
per candidate as the potential grew (`potential_figures`). Each function says whether it drew, so
the template shows only figures that exist.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import gammaln  # noqa: E402

from amala.core.representations import Representation  # noqa: E402
from amala.loop.report import (
    md_figures,  # noqa: E402
    pareto_figures,
    potential_figures,
)


def random_search_expectation(pool_values: np.ndarray, n_max: int, maximize: bool = True) -> np.ndarray:
    """E[best of n] for n = 1..n_max draws without replacement from the pool (exact).

    With values sorted ascending, the k-th smallest is the maximum of an n-subset with probability
    C(k-1, n-1) / C(N, n).
    """
    v = np.sort(np.asarray(pool_values, dtype=float))
    if not maximize:
        v = -v[::-1]
    N = len(v)
    k = np.arange(1, N + 1)
    out = []
    for n in range(1, min(n_max, N) + 1):
        logp = np.full(N, -np.inf)
        ok = k >= n
        logp[ok] = (gammaln(k[ok]) - gammaln(n) - gammaln(k[ok] - n + 1)) - (
            gammaln(N + 1) - gammaln(n + 1) - gammaln(N - n + 1))
        out.append(float(np.sum(np.exp(logp) * v)))
    out = np.array(out)
    return out if maximize else -out


def best_so_far_figure(data, path: Path) -> bool:
    """The best objective after each evaluation, each evaluation, and the random-search baseline."""
    values, pool = data.values, data.pool
    maximize = data.direction == "maximize"
    sign = 1 if maximize else -1
    ok = ~np.isnan(values)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if ok.any():
        best = sign * np.maximum.accumulate(np.where(ok, sign * values, -np.inf))
        n = np.arange(1, len(values) + 1)
        ax.plot(n[np.isfinite(best)], best[np.isfinite(best)], lw=2, label=data.name)
        ax.scatter(n[ok], values[ok], s=6, alpha=0.35, color="grey", label="each evaluation")
    if pool is not None and len(values):
        expectation = random_search_expectation(pool, len(values), maximize)
        ax.plot(np.arange(1, len(expectation) + 1), expectation, "--", color="C3",
                label="random search (expected best)")
        ax.axhline(pool.max() if maximize else pool.min(), color="k", lw=0.8, ls=":", label="best in pool")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(data.objective_label)
    ax.set_title("Best so far")
    if ax.get_legend_handles_labels()[0]:  # nothing evaluated yet: an empty frame, no legend
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def prediction_figure(data, path: Path) -> bool:
    """Measured against predicted-at-selection (±1 std); False when no evaluation had a prediction."""
    if not len(data.pairs):
        return False
    pred, err, meas = data.pairs.T
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.errorbar(pred, meas, xerr=err, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
    lo, hi = min(pred.min(), meas.min()), max(pred.max(), meas.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlabel("predicted at selection (mean ± std)")
    ax.set_ylabel("measured")
    ax.set_title(f"{data.objective_label}\n{data.within_one_std:.0%} of results within ±1 std")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def structure_svg(smiles: str, size: tuple[int, int] = (220, 140)) -> str | None:
    """An RDKit drawing of a molecule as inline SVG; None when RDKit cannot read it."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText().split("?>", 1)[-1]


def draw_figures(data, out_dir: Path) -> dict:
    """Every figure of the report into `out_dir`; returns which were drawn (file name or False)
    and the structure drawings of the top molecules (key -> SVG text)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = {"best_so_far": best_so_far_figure(data, out_dir / "best_so_far.png"),
             "prediction": prediction_figure(data, out_dir / "prediction_vs_result.png"),
             "arrhenius": md_figures.arrhenius_figure(data.md_series, out_dir / "arrhenius.png"),
             "potential": potential_figures.teacher_calls_figure(data.potential, out_dir / "teacher_calls.png"),
             "pareto": pareto_figures.front_figure(data.pareto, out_dir / "pareto_front.png"),
             "hypervolume": pareto_figures.hypervolume_figure(data.pareto, out_dir / "hypervolume.png"),
             "rdf": False, "structures": {}}
    if data.rdf is not None:
        title = f"Radial distribution functions of the best glass\n{data.rdf['label']}"
        drawn["rdf"] = md_figures.rdf_figure(Path(data.rdf["csv"]), out_dir / "rdf_best.png", title)
    front = data.pareto.rows if data.pareto is not None else []
    drawn["structures"] = {row.key: structure_svg(row.representation) for row in [*data.top, *front]
                           if row.kind == Representation.SMILES}
    return drawn
