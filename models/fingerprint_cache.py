"""Fingerprints of every row of a candidate library, computed once and kept next to it.

A screen of 10^6 repeat units cannot afford RDKit per candidate per iteration, nor float64 rows in
memory (8192 features x 8 bytes x 10^6 = 65 GB). The cache holds the GP featurizer's own bits
(`MorganFeaturizer`, the same radius, length and thermometer-coded counts, so a cached row equals
what the campaign's featurizer gives for that candidate) bit-packed (`np.packbits`, uint8,
rows x ceil(dim/8)) in a .npy file that is memory-mapped, plus a validity mask (rows the validity
gate refuses get all-zero bits and False). A JSON sidecar, written last, records the library's
size, mtime_ns and full sha256 (sha256 runs at ~0.5 GB/s here: 0.1 s for a 10^6-row CSV, so the
whole file is hashed rather than its ends), the featurizer settings and the row count; the cache
is reused only when all of them match, and rebuilt otherwise. Files are named after the settings
(`lib.csv.fp-r3-2048-c4.npy`), so campaigns with different fingerprints keep their own.

Building uses worker processes over chunks of rows, results in order (`library_build.mapper`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from amala.agents.library_build import mapper, windows
from amala.core.library import LibraryError, open_library

CHUNK_ROWS = 5_000


def settings_of(featurizer=None) -> dict:
    """The fingerprint definition: a FeaturizerSpec, a MorganFeaturizer, a dict of its keys, or
    None for the GP's default featurizer settings."""
    from amala.models.registry import FeaturizerSpec

    if featurizer is None:
        featurizer = FeaturizerSpec()
    if hasattr(featurizer, "model_dump"):
        featurizer = featurizer.model_dump()
    elif not isinstance(featurizer, dict):
        featurizer = featurizer.describe()
    spec = FeaturizerSpec(**{k: v for k, v in featurizer.items() if k in FeaturizerSpec.model_fields and v is not None})
    return {"kind": spec.kind, "radius": spec.radius, "n_bits": spec.n_bits, "counts": spec.counts,
            "count_cap": spec.count_cap if spec.counts else 1}


def _featurizer(settings: dict):
    from amala.models.featurizer import MorganFeaturizer

    return MorganFeaturizer(radius=settings["radius"], n_bits=settings["n_bits"], counts=settings["counts"],
                            count_cap=settings["count_cap"], cache_size=1)


def _tag(settings: dict) -> str:
    cap = f"-c{settings['count_cap']}" if settings["counts"] else ""
    return f"fp-r{settings['radius']}-{settings['n_bits']}{cap}"


def file_stamp(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()}


