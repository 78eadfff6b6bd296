"""A committee of machine-learned potentials as one ASE calculator, and how much its members disagree.

The disagreement is DP-GEN's `max_devi_f` (see `force_deviation`); it lives here, with the models, so
that the committee calculator can report it for every MD step it evaluates, and the on-the-fly loop
(oracles) reads it from there without evaluating the frame a second time.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes


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


class CommitteeCalculator(Calculator):
    """The committee's mean energy, forces and stress, with its disagreement in the same results.

    `results["force_deviation"]` (eV/Å, see `force_deviation`) and `results["energy_std"]` (eV/atom, the
    members' energy spread divided by the atom count) come with every evaluation, so MD driven by this
    calculator knows the uncertainty of each step it took without evaluating the frame again.
    Members are any ASE calculators (NequIP students in production, anything cheap in tests)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, members: list[Calculator], **kwargs):
        super().__init__(**kwargs)
        if len(members) < 2:
            raise ValueError(f"committee calculator: {len(members)} member(s); a deviation needs at least 2")
        self.members = list(members)

    def member_predictions(self, atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Each member's (energy eV (M,), forces eV/Å (M, N, 3), stress eV/Å³ Voigt (M, 6) or None); the
        stress only for a cell periodic in all three directions and when every member gives one."""
        energies, forces, stresses = [], [], []
        for member in self.members:
            energies.append(member.get_potential_energy(atoms))
            forces.append(member.get_forces(atoms))
            if stresses is not None and atoms.pbc.all():
                try:
                    stresses.append(member.get_stress(atoms))
                except PropertyNotImplementedError:
                    stresses = None
            else:
                stresses = None
        return (np.array(energies, dtype=float), np.array(forces, dtype=float),
                None if stresses is None else np.array(stresses, dtype=float))

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        _check_positions(self.atoms)
        energies, forces, stresses = self.member_predictions(self.atoms)
        energy = float(energies.mean())
        self.results = {"energy": energy, "free_energy": energy, "forces": forces.mean(axis=0),
                        "force_deviation": force_deviation(forces),
                        "energy_std": float(energies.std()) / len(self.atoms)}
        if stresses is not None:
            self.results["stress"] = stresses.mean(axis=0)
        elif "stress" in properties:
            raise PropertyNotImplementedError("committee stress: needs a 3D-periodic cell and members that give one")


class ExplodedStructure(ValueError):
    """Atoms with non-finite positions, or flown far outside their cell: an MD step that blew up."""


MAX_CELL_LENGTHS = 100.0  # an atom further than this many cell lengths from the cell has flown away


def _check_positions(atoms) -> None:
    """Refuse a blown-up frame before the members see it: a neighbour list built on atoms thousands of
    cell lengths apart (one huge-force step of an untrained student) does not fail, it hangs
    (matscipy's, seen here on a 64-atom cell), and a hang is what no MD loop can recover from."""
    positions = atoms.get_positions()
    if not np.isfinite(positions).all():
        raise ExplodedStructure("non-finite atomic positions: the MD step blew up")
    if atoms.cell.rank == 3:
        scaled = atoms.cell.scaled_positions(positions)
        if np.abs(scaled).max() > MAX_CELL_LENGTHS:
            raise ExplodedStructure(f"an atom is {np.abs(scaled).max():.3g} cell lengths from the cell: the MD "
                                    "step blew up")
