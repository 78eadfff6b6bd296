"""Starting cells for melt-quench MD of oxide glasses: exact stoichiometry, neutral, at a density.

A composition in mole fractions of oxide components (e.g. {"Li2O": 0.33, "SiO2": 0.67}) is turned
into whole formula units, so the cell is charge-neutral by construction, and atoms are placed at
random in a cubic periodic box of the requested density with a minimum-distance rule, so that the
first minimisation starts from a cell without overlapping ions. The melt erases the random start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.formula import Formula
from ase.units import _amu

from amala.core.composition import canonical_composition

# Formal charges (e) used to check neutrality; the MD potential's partial charges scale these. S, N, B and
# the halides are for the thiophosphate (Li2S-P2S5-LiI/LiCl/LiBr), LiPON (Li3PO4-Li3N) and borate coating
# (Li3BO3) glasses, which only the machine-learned potentials (`mlip` oracle) can simulate: the Pedone
# potential has none of them.
FORMAL_CHARGE = {"Li": 1, "Na": 1, "K": 1, "Mg": 2, "Ca": 2, "B": 3, "Al": 3, "Si": 4, "Ti": 4, "P": 5, "O": -2,
                 "S": -2, "N": -3, "F": -1, "Cl": -1, "Br": -1, "I": -1}


# Closest two atoms of a starting cell (Å): the value every MD run (oracle, benchmarks, tests) has
# used, so it is the default rather than an argument repeated at each call.
MIN_DISTANCE_A = 1.7
# Starting density (g/cm3) when none is given: near lithium silicate glasses'; NPT then finds the glass's own.
START_DENSITY_G_CM3 = 2.35


class CellError(ValueError):
    """A composition or density that cannot be built; the message names the problem."""


@dataclass(frozen=True)
class GlassCell:
    atoms: Atoms
    formula_units: dict[str, int]  # oxide -> whole formula units in the cell
    density_g_cm3: float

    @property
    def actual_fractions(self) -> dict[str, float]:
        total = sum(self.formula_units.values())
        return {oxide: n / total for oxide, n in self.formula_units.items()}


def formula_units(fractions: dict[str, float], target_atoms: int) -> dict[str, int]:
    """Whole formula units per oxide, total atoms near the target, fractions as exact as possible.

    Among total unit counts within ±25% of the target size, the one whose scaled fractions are
    closest to integers wins (ties: closest to the target), so a ratio such as 1:2 is kept exactly
    rather than rounded to 33:67; every realised fraction is within 1/total of the requested one.
    """
    if not fractions or any(x < 0 for x in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-4:
        raise CellError(f"composition: mole fractions must be >= 0 and sum to 1, got {fractions}")
    total_fraction = sum(fractions.values())  # canonical spellings round to 6 decimals
    fractions = {o: x / total_fraction for o, x in fractions.items()}
    atoms_per_unit = {}
    for oxide in fractions:
        counts = Formula(oxide).count()
        unknown = [e for e in counts if e not in FORMAL_CHARGE]
        if unknown:
            raise CellError(f"composition: {oxide} contains {unknown}, not covered (known: {sorted(FORMAL_CHARGE)})")
        if sum(FORMAL_CHARGE[e] * n for e, n in counts.items()) != 0:
            raise CellError(f"composition: {oxide} is not charge-neutral with formal charges")
        atoms_per_unit[oxide] = sum(counts.values())
    mean_atoms = sum(x * atoms_per_unit[o] for o, x in fractions.items())
    ideal = target_atoms / mean_atoms
    present = {o: x for o, x in fractions.items() if x > 0}

    def misfit(total: int) -> tuple[float, float]:
        # rounding errors under 0.01 units are not worth a larger or smaller cell than asked for
        return round(max(abs(x * total - round(x * total)) for x in present.values()), 2), abs(total - ideal)

    best = min(range(max(1, int(ideal * 0.75)), int(ideal * 1.25) + 2), key=misfit)
    units = {o: int(round(x * best)) for o, x in present.items()}
    if any(n == 0 for n in units.values()):
        raise CellError(f"composition: {target_atoms} atoms are too few to hold every component of {fractions}")
    return units


def cell_symbols(units: dict[str, int]) -> list[str]:
    """The atoms of whole formula units (`formula_units`), in the order `build` places them."""
    return [element for oxide, n in units.items() for element, count in Formula(oxide).count().items()
            for _ in range(count * n)]


def build(fractions: dict[str, float], density_g_cm3: float, target_atoms: int = 300,
          min_distance: float = MIN_DISTANCE_A, seed: int = 0, max_tries: int = 2000) -> GlassCell:
    """A random, neutral, periodic cubic cell of the composition at the given density."""
    if not 0.5 <= density_g_cm3 <= 10:
        raise CellError(f"density: {density_g_cm3} g/cm3 is outside 0.5-10 for a glass")
    units = formula_units(fractions, target_atoms)
    symbols = cell_symbols(units)
    mass_g = sum(atomic_masses[atomic_numbers[s]] for s in symbols) * _amu * 1e3
    length = (mass_g / density_g_cm3) ** (1 / 3) * 1e8  # cm -> Å
    rng = np.random.default_rng(seed)
    positions = np.empty((len(symbols), 3))
    order = rng.permutation(len(symbols))
    for placed, index in enumerate(order):
        for _ in range(max_tries):
            trial = rng.random(3) * length
            if placed == 0:
                break
            delta = positions[order[:placed]] - trial
            delta -= length * np.round(delta / length)  # minimum image
            if (delta * delta).sum(1).min() >= min_distance ** 2:
                break
        else:
            raise CellError(f"cannot place {len(symbols)} atoms {min_distance} Å apart at {density_g_cm3} g/cm3 "
                            f"({len(symbols) / length ** 3:.3f} atoms/Å3): lower the density or the minimum distance")
        positions[index] = trial
    atoms = Atoms(symbols, positions=positions, cell=[length] * 3, pbc=True)
    # the simulated composition (whole formula units) in the candidates' spelling, so a cell file names its glass
    atoms.info.update({"composition": canonical_composition(units),
                       "requested_composition": canonical_composition(fractions), "density_g_cm3": density_g_cm3,
                       "formula_units": ";".join(f"{oxide}:{n}" for oxide, n in sorted(units.items())), "seed": seed})
    return GlassCell(atoms, units, density_g_cm3)


def net_formal_charge(atoms: Atoms) -> int:
    return int(sum(FORMAL_CHARGE[s] for s in atoms.get_chemical_symbols()))


def min_pair_distance(atoms: Atoms) -> float:
    d = atoms.get_all_distances(mic=True)
    np.fill_diagonal(d, math.inf)
    return float(d.min())
