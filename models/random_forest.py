"""Random forest on fingerprints: the classic cheminformatics baseline (greedy_rf in benchmarks).

Its spread across trees is a rough uncertainty, not a Bayesian posterior, so it has no BoTorch
view; campaigns may use it with the `greedy` and `random` strategies only.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
from pydantic import Field

from amala.core.plugins import Int
from amala.core.representations import Representation
from amala.models.protocol import Surrogate, one_condition
from amala.models.registry import FeaturizerSpec, SurrogateSpec


class RandomForestSpec(SurrogateSpec):
    kind: Literal["random_forest"] = "random_forest"
    featurizer: FeaturizerSpec = FeaturizerSpec()  # smiles campaigns' fingerprints
    n_estimators: Int = Field(500, ge=1, le=10_000, description="trees (more than 10,000 only costs memory)")


class RandomForest(Surrogate):
    Spec = RandomForestSpec
    representations = (Representation.SMILES, Representation.COMPOSITION, Representation.FORMULATION)
    bayesian = False  # greedy or random strategies only
    fidelities = False
    inputs = "fingerprints"

    @classmethod
    def from_spec(cls, spec: RandomForestSpec, bank, representation="smiles", seed: int = 0,
                  warm_start: dict | None = None) -> RandomForest:
        """Fingerprints come from the bank's featurizer; a composition or formulation campaign's bank is its
        featurizer (`FormulationFeaturizer`: its undefined descriptors stay NaN, which the trees handle)."""
        own = representation in (Representation.COMPOSITION, Representation.FORMULATION)
        featurizer = bank if own else bank.featurizer
        return cls(featurizer, n_estimators=spec.n_estimators, seed=seed)

    name = "random_forest"
    model = None  # no BoTorch view

    def __init__(self, featurizer, n_estimators: int = 500, seed: int = 0, n_jobs: int = -1):
        self.featurizer = featurizer
        from sklearn.ensemble import RandomForestRegressor  # lazy: the config imports this module for its spec

        self.forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
        self._fitted = False

    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        return self.featurizer(smiles)

    def fit(self, X: torch.Tensor, y: torch.Tensor, y_var: torch.Tensor | None = None, *,
            high: torch.Tensor | None = None, temperature_K: torch.Tensor | None = None) -> "RandomForest":
        # measured variances are ignored: a forest has no noise model to put them in
        one_condition(self.name, high, temperature_K)
        self._y = y.numpy().ravel()
        self.forest.fit(_float32(X), self._y)
        self._fitted = True
        return self

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._fitted:
            raise RuntimeError("surrogate random_forest: predict() before fit()")
        mean, std = tree_spread(self.forest, _float32(X))  # validated once here, not once per tree
        return torch.from_numpy(mean), torch.from_numpy(std)

    def describe(self) -> dict:
        return {"kind": "random_forest", "n_estimators": self.forest.n_estimators,
                "n_train": len(self._y)}


def tree_spread(forest, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std across a fitted sklearn forest's trees (X: contiguous float32, checked by the caller)."""
    per_tree = np.stack([tree.predict(X, check_input=False) for tree in forest.estimators_])
    return per_tree.mean(0), per_tree.std(0)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float32(X: torch.Tensor) -> np.ndarray:
    """The trees' float32 inputs. A value beyond float32's range (RDKit's Ipc descriptor of a large
    formulation's repeat unit) becomes the largest float32 of its sign, not inf, which sklearn refuses
    (the order trees split on is kept); NaN (an undefined descriptor) stays NaN, which the trees handle."""
    return np.ascontiguousarray(np.clip(X.numpy(), -FLOAT32_MAX, FLOAT32_MAX), dtype=np.float32)
