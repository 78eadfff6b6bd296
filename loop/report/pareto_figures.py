"""The report's figures of a multi-objective campaign (`pareto_front.ParetoFront`).

The evaluated candidates in objective space with the Pareto front highlighted (two objectives: one panel
with the front as a staircase; three or more: one panel per pair), and the hypervolume against evaluations
beside the expectation of random search in the same pool. Each function says whether it drew.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def front_figure(front, path: Path) -> bool:
    """Evaluated candidates, infeasible ones greyed, the non-dominated ones highlighted."""
    if front is None or not front.feasible.any():
        return False
    pairs = list(combinations(range(len(front.labels)), 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.4 * len(pairs), 4.4), squeeze=False)
    for ax, (i, j) in zip(axes[0], pairs):
        Y, ok, best = front.Y, front.feasible, front.on_front
        infeasible = ~ok & np.all(np.isfinite(Y[:, [i, j]]), axis=1)
        if infeasible.any():
            ax.scatter(Y[infeasible, i], Y[infeasible, j], s=8, color="lightgrey", label="infeasible")
        ax.scatter(Y[ok & ~best, i], Y[ok & ~best, j], s=10, alpha=0.5, color="C0", label="evaluated")
        ax.scatter(Y[best, i], Y[best, j], s=36, color="C3", edgecolor="k", zorder=3, label="Pareto front")
        if len(front.labels) == 2:
            _staircase(ax, Y[best], front.directions)
        if front.reference:
            ax.scatter([front.reference[i]], [front.reference[j]], marker="+", s=80, color="k",
                       label="reference point")
        ax.set_xlabel(front.labels[i])
        ax.set_ylabel(front.labels[j])
        ax.legend(fontsize=8)
    fig.suptitle("Evaluated candidates and the Pareto front" + (f"\nfeasible: {', '.join(front.constraints)}"
                                                                 if front.constraints else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _staircase(ax, points: np.ndarray, directions: list[str]) -> None:
    """The front of two objectives as the boundary of the region it dominates."""
    signs = np.array([1 if d == "maximize" else -1 for d in directions])
    P = points[np.argsort(-points[:, 0] * signs[0])]
    xs, ys = [], []
    for x, y in P:
        if xs:  # along at the last height to this x, then up to this point
            xs.append(x)
            ys.append(ys[-1])
        xs.append(x)
        ys.append(y)
    ax.plot(xs, ys, color="C3", lw=1)


def hypervolume_figure(front, path: Path) -> bool:
    """Hypervolume after each evaluation, and random search's expectation when the pool is known."""
    if front is None or not len(front.hypervolume) or not front.reference:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    n = np.arange(1, len(front.hypervolume) + 1)
    ax.plot(n, front.hypervolume, lw=2, label="this campaign")
    if front.random is not None:
        counts, expected = front.random
        ax.plot(counts, expected, "--", color="C3", label="random search (expected)")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume (product of the objectives' units)")
    reference = ", ".join(f"{r:.3g}" for r in front.reference)
    ax.set_title(f"Hypervolume of the feasible front (reference point {reference})")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
