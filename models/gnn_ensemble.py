"""A deep ensemble of D-MPNN networks with Arrhenius, multi-fidelity readouts, as a surrogate.

Why an ensemble: a single network gives a number, not how far to trust it. Members differ by seed
and by a bootstrap resample of the training data; their spread is the epistemic uncertainty
(Lakshminarayanan et al. 2017). The ensemble's mean and variance are exposed as a BoTorch `Model`
with a Gaussian posterior (`EnsembleGaussianModel`), so qLogNEI, qUCB and Thompson sampling work
unchanged on a GNN as on a GP.

Inputs follow the GP's convention: a candidate is one column holding its row in the campaign's
`GraphBank`, so BoTorch never sees the graphs and predictions are cached per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DiagLinearOperator
from pydantic import Field
from torch import nn

from amala.core.plugins import Float, Int, Text
from amala.core.representations import Representation
from amala.models.descriptors import DescriptorScaler
from amala.models.dmpnn import DMPNNEncoder
from amala.models.molecular_graph import GraphBank
from amala.models.protocol import Surrogate
from amala.models.readouts import LN10_KB, MultiFidelityArrhenius
from amala.models.registry import SurrogateSpec


class GNNEnsembleSpec(SurrogateSpec):
    kind: Literal["gnn_ensemble"] = "gnn_ensemble"
    members: Int = Field(5, ge=2, le=64, description="networks in the deep ensemble (each one is trained every "
                         "iteration; at most 64)")
    epochs: Int = Field(20, ge=1, le=1000, description="training epochs per member (20 with the decay below beat "
                        "30 and 60 in docs/benchmarks/gnn-ensemble-cv.md; at most 1000)")
    lr_final: Float | None = Field(1e-4, gt=0, le=1e-3, description="learning rate decays from 1e-3 to this")
    dropout: Float = Field(0.15, ge=0, lt=1, description="dropout in the message passing")
    reference_K: Float = Field(353.0, gt=0, le=5000, description="temperature of single-temperature data "
                               "(HTP-MD: 353 K)")
    high_fidelity: list[Text] = Field(default_factory=list, max_length=16, description="evaluation fidelities "
                                      "(e.g. standard, external) that train the high-fidelity head; the rest train "
                                      "the low head, and predictions are made at high fidelity")

    def high_fidelities(self) -> list[str]:
        return self.high_fidelity


@dataclass
class TrainingSet:
    """Observations for the network: graph rows, targets (log10 units), temperature and fidelity."""
    rows: torch.Tensor  # (n,) long
    y: torch.Tensor  # (n,)
    temperature_K: torch.Tensor  # (n,)
    high: torch.Tensor  # (n,) bool: high-fidelity observation
    auxiliary: torch.Tensor | None = None  # (n, k) other properties of the same simulation, NaN where missing

    def subset(self, index: torch.Tensor) -> "TrainingSet":
        return TrainingSet(self.rows[index], self.y[index], self.temperature_K[index], self.high[index],
                           None if self.auxiliary is None else self.auxiliary[index])


class ArrheniusGNN(nn.Module):
    """D-MPNN embedding, optionally joined by scaled RDKit descriptors, read out as Arrhenius parameters."""

    def __init__(self, hidden: int = 200, depth: int = 3, dropout: float = 0.0, log10_a0: float = 0.0,
                 ea0_eV: float = 0.3, n_descriptors: int = 0, n_auxiliary: int = 0):
        super().__init__()
        self.encoder = DMPNNEncoder(hidden, depth, dropout)
        self.scaler = DescriptorScaler(n_descriptors) if n_descriptors else None
        self.readout = MultiFidelityArrhenius(hidden + n_descriptors, hidden // 2, log10_a0, ea0_eV)
        self.auxiliary = (nn.Sequential(nn.Linear(hidden + n_descriptors, hidden // 2), nn.ReLU(),
                                        nn.Linear(hidden // 2, n_auxiliary)) if n_auxiliary else None)

    def embed(self, batch) -> torch.Tensor:
        embedding = self.encoder(batch)
        if self.scaler is None:
            return embedding
        if batch.descriptors is None:
            raise ValueError("surrogate gnn_ensemble: trained with descriptors, but the graphs carry none")
        return torch.cat([embedding, self.scaler(batch.descriptors)], dim=1)

    def forward(self, batch, temperature_K, high):
        return self.readout(self.embed(batch), temperature_K, high)

    def forward_all(self, batch, temperature_K, high) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The objective and, with auxiliary heads, the other properties (standardised units)."""
        embedding = self.embed(batch)
        return (self.readout(embedding, temperature_K, high),
                None if self.auxiliary is None else self.auxiliary(embedding))

    def arrhenius_parameters(self, batch, high) -> torch.Tensor:
        return self.readout.parameters_at(self.embed(batch), high)


