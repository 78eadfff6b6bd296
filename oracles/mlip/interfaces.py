"""Amorphous-amorphous interfaces (Wang et al. 2023, a-Li3PS4 | Li3B11O18 coating).

Two glasses of one potential, A (e.g. the sulfide electrolyte) and B (e.g. a borate coating), become one
periodic cell with two A|B interfaces (`stack`). From it come two numbers:

- the interface energy γ = (E(stack) − E(bulk A) − E(bulk B, strained)) / (2·area), J/m², each of the three
  relaxed (positions and the cell's z length) with the same calculator (`interface_energy`). B is strained
  laterally to A's cell to fit, so its strained bulk is the reference: γ then holds the interfaces' energy
  and not B's elastic energy. A list of calculators (a committee's members) gives γ's mean and spread.
- Li diffusivity resolved by distance from the interfaces (`region_msd`, `region_diffusivities`): Li in the
  interface region (closer than `width_A` to either interface plane) against Li in the bulk of A and of B,
  through the same MSD -> D analysis as every amala MD run (`md_analysis`).

Units: Å, Å², eV, J/m², ps, cm²/s. Pure science on ASE `Atoms` and any ASE calculator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers, covalent_radii
from ase.geometry import get_distances
from scipy import constants

from amala.core.composition import NETWORK_FORMERS
from amala.oracles.md import analysis as md_analysis
from amala.oracles.md.cells import FORMAL_CHARGE
from amala.oracles.md.relaxation import relax
from amala.oracles.md.structure import Frames

EV_PER_A2_TO_J_PER_M2 = constants.e / 1e-20  # 1 eV/Å² = 16.0218 J/m²
REGIONS = ("interface", "bulk_A", "bulk_B")
# an anion closer to its nearest network former than this factor times their covalent radii is bonded to it:
# 1.3 takes P-S (2.05 Å), B-O (1.37-1.48 Å), P-O, P-N and Si-O bonds and no second neighbour
BOND_FACTOR = 1.3
Z_ONLY = [False, False, True, False, False, False]  # Voigt mask: relax the cell's z length alone


class InterfaceFailed(RuntimeError):
    """A relaxation whose calculator failed or gave a non-finite energy; the message names which."""


@dataclass(frozen=True)
class Stack:
    """Glass A then glass B along z in one orthorhombic periodic cell: two interfaces.

    A lies between `planes_z_A[0]` and `planes_z_A[1]` going up in z, B from `planes_z_A[1]` round the
    periodic boundary to `planes_z_A[0]`; each plane sits in the middle of the gap the stacking left."""

    atoms: Atoms  # A's atoms first (in A's order), then B's
    from_a: np.ndarray  # bool (n_atoms,): the atom came from glass A
    planes_z_A: tuple[float, float]  # (B|A, A|B) interface planes, Å
    area_A2: float  # lateral area of the cell, one interface's area
    bulk_a: Atoms  # glass A as given (no calculator)
    bulk_b: Atoms  # glass B strained to A's lateral lengths, its volume kept: B's strain-free reference
    lateral_strain_b: tuple[float, float]  # B's strain along x and y (L_A / L_B - 1)
    gap_A: float

    @property
    def from_b(self) -> np.ndarray:
        return ~self.from_a

    @property
    def length_z_A(self) -> float:
        return float(self.atoms.cell.lengths()[2])

    def distance_to_interface(self, z_A) -> np.ndarray:
        """Distance (Å) along z from each z (wrapped or not) to the nearest interface plane, periodic in z."""
        z, length = np.asarray(z_A, dtype=float), self.length_z_A
        return np.min([np.abs((z - p + length / 2) % length - length / 2) for p in self.planes_z_A], axis=0)

    def in_a(self, z_A) -> np.ndarray:
        """True where z (wrapped or not) lies in A's slab, between the two planes going up from the first."""
        length = self.length_z_A
        start, end = self.planes_z_A
        return (np.asarray(z_A, dtype=float) - start) % length < (end - start) % length

    def regions(self, z_A, width_A: float) -> np.ndarray:
        """Index into REGIONS for each z: interface (closer than `width_A` to a plane), else bulk_A or bulk_B."""
        z = np.asarray(z_A, dtype=float)
        return np.where(self.distance_to_interface(z) < width_A, 0, np.where(self.in_a(z), 1, 2))

    def with_atoms(self, atoms: Atoms) -> Stack:
        """The same stack after the cell's z length changed (a relaxation): the planes keep their fractional z."""
        scale = float(atoms.cell.lengths()[2]) / self.length_z_A
        return Stack(atoms, self.from_a, (self.planes_z_A[0] * scale, self.planes_z_A[1] * scale), self.area_A2,
                     self.bulk_a, self.bulk_b, self.lateral_strain_b, self.gap_A)


