"""Crystalline references of glass compositions, and the amorphization energy E(glass) - E(crystal) per atom.

A glass's energy per atom means little on its own (it depends on the potential's zero); its excess over
the crystal of the same composition, computed with the same potential, is the amorphization energy the
MLIP oracle reports: how far above the crystal the quench left the glass (tens of meV/atom for a good
glass, more for a poorly relaxed one or a potential that has not seen the crystal).

The crystals are published structures, kept in `data/crystal_references.json` with their citation and
the file they were copied from (`CrystalReference.citation`, `.source`). A reference belongs to a glass
when their normalised element fractions agree to `FRACTION_TOLERANCE`: a 75Li2S-25P2S5 glass has the
elements of Li3PS4, a 0.999/0.001 mix has none.

Both structures are relaxed (positions and cell, `FrechetCellFilter` + FIRE) before the energies are
compared: the glass's is then its inherent-structure (0 K) energy, not a thermal average. A relaxation
that runs out of steps is reported as unconverged in the result rather than hidden.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.formula import Formula
from ase.spacegroup import crystal
from ase.units import _amu

from amala.core.composition import parse_composition
from amala.oracles.md.relaxation import relax

__all__ = ["FRACTION_TOLERANCE", "AmorphizationFailed", "Citation", "CrystalReference", "Site",
           "amorphization_energy", "cell_density_g_cm3", "element_fractions", "load_references", "reference_for"]

FRACTION_TOLERANCE = 1e-6  # largest difference of any element fraction for a crystal to be a glass's reference
DATA_FILE = "data/crystal_references.json"


class AmorphizationFailed(RuntimeError):
    """The amorphization energy could not be computed; the message names the crystal and the stage."""


@dataclass(frozen=True)
class Site:
    """One Wyckoff site of the asymmetric unit: element, Wyckoff label, fractional coordinates."""
    element: str
    wyckoff: str
    xyz: tuple[float, float, float]


@dataclass(frozen=True)
class Citation:
    authors: tuple[str, ...]
    title: str
    journal: str | None
    volume: str | None
    pages: str | None
    year: int | None
    doi: str | None

    def __str__(self) -> str:
        who = ", ".join(self.authors) or "unknown authors"
        where = ", ".join(str(p) for p in (self.journal, self.volume, self.pages) if p)
        tail = f" ({self.year})" if self.year else ""
        doi = f", doi:{self.doi}" if self.doi else ""
        return f"{who}, {self.title}" + (f", {where}" if where else "") + tail + doi


@dataclass(frozen=True)
class CrystalReference:
    """A published crystal structure: space group, cell (Angstrom, degrees), asymmetric unit, citation."""
    name: str
    formula: str
    spacegroup_number: int
    spacegroup_symbol: str
    cellpar: tuple[float, float, float, float, float, float]  # a, b, c (Angstrom), alpha, beta, gamma (deg)
    sites: tuple[Site, ...]
    density_g_cm3: float | None  # as published (None when the source gives none)
    citation: Citation
    source: Mapping[str, Any]  # database id, url and the file the numbers were copied from
    quality: str

    @property
    def fractions(self) -> dict[str, float]:
        """Normalised element fractions of the declared formula."""
        return _normalised(Formula(self.formula).count())

    def atoms(self, min_atoms: int = 0) -> Atoms:
        """The conventional cell (`ase.spacegroup.crystal`), repeated along its shortest axes until it has
        at least `min_atoms` atoms, so a supercell stays as close to isotropic as whole repeats allow."""
        try:
            cell = crystal([s.element for s in self.sites], [s.xyz for s in self.sites],
                           spacegroup=self.spacegroup_number, cellpar=list(self.cellpar), primitive_cell=False)
        except Exception as exc:  # ase raises several types for a bad spacegroup/site combination
            raise ValueError(f"crystal {self.name}: cannot build the cell: {exc}") from exc
        repeats = [1, 1, 1]
        lengths = cell.cell.lengths()
        while len(cell) * math.prod(repeats) < min_atoms:
            axis = int(np.argmin([n * length for n, length in zip(repeats, lengths)]))
            repeats[axis] += 1
        return cell.repeat(repeats)

    def matches(self, composition) -> bool:
        """Whether this crystal has the normalised element fractions of `composition` (see `element_fractions`)."""
        return _same(self.fractions, element_fractions(composition))


def element_fractions(composition) -> dict[str, float]:
    """Normalised element fractions of a composition, however written:

    - a composition string as `agents.composition` reads it ("Li2S:0.75;P2S5:0.25", "Li2S:3;P2S5:1"),
    - a mapping of components (formula units) or elements to amounts ({"Li2S": 0.75, "P2S5": 0.25},
      {"Li": 3, "P": 1, "S": 4}): every key is read as a formula, so an element is a one-atom formula,
    - an `ase.Atoms` (its atom counts).
    """
    if isinstance(composition, Atoms):
        counts: dict[str, float] = {}
        for symbol in composition.get_chemical_symbols():
            counts[symbol] = counts.get(symbol, 0.0) + 1.0
        return _normalised(counts)
    if isinstance(composition, str):
        composition = parse_composition(composition)
    if not isinstance(composition, Mapping) or not composition:
        raise ValueError(f"composition: expected a composition string, a non-empty mapping or Atoms, got "
                         f"{type(composition).__name__}")
    counts = {}
    for name, amount in composition.items():
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount < 0:
            raise ValueError(f"composition: amount of {name!r} must be a finite number >= 0, got {amount!r}")
        for element, n in _formula_counts(name).items():
            counts[element] = counts.get(element, 0.0) + amount * n
    return _normalised(counts)


def reference_for(composition, references: tuple[CrystalReference, ...] | None = None) -> CrystalReference | None:
    """The crystal whose normalised element fractions equal the composition's (to `FRACTION_TOLERANCE`),
    or None. `composition` is anything `element_fractions` reads."""
    fractions = element_fractions(composition)
    for reference in load_references() if references is None else references:
        if _same(reference.fractions, fractions):
            return reference
    return None


@lru_cache(maxsize=None)
def load_references(path: str | None = None) -> tuple[CrystalReference, ...]:
    """The crystals of the data file (default: the packaged `data/crystal_references.json`), validated;
    a malformed entry raises ValueError naming the file, the crystal and the field."""
    if path is None:
        text, where = resources.files("amala.oracles.mlip").joinpath(DATA_FILE).read_text(), DATA_FILE
    else:
        text, where = Path(path).read_text(), str(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc})") from exc
    entries = raw.get("crystals") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{where}: expected an object with a 'crystals' list")
    references = tuple(_reference(entry, where, i) for i, entry in enumerate(entries))
    names = [r.name for r in references]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: crystal names must be unique, got {names}")
    return references


def amorphization_energy(glass: Atoms, reference: CrystalReference, calculator, fmax_eV_A: float = 0.05,
                         steps: int = 300, crystal_min_atoms: int = 0) -> dict:
    """E(glass) - E(crystal) per atom (eV/atom), both relaxed (positions and cell) with the same ASE
    `calculator` until the largest force (and stress, as FrechetCellFilter scales it) is below `fmax_eV_A`
    or `steps` FIRE steps have passed. The glass must have the crystal's composition.

    Returns the energies, the crystal's name and citation, and per structure whether its relaxation
    converged, its steps and final largest force, so an unconverged relaxation is visible to the caller.
    Raises `AmorphizationFailed` (naming the crystal) when the calculator fails or gives a non-finite energy.
    """
    if not reference.matches(glass):
        raise ValueError(f"crystal {reference.name}: the glass ({glass.get_chemical_formula()}) does not have "
                         f"its composition {reference.formula}")
    if fmax_eV_A <= 0 or steps < 0:
        raise ValueError(f"crystal {reference.name}: fmax_eV_A must be > 0 and steps >= 0, got {fmax_eV_A}, {steps}")
    crystal_atoms = reference.atoms(crystal_min_atoms)
    relaxed = {"crystal": _relax(crystal_atoms, calculator, fmax_eV_A, steps, reference.name, "crystal"),
               "glass": _relax(glass.copy(), calculator, fmax_eV_A, steps, reference.name, "glass")}
    e_glass, e_crystal = relaxed["glass"].pop("energy_eV_atom"), relaxed["crystal"].pop("energy_eV_atom")
    return {"amorphization_energy_eV_atom": e_glass - e_crystal,
            "glass_energy_eV_atom": e_glass, "crystal_energy_eV_atom": e_crystal,
            "crystal": reference.name, "citation": str(reference.citation),
            "converged": relaxed["glass"]["converged"] and relaxed["crystal"]["converged"],
            "relaxed": relaxed, "fmax_eV_A": fmax_eV_A, "max_steps": steps}


def _relax(atoms: Atoms, calculator, fmax_eV_A: float, steps: int, name: str, stage: str) -> dict:
    record = relax(atoms, calculator, fmax_eV_A, steps, stage, AmorphizationFailed, prefix=f"crystal {name}: ")
    energy = record.pop("energy_eV")
    return {**record, "volume_A3": float(atoms.get_volume()), "energy_eV_atom": energy / len(atoms)}


def _reference(entry, where: str, index: int) -> CrystalReference:
    name = entry.get("name") if isinstance(entry, dict) else None
    label = f"{where}: crystal {name or f'#{index}'}"

    def field(key, kind):
        value = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{label}: field '{key}' must be {getattr(kind, '__name__', kind)}, got {value!r}")
        return value

    name, formula = field("name", str), field("formula", str)
    counts = _formula_counts(formula, label)
    group, cell, citation, source = field("spacegroup", dict), field("cell", dict), field("citation", dict), \
        field("source", dict)
    number, symbol = group.get("number"), group.get("symbol")
    if not isinstance(number, int) or not 1 <= number <= 230 or not isinstance(symbol, str):
        raise ValueError(f"{label}: field 'spacegroup' needs an integer number 1-230 and a symbol, got {group}")
    keys = ("a_A", "b_A", "c_A", "alpha_deg", "beta_deg", "gamma_deg")
    values = [cell.get(k) for k in keys]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in values):
        raise ValueError(f"{label}: field 'cell' needs positive {', '.join(keys)}, got {cell}")
    sites = []
    for raw in field("sites", list):
        element, wyckoff, xyz = (raw.get(k) for k in ("element", "wyckoff", "xyz")) if isinstance(raw, dict) else \
            (None, None, None)
        if element not in atomic_numbers or not isinstance(wyckoff, str) or not isinstance(xyz, list) or len(xyz) != 3 \
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in xyz):
            raise ValueError(f"{label}: field 'sites' needs element (a chemical symbol), wyckoff and 3 fractional "
                             f"coordinates, got {raw!r}")
        sites.append(Site(element, wyckoff, tuple(float(x) for x in xyz)))
    if not sites or {s.element for s in sites} != set(counts):
        raise ValueError(f"{label}: field 'sites' has elements {sorted({s.element for s in sites})}, "
                         f"formula {formula} has {sorted(counts)}")
    density = entry.get("density_g_cm3")
    if density is not None and (isinstance(density, bool) or not isinstance(density, (int, float)) or density <= 0):
        raise ValueError(f"{label}: field 'density_g_cm3' must be a positive number or null, got {density!r}")
    title = citation.get("title")
    if not isinstance(title, str) or not title:
        raise ValueError(f"{label}: field 'citation' needs a title")
    if not source.get("copied_from"):
        raise ValueError(f"{label}: field 'source' must say where the coordinates were copied from ('copied_from')")
    return CrystalReference(
        name=name, formula=formula, spacegroup_number=number, spacegroup_symbol=symbol,
        cellpar=tuple(float(v) for v in values), sites=tuple(sites), density_g_cm3=density,
        citation=Citation(tuple(citation.get("authors") or ()), title, citation.get("journal"), citation.get("volume"),
                          citation.get("pages"), citation.get("year"), citation.get("doi")),
        source=dict(source), quality=str(entry.get("quality", "")))


def cell_density_g_cm3(atoms: Atoms) -> float:
    """Mass density of a periodic cell (g/cm^3)."""
    mass_g = sum(atomic_masses[z] for z in atoms.numbers) * _amu * 1e3
    return mass_g / (atoms.get_volume() * 1e-24)


def _formula_counts(name: str, label: str = "composition") -> dict[str, int]:
    try:
        counts = Formula(str(name)).count()
    except Exception as exc:  # ase.formula raises ValueError or others on garbage
        raise ValueError(f"{label}: cannot read {name!r} as a formula ({exc})") from exc
    unknown = sorted(e for e in counts if e not in atomic_numbers)
    if unknown or not counts:
        raise ValueError(f"{label}: {name!r} has no elements or unknown elements {unknown}")
    return counts


def _normalised(counts: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(counts.values()))
    if not total > 0:
        raise ValueError(f"composition: amounts sum to {total}")
    return {element: n / total for element, n in counts.items() if n > 0}


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return all(abs(a.get(e, 0.0) - b.get(e, 0.0)) <= FRACTION_TOLERANCE for e in set(a) | set(b))
