"""The k best of a stream of scored rows, kept without holding the stream.

A library of 10^6 candidates is scored a chunk at a time; only the running top k (values and row
numbers) is kept. Order is by value, highest first, ties by the lower row number, so the result is
exactly the first k of a full stable sort of all values (tests check it), whatever the chunking.
"""

from __future__ import annotations

import numpy as np

from amala.loop.acquisition import PRESCREEN_BETA


class TopK:
    def __init__(self, k: int):
        if k < 1:
            raise ValueError(f"top-k: k must be >= 1, not {k}")
        self.k = k
        self.values = np.zeros(0, dtype=np.float64)
        self.rows = np.zeros(0, dtype=np.int64)

    def push(self, values, rows) -> None:
        """Add scored rows (NaN scores rank last)."""
        values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf)
        rows = np.asarray(rows, dtype=np.int64)
        if len(values) > self.k:  # cheap cut of a big chunk to a few more than k before the exact sort
            cut = np.partition(values, len(values) - self.k)[len(values) - self.k]
            keep = values >= cut
            values, rows = values[keep], rows[keep]
        values, rows = np.concatenate([self.values, values]), np.concatenate([self.rows, rows])
        order = np.lexsort((rows, -values))[:self.k]
        self.values, self.rows = values[order], rows[order]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values), best first."""
        return self.rows.copy(), self.values.copy()


SCORE_CHUNK = 16_384  # rows scored at once: 16,384 x 500 training rows x 8 bytes = 66 MB of similarities
TEXT_CHUNK = 1024  # rows per graph batch for surrogates that score representations (GNN)


def _scores(surrogate, source, chunk: int):
    """(rows, mean, std) of a library's rows, a chunk at a time: from the cached fingerprints when the
    surrogate scores fingerprints (`predict_bits`), else from the representations (e.g. GNN graphs,
    built per chunk)."""
    for start in range(0, len(source), chunk):
        stop = min(start + chunk, len(source))
        if hasattr(surrogate, "predict_bits"):
            mean, std = surrogate.predict_bits(source.bits.slice(start, stop))
            yield np.arange(start, stop), mean.numpy(), std.numpy()
            continue
        rows = start + np.flatnonzero(source.valid[start:stop])
        for part in np.array_split(rows, -(-len(rows) // TEXT_CHUNK)) if len(rows) else ():
            texts = [source.text(int(r)) for r in part]
            if hasattr(surrogate, "predict_representations"):  # graphs built for the chunk, then dropped
                mean, std = surrogate.predict_representations(texts)
            else:
                mean, std = surrogate.predict(surrogate.encode(texts))
            yield part, mean.numpy(), std.numpy()


def shortlist(surrogate, sources, k: int, skip: set[str], chunk: int = SCORE_CHUNK) -> list:
    """The `k` rows of each library with the highest upper confidence bound (mean + 2 std) that are
    valid and not in `skip` (keys proposed or evaluated already), as candidates, best first."""
    found, taken = [], set(skip)
    for source in sources:
        top = TopK(k + len(taken))  # rows already known may rank high: keep enough to drop them all
        for rows, mean, std in _scores(surrogate, source, chunk):
            bound = mean + PRESCREEN_BETA * std
            bound[~source.valid[rows]] = -np.inf
            top.push(bound, rows)
        best, _ = top.result()
        new = source.candidates(best, skip=taken, limit=k)
        taken.update(c.key for c in new)
        found += new
    return found


def random_candidates(sources, q: int, seed: int, skip: set[str]) -> list:
    """Up to `q` valid rows of each library drawn uniformly at random (the initial design), as candidates."""
    rng = np.random.default_rng(seed)
    found, taken = [], set(skip)
    for source in sources:
        rows = np.flatnonzero(source.valid)
        order = rng.permutation(len(rows))
        new: list = []
        for start in range(0, len(order), 4 * q):
            new += source.candidates(rows[order[start:start + 4 * q]], skip=taken, limit=q - len(new))
            taken.update(c.key for c in new)
            if len(new) >= q:
                break
        found += new
    return found