def stack(a: Atoms, b: Atoms, gap_A: float = 2.0) -> Stack:
    """Glass B strained laterally to A's x/y lengths (z scaled to keep B's volume), then A and B stacked
    along z with a gap of `gap_A` at each of the two interfaces, in one periodic cell.

    Cutting a periodic glass at its cell boundary would split its molecular units (a PS4 or BO3 whose
    anions were wrapped to the other face) and put broken bonds into γ that no real interface has: each
    anion bonded to a network former is first moved to the periodic image (along z) next to that former,
    so the slabs are made of whole units. A connected network (B2O3-rich glasses) still has to be cut
    somewhere; its bridging anions stay with their nearest former. The gap is the z distance between the
    slabs' outermost atoms, so no two atoms are closer than `gap_A` across an interface."""
    for name, glass in (("a", a), ("b", b)):
        if len(glass) == 0 or not glass.pbc.all() or not glass.cell.orthorhombic:
            raise ValueError(f"stack: glass {name} must be a non-empty, periodic, orthorhombic cell")
    if not gap_A > 0:
        raise ValueError(f"stack: gap_A must be > 0 Å, got {gap_A}")
    lx, ly, _ = a.cell.lengths()
    lbx, lby, lbz = b.cell.lengths()
    bulk_a, bulk_b = _bare(a), _bare(b)
    bulk_b.set_cell([lx, ly, lbz * lbx * lby / (lx * ly)], scale_atoms=True)
    pa, pb = _whole_units(bulk_a), _whole_units(bulk_b)
    pa[:, 2] += gap_A / 2 - pa[:, 2].min()
    top_a = pa[:, 2].max()
    pb[:, 2] += top_a + gap_A - pb[:, 2].min()
    length_z = pb[:, 2].max() + gap_A / 2
    atoms = Atoms(bulk_a.get_chemical_symbols() + bulk_b.get_chemical_symbols(), positions=np.vstack([pa, pb]),
                  cell=[lx, ly, length_z], pbc=True)
    atoms.info["stack"] = f"{bulk_a.get_chemical_formula()} | {bulk_b.get_chemical_formula()}"
    from_a = np.arange(len(atoms)) < len(bulk_a)
    return Stack(atoms, from_a, (0.0, float(top_a + gap_A / 2)), float(lx * ly), bulk_a, bulk_b,
                 (float(lx / lbx - 1), float(ly / lby - 1)), float(gap_A))


def _bare(atoms: Atoms) -> Atoms:
    """Symbols, positions and cell only: no calculator, momenta or constraints travel into the stack."""
    return Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions(), cell=atoms.cell, pbc=True)


