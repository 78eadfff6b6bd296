"""Relaxing positions and cell with FIRE through `FrechetCellFilter`, with a record of how it went.

The amorphization energy (`crystal_references`: glass and crystal, whole cell) and the interface energy
(`glass_interface`: bulks and stack, cell z only) both compare energies of relaxed cells; one routine
keeps their relaxations, their convergence records and their one-line failures the same."""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE


def relax(atoms: Atoms, calculator, fmax_eV_A: float, steps: int, what: str, error: type[Exception],
          prefix: str = "", mask=None) -> dict:
    """Relax `atoms` in place (cell degrees of freedom per `mask`, all by default) until the largest force
    is below `fmax_eV_A` or `steps` FIRE steps have passed. A calculator failure or a non-finite energy
    raises `error` with one line, "<prefix>relaxing the <what> failed: ..." or "<prefix>the <what>'s energy
    is not finite (...)". Returns converged, steps, final_fmax_eV_A, energy_eV and n_atoms."""
    atoms.calc = calculator
    try:
        cell_filter = FrechetCellFilter(atoms) if mask is None else FrechetCellFilter(atoms, mask=mask)
        optimizer = FIRE(cell_filter, logfile=None)
        converged = bool(optimizer.run(fmax=fmax_eV_A, steps=steps))
        energy = float(atoms.get_potential_energy())
        largest = float(np.sqrt((cell_filter.get_forces() ** 2).sum(axis=1).max()))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise error(f"{prefix}relaxing the {what} failed: {type(exc).__name__}: {first}") from exc
    finally:
        atoms.calc = None
    if not math.isfinite(energy):
        raise error(f"{prefix}the {what}'s energy is not finite ({energy})")
    return {"converged": converged, "steps": int(optimizer.nsteps), "final_fmax_eV_A": largest,
            "energy_eV": energy, "n_atoms": len(atoms)}
