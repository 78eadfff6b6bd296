"""A random forest over formulations at a measurement temperature: the formulation ensemble's partner.

Why it exists: on polymers no training row had (ChemArr, polymer-grouped CV,
docs/benchmarks/formulation-surrogate-cv.md) the
networks and a forest on fingerprints err differently. The networks are better on most held-out
polymers but far off, and over-confident, on the few that dominate the data (PEO); the forest is
cruder but more cautious there. `FormulationEnsemble` averages them (with its graph networks: a mixture),
which is better calibrated than either alone.

Inputs are the classic baseline's: which Morgan environments the polymer and the salt contain (bits,
from the featurizer's counts), log10 molality with its missing flag, and 1000/T — temperature is a
column, not a readout, so the forest has no activation energy of its own.
"""

from __future__ import annotations

import numpy as np
import torch

from amala.models.random_forest import tree_spread


def forest_inputs(X: torch.Tensor | np.ndarray, blocks: dict[str, slice],
                  temperature_K: torch.Tensor | np.ndarray | float) -> np.ndarray:
    """FormulationFeaturizer rows -> polymer bits | salt bits | log10 m, m missing | 1000/T (float32)."""
    X = np.asarray(X, dtype=np.float32)
    X = X.reshape(-1, X.shape[-1])[:, :blocks["conditions"].stop]  # columns after the featurizer's are not the forest's
    T = np.broadcast_to(np.asarray(temperature_K, dtype=np.float64).reshape(-1), (len(X),))
    bits = np.hstack([X[:, blocks["polymer_counts"]] > 0, X[:, blocks["salt_counts"]] > 0])
    conditions = X[:, blocks["conditions"]][:, :2]  # log10 molality, molality missing
    return np.ascontiguousarray(np.hstack([bits, conditions, 1000.0 / T[:, None]]), dtype=np.float32)


class FormulationForest:
    """fit(X, y, temperature_K) / predict(X, temperature_K) -> mean and std across trees of log10 σ."""

    def __init__(self, blocks: dict[str, slice], trees: int = 300, seed: int = 0, n_jobs: int = -1):
        from sklearn.ensemble import RandomForestRegressor  # lazy: configs import the ensemble for its spec

        self.blocks = blocks
        self.forest = RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=n_jobs)
        self.fitted = False

    def fit(self, X, y, temperature_K) -> "FormulationForest":
        self.forest.fit(forest_inputs(X, self.blocks, temperature_K), np.asarray(y, dtype=np.float64).reshape(-1))
        self.fitted = True
        return self

    def predict(self, X, temperature_K) -> tuple[np.ndarray, np.ndarray]:
        if not self.fitted:
            raise RuntimeError("formulation forest: predict() before fit()")
        return tree_spread(self.forest, forest_inputs(X, self.blocks, temperature_K))


def mixture(*parts: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of an equal-weight mixture of Gaussians, given as (mean, std) pairs: the spread includes
    their disagreement (the variance of their means about the mixture's)."""
    means, stds = torch.stack([m for m, _ in parts]), torch.stack([s for _, s in parts])
    mean = means.mean(0)
    return mean, ((stds ** 2).mean(0) + ((means - mean) ** 2).mean(0)).sqrt()
