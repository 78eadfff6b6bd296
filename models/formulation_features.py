"""Features of a polymer-electrolyte formulation: polymer, salt, salt concentration (and Mw).

Why these: a conductivity measured in a laboratory belongs to a formulation (`agents.formulation`),
so a surrogate must see the salt and its amount, not only the polymer. The salt is described by
what it is made of (Morgan counts and RDKit descriptors of its ions), never by an identity column
or a learned per-salt embedding, so a salt no training row had still gets meaningful features.

Missing values are explicit (ChemArr: 933 of 10,114 rows report no salt, 996 no Mw): a missing
molality or Mw becomes a flag column plus a neutral value (log10 m = 0, i.e. 1 mol/kg; log10 Mw =
5), never a silent 0 mol/kg that would read as "salt-free". A formulation without salt (a
single-ion conductor, whose anion is part of the repeat unit) has its own flag and zero salt features.

Columns, in order (`FormulationFeaturizer.blocks` names the slices):
    polymer Morgan counts | salt Morgan counts | polymer descriptors | salt descriptors |
    log10 molality, molality missing, no salt, log10 Mw - 5, Mw missing
Counts enter as log1p(count); descriptors are raw (RDKit's list, NaN where undefined) and are scaled
by the model on its training rows (`models.descriptors.DescriptorScaler`), as the GNN does.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from amala.core.formulation import Formulation
from amala.models.descriptors import descriptor_names, molecule_descriptors

CONDITION_COLUMNS = ("log10_molality", "molality_missing", "no_salt", "log10_mw_minus_5", "mw_missing")


@lru_cache(maxsize=8)
def _generator(radius: int, n_bits: int):
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


@lru_cache(maxsize=100_000)
def _molecule(smiles: str, radius: int, n_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """log1p Morgan counts and raw descriptors of one SMILES (a polymer or a whole salt)."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"formulation features: RDKit cannot parse {smiles!r}")
    counts = np.log1p(_generator(radius, n_bits).GetCountFingerprintAsNumPy(mol).astype(np.float32))
    return counts, molecule_descriptors(mol).numpy()


class FormulationFeaturizer:
    """(polymer, salt, molality[, Mw]) -> one row of features; see the module docstring."""

    def __init__(self, radius: int = 2, polymer_bits: int = 1024, salt_bits: int = 256):
        self.radius, self.polymer_bits, self.salt_bits = radius, polymer_bits, salt_bits
        n_desc = len(descriptor_names())
        sizes = {"polymer_counts": polymer_bits, "salt_counts": salt_bits, "polymer_descriptors": n_desc,
                 "salt_descriptors": n_desc, "conditions": len(CONDITION_COLUMNS)}
        self.blocks: dict[str, slice] = {}
        start = 0
        for name, size in sizes.items():
            self.blocks[name] = slice(start, start + size)
            start += size
        self.dim = start

    def describe(self) -> dict:
        return {"kind": "formulation", "morgan_radius": self.radius, "polymer_bits": self.polymer_bits,
                "salt_bits": self.salt_bits, "descriptors": "RDKit 2D (polymer and salt)",
                "conditions": list(CONDITION_COLUMNS)}

    def row(self, polymer: str, salt: str | None, molality: float | None, mw: float | None = None) -> np.ndarray:
        p_counts, p_desc = _molecule(polymer, self.radius, self.polymer_bits)
        no_salt = not salt
        if no_salt:
            s_counts, s_desc = np.zeros(self.salt_bits, np.float32), np.full(len(p_desc), np.nan, np.float32)
        else:
            s_counts, s_desc = _molecule(salt, self.radius, self.salt_bits)
        m_missing = molality is None or not math.isfinite(molality)
        if not m_missing and molality <= 0:
            raise ValueError(f"formulation features: molality {molality!r} mol/kg must be > 0 (or missing)")
        w_missing = mw is None or not math.isfinite(mw) or mw <= 0
        conditions = np.array([0.0 if m_missing else math.log10(molality), m_missing, no_salt,
                               0.0 if w_missing else math.log10(mw) - 5, w_missing], np.float32)
        return np.concatenate([p_counts, s_counts, p_desc, s_desc, conditions])

    def table(self, polymers: Sequence[str], salts: Sequence[str | None], molalities: Sequence[float | None],
              mws: Sequence[float | None] | None = None) -> torch.Tensor:
        """Rows for parallel columns (a data table, where some rows have no salt or no molality)."""
        mws = [None] * len(polymers) if mws is None else mws
        rows = [self.row(p, s if isinstance(s, str) else None, m, w)
                for p, s, m, w in zip(polymers, salts, molalities, mws)]
        return torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, self.dim)

    def __call__(self, formulations: Sequence[str]) -> torch.Tensor:
        """Rows for formulation strings (`polymer|salt|molality`, a campaign's representations)."""
        parsed = [Formulation.parse(text) for text in formulations]
        return self.table([f.polymer for f in parsed], [f.salt for f in parsed], [f.molality for f in parsed])
