"""A committee of machine-learned potentials as one ASE calculator, and how much its members disagree.

The disagreement is DP-GEN's `max_devi_f` (see `force_deviation`); it lives here, with the models, so
that the committee calculator can report it for every MD step it evaluates, and the on-the-fly loop
(oracles) reads it from there without evaluating the frame a second time.
"""

from __future__ import annotations

import numpy as np


def force_deviation(forces: np.ndarray) -> float:
    """Max over atoms of the committee's RMS force deviation from its mean [eV/Å].

    `forces`: (members, atoms, 3) in eV/Å. With one member there is no disagreement to measure."""
    forces = np.asarray(forces, dtype=float)
    if forces.ndim != 3 or forces.shape[2] != 3:
        raise ValueError(f"committee forces: expected shape (members, atoms, 3), got {forces.shape}")
    if forces.shape[0] < 2:
        raise ValueError(f"committee forces: {forces.shape[0]} member(s); a deviation needs at least 2")
    if not np.isfinite(forces).all():
        return float("inf")  # a member that blew up is the strongest disagreement there is
    spread = forces - forces.mean(axis=0, keepdims=True)
    per_atom = np.sqrt((spread**2).sum(axis=2).mean(axis=0))
    return float(per_atom.max())
