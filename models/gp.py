"""Exact Gaussian processes as BoTorch `SingleTaskGP`s: one fitting path, two input spaces.

Being BoTorch models, they plug into every BoTorch acquisition function unchanged. Targets are
standardised inside the model (BoTorch's `Standardize`), so output scale and noise are learned on
a unit scale whatever the property, and each fit may start from the previous iteration's
hyperparameters (far fewer optimiser steps, same optimum in our benchmarks).

`TanimotoGP` works on polymer fingerprints: its inputs are row numbers into a `FingerprintBank`
(see `amala.models.kernels.IndexedKernel` for why), and it scores candidates in chunks against the
training rows only (`predict`, `predict_bits`), so scoring 10^6 candidates needs 10^6 x n_train
similarities, a chunk at a time, and never a candidates x candidates matrix. The composition GP
lives in `composition_gp`; `FormulationGP` (formulation campaigns) is the Tanimoto GP on polymer
and salt counts times a kernel on the salt's amount.
"""

from __future__ import annotations

import warnings
from typing import Literal, Sequence

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from pydantic import Field

from amala.core.plugins import Text
from amala.core.representations import Representation
from amala.models.kernels import IndexedKernel, TanimotoKernel
from amala.models.protocol import Surrogate, one_condition
from amala.models.registry import FeaturizerSpec, SurrogateSpec
from amala.models.similarity import FingerprintBank
from amala.models.sparse_bits import SparseBits, TanimotoTo


class GPSpec(SurrogateSpec):
    kind: Literal["gp"] = "gp"
    featurizer: FeaturizerSpec = FeaturizerSpec()  # smiles campaigns' fingerprints
    high_fidelity: list[Text] = Field(default_factory=list, max_length=16, description="composition campaigns: "
                                      "evaluation fidelities (e.g. external, measured) that are the high fidelity of "
                                      "a two-task GP (the rest are the low); predictions are made at high fidelity")

    def high_fidelities(self) -> list[str]:
        return self.high_fidelity


MIN_VARIANCE = 1e-6  # floor for reported variances: a zero would make the GP interpolate exactly


