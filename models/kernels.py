"""Tanimoto similarity between fingerprints, and gpytorch kernels built on it.

Tanimoto similarity is the field's standard measure between molecular fingerprints and a valid
(positive semi-definite) kernel on non-negative vectors. It has no lengthscale: the fingerprint
already defines the geometry, and a GP learns only an output scale and a noise level. Because the
kernel has no hyperparameters, the similarities of the molecules a fit works with can be computed
once and looked up (`IndexedKernel`): the model's inputs are then row numbers, not 8,192-wide
fingerprints.
"""

from __future__ import annotations

import torch
from gpytorch.kernels import Kernel


def tanimoto(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise Tanimoto similarity of the rows of `a` and `b` (non-negative vectors)."""
    dot = a @ b.transpose(-1, -2)
    union = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1, keepdim=True).transpose(-1, -2) - dot
    # Two all-zero fingerprints are identical: similarity 1, not 0/0.
    return torch.where(union > 0, dot / union.clamp_min(1e-12), torch.ones_like(dot))


class TanimotoKernel(Kernel):
    """Tanimoto kernel on feature vectors (small problems, tests)."""

    has_lengthscale = False

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        if diag:
            return torch.ones(x1.shape[:-1], dtype=x1.dtype, device=x1.device)
        return tanimoto(x1, x2)


class IndexedKernel(Kernel):
    """A kernel whose inputs are row numbers of a `FingerprintBank`.

    Each instance (one per GP fit) keeps the similarities among the rows it has been asked about:
    the training rows during fitting, plus the shortlist during a joint acquisition (hundreds of
    rows), computed once each instead of at every optimiser step. Candidates scored in bulk never
    pass through here (`TanimotoGP.predict` works in chunks against the training rows), so this
    matrix stays (training + shortlist)^2, whatever the size of the library.
    """

    has_lengthscale = False

    def __init__(self, bank, **kwargs):
        super().__init__(**kwargs)
        self.bank = bank
        self._rows = torch.zeros(0, dtype=torch.long)  # bank rows held, in local order
        self._local = torch.zeros(0, dtype=torch.long)  # bank row -> local position (-1: not held)
        self.gram = torch.zeros(0, 0, dtype=torch.float32)

    def _positions(self, rows: torch.Tensor) -> torch.Tensor:
        if len(self._local) < len(self.bank):
            self._local = torch.cat([self._local, torch.full((len(self.bank) - len(self._local),), -1)])
        flat = rows.reshape(-1)
        new = torch.unique(flat[self._local[flat] < 0])
        if len(new):
            old = len(self._rows)
            held = torch.cat([self._rows, new])
            cross = self.bank.similarity(new.numpy(), held.numpy())
            gram = torch.empty(len(held), len(held), dtype=torch.float32)
            gram[:old, :old] = self.gram
            gram[old:, :] = cross
            gram[:old, old:] = cross[:, :old].T
            self._local[new] = torch.arange(old, len(held))
            self._rows, self.gram = held, gram
        return self._local[rows]

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        i, j = self._positions(x1[..., 0].long()), self._positions(x2[..., 0].long())
        if diag:
            return self.gram[i, j].to(x1.dtype)
        return self.gram[i.unsqueeze(-1), j.unsqueeze(-2)].to(x1.dtype)
