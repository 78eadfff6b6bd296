"""What the network reads out of a molecule embedding: Arrhenius parameters, per fidelity.

Arrhenius readout (ChemArr, Bradford et al. 2023): the head predicts log10 A and Ea for the
molecule and the output is log10 σ(T) = log10 A − Ea / (ln 10 · k_B · T), so one model answers at
any temperature, and Ea is a prediction in its own right. Trained on data at a single
temperature, the pair is not identifiable, and the readout is then simply a regressor whose
value at that temperature is what is learned.

Multi-fidelity heads (Xie et al. 2022, short and long MD): the low-fidelity head is trained on
every observation; the high-fidelity head sees the embedding and the low-fidelity parameters
and predicts a correction to them. Cheap, biased data shape the embedding and the baseline; the
few expensive results only need to teach the difference.
"""

from __future__ import annotations

import math

import torch
from scipy import constants
from torch import nn
from torch.nn.functional import softplus

# Taken from scipy, as `oracles.md_analysis` takes it, not imported from there: models sit below oracles
# (tests/test_import_order.py), and the GNN must import without RDKit and pandas, which `amala.oracles` loads.
K_B_EV = constants.k / constants.e  # Boltzmann constant, eV/K
LN10_KB = math.log(10) * K_B_EV  # eV/K


def arrhenius_log10(log10_a: torch.Tensor, ea_eV: torch.Tensor, temperature_K: torch.Tensor) -> torch.Tensor:
    return log10_a - ea_eV / (LN10_KB * temperature_K)


class ArrheniusHead(nn.Module):
    """Embedding (+ extra inputs) -> (log10 A, Ea in eV); Ea > 0 through a softplus."""

    def __init__(self, n_in: int, hidden: int = 100, log10_a0: float = 0.0, ea0_eV: float = 0.3):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.net[-1].weight)  # start at the data's scale: every molecule at (log10_a0, ea0)
        with torch.no_grad():
            self.net[-1].bias.copy_(torch.tensor([log10_a0, math.log(math.expm1(ea0_eV))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.net(x)
        return torch.stack([raw[:, 0], softplus(raw[:, 1])], dim=1)


class MultiFidelityArrhenius(nn.Module):
    """Low- and high-fidelity Arrhenius heads; `forward` gives log10 σ at (T, fidelity)."""

    def __init__(self, n_in: int, hidden: int = 100, log10_a0: float = 0.0, ea0_eV: float = 0.3):
        super().__init__()
        self.low = ArrheniusHead(n_in, hidden, log10_a0, ea0_eV)
        self.correction = nn.Sequential(nn.Linear(n_in + 2, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        nn.init.zeros_(self.correction[-1].weight)
        nn.init.zeros_(self.correction[-1].bias)

    def parameters_at(self, embedding: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """(log10 A, Ea) per molecule: the low head's, plus the correction where `high` is set."""
        low = self.low(embedding)
        corrected = low + self.correction(torch.cat([embedding, low], dim=1))
        return torch.where(high.unsqueeze(1), corrected, low)

    def forward(self, embedding: torch.Tensor, temperature_K: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        p = self.parameters_at(embedding, high)
        return arrhenius_log10(p[:, 0], p[:, 1], temperature_K)