class ExactGP(Surrogate):
    """Fitting, prediction and warm starts shared by the GP surrogates; subclasses say how
    representations become inputs (`encode`) and which kernel or input transform to use."""

    name = "gp"
    fidelities = False  # one fidelity: `fit` refuses high-fidelity labels

    def __init__(self, warm_start: dict | None = None):
        """`warm_start`: the `hyperparameters` entry of an earlier fit's `describe()` (plain lists,
        as stored with each model version), so a resumed campaign warm-starts exactly as the
        uninterrupted one would have."""
        self.warm_start = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in (warm_start or {}).items()}
        self.model: SingleTaskGP | None = None
        self.fixed_noise = False

    def encode(self, representations: Sequence[str]) -> torch.Tensor:
        raise NotImplementedError

    def _model_options(self, X: torch.Tensor) -> dict:
        return {}

    def fit(self, X: torch.Tensor, y: torch.Tensor, y_var: torch.Tensor | None = None, *,
            high: torch.Tensor | None = None, temperature_K: torch.Tensor | None = None) -> "ExactGP":
        """Fit by marginal likelihood. With `y_var` (the oracle's own measurement variances, e.g. an
        MD Arrhenius extrapolation's), the noise is those values rather than one learned level, so a
        noisy simulation pulls the model less than a precise one. One fidelity, one temperature."""
        one_condition(self.name, high, temperature_K)
        if len(X) < 2:
            raise ValueError(f"surrogate gp: needs at least 2 observations to fit, got {len(X)}")
        self.fixed_noise = y_var is not None
        noise = {} if y_var is None else {"train_Yvar": y_var.double().clamp_min(MIN_VARIANCE).reshape(-1, 1)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch's input-scaling hints (row numbers, small data)
            model = SingleTaskGP(X.double(), y.double().reshape(-1, 1), outcome_transform=Standardize(m=1),
                                 **noise, **self._model_options(X))
            if self.warm_start:
                model.load_state_dict(self.warm_start, strict=False)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        model.eval()
        self.model = model
        return self

    def hyperparameters(self) -> dict:
        """The learned kernel, noise and mean parameters (not the data or its standardisation)."""
        kept = ("mean_module.", "covar_module.") + (() if self.fixed_noise else ("likelihood.",))
        return {k: v.detach().clone() for k, v in self.model.state_dict().items() if k.startswith(kept)}

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
        return {"kind": "gp", "noise": "measured (oracle's variances)" if self.fixed_noise else "learned",
                "noise_variance_standardized": float(self.model.likelihood.noise.detach().mean()),
                "n_train": int(self.model.train_targets.shape[-1]),
                "hyperparameters": {k: v.tolist() for k, v in self.hyperparameters().items()}}


class TanimotoGP(ExactGP):
    Spec = GPSpec
    # composition and formulation campaigns build `CompositionGP` and `FormulationGP` (BY_REPRESENTATION)
    representations = (Representation.SMILES, Representation.COMPOSITION, Representation.FORMULATION)
    bayesian = True
    fidelities = False
    inputs = "fingerprints"  # rows of the fingerprint bank (composition campaigns: the composition featurizer)

    @classmethod
    def from_spec(cls, spec: GPSpec, bank, representation="smiles", seed: int = 0,
                  warm_start: dict | None = None) -> TanimotoGP:
        return cls(bank, warm_start=warm_start)

    def __init__(self, bank: FingerprintBank, warm_start: dict | None = None):
        super().__init__(warm_start)
        self.bank = bank
        self._solved = None  # the training side of the posterior, factorised once per fit (`_solve`)

    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        return self.bank.encode(smiles)

    def _model_options(self, X: torch.Tensor) -> dict:
        return {"covar_module": ScaleKernel(IndexedKernel(self.bank))}

    def fit(self, X, y, y_var=None, **conditions) -> TanimotoGP:
        super().fit(X, y, y_var, **conditions)
        self._solved = None
        return self

    @torch.no_grad()
    def predict(self, X: torch.Tensor, chunk: int = 16_384) -> tuple[torch.Tensor, torch.Tensor]:
        """Marginal posterior mean and standard deviation at bank rows `X`, a chunk at a time."""
        rows = X[:, 0].long().numpy()
        return self.predict_bits(self.bank.bits.take(rows), chunk)

    @torch.no_grad()
    def predict_bits(self, bits: SparseBits, chunk: int = 16_384) -> tuple[torch.Tensor, torch.Tensor]:
        """Marginal posterior mean and standard deviation of fingerprints that need not be in the bank
        (a library's cached rows), from their similarities to the training rows only.

        The exact GP posterior, written out: mean = m + k' a with a = (K + N)^-1 (y - m), variance =
        s - |L^-1 k|^2 with L L' = K + N (K: s x Tanimoto on the training rows, N: the noise); the
        same numbers as BoTorch's `posterior` (tests check it), without building the joint
        covariance of the candidates that `posterior` would."""
        if self.model is None:
            raise RuntimeError("surrogate gp: predict() before fit()")
        cholesky, alpha, constant, scale, to_train = self._solve()
        transform = self.model.outcome_transform
        shift, spread = transform.means.reshape(()), transform.stdvs.reshape(())
        means, stds = [], []
        for start in range(0, len(bits), chunk):
            cross = to_train(bits.slice(start, min(start + chunk, len(bits)))).double().mul_(scale)
            half = torch.linalg.solve_triangular(cholesky, cross.T, upper=False)
            means.append((constant + cross @ alpha) * spread + shift)
            stds.append((scale - half.square_().sum(0)).clamp_min(0).sqrt() * spread)
        if not means:
            return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
        return torch.cat(means), torch.cat(stds)

    def _solve(self):
        """The training side of the posterior, factorised once per fit."""
        if self._solved is None:
            model = self.model
            X_train = model.train_inputs[0]
            prior = model.covar_module(X_train).to_dense()
            noise = model.likelihood.noise.reshape(-1).expand(len(X_train))
            cholesky = torch.linalg.cholesky(prior + torch.diag(noise))
            constant = model.mean_module.constant.reshape(())
            alpha = torch.cholesky_solve((model.train_targets - constant).unsqueeze(-1), cholesky).squeeze(-1)
            scale = model.covar_module.outputscale.reshape(())
            to_train = TanimotoTo(self.bank.bits.take(X_train[:, 0].long().numpy()))
            self._solved = (cholesky, alpha, constant, scale, to_train)
        return self._solved

    def describe(self) -> dict:
        return {**super().describe(), "kernel": "tanimoto",
                "outputscale": float(self.model.covar_module.outputscale.detach())}


class FormulationGP(ExactGP):
    """Built for the `gp` kind in formulation campaigns (`amala.models.registry.BY_REPRESENTATION`).

    Kernel: Tanimoto on the log1p Morgan counts of polymer and salt (`FormulationFeaturizer`'s count
    blocks: two formulations are alike when their polymers and salts are) times an RBF with one length
    scale per condition column (log10 molality, molality missing, no salt, log10 Mw, Mw missing). The
    RDKit descriptors are left out: they need scaling per training set and have undefined (NaN) entries,
    which the forest and the formulation ensemble handle and an exact GP's kernel cannot."""

    @classmethod
    def from_spec(cls, spec, bank, representation="formulation", seed: int = 0,
                  warm_start: dict | None = None) -> FormulationGP:
        return cls(bank, warm_start=warm_start)

    def __init__(self, featurizer, warm_start: dict | None = None):
        super().__init__(warm_start)
        self.featurizer = featurizer
        blocks = featurizer.blocks
        parts = [blocks["polymer_counts"], blocks["salt_counts"], blocks["conditions"]]
        self.columns = torch.cat([torch.arange(part.start, part.stop) for part in parts])
        self.n_counts = len(self.columns) - (blocks["conditions"].stop - blocks["conditions"].start)

    def encode(self, formulations: Sequence[str]) -> torch.Tensor:
        return self.featurizer(formulations)[:, self.columns].double()

    def _model_options(self, X: torch.Tensor) -> dict:
        counts = TanimotoKernel(active_dims=torch.arange(self.n_counts))
        conditions = RBFKernel(ard_num_dims=X.shape[-1] - self.n_counts, active_dims=torch.arange(self.n_counts,
                                                                                                   X.shape[-1]))
        return {"covar_module": ScaleKernel(counts * conditions)}

    def describe(self) -> dict:
        return {**super().describe(), "kernel": "tanimoto (polymer + salt counts) x RBF ARD (conditions)",
                "outputscale": float(self.model.covar_module.outputscale.detach())}
