"""Whole-molecule RDKit descriptors, the features chemprop concatenates to its learned embedding.

Why: a message-passing network trained on a few thousand polymers must learn global quantities
(molecular weight, polar surface area, heteroatom and rotatable-bond counts, ring content) from
local messages, while a descriptor states them directly. Chemprop's `rdkit_2d` features
generator does the same (Yang et al. 2019): embedding and descriptors feed the readout together.

Descriptors are RDKit's full 2D list (`Descriptors.CalcMolDescriptors`), computed on the repeat
unit with its [Cu]/[Au] end markers. Their ranges differ by orders of magnitude and some are
undefined for the markers' elements, so `DescriptorScaler` puts them on one scale: a signed
log1p tames heavy tails, then each column is standardised on the *training* molecules, clipped to
±6 and undefined values become 0 (the training mean).

Ipc and AvgIpc are left undefined (NaN) for molecules of more than `SPECTRAL_MAX_ATOMS` atoms.
Why: RDKit takes them from the characteristic polynomial of the adjacency matrix, found by the
Le Verrier-Faddeev recursion in floating point - n dense n x n products, O(n^4): 0.01 s at 100
atoms, tens of seconds at 500, minutes at 1,000 (all the other descriptors together: a few seconds).
And past ~80 atoms the polynomial's coefficients exceed 2^53 and the recursion cancels: against
the exact spectrum, Ipc is off by orders of magnitude and AvgIpc by ~80% above 100 atoms (HTP-MD
repeat units have at most 18 atoms; ChemArr's go up to 676). Up to the limit both are RDKit's own
values, bit for bit.
"""

from __future__ import annotations

from functools import lru_cache

import torch

SPECTRAL = ("Ipc", "AvgIpc")  # from the characteristic polynomial: O(n^4), and noise past ~100 atoms
SPECTRAL_MAX_ATOMS = 100


@lru_cache(maxsize=1)
def descriptor_names() -> tuple[str, ...]:
    from rdkit.Chem import Descriptors

    return tuple(name for name, _ in Descriptors._descList)


def molecule_descriptors(mol) -> torch.Tensor:
    """Raw descriptor vector (float32, NaN where RDKit cannot compute one, and for the spectral
    descriptors of a molecule too large for them: see the module docstring) of an RDKit molecule.
    The same loop as `Descriptors.CalcMolDescriptors`, which cannot be told to skip one."""
    from rdkit import RDLogger
    from rdkit.Chem import Descriptors

    RDLogger.DisableLog("rdApp.*")
    skipped = SPECTRAL if mol.GetNumAtoms() > SPECTRAL_MAX_ATOMS else ()
    values = [float("nan") if name in skipped else _value(fn, mol) for name, fn in Descriptors._descList]
    return torch.tensor(values, dtype=torch.float32)


def _value(fn, mol) -> float:
    try:
        return float(fn(mol))
    except Exception:  # noqa: BLE001 - as CalcMolDescriptors: a descriptor RDKit cannot compute is missing
        return float("nan")


class DescriptorScaler(torch.nn.Module):
    """Signed log1p, then standardisation with training statistics, clipping and NaN -> 0."""

    def __init__(self, n: int, clip: float = 6.0):
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))

    @staticmethod
    def _squash(x: torch.Tensor) -> torch.Tensor:
        x = torch.where(torch.isfinite(x), x, torch.full_like(x, float("nan")))
        return torch.sign(x) * torch.log1p(x.abs())

    def fit(self, raw: torch.Tensor) -> "DescriptorScaler":
        x = self._squash(raw.float())
        finite = torch.isfinite(x)
        count = finite.sum(0).clamp_min(1)
        mean = torch.where(finite, x, 0.0).sum(0) / count
        var = (torch.where(finite, x - mean, 0.0) ** 2).sum(0) / count
        self.mean.copy_(mean)
        self.std.copy_(torch.where(var.sqrt() > 1e-6, var.sqrt(), torch.ones_like(var)))
        return self

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        z = (self._squash(raw) - self.mean) / self.std
        return torch.nan_to_num(z, nan=0.0).clamp(-self.clip, self.clip)
