"""The formulation ensemble's graph members: a D-MPNN on the polymer, joined by the salt and its amount.

Why a second kind of network: the fingerprint networks (`formulation_ensemble.ArrheniusMLP`) see which
Morgan environments a polymer has; a message-passing network learns its own description of the chain
(chemprop's D-MPNN, `models.dmpnn`). On ChemArr's polymer-grouped CV
(docs/benchmarks/formulation-surrogate-cv.md) the graph-only
ensemble was the best model on the held-out PEO fold, but without the salt it was the worst at 20–30 °C;
joined by the salt's Morgan counts and descriptors and the conditions (log10 molality, missing and
no-salt flags, Mw) it errs differently from the fingerprint networks and the forest, so the three
average better than any two.

The polymer reaches the network as one column of the ensemble's input rows: its row in a `GraphBank`
(the GNN's convention), appended by `FormulationEnsemble.encode`/`table` after the featurizer's
columns. Each batch embeds each distinct polymer once: ChemArr repeats PEO thousands of times.
"""

from __future__ import annotations

import torch
from torch import nn

from amala.models.descriptors import DescriptorScaler
from amala.models.dmpnn import DMPNNEncoder
from amala.models.molecular_graph import GraphBank
from amala.models.readouts import ArrheniusHead, arrhenius_log10


class GraphArrhenius(nn.Module):
    """Rows (featurizer columns + graph row) -> (log10 A, Ea): D-MPNN embedding ⊕ encoded salt and conditions."""

    def __init__(self, graphs: GraphBank, graph_column: int, side_columns: torch.Tensor,
                 descriptor_columns: torch.Tensor, hidden: int = 200, depth: int = 3, dropout: float = 0.15,
                 side_hidden: int = 64, log10_a0: float = 0.0, ea0_eV: float = 0.3):
        super().__init__()
        self.graphs, self.graph_column = graphs, graph_column  # the bank is shared, not a parameter
        self.register_buffer("side_columns", side_columns)
        self.register_buffer("descriptor_columns", descriptor_columns)  # raw descriptors among the side columns
        self.scaler = DescriptorScaler(len(descriptor_columns))
        self.encoder = DMPNNEncoder(hidden, depth, dropout)
        self.side = nn.Sequential(nn.Linear(len(side_columns) + len(descriptor_columns), side_hidden), nn.ReLU())
        self.head = ArrheniusHead(hidden + side_hidden, hidden // 2, log10_a0, ea0_eV)

    def fit_scaler(self, x: torch.Tensor) -> "GraphArrhenius":
        self.scaler.fit(x[:, self.descriptor_columns])
        return self

    def parameters_at(self, x: torch.Tensor) -> torch.Tensor:
        distinct, which = torch.unique(x[:, self.graph_column].long(), return_inverse=True)
        embedding = self.encoder(self.graphs.batch(distinct.tolist()))[which]
        side = torch.cat([x[:, self.side_columns], self.scaler(x[:, self.descriptor_columns])], dim=1)
        return self.head(torch.cat([embedding, self.side(side)], dim=1))

    def forward(self, x: torch.Tensor, temperature_K: torch.Tensor) -> torch.Tensor:
        p = self.parameters_at(x)
        return arrhenius_log10(p[:, 0], p[:, 1], temperature_K)
