"""The surrogate interface (`Surrogate`), apart from the registry that imports every surrogate.

Every surrogate's `fit` takes the same arguments, so the campaign calls all kinds alike: the
measurement variances and, per observation, its fidelity (`high`: True for the configured high
fidelities) and temperature. A kind that cannot use fidelity labels declares it (`fidelities =
False`, so the campaign passes none) and refuses them, and temperatures, with `one_condition` (one
line naming it) rather than silently fitting as if all data were alike.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, Sequence

import torch


class Surrogate(Protocol):
    name: str
    model: object  # a botorch.models.model.Model, or None when the surrogate has no Bayesian view
    fidelities: ClassVar[bool]  # whether `fit` uses fidelity labels (`high`); without, it refuses them
    # (a kind with fidelities has a `high_fidelity` setting: the fidelities that are "high")
    inputs: ClassVar[str]  # "fingerprints" (its Spec has a `featurizer`) or "graphs": what `encode` reads

    def encode(self, representations: Sequence[str]) -> torch.Tensor:
        """Representations -> this model's input tensor (fingerprints, or rows of a fingerprint bank)."""

    def fit(self, X: torch.Tensor, y: torch.Tensor, y_var: torch.Tensor | None = None, *,
            high: torch.Tensor | None = None, temperature_K: torch.Tensor | None = None) -> "Surrogate":
        """`high`: per observation, whether it is high fidelity (None: all one fidelity);
        `temperature_K`: per observation, where it was measured (None: the surrogate's reference)."""

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def describe(self) -> dict: ...


def one_condition(name: str, high: torch.Tensor | None, temperature_K: torch.Tensor | None) -> None:
    """For surrogates of one fidelity at one temperature: refuse labels that say otherwise."""
    if high is not None and bool(high.any()):
        raise ValueError(f"surrogate {name}: models one fidelity; high-fidelity labels need kind gnn_ensemble")
    if temperature_K is not None:
        raise ValueError(f"surrogate {name}: models one temperature; temperatures need kind gnn_ensemble")
