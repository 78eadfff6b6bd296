"""Directed message-passing encoder (D-MPNN, Yang et al. 2019, the network behind chemprop).

Own torch implementation rather than chemprop v2: chemprop's models are Lightning modules built
around its own predictor heads and training loop, and the Arrhenius and multi-fidelity readouts
of `readouts` need the molecule embedding inside one plain `nn.Module` that an ensemble trains
many times per campaign iteration. The encoder itself is short.

Messages live on directed bonds: the message along u→v sums what reached u from every
neighbour except v, so information never echoes straight back along the bond it came from.
"""

from __future__ import annotations

import torch
from torch import nn

from amala.models.molecular_graph import ATOM_DIM, BOND_DIM, GraphBatch


class DMPNNEncoder(nn.Module):
    def __init__(self, hidden: int = 200, depth: int = 3, dropout: float = 0.0):
        super().__init__()
        self.depth = depth
        self.w_in = nn.Linear(ATOM_DIM + BOND_DIM, hidden, bias=False)
        self.w_message = nn.Linear(hidden, hidden, bias=False)
        self.w_out = nn.Linear(ATOM_DIM + hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.hidden = hidden

    def forward(self, g: GraphBatch) -> torch.Tensor:
        """Molecule embeddings (n_molecules, hidden): the mean of the atom states."""
        h0 = torch.relu(self.w_in(torch.cat([g.atoms[g.source], g.bonds], dim=1)))
        h = h0
        n_atoms = len(g.atoms)
        for _ in range(self.depth - 1):
            incoming = torch.zeros(n_atoms, self.hidden, dtype=h.dtype, device=h.device).index_add_(0, g.target, h)
            message = incoming[g.source] - h[g.reverse]
            h = self.dropout(torch.relu(h0 + self.w_message(message)))
        incoming = torch.zeros(n_atoms, self.hidden, dtype=h.dtype, device=h.device).index_add_(0, g.target, h)
        atom_states = self.dropout(torch.relu(self.w_out(torch.cat([g.atoms, incoming], dim=1))))
        sums = torch.zeros(g.n_molecules, self.hidden, dtype=h.dtype, device=h.device)
        sums = sums.index_add_(0, g.molecule, atom_states)
        counts = torch.bincount(g.molecule, minlength=g.n_molecules).clamp_min(1).unsqueeze(1)
        return sums / counts
