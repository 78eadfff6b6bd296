"""Pareto fronts and hypervolumes of evaluated candidates (every objective maximised: model space).

One module for what a multi-objective campaign is judged by, used alike by its acquisition (the
reference point), its report (the front, the hypervolume against evaluations and what random search
would be expected to reach) and the retrospective benchmark (hypervolume as a fraction of the pool's).

The reference point is the worst value on each objective that is still worth having: points not
better than it on every objective add no hypervolume. A campaign takes it from the config
(`objectives[].reference`) or, where an objective has none, from the **median of the initial design**
on that objective (the first `budget.initial` evaluations, random picks from the pool or the agents'
proposals): a candidate is worth having when it beats a typical candidate on every objective at once.
Fixed after the initial design, it does not drift as the front moves (BoTorch's nadir-based
`infer_reference_point` moves with the front and emphasises its extremes instead).

Hypervolumes in two dimensions use an exact sweep (milliseconds for thousands of points); in three or
more, BoTorch's box decomposition (`DominatedPartitioning`).
"""

from __future__ import annotations

import numpy as np
import torch


def pareto_mask(Y) -> np.ndarray:
    """Which rows of Y (n x m, maximised) are non-dominated; duplicates of a front point all count."""
    Y = np.asarray(Y, dtype=float)
    if len(Y) == 0:
        return np.zeros(0, dtype=bool)
    from botorch.utils.multi_objective.pareto import is_non_dominated

    return is_non_dominated(torch.as_tensor(Y), deduplicate=False).numpy()


def hypervolume(Y, reference) -> float:
    """The volume dominated by the rows of Y (maximised) and bounded below by `reference`."""
    Y, ref = np.asarray(Y, dtype=float).reshape(-1, len(reference)), np.asarray(reference, dtype=float)
    Y = Y[np.all(Y > ref, axis=1)]
    if len(Y) == 0:
        return 0.0
    if Y.shape[1] == 1:
        return float(Y.max() - ref[0])
    if Y.shape[1] == 2:
        order = np.argsort(-Y[:, 0], kind="stable")
        volume, top = 0.0, ref[1]
        for y0, y1 in Y[order]:
            if y1 > top:
                volume += (y0 - ref[0]) * (y1 - top)
                top = y1
        return float(volume)
    from botorch.utils.multi_objective.box_decompositions.dominated import DominatedPartitioning

    Yt = torch.as_tensor(Y[pareto_mask(Y)])
    return float(DominatedPartitioning(ref_point=torch.as_tensor(ref), Y=Yt).compute_hypervolume())


def hypervolume_curve(Y, reference) -> np.ndarray:
    """Hypervolume after each of the evaluations in Y's order (rows with NaN add nothing)."""
    Y = np.asarray(Y, dtype=float)
    out, front = np.zeros(len(Y)), np.empty((0, Y.shape[1] if Y.ndim == 2 else 0))
    volume = 0.0
    for i, row in enumerate(Y):
        if np.all(np.isfinite(row)):
            front = np.vstack([front, row])
            mask = pareto_mask(front)
            if mask[-1]:  # a new point on the front: the volume grew
                front = front[mask]
                volume = hypervolume(front, reference)
            else:
                front = front[:-1]
        out[i] = volume
    return out


def reference_point(Y_initial, given: list[float | None]) -> list[float]:
    """Per objective: the configured reference, else the median of the initial design's values."""
    Y = np.asarray(Y_initial, dtype=float).reshape(-1, len(given))
    out = []
    for k, value in enumerate(given):
        if value is not None:
            out.append(float(value))
            continue
        column = Y[:, k][np.isfinite(Y[:, k])]
        if len(column) == 0:
            raise ValueError("the reference point needs evaluations with every objective (none yet)")
        out.append(float(np.median(column)))
    return out


def random_hypervolume(pool, reference, n_max: int, draws: int = 200, seed: int = 0,
                       points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """What random search would be expected to reach: the mean hypervolume of n candidates drawn without
    replacement from `pool` (rows: every pool member's objectives), estimated from `draws` random orders at
    about `points` evaluation counts up to n_max. Rows that are NaN or -inf (a failed or infeasible candidate)
    cost a draw and add nothing. Returns (counts, mean hypervolume)."""
    pool = np.asarray(pool, dtype=float)
    n_max = min(n_max, len(pool))
    counts = np.unique(np.geomspace(1, max(n_max, 1), num=points).round().astype(int))
    rng = np.random.default_rng(seed)
    totals = np.zeros(len(counts))
    for _ in range(draws):
        order = rng.permutation(len(pool))[:n_max]
        totals += [hypervolume(pool[order[:n]], reference) for n in counts]
    return counts, totals / draws
