"""The surrogate interface and the map from config names to surrogate and featurizer classes."""

from __future__ import annotations

from typing import Protocol, Sequence

import torch


class Surrogate(Protocol):
    name: str
    model: object  # a botorch.models.model.Model, or None when the surrogate has no Bayesian view

    def encode(self, representations: Sequence[str]) -> torch.Tensor:
        """Representations -> this model's input tensor (fingerprints, or rows of a similarity bank)."""

    def fit(self, X: torch.Tensor, y: torch.Tensor, y_var: torch.Tensor | None = None) -> "Surrogate": ...

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def describe(self) -> dict: ...


def build_surrogate(spec, bank, seed: int = 0, warm_start: dict | None = None) -> Surrogate:
    """A fresh, unfitted surrogate. `bank` (a `SimilarityBank`, or a `GraphBank` for GNNs) carries the campaign's featurizer
    and similarity cache across iterations; `warm_start` (the stored hyperparameters of the last
    fit of the same kind, see `ExactGP`) seeds the GP's hyperparameter search."""
    from amala.models.composition_gp import CompositionFeaturizer, CompositionGP
    from amala.models.gp import TanimotoGP
    from amala.models.random_forest import RandomForest

    if isinstance(bank, CompositionFeaturizer):  # composition campaigns: `bank` is the featurizer
        if spec.kind == "random_forest":
            return RandomForest(bank, n_estimators=spec.n_estimators, seed=seed)
        return CompositionGP(bank, warm_start=warm_start)
    if spec.kind == "gnn_ensemble":
        from amala.models.gnn_ensemble import GNNEnsemble

        return GNNEnsemble(bank, members=spec.members, reference_K=spec.reference_K, seed=seed, epochs=spec.epochs,
                           lr_final=spec.lr_final, dropout=spec.dropout)
    if spec.kind == "gp":
        return TanimotoGP(bank, warm_start=warm_start)
    if spec.kind == "random_forest":
        return RandomForest(bank.featurizer, n_estimators=spec.n_estimators, seed=seed)
    raise ValueError(f"surrogate.kind: unknown surrogate {spec.kind!r}")


def build_featurizer(spec):
    from amala.models.featurizer import MorganFeaturizer

    if spec.kind == "morgan":
        return MorganFeaturizer(radius=spec.radius, n_bits=spec.n_bits, counts=spec.counts,
                                count_cap=spec.count_cap)
    raise ValueError(f"surrogate.featurizer.kind: unknown featurizer {spec.kind!r}")
