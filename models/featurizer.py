"""Morgan fingerprints of polymer repeat units, cached per canonical SMILES.

The [Cu]/[Au] end markers stay in the graph: they tell the fingerprint where the backbone
continues, which distinguishes a side chain from a main-chain segment.

Count fingerprints are written in *thermometer* form (count c -> c set bits, capped), so the
Tanimoto kernel on these bits equals the MinMax kernel on the counts and still costs one matmul.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator


class MorganFeaturizer:
    def __init__(self, radius: int = 3, n_bits: int = 2048, counts: bool = True, count_cap: int = 4,
                 cache_size: int = 200_000):
        if radius < 0 or n_bits < 8 or count_cap < 1:
            raise ValueError("featurizer: radius >= 0, n_bits >= 8 and count_cap >= 1 are required")
        self.radius, self.n_bits, self.counts, self.count_cap = radius, n_bits, counts, count_cap
        self._generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    @property
    def dim(self) -> int:
        return self.n_bits * (self.count_cap if self.counts else 1)

    def describe(self) -> dict:
        return {"kind": "morgan", "radius": self.radius, "n_bits": self.n_bits, "counts": self.counts,
                "count_cap": self.count_cap if self.counts else None}

    def _one(self, smiles: str) -> np.ndarray:
        cached = self._cache.get(smiles)
        if cached is not None:
            self._cache.move_to_end(smiles)
            return cached
        vector = self.fingerprint(smiles)
        self._cache[smiles] = vector
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vector

    def fingerprint(self, smiles: str) -> np.ndarray:
        """One molecule's 0/1 uint8 vector, computed now and not cached (for callers that keep it)."""
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            raise ValueError(f"featurizer: RDKit cannot parse {smiles!r}")
        if self.counts:
            counts = np.minimum(self._generator.GetCountFingerprintAsNumPy(mol), self.count_cap)
            levels = np.arange(1, self.count_cap + 1, dtype=np.uint8)
            return (counts[:, None] >= levels[None, :]).reshape(-1).astype(np.uint8)
        return self._generator.GetFingerprintAsNumPy(mol).astype(np.uint8)

    def __call__(self, smiles: Sequence[str]) -> torch.Tensor:
        if len(smiles) == 0:
            return torch.zeros(0, self.dim, dtype=torch.float64)
        return torch.from_numpy(np.stack([self._one(s) for s in smiles])).to(torch.float64)
