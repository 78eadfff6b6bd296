"""The Pedone et al. (2006) potential for oxide glasses, as LAMMPS commands.

Parameters live in `data/pedone2006.csv` with their source; each row is a cation-O pair (and O-O),
the only short-range pairs of the model. Coulomb between the partial charges is evaluated with
the damped shifted force (DSF) method (Fennell & Gezelter, J. Chem. Phys. 124, 234104 (2006)):
pairwise and O(N), so a ~300-atom cell on two cores needs no k-space solver, and for disordered
ionic systems it reproduces Ewald energies and forces closely at a damping of 0.25 1/Å and an 8 Å
cut-off, the settings used here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

CITATION = "A. Pedone et al., J. Phys. Chem. B 110, 11780 (2006), doi:10.1021/jp0611018"
SHORT_RANGE_CUTOFF_A = 5.5
DSF_ALPHA_PER_A = 0.25
DSF_CUTOFF_A = 8.0


@dataclass(frozen=True)
class PedoneTerm:
    q: float
    D_eV: float
    a_per_A: float
    r0_A: float
    C_eV_A12: float


def parameters() -> dict[str, PedoneTerm]:
    text = resources.files("amala.oracles.md").joinpath("data/pedone2006.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["element"]: PedoneTerm(float(r["q"]), float(r["D_eV"]), float(r["a_per_A"]), float(r["r0_A"]),
                                     float(r["C_eV_A12"])) for r in rows}


def lammps_commands(type_elements: list[str]) -> list[str]:
    """Charges, pair style and coefficients for LAMMPS atom types 1..n holding `type_elements`."""
    table = parameters()
    missing = [e for e in type_elements if e not in table]
    if missing:
        raise ValueError(f"Pedone 2006 has no parameters for {missing} (covered: {sorted(table)})")
    if "O" not in type_elements:
        raise ValueError("Pedone potential: an oxide cell needs oxygen")
    o = type_elements.index("O") + 1
    commands = [f"set type {i} charge {table[e].q}" for i, e in enumerate(type_elements, 1)]
    commands += [f"pair_style hybrid/overlay pedone {SHORT_RANGE_CUTOFF_A} coul/dsf {DSF_ALPHA_PER_A} {DSF_CUTOFF_A}",
                 "pair_coeff * * coul/dsf"]
    for i, element in enumerate(type_elements, 1):
        t = table[element]
        low, high = sorted((i, o))
        commands.append(f"pair_coeff {low} {high} pedone {t.D_eV} {t.a_per_A} {t.r0_A} {t.C_eV_A12}")
    return commands