def _whole_units(atoms: Atoms) -> np.ndarray:
    """Positions wrapped into the cell, except that each anion bonded to a network former takes the z
    image next to that former (x and y stay periodic in the stack, so only z matters)."""
    atoms = atoms.copy()
    atoms.wrap()
    positions = atoms.get_positions()
    symbols = np.array(atoms.get_chemical_symbols())
    formers = np.flatnonzero(np.isin(symbols, NETWORK_FORMERS))
    anions = np.flatnonzero([FORMAL_CHARGE.get(s, 0) < 0 for s in symbols])
    if len(formers) == 0 or len(anions) == 0:
        return positions
    vectors, distances = get_distances(positions[anions], positions[formers], cell=atoms.cell, pbc=True)
    nearest = distances.argmin(axis=1)
    radius = covalent_radii[[atomic_numbers[s] for s in symbols]]
    for k, (anion, j) in enumerate(zip(anions, nearest)):
        former = formers[j]
        if distances[k, j] < BOND_FACTOR * (radius[anion] + radius[former]):
            positions[anion, 2] = positions[former, 2] - vectors[k, j, 2]  # vectors: anion -> former
    return positions


# --- interface energy ----------------------------------------------------------------------------------

def interface_energy(stack: Stack, calculator, fmax_eV_A: float = 0.05, steps: int = 300) -> dict:
    """γ = (E_stack − E_A − E_B,strained) / (2·area) in J/m², with A's bulk, B's strained bulk and the stack
    each relaxed (positions and the cell's z length; x and y stay A's) by FIRE until the largest force (and
    z stress, as FrechetCellFilter scales it) is below `fmax_eV_A` or `steps` steps have passed.

    Every relaxation reports whether it converged, its steps and its final largest force; `converged` is
    False when any did not, and γ is then an estimate from unrelaxed structures, said so rather than hidden.
    `calculator` may be a list (a committee's members): each relaxes all three, and γ is their mean with
    their spread (std, ddof=1) as the potential's uncertainty; `members` holds each one's result.

    The result is JSON-ready except `relaxed_stack` (a `Stack`, the first calculator's relaxed stack, the
    start of the MD that follows): pop it before writing. Raises `InterfaceFailed` naming the relaxation
    that failed."""
    if not fmax_eV_A > 0 or steps < 0:
        raise ValueError(f"interface_energy: fmax_eV_A must be > 0 and steps >= 0, got {fmax_eV_A}, {steps}")
    calculators = list(calculator) if isinstance(calculator, Sequence) else [calculator]
    if not calculators:
        raise ValueError("interface_energy: no calculator given")
    results = [_interface_energy(stack, calc, fmax_eV_A, steps) for calc in calculators]
    if len(results) == 1:
        return results[0]
    gammas = [r["gamma_J_m2"] for r in results]
    relaxed = results[0]["relaxed_stack"]
    members = [{k: v for k, v in r.items() if k != "relaxed_stack"} for r in results]
    return {"gamma_J_m2": float(np.mean(gammas)), "gamma_std_J_m2": float(np.std(gammas, ddof=1)),
            "converged": all(r["converged"] for r in results), "area_A2": stack.area_A2,
            "lateral_strain_B": list(stack.lateral_strain_b), "fmax_eV_A": fmax_eV_A, "max_steps": steps,
            "members": members, "relaxed_stack": relaxed,
            "uncertainty": f"spread over {len(results)} calculators, each relaxing the stack and both bulks"}


def _interface_energy(stack: Stack, calculator, fmax_eV_A: float, steps: int) -> dict:
    relaxed_atoms = stack.atoms.copy()
    relaxations = {"stack": _relax(relaxed_atoms, calculator, fmax_eV_A, steps, "stack"),
                   "bulk_A": _relax(stack.bulk_a.copy(), calculator, fmax_eV_A, steps, "bulk A"),
                   "bulk_B_strained": _relax(stack.bulk_b.copy(), calculator, fmax_eV_A, steps, "strained bulk B")}
    energies = {name: r["energy_eV"] for name, r in relaxations.items()}
    excess = energies["stack"] - energies["bulk_A"] - energies["bulk_B_strained"]
    return {"gamma_J_m2": excess / (2 * stack.area_A2) * EV_PER_A2_TO_J_PER_M2, "excess_energy_eV": excess,
            "energies_eV": energies, "converged": all(r["converged"] for r in relaxations.values()),
            "relaxations": relaxations, "area_A2": stack.area_A2, "lateral_strain_B": list(stack.lateral_strain_b),
            "fmax_eV_A": fmax_eV_A, "max_steps": steps, "relaxed_stack": stack.with_atoms(relaxed_atoms)}


