"""Tanimoto similarity between fingerprints, and gpytorch kernels built on it.

Tanimoto similarity is the field's standard measure between molecular fingerprints and a valid
(positive semi-definite) kernel on non-negative vectors. It has no lengthscale: the fingerprint
already defines the geometry, and a GP learns only an output scale and a noise level. Because the
kernel has no hyperparameters, the similarities of a fixed set of molecules can be computed once
and looked up (`IndexedKernel`), which is what makes batch acquisition over thousands of
candidates affordable: the model's inputs are then row numbers, not 8,192-wide fingerprints.
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
    """A kernel whose inputs are row numbers into a precomputed similarity matrix.

    `source.gram` is read at call time, so a bank that grows (new molecules) stays valid.
    """

    has_lengthscale = False

    def __init__(self, source, **kwargs):
        super().__init__(**kwargs)
        self.source = source

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        gram = self.source.gram
        i, j = x1[..., 0].long(), x2[..., 0].long()
        if diag:
            return gram[i, j].to(x1.dtype)
        return gram[i.unsqueeze(-1), j.unsqueeze(-2)].to(x1.dtype)
