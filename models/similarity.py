"""The fingerprints of every molecule a campaign has seen, with similarities computed on demand.

Each molecule is fingerprinted once, when first seen, and kept as its set bits (`SparseBits`: ~120
bytes per polymer). No all-pairs matrix is kept: a dense one costs 4 bytes per pair (145 MB for
HTP-MD's 6,025 polymers, 40 GB at 10^5, 4 TB at 10^6), and a GP never needs candidates x
candidates. It needs training x training and the few shortlisted candidates of a joint acquisition
(kept by each fit's `kernels.IndexedKernel`, hundreds of rows), and candidates x training, which
`TanimotoGP.predict` computes a chunk at a time with `similarity`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from amala.models.sparse_bits import SparseBits, TanimotoTo


class FingerprintBank:
    def __init__(self, featurizer, chunk: int = 2048):
        self.featurizer = featurizer
        self.rows: dict[str, int] = {}
        self.bits = SparseBits(featurizer.dim)
        self._chunk = chunk

    def __len__(self) -> int:
        return len(self.rows)

    def describe(self) -> dict:
        return self.featurizer.describe()

    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        """Row numbers of the molecules as an (n, 1) float64 tensor, adding unseen ones first."""
        new = [s for s in dict.fromkeys(smiles) if s not in self.rows]
        for start in range(0, len(new), self._chunk):  # a chunk of dense rows at a time (8 kB each)
            part = new[start:start + self._chunk]
            self.bits.append(SparseBits.from_dense(np.stack([self.featurizer.fingerprint(s) for s in part]),
                                                   self.featurizer.dim))
            for s in part:
                self.rows[s] = len(self.rows)
        return torch.tensor([self.rows[s] for s in smiles], dtype=torch.float64).unsqueeze(-1)

    def similarity(self, rows_a, rows_b) -> torch.Tensor:
        """(len(rows_a), len(rows_b)) float32 Tanimoto similarities between bank rows."""
        return TanimotoTo(self.bits.take(rows_b))(self.bits.take(rows_a))