# Per-observation losses on errors in units of the targets' spread. Huber (quadratic within half a
# spread, linear beyond) and L1 are less pulled by the noisiest simulations than the squared error.
LOSSES = {"mse": lambda e: e ** 2,
          "huber": lambda e: torch.nn.functional.huber_loss(e, torch.zeros_like(e), reduction="none", delta=0.5),
          "l1": lambda e: e.abs()}


def train_member(bank: GraphBank, data: TrainingSet, seed: int, epochs: int = 60, batch_size: int = 50,
                 lr: float = 1e-3, lr_final: float | None = None, high_weight: float = 1.0, low_weight: float = 1.0,
                 min_steps: int = 300, device: str = "cpu", scaler: DescriptorScaler | None = None,
                 auxiliary_weight: float = 1.0, loss: str = "mse", **network) -> ArrheniusGNN:
    """One network, trained by Adam on the squared error in units of the targets' spread, each
    observation weighted by its fidelity's weight; with `lr_final` the learning rate decays
    exponentially from `lr` to it over the epochs (as chemprop does). `device` may be a GPU ("cuda").
    With a fitted descriptor `scaler`, the network reads the graphs' descriptors through it."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    scale = float(data.y.std()) if len(data.y) > 1 and float(data.y.std()) > 0 else 1.0
    ea0 = network.pop("ea0_eV", 0.3)
    log10_a0 = float(data.y.mean()) + ea0 / (LN10_KB * float(data.temperature_K.mean()))
    n_descriptors = 0 if scaler is None else len(scaler.mean)
    aux = None
    if data.auxiliary is not None:  # standardised per column; the loss skips missing values
        centred = data.auxiliary.double() - data.auxiliary.double().nanmean(0)
        aux = (centred / centred.pow(2).nanmean(0).sqrt().clamp_min(1e-9)).float().to(device)
    model = ArrheniusGNN(log10_a0=log10_a0, ea0_eV=ea0, n_descriptors=n_descriptors,
                         n_auxiliary=0 if aux is None else aux.shape[1], **network)
    if scaler is not None:
        model.scaler.load_state_dict(scaler.state_dict())
    model = model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(data.rows)
    batches = max(1, math.ceil(n / batch_size))
    weights = torch.where(data.high, high_weight, low_weight).float().to(device)
    n_epochs = max(epochs, math.ceil(min_steps / batches))
    decay = None if lr_final is None else torch.optim.lr_scheduler.ExponentialLR(
        optimiser, gamma=(lr_final / lr) ** (1 / max(n_epochs - 1, 1)))
    model.train()
    for _ in range(n_epochs):
        order = torch.randperm(n, generator=generator)
        for b in range(batches):
            index = order[b * batch_size:(b + 1) * batch_size]
            part = data.subset(index)
            prediction, aux_prediction = model.forward_all(bank.batch(part.rows.tolist(), device),
                                                           part.temperature_K.float().to(device), part.high.to(device))
            error = (prediction - part.y.float().to(device)) / scale
            objective = (weights[index.to(device)] * LOSSES[loss](error)).mean()
            if aux is not None:
                target = aux[index.to(device)]
                seen = torch.isfinite(target)
                aux_error = ((aux_prediction - target.nan_to_num()) ** 2)[seen].sum() / seen.sum().clamp_min(1)
                objective = objective + auxiliary_weight * aux_error
            optimiser.zero_grad()
            objective.backward()
            optimiser.step()
        if decay is not None:
            decay.step()
    model.eval()
    return model


class GNNEnsemble(Surrogate):
    """Surrogate interface (`encode`, `fit`, `predict`, `model`) over a deep ensemble."""
    name = "gnn_ensemble"
    Spec = GNNEnsembleSpec
    representations = (Representation.SMILES,)  # molecular graphs
    bayesian = True  # a Gaussian view of the ensemble (`EnsembleGaussianModel`)
    fidelities = True  # low and high fidelity heads
    inputs = "graphs"  # molecular graphs (GraphBank)

    @classmethod
    def from_spec(cls, spec: GNNEnsembleSpec, bank, representation="smiles", seed: int = 0,
                  warm_start: dict | None = None) -> GNNEnsemble:
        return cls(bank, members=spec.members, reference_K=spec.reference_K, seed=seed, epochs=spec.epochs,
                   lr_final=spec.lr_final, dropout=spec.dropout)

    def __init__(self, bank: GraphBank | None = None, members: int = 5, bootstrap: bool = True,
                 reference_K: float = 353.0, seed: int = 0, epochs: int = 60, device: str = "cpu",
                 recalibrate: bool = True, **network):
        if members < 2:
            raise ValueError("surrogate gnn_ensemble: needs at least 2 members for an uncertainty")
        self.bank = bank or GraphBank()
        self.members, self.bootstrap, self.reference_K, self.seed = members, bootstrap, reference_K, seed
        self.epochs, self.network, self.device, self.recalibrate = epochs, network, device, recalibrate
        self.std_scale = 1.0
        self.target_high = False  # predictions (and the BoTorch view) use the high head once there is high data
        self.networks: list[ArrheniusGNN] = []
        self.model: EnsembleGaussianModel | None = None
        self._cache: dict[tuple[int, float, bool], tuple[float, float]] = {}

    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        return self.bank.encode(smiles)

    def fit(self, X: torch.Tensor, y: torch.Tensor, y_var: torch.Tensor | None = None,
            temperature_K: torch.Tensor | None = None, high: torch.Tensor | None = None,
            auxiliary: torch.Tensor | None = None) -> "GNNEnsemble":
        """Train every member. Without temperatures all data is at `reference_K`; without fidelity
        labels all of it is one (low) fidelity, trained through the low head alone."""
        rows = X[:, 0].long()
        n = len(rows)
        if n < 2:
            raise ValueError(f"surrogate gnn_ensemble: needs at least 2 observations to fit, got {n}")
        data = TrainingSet(rows, y.reshape(-1).double(),
                           torch.full((n,), self.reference_K) if temperature_K is None else temperature_K.double(),
                           torch.zeros(n, dtype=torch.bool) if high is None else high.bool(), auxiliary)
        self.target_high = bool(data.high.any())
        scaler = None
        if self.bank.n_descriptors:  # scaled on the training molecules, the same for every member
            scaler = DescriptorScaler(self.bank.n_descriptors).fit(
                torch.stack([self.bank.graphs[int(r)].descriptors for r in rows]))
        rng = np.random.default_rng(self.seed)
        self.networks, in_bag = [], torch.zeros(self.members, n, dtype=torch.bool)
        for m in range(self.members):
            index = torch.from_numpy(rng.integers(0, n, n)) if self.bootstrap else torch.arange(n)
            in_bag[m, index] = True
            self.networks.append(train_member(self.bank, data.subset(index), seed=self.seed * 1000 + m,
                                              epochs=self.epochs, device=self.device, scaler=scaler,
                                              **self.network))
        self.std_scale = self._out_of_bag_scale(data, in_bag) if self.recalibrate and self.bootstrap else 1.0
        self._cache = {}
        self.model = EnsembleGaussianModel(self)
        return self

    @torch.no_grad()
    def _out_of_bag_scale(self, data: TrainingSet, in_bag: torch.Tensor, min_points: int = 10) -> float:
        """Factor for the ensemble's std so that it matches the out-of-bag errors.

        Deep ensembles are over-confident (docs/benchmarks/gnn-ensemble-cv.md: a third of held-out points inside ±1
        std). Each training point was left out of ~37% of the bootstrap resamples; the members that
        never saw it predict it as they would a new polymer, so (y − out-of-bag mean) / ensemble std
        should have unit variance. Its root mean square is the factor (at least 1: never narrower)."""
        preds = torch.cat([self._outputs(data.rows[i:i + 1024].tolist(), data.temperature_K[i:i + 1024],
                                         data.high[i:i + 1024]) for i in range(0, len(data.rows), 1024)], dim=1)
        out = ~in_bag
        usable = out.sum(0) >= 1
        if int(usable.sum()) < min_points:
            return 1.0
        oob_mean = (preds * out).sum(0)[usable] / out.sum(0)[usable]
        z = (data.y[usable] - oob_mean) / preds.std(0)[usable].clamp_min(1e-9)
        return float(max(1.0, math.sqrt(float((z ** 2).mean()))))

    @torch.no_grad()
    def member_predictions(self, rows: Sequence[int], temperature_K: float | None = None,
                           high: bool = False) -> torch.Tensor:
        """(members, n) predictions at one temperature and fidelity."""
        if not self.networks:
            raise RuntimeError("surrogate gnn_ensemble: predict() before fit()")
        return self._outputs(rows, torch.full((len(rows),), float(temperature_K or self.reference_K)),
                             torch.full((len(rows),), high, dtype=torch.bool))

    @torch.no_grad()
    def _outputs(self, rows: Sequence[int], temperature_K: torch.Tensor, high: torch.Tensor,
                 bank: GraphBank | None = None) -> torch.Tensor:
        """(members, n) predictions, each row (of `bank`, default the campaign's) at its own temperature
        and fidelity."""
        batch = (bank or self.bank).batch(rows, self.device)
        T, h = temperature_K.float().to(self.device), high.to(self.device)
        return torch.stack([net(batch, T, h) for net in self.networks]).double().cpu()

    @torch.no_grad()
    def predict_representations(self, smiles: Sequence[str], temperature_K: float | None = None,
                                high: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Ensemble mean and standard deviation of molecules the campaign does not keep (a library's
        rows, scored a chunk at a time): their graphs are built for this call and dropped after it,
        so scoring 10^6 rows never holds 10^6 graphs."""
        T = float(temperature_K or self.reference_K)
        high = self.target_high if high is None else bool(high)
        scratch = GraphBank(self.bank.descriptors, self.bank.periodic)
        rows = scratch.encode(smiles)[:, 0].long().tolist()
        preds = self._outputs(rows, torch.full((len(rows),), T), torch.full((len(rows),), high, dtype=torch.bool),
                              bank=scratch)
        return preds.mean(0), self.std_scale * preds.std(0)

    def predict(self, X: torch.Tensor, temperature_K: float | None = None, high: bool | None = None,
                chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """Ensemble mean and standard deviation, cached per (row, temperature, fidelity); by default
        at the highest fidelity the training data had."""
        T = float(temperature_K or self.reference_K)
        high = self.target_high if high is None else bool(high)
        rows = X.reshape(-1).long().tolist()
        missing = list(dict.fromkeys(r for r in rows if (r, T, high) not in self._cache))
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            preds = self.member_predictions(part, T, high)
            for r, mean, std in zip(part, preds.mean(0).tolist(), (self.std_scale * preds.std(0)).tolist()):
                self._cache[(r, T, high)] = (mean, std)
        values = torch.tensor([self._cache[(r, T, high)] for r in rows], dtype=torch.float64).reshape(-1, 2)
        return values[:, 0], values[:, 1]

    @torch.no_grad()
    def arrhenius(self, X: torch.Tensor, high: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Per candidate: mean and std over members of (log10 A, Ea [eV]), shapes (n, 2)."""
        rows = X.reshape(-1).long().tolist()
        batch = self.bank.batch(rows, self.device)
        h = torch.full((len(rows),), high, dtype=torch.bool, device=self.device)
        params = torch.stack([net.arrhenius_parameters(batch, h) for net in self.networks]).double().cpu()
        return params.mean(0), params.std(0)

    def describe(self) -> dict:
        return {"kind": "gnn_ensemble", "members": self.members, "bootstrap": self.bootstrap,
                "std_scale_out_of_bag": round(self.std_scale, 3),
                "reference_K": self.reference_K, "encoder": "D-MPNN (own torch)",
                "rdkit_descriptors": self.bank.n_descriptors, "readout": "Arrhenius, multi-fidelity"}


class EnsembleGaussianModel(Model):
    """BoTorch view of an ensemble: independent Gaussians with the members' mean and variance.

    X's last dimension is what the ensemble's `predict` reads (for the GNN one column, the candidate's
    row in the graph bank; for the formulation ensemble its features); any batch shape (b, q, d) works."""

    def __init__(self, ensemble: GNNEnsemble, min_variance: float = 1e-8):
        super().__init__()
        self.ensemble, self.min_variance = ensemble, min_variance

    @property
    def num_outputs(self) -> int:
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size([])

    def posterior(self, X: torch.Tensor, output_indices=None, observation_noise=False, posterior_transform=None,
                  **kwargs) -> GPyTorchPosterior:
        mean, std = self.ensemble.predict(X.reshape(-1, X.shape[-1]))  # the GNN's X is one column (bank rows)
        shape = X.shape[:-1]
        variance = (std ** 2).clamp_min(self.min_variance).reshape(shape).to(X)
        mvn = MultivariateNormal(mean.reshape(shape).to(X), DiagLinearOperator(variance))
        posterior = GPyTorchPosterior(mvn)
        return posterior_transform(posterior) if posterior_transform is not None else posterior
