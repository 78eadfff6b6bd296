"""A GP over glass compositions: mole fractions plus a few physically motivated descriptors.

Descriptors: Li atoms per oxygen (charge-carrier density per anion) and the fraction of network
formers (Si, P, Al, B, Ti) among cations (network connectivity). A Matern-5/2 kernel with one
length scale per feature (BoTorch's default for `SingleTaskGP`) on min-max normalised inputs, so
the GP learns which components matter; it plugs into every BoTorch acquisition like the polymer GP.
"""

from __future__ import annotations

from typing import Sequence

import torch
from ase.formula import Formula
from botorch.models.transforms.input import Normalize

from amala.core.composition import NETWORK_FORMERS, parse_composition
from amala.models.gp import ExactGP


class CompositionFeaturizer:
    def __init__(self, components: Sequence[str]):
        self.components = list(components)

    @property
    def dim(self) -> int:
        return len(self.components) + 2

    def _one(self, text: str) -> list[float]:
        fractions = parse_composition(text)
        atoms: dict[str, float] = {}
        for oxide, x in fractions.items():
            for element, n in Formula(oxide).count().items():
                atoms[element] = atoms.get(element, 0.0) + x * n
        cations = sum(v for e, v in atoms.items() if e != "O")
        li_per_o = atoms.get("Li", 0.0) / atoms["O"] if atoms.get("O") else 0.0
        formers = sum(v for e, v in atoms.items() if e in NETWORK_FORMERS) / cations if cations else 0.0
        return [fractions.get(c, 0.0) for c in self.components] + [li_per_o, formers]

    def __call__(self, compositions: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self._one(c) for c in compositions], dtype=torch.float64).reshape(-1, self.dim)

    def describe(self) -> dict:
        return {"kind": "composition", "components": self.components, "descriptors": ["li_per_o", "former_fraction"]}


class CompositionGP(ExactGP):
    """Built for the `gp` kind in composition campaigns (`amala.models.registry.BY_REPRESENTATION`)."""

    @classmethod
    def from_spec(cls, spec, bank: CompositionFeaturizer, representation="composition", seed: int = 0,
                  warm_start: dict | None = None) -> CompositionGP:
        return cls(bank, warm_start=warm_start)

    def __init__(self, featurizer: CompositionFeaturizer, warm_start: dict | None = None):
        super().__init__(warm_start)
        self.featurizer = featurizer

    def encode(self, compositions: Sequence[str]) -> torch.Tensor:
        return self.featurizer(compositions)

    def _model_options(self, X: torch.Tensor) -> dict:
        return {"input_transform": Normalize(d=X.shape[-1])}

    def describe(self) -> dict:
        return {**super().describe(), "kernel": "matern-5/2 ARD on composition features", **self.featurizer.describe()}