def _relax(atoms: Atoms, calculator, fmax_eV_A: float, steps: int, name: str) -> dict:
    """Positions and the cell's z length, in place; the record of how it went."""
    record = relax(atoms, calculator, fmax_eV_A, steps, name, InterfaceFailed, mask=Z_ONLY)
    return {**record, "cell_z_A": float(atoms.cell.lengths()[2])}


# --- Li diffusivity by region ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RegionMSD:
    """Li MSD per region, each Li assigned at the start of each time window (see `region_msd`)."""

    time_ps: np.ndarray  # lag times (n_lags,)
    msd_A2: dict[str, np.ndarray]  # region -> MSD over every (origin, Li starting there) pair, (n_lags,)
    group_msd_A2: dict[str, np.ndarray]  # region -> the same per Li group (groups, n_lags): D's error bar
    li_count: dict[str, np.ndarray]  # region -> Li in the region per time origin, averaged (n_lags,)
    all_msd_A2: np.ndarray  # every Li (md_analysis.msd_by_group with one group), (n_lags,)
    n_li: int
    width_A: float
    dim: int  # 3, or 2 for the lateral (x, y) MSD

    def weighted_sum(self) -> np.ndarray:
        """Σ_region (Li count × region MSD) / all Li: equals `all_msd_A2` at every lag (no Li is lost)."""
        return sum(self.li_count[r] * np.nan_to_num(self.msd_A2[r]) for r in REGIONS) / self.n_li


def region_msd(frames: Frames, stack: Stack, width_A: float, dt_ps: float | None = None, groups: int = 4,
               lateral: bool = False) -> RegionMSD:
    """Li MSD(t) resolved into the interface region (distance to the nearest interface plane, periodic in z,
    below `width_A`) and the bulk of A and of B (by slab).

    `frames` are the stack's unwrapped positions (`glass_structure.Frames`, atoms in the stack's order;
    `dt_ps` defaults to its own); the cell's centre-of-mass drift is removed first (on a copy), as
    `md_analysis.transport_at` does. Each Li is assigned at the start of each time window, not once at t0:
    the MSD averages over every time origin (as `md_analysis.msd_by_group`), so each window counts its
    ions where they are when it begins; with a t0 assignment an ion that left the interface early would
    still count as interface in every later window. Every (origin, Li) pair then falls in exactly one
    region, so the Li-count-weighted sum of the region MSDs is the all-Li MSD at every lag
    (`RegionMSD.weighted_sum`). A region's D is that of ions *starting* there: once √MSD exceeds
    `width_A` they sample the neighbouring region too, so choose the width against the fitted window, or
    `lateral` (x and y only, dim 2) for the motion along the interface. Li are dealt round-robin into
    `groups` (as msd_by_group) whose per-region spread is the error bar of D."""
    if not width_A > 0:
        raise ValueError(f"region_msd: width_A must be > 0 Å, got {width_A}")
    x = np.asarray(frames.positions, dtype=float)
    if x.ndim != 3 or x.shape[1] != len(stack.atoms):
        raise ValueError(f"region_msd: frames hold {x.shape[1:2]} atoms, the stack {len(stack.atoms)}")
    if abs(float(frames.box_A[2]) - stack.length_z_A) > 1e-3 * stack.length_z_A:
        raise ValueError(f"region_msd: the frames' cell z ({float(frames.box_A[2]):.3f} Å) is not the stack's "
                         f"({stack.length_z_A:.3f} Å): pass the stack the MD ran on")
    dt_ps = frames.dt_ps if dt_ps is None else dt_ps
    masses = atomic_masses[[atomic_numbers[s] for s in frames.symbols]]
    x = x - frames.centre_of_mass_drift(masses)
    li = x[:, frames.symbols == "Li"]
    n_li = li.shape[1]
    labels = stack.regions(li[..., 2], width_A)  # (n_frames, n_li): each Li's region at each time origin
    if lateral:
        li = li.copy()
        li[..., 2] = 0.0
    time_ps, all_curve = md_analysis.msd_by_group(li, dt_ps, groups=1)
    lags = np.rint(time_ps / dt_ps).astype(int)
    group_of = np.arange(n_li) % groups
    shape = (len(REGIONS), len(lags))
    pooled, count = np.full(shape, np.nan), np.zeros(shape)
    per_group = np.full((len(REGIONS), groups, len(lags)), np.nan)
    for k, lag in enumerate(lags):
        squared = ((li[lag:] - li[:-lag]) ** 2).sum(-1)  # (origins, n_li)
        start = labels[:-lag]
        for r in range(len(REGIONS)):
            inside = start == r
            n = inside.sum()
            count[r, k] = n / len(start)
            if n:
                pooled[r, k] = squared[inside].sum() / n
            for g in range(groups):
                mine = inside & (group_of == g)
                if mine.any():
                    per_group[r, g, k] = squared[mine].sum() / mine.sum()
    return RegionMSD(time_ps, dict(zip(REGIONS, pooled)), dict(zip(REGIONS, per_group)), dict(zip(REGIONS, count)),
                     all_curve[0], n_li, float(width_A), 2 if lateral else 3)


