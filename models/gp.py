"""Exact Gaussian process on fingerprints: a BoTorch `SingleTaskGP` with a Tanimoto kernel.

Being a BoTorch model, it plugs into every BoTorch acquisition function unchanged. Its inputs are
row numbers into a `SimilarityBank` (see `amala.models.kernels.IndexedKernel` for why); `encode`
turns SMILES into those inputs. Targets are standardised inside the model (BoTorch's
`Standardize`), so the output scale and noise level are learned on a unit scale whatever the
property.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from amala.models.kernels import IndexedKernel
from amala.models.similarity import SimilarityBank


class TanimotoGP:
    name = "gp"

    def __init__(self, bank: SimilarityBank, warm_start: dict | None = None):
        self.bank = bank
        self.warm_start = warm_start  # hyperparameters of the previous fit: far fewer optimiser steps
        self.model: SingleTaskGP | None = None

    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        return self.bank.encode(smiles)

    def fit(self, X: torch.Tensor, y: torch.Tensor) -> "TanimotoGP":
        if len(X) < 2:
            raise ValueError(f"surrogate gp: needs at least 2 observations to fit, got {len(X)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch's unit-cube hint does not apply to row numbers
            model = SingleTaskGP(X.double(), y.double().reshape(-1, 1),
                                 covar_module=ScaleKernel(IndexedKernel(self.bank)),
                                 outcome_transform=Standardize(m=1))
            if self.warm_start:
                model.load_state_dict(self.warm_start, strict=False)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        model.eval()
        self.model = model
        return self

    def hyperparameters(self) -> dict:
        """The learned kernel, noise and mean parameters (not the data or its standardisation)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()
                if k.startswith(("likelihood.", "mean_module.", "covar_module."))}

    @torch.no_grad()
    def predict(self, X: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
        """Marginal posterior mean and standard deviation of the (transformed) objective."""
        if self.model is None:
            raise RuntimeError("surrogate gp: predict() before fit()")
        means, stds = [], []
        for part in torch.split(X.double(), chunk):
            posterior = self.model.posterior(part)
            means.append(posterior.mean.squeeze(-1))
            stds.append(posterior.variance.clamp_min(0).sqrt().squeeze(-1))
        return torch.cat(means), torch.cat(stds)

    def describe(self) -> dict:
        m = self.model
        return {
            "kind": "gp",
            "kernel": "tanimoto",
            "outputscale": float(m.covar_module.outputscale.detach()),
            "noise_variance_standardized": float(m.likelihood.noise.detach().mean()),
            "n_train": int(m.train_targets.shape[-1]),
        }
