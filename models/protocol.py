"""The surrogate interface (`Surrogate`), apart from the registry that imports every surrogate.

Every surrogate's `fit` takes the same arguments, so the campaign calls all kinds alike: the
measurement variances and, per observation, its fidelity (`high`: True for the configured high
fidelities) and temperature. A kind that cannot use fidelity labels declares it (`fidelities =
False`, so the campaign passes none) and refuses them, and temperatures, with `one_condition` (one
line naming it) rather than silently fitting as if all data were alike.

`Surrogate` also declares what the config and the campaign read off a surrogate's class: its
settings model (`Spec`), its constructor (`from_spec`), the representations it models and its
capabilities. Surrogate classes subclass `Surrogate` and so inherit the defaults of what they do
not declare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, Sequence

import torch

from amala.core.representations import Representation

if TYPE_CHECKING:
    from amala.models.registry import SurrogateSpec


class Surrogate(Protocol):
    name: str
    model: object  # a botorch.models.model.Model, or None when the surrogate has no Bayesian view
    Spec: ClassVar[type[SurrogateSpec]]  # its settings: `kind: Literal["..."]` and its own fields
    representations: ClassVar[tuple[Representation, ...]]  # what it models
    # False: no posterior for joint acquisition, so a config may only choose greedy or random strategies
    bayesian: ClassVar[bool]
    # whether `fit` uses fidelity labels (`high`); without, it refuses them (a kind with fidelities has
    # a `high_fidelity` setting, read through `SurrogateSpec.high_fidelities`: the fidelities that are "high")
    fidelities: ClassVar[bool] = False
    # what `encode` reads: "fingerprints" (its Spec has a `featurizer`), "graphs" or "formulations"
    inputs: ClassVar[str]
    # True when `fit` takes each observation's measurement temperature (`temperature_K`)
    temperatures: ClassVar[bool] = False
    # (property, transform, direction) of the only objective its readout models (an Arrhenius readout
    # models log10 conductivity), or None for any objective
    arrhenius_objective: ClassVar[tuple[str, str, str] | None] = None

    @classmethod
    def from_spec(cls, spec: SurrogateSpec, bank, representation: str = Representation.SMILES, seed: int = 0,
                  warm_start: dict | None = None) -> "Surrogate":
        """A fresh, unfitted surrogate over `bank` (see `amala.models.registry.build_surrogate`)."""
        ...

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