def region_diffusivities(msd: RegionMSD) -> dict:
    """D per region (cm²/s, with md_analysis.diffusivity's error bar from the spread over Li groups) and the
    ratios D_interface / D_bulk_A and D_interface / D_bulk_B with their propagated uncertainty
    (relative errors added in quadrature). A region without a D says why (no Li there, too few for every
    group, or no diffusive regime). JSON-ready."""
    regions: dict[str, dict] = {}
    for r in REGIONS:
        curves = msd.group_msd_A2[r]
        mean_li = float(msd.li_count[r].mean())
        entry: dict = {"mean_li": mean_li}
        usable = curves[np.isfinite(curves).all(axis=1)]  # groups with Li in the region at every lag
        if len(usable) < 2:
            entry["skipped"] = f"{len(usable)} Li group(s) with Li in the {r} region at every lag (need 2)"
        else:
            try:
                d = md_analysis.diffusivity(msd.time_ps, usable, dim=msd.dim)
            except md_analysis.NoDiffusiveRegime as exc:
                entry["skipped"] = str(exc)
            else:
                entry.update(d_cm2_s=d.value_cm2_s, d_std_cm2_s=d.std_cm2_s, window_ps=list(d.window_ps),
                             loglog_slope=d.loglog_slope, groups=len(usable))
        regions[r] = entry
    ratios = {}
    interface = regions["interface"]
    for bulk in ("bulk_A", "bulk_B"):
        other = regions[bulk]
        if "d_cm2_s" in interface and "d_cm2_s" in other and interface["d_cm2_s"] > 0 and other["d_cm2_s"] > 0:
            ratio = interface["d_cm2_s"] / other["d_cm2_s"]
            relative = math.hypot(interface["d_std_cm2_s"] / interface["d_cm2_s"],
                                  other["d_std_cm2_s"] / other["d_cm2_s"])
            ratios[f"interface/{bulk}"] = {"value": ratio, "std": ratio * relative}
        else:
            ratios[f"interface/{bulk}"] = None
    return {"regions": regions, "ratios": ratios, "width_A": msd.width_A, "dim": msd.dim, "n_li": msd.n_li,
            "assignment": "each Li by its region at the start of each time window"}
