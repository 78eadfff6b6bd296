"""Files replaced whole or not at all: written beside their target, flushed to disk, then renamed.

A kill at any moment leaves either the old file or the new one, never half of each, which is what
lets the MD checkpoints, the on-the-fly loop's state and the growing potential's records be read
back after a crash (the rename is atomic on POSIX file systems)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write


def write_text(path: Path, text: str) -> None:
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def write_atoms(path: Path, atoms: Atoms, format: str = "extxyz") -> None:
    """`atoms` (positions, cell, momenta and info as extxyz keeps them) to `path`."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    write(partial, atoms, format=format)
    with open(partial, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, path)


def write_arrays(path: Path, **arrays) -> None:
    """numpy arrays to `path` as one .npz (an MD job's state: positions, momenta, where it is)."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial.npz")  # np.savez adds .npz to a name without it
    np.savez(partial, **arrays)
    with open(partial, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, path)
