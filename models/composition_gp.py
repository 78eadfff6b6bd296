"""A GP over glass compositions: mole fractions plus a few physically motivated descriptors.

Descriptors: Li atoms per oxygen (charge-carrier density per anion) and the fraction of network
formers (Si, P, Al, B, Ti) among cations (network connectivity). A Matern-5/2 kernel with one
length scale per feature (BoTorch's default for `SingleTaskGP`) on min-max normalised inputs, so
the GP learns which components matter; it plugs into every BoTorch acquisition like the polymer GP.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from ase.formula import Formula
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood

from amala.agents.composition import parse_composition

NETWORK_FORMERS = {"Si", "P", "Al", "B", "Ti"}


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


class CompositionGP:
    name = "gp"

    def __init__(self, featurizer: CompositionFeaturizer, warm_start: dict | None = None):
        self.featurizer = featurizer
        self.warm_start = warm_start
        self.model: SingleTaskGP | None = None

    def encode(self, compositions: Sequence[str]) -> torch.Tensor:
        return self.featurizer(compositions)

    def fit(self, X: torch.Tensor, y: torch.Tensor) -> "CompositionGP":
        if len(X) < 2:
            raise ValueError(f"surrogate gp: needs at least 2 observations to fit, got {len(X)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small-data scaling hints
            model = SingleTaskGP(X, y.double().reshape(-1, 1), input_transform=Normalize(d=X.shape[-1]),
                                 outcome_transform=Standardize(m=1))
            if self.warm_start:
                model.load_state_dict(self.warm_start, strict=False)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        model.eval()
        self.model = model
        return self

    def hyperparameters(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()
                if k.startswith(("likelihood.", "mean_module.", "covar_module."))}

    @torch.no_grad()
    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        posterior = self.model.posterior(X)
        return posterior.mean.squeeze(-1), posterior.variance.clamp_min(0).sqrt().squeeze(-1)

    def describe(self) -> dict:
        return {"kind": "gp", "kernel": "matern-5/2 ARD on composition features",
                "noise_variance_standardized": float(self.model.likelihood.noise.detach().mean()),
                "n_train": int(self.model.train_targets.shape[-1]), **self.featurizer.describe()}