def _bits_chunk(task: tuple[dict, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Worker: packed bits and validity of a chunk of library rows."""
    from amala.agents.library_build import judge

    settings, texts = task
    featurizer = _featurizer(settings)
    dim = featurizer.dim
    bits, valid = np.zeros((len(texts), dim), dtype=np.uint8), np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        canonical, _ = judge(text)
        if canonical is not None:
            bits[i], valid[i] = featurizer._one(canonical), True
    return np.packbits(bits, axis=1), valid


class FingerprintCache:
    """The cached fingerprints of one library for one featurizer setting (open with `open_cache`)."""

    def __init__(self, library: Path, settings: dict, folder: Path | None = None):
        self.library, self.settings = Path(library), settings
        base = (folder or self.library.parent) / f"{self.library.name}.{_tag(settings)}"
        self.bits_path, self.valid_path, self.meta_path = (Path(f"{base}{s}") for s in (".npy", ".valid.npy", ".json"))
        self.dim = _featurizer(settings).dim
        self.packed: np.ndarray | None = None  # rows x ceil(dim/8) uint8, memory-mapped
        self.valid: np.ndarray | None = None
        self.built = False  # True when this open computed the fingerprints

    def current(self) -> bool:
        """Whether a cache exists for exactly this library file and these settings."""
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return False
        if meta.get("settings") != self.settings or not (self.bits_path.is_file() and self.valid_path.is_file()):
            return False
        return meta.get("source") == file_stamp(self.library)

    def build(self, workers: int = 2, progress: Callable[[int], None] | None = None) -> None:
        library = open_library(self.library)
        rows = library.count_rows()
        stamp = file_stamp(self.library)
        width = -(-self.dim // 8)
        tmp_bits = self.bits_path.with_name(self.bits_path.name + ".partial.npy")
        bits = np.lib.format.open_memmap(tmp_bits, mode="w+", dtype=np.uint8, shape=(rows, width))
        valid = np.zeros(rows, dtype=bool)
        done = 0
        with mapper(workers) as run:
            for window in windows(library.representations(CHUNK_ROWS), 2 * max(workers, 1)):
                for packed, ok in run(_bits_chunk, [(self.settings, texts) for texts in window]):
                    if done + len(ok) > rows:
                        raise LibraryError(f"library {self.library}: changed while its fingerprints were computed")
                    bits[done:done + len(ok)], valid[done:done + len(ok)] = packed, ok
                    done += len(ok)
                if progress is not None:
                    progress(done)
        if done != rows:
            raise LibraryError(f"library {self.library}: changed while its fingerprints were computed")
        bits.flush()
        del bits
        self.meta_path.unlink(missing_ok=True)  # the sidecar is the commit: no stale one during the swap
        os.replace(tmp_bits, self.bits_path)
        np.save(self.valid_path, valid)
        meta = {"source": stamp, "library": self.library.name, "settings": self.settings, "rows": rows,
                "valid": int(valid.sum()), "dim": self.dim, "packed_bytes_per_row": width}
        self.meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        self.built = True

    def load(self) -> "FingerprintCache":
        self.packed = np.load(self.bits_path, mmap_mode="r")
        self.valid = np.load(self.valid_path, mmap_mode="r")
        return self

    def __len__(self) -> int:
        return 0 if self.packed is None else self.packed.shape[0]

    def bits(self, start: int, stop: int, dtype=torch.float64) -> torch.Tensor:
        """Rows [start, stop) as a 0/1 matrix (unpacked now; the file stays packed), in the
        featurizer's dtype and layout."""
        block = np.unpackbits(np.asarray(self.packed[start:stop]), axis=1, count=self.dim)
        return torch.from_numpy(block).to(dtype)

    def chunks(self, chunksize: int = 50_000, dtype=torch.float64) -> Iterator[tuple[int, torch.Tensor]]:
        """(first row, bit matrix) for consecutive chunks of rows."""
        for start in range(0, len(self), chunksize):
            yield start, self.bits(start, min(start + chunksize, len(self)), dtype)


def open_cache(library: str | Path, featurizer=None, workers: int = 2, progress=None,
               folder: str | Path | None = None) -> FingerprintCache:
    """The library's fingerprint cache, built first if there is none or it is stale."""
    cache = FingerprintCache(Path(library), settings_of(featurizer), Path(folder) if folder else None)
    open_library(cache.library)  # one-line errors for a bad file before anything is written
    if not cache.current():
        cache.build(workers=workers, progress=progress)
    return cache.load()


def cache_status(library: str | Path) -> list[dict]:
    """Every fingerprint cache next to the library: its settings, rows and whether it is current."""
    library = Path(library)
    found = []
    for meta_path in sorted(library.parent.glob(f"{library.name}.fp-*.json")):
        try:
            meta = json.loads(meta_path.read_text())
            cache = FingerprintCache(library, meta["settings"])
            found.append({"file": cache.bits_path.name, "settings": meta["settings"], "rows": meta.get("rows"),
                          "bytes": cache.bits_path.stat().st_size if cache.bits_path.is_file() else 0,
                          "current": cache.current()})
        except (OSError, ValueError, KeyError, TypeError):
            found.append({"file": meta_path.name, "settings": None, "rows": None, "bytes": 0, "current": False})
    return found
