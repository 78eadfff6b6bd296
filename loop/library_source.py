"""A library file prepared for scoring: every row's set bits and text, without an object per row.

Built by the campaign from the `LibraryRef` a `library` agent hands over (`agents/library_pool.py`),
once per campaign process and fingerprint setting: the fingerprints come from the file's cache
(`models/fingerprint_cache.py`, built next to it the first time and reused), held as set-bit rows
(`SparseBits`, ~120 MB at 10^6 polymers); the representations as one bytes buffer with row offsets
(~50 MB at 10^6). Rows become `Candidate`s only when shortlisted or drawn (`candidates`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from amala.core.candidate import Candidate
from amala.core.library import open_library
from amala.core.validity import REASONED, candidate_from_text
from amala.models.fingerprint_cache import open_cache, settings_of
from amala.models.sparse_bits import SparseBits

CHUNK_ROWS = 50_000
log = logging.getLogger(__name__)


class LibrarySource:
    """One library file, prepared once per campaign process for one fingerprint setting."""

    def __init__(self, path: str | Path, agent: str, workers: int = 2):
        self.library = open_library(path)  # a bad file fails now, in one line naming it
        self.path, self.agent, self.workers = self.library.path.resolve(), agent, workers
        self.settings: dict | None = None
        self.bits = None  # SparseBits of every row (all-zero for invalid rows)
        self.valid: np.ndarray | None = None
        self._text: np.ndarray | None = None  # utf-8 bytes of every row's representation, back to back
        self._offsets: np.ndarray | None = None

    @classmethod
    def of(cls, ref) -> LibrarySource:
        """From an agent's `LibraryRef`."""
        return cls(ref.path, ref.agent, ref.workers)

    def __len__(self) -> int:
        return 0 if self.valid is None else len(self.valid)

    def prepare(self, featurizer=None) -> "LibrarySource":
        """Load (building first, if missing or stale) the fingerprint cache for `featurizer`'s settings
        and the representations; again only if the settings change."""
        settings = settings_of(featurizer)
        if self.settings == settings:
            return self
        cache = open_cache(self.path, settings, workers=self.workers)
        if cache.built:
            log.info("library %s: fingerprint cache built (%d rows)", self.path.name, len(cache))
        bits = SparseBits(cache.dim)
        for _, block in cache.chunks(CHUNK_ROWS, dtype=torch.uint8):
            bits.append(SparseBits.from_dense(block, cache.dim))
        texts, lengths = [], []
        for chunk in self.library.representations(CHUNK_ROWS):
            encoded = [t.encode() for t in chunk]
            lengths.append(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
            texts.append(b"".join(encoded))
        offsets = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
        np.cumsum(np.concatenate(lengths) if lengths else [], out=offsets[1:])
        if len(offsets) - 1 != len(cache):
            raise ValueError(f"library {self.path}: {len(offsets) - 1} rows but its fingerprint cache has "
                             f"{len(cache)}; the file changed while it was read")
        self.bits, self.valid = bits, np.asarray(cache.valid, dtype=bool)
        self._text, self._offsets = np.frombuffer(b"".join(texts), dtype=np.uint8), offsets
        self.settings = settings
        return self

    def text(self, row: int) -> str:
        return self._text[self._offsets[row]:self._offsets[row + 1]].tobytes().decode()

    def candidates(self, rows, skip: set[str] = frozenset(), limit: int | None = None) -> list[Candidate]:
        """Canonical candidates of these rows, in order, leaving out invalid rows and keys in `skip`."""
        found: list[Candidate] = []
        seen = set(skip)
        for row in rows:
            if limit is not None and len(found) >= limit:
                break
            if not self.valid[row]:
                continue
            try:
                candidate = candidate_from_text(self.text(int(row)), "smiles", self.agent,
                                                metadata={"library": str(self.path), "row": int(row)})
            except REASONED:
                continue
            if candidate.key not in seen:
                seen.add(candidate.key)
                found.append(candidate)
        return found
