"""Binary fingerprints stored as their set bits, and Tanimoto similarity between two sets of them.

A repeat unit sets ~30-80 of the GP featurizer's 8,192 bits, so keeping the indices of the set bits
(compressed sparse rows: 2 bytes per set bit) takes ~1/60 of the packed bits and ~1/2000 of a float
row; 10^6 polymers fit in ~120 MB. Similarities to a small set (the training polymers) are then one
sparse x dense product over the columns that set uses: its cost grows with the candidates' set bits
times the training size, never with candidates x candidates.

The bits are the featurizer's 0/1 output (counts are thermometer-coded, see `featurizer`), so the
Tanimoto similarity of two rows is |a & b| / (|a| + |b| - |a & b|), computed in float32 on exact
integer counts: the same numbers, to the last bit, as the dense `kernels.tanimoto` on the same rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

DENSE_ROWS = 4096  # up to this many rows a dense product is as fast as the sparse one, and simpler


class SparseBits:
    """Rows of `dim`-bit binary fingerprints as set-bit indices (CSR: `indptr`, `indices`)."""

    def __init__(self, dim: int, indptr: np.ndarray | None = None, indices: np.ndarray | None = None):
        self.dim = dim
        self.dtype = np.int16 if dim <= np.iinfo(np.int16).max + 1 else np.int32  # 2 bytes per set bit
        self.indptr = np.zeros(1, dtype=np.int64) if indptr is None else np.asarray(indptr, dtype=np.int64)
        self.indices = np.zeros(0, self.dtype) if indices is None else np.asarray(indices, dtype=self.dtype)
        self._used = int(self.indptr[-1] - self.indptr[0])  # appends grow `indices` by doubling

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_dense(cls, block, dim: int | None = None) -> SparseBits:
        """From a 0/1 matrix (numpy or torch), one fingerprint per row."""
        block = np.asarray(block.numpy() if isinstance(block, torch.Tensor) else block)
        rows, cols = np.nonzero(block)
        indptr = np.zeros(len(block) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(block)), out=indptr[1:])
        return cls(dim or block.shape[1], indptr, cols)

    def append(self, other: SparseBits) -> None:
        if other.dim != self.dim:
            raise ValueError(f"sparse bits: cannot append {other.dim}-bit rows to {self.dim}-bit rows")
        extra = other.indices[other.indptr[0]:other.indptr[-1]]
        if self._used + len(extra) > len(self.indices):
            grown = np.zeros(max(2 * len(self.indices), self._used + len(extra)), dtype=self.dtype)
            grown[:self._used] = self.indices[:self._used]
            self.indices = grown
        self.indices[self._used:self._used + len(extra)] = extra
        self.indptr = np.concatenate([self.indptr, self._used + (other.indptr[1:] - other.indptr[0])])
        self._used += len(extra)

    def sizes(self) -> np.ndarray:
        """Set bits per row (|a|)."""
        return np.diff(self.indptr)

    def take(self, rows) -> SparseBits:
        """The given rows (any order, repeats allowed), as a new compact set."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        offsets = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return SparseBits(self.dim, indptr, self.indices[offsets])

    def slice(self, start: int, stop: int) -> SparseBits:
        """Rows [start, stop) without copying the indices."""
        return SparseBits(self.dim, self.indptr[start:stop + 1], self.indices)

    def nbytes(self) -> int:
        return self.indptr.nbytes + self._used * self.indices.itemsize

    def _mapped(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, position) of each set bit whose column `columns` maps to a position (>= 0)."""
        lo, hi = self.indptr[0], self.indptr[-1]
        rows = np.repeat(np.arange(len(self)), np.diff(self.indptr))
        positions = columns[self.indices[lo:hi].astype(np.int64)]
        kept = positions >= 0
        return rows[kept], positions[kept]

    def dense(self, columns: np.ndarray | None = None, width: int | None = None) -> torch.Tensor:
        """A float32 0/1 matrix; with `columns` (dim -> position or -1), only the mapped columns."""
        if columns is None:
            columns, width = np.arange(self.dim), self.dim
        rows, positions = self._mapped(columns)
        out = torch.zeros(len(self), width, dtype=torch.float32)
        out[torch.from_numpy(rows), torch.from_numpy(positions)] = 1.0
        return out

    def csr(self, columns: np.ndarray, width: int) -> torch.Tensor:
        """A torch sparse CSR float32 matrix over the mapped columns."""
        rows, positions = self._mapped(columns)
        crow = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(self)), out=crow[1:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's "sparse CSR is beta" notice
            return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(positions),
                                           torch.ones(len(positions), dtype=torch.float32),
                                           size=(len(self), width))


class TanimotoTo:
    """Tanimoto similarities of any rows to one fixed set (`reference`), prepared once.

    Only the columns the reference sets can contribute to |a & b|, so the reference is kept dense
    over those columns and each query is a (sparse) product with it; |a| comes from the query's
    own bit counts."""

    def __init__(self, reference: SparseBits):
        used = np.unique(reference.indices[reference.indptr[0]:reference.indptr[-1]].astype(np.int64))
        self.columns = np.full(reference.dim, -1, dtype=np.int64)
        self.columns[used] = np.arange(len(used))
        self.width = len(used)
        self.reference_t = reference.dense(self.columns, self.width).T.contiguous()
        self.reference_sizes = torch.from_numpy(reference.sizes().astype(np.float32))

    def __call__(self, query: SparseBits) -> torch.Tensor:
        """(len(query), len(reference)) float32 similarities."""
        if len(query) <= DENSE_ROWS:
            dot = query.dense(self.columns, self.width) @ self.reference_t
        else:
            dot = query.csr(self.columns, self.width) @ self.reference_t
        sizes = torch.from_numpy(query.sizes().astype(np.float32))
        union = (sizes[:, None] + self.reference_sizes[None, :]).sub_(dot)
        similarity = dot.div_(union.clamp_min_(1e-12))  # in place: this is most of the scoring's memory traffic
        # Two all-zero fingerprints are identical: similarity 1, not 0/0 (as kernels.tanimoto).
        empty_query, empty_reference = sizes == 0, self.reference_sizes == 0
        if empty_query.any() and empty_reference.any():
            similarity[empty_query.nonzero()[:, :1], empty_reference.nonzero()[:, 0]] = 1.0
        return similarity
