"""How a glass is built, in numbers that two glasses can be compared by: one module for every glass.

A melt-quenched glass and a generated one (`oracles/generator`) are judged by the same measures, so a
difference between them is a difference of structure, not of bookkeeping:

- partial radial distribution functions g_ab(r) (periodic images through matscipy's neighbour list,
  so any r_max works in a small cell);
- coordination numbers of each network former and of Li by the anions, within the bond cutoffs below;
- bond-angle distributions: anion-former-anion (the tetrahedra: O-Si-O near 109.5°) and
  former-anion-former (how tetrahedra link: Si-O-Si, broad around 145° in silica);
- ring statistics of the former-anion network (Franzblau's shortest-path rings, matscipy), counted by
  the number of formers in the ring;
- density, and the energy per atom when the caller has one.

Distances between two glasses: the R-factor of Wright (J. Non-Cryst. Solids 159, 264 (1993)) between
partial RDFs, the Jensen-Shannon divergence (base 2, 0 to 1) between angle and ring distributions, and
the difference of coordination numbers. `spread` turns several replicas of one composition into the
scale a generated glass is judged against: the largest distance between any two replicas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import combinations, combinations_with_replacement

import numpy as np
from ase import Atoms
from matscipy.neighbours import neighbour_list
from matscipy.rings import ring_statistics
from scipy.spatial.distance import jensenshannon

from amala.oracles.md.structure import density

FORMERS = ("Si", "P", "B", "Al", "Ge")
ANIONS = ("O", "S", "N", "F", "Cl", "Br", "I")
# bond cutoffs (Å): past the first peak of each pair's RDF, before the second shell, in oxide and
# sulfide glasses (Si-O 1.62 Å, P-O 1.55, B-O 1.37/1.47, Al-O 1.76, Li-O ~2.0, P-S 2.05, Li-S ~2.5)
BOND_CUTOFF_A = {("Si", "O"): 2.0, ("P", "O"): 2.0, ("B", "O"): 1.9, ("Al", "O"): 2.3, ("Ge", "O"): 2.2,
                 ("Li", "O"): 2.6, ("P", "S"): 2.6, ("Li", "S"): 3.0, ("P", "N"): 2.0, ("Li", "N"): 2.6,
                 ("Li", "F"): 2.4, ("Li", "Cl"): 3.0, ("Li", "Br"): 3.2, ("Li", "I"): 3.4, ("Si", "N"): 2.1}
RDF_MAX_A, RDF_BINS, ANGLE_BINS, MAX_RING = 6.0, 120, 90, 12


def bond_cutoff(a: str, b: str) -> float | None:
    return BOND_CUTOFF_A.get((a, b)) or BOND_CUTOFF_A.get((b, a))


@dataclass
class GlassMetrics:
    """The measures of one glass; arrays as lists so that it writes to JSON as it is."""

    n_atoms: int
    density_g_cm3: float
    r_A: list[float]
    rdf: dict[str, list[float]]  # "Si-O" -> g(r) on r_A
    coordination: dict[str, float]  # "Si-O": mean number of O within the cutoff of a Si
    coordination_histogram: dict[str, dict[str, float]]  # "Si-O" -> {"4": 0.97, "5": 0.03}
    angle_deg: list[float]  # bin centres
    angles: dict[str, list[float]]  # "O-Si-O" -> probability per bin
    rings: dict[str, float] = field(default_factory=dict)  # formers in the ring -> rings per former
    energy_eV_atom: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GlassMetrics:
        return cls(**data)


def measure(atoms: Atoms, energy_eV_atom: float | None = None, rings: bool = True) -> GlassMetrics:
    """All measures of one periodic cell (a glass's final frame, generated or melt-quenched)."""
    symbols = np.array(atoms.get_chemical_symbols())
    present = sorted(set(symbols))
    volume = atoms.get_volume()
    i, j, d = neighbour_list("ijd", atoms, RDF_MAX_A)
    edges = np.linspace(0.0, RDF_MAX_A, RDF_BINS + 1)
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    rdf = {}
    for a, b in combinations_with_replacement(present, 2):
        pair = (symbols[i] == a) & (symbols[j] == b)
        counts, _ = np.histogram(d[pair], bins=edges)
        n_a, n_b = int((symbols == a).sum()), int((symbols == b).sum())
        partners = n_b - 1 if a == b else n_b
        if partners > 0:
            rdf[f"{a}-{b}"] = (counts / (n_a * partners / volume * shell)).round(5).tolist()
    coordination, histogram = {}, {}
    for a in present:
        for b in present:
            cutoff = bond_cutoff(a, b)
            if cutoff is None or a in ANIONS or b not in ANIONS:
                continue
            centres = np.flatnonzero(symbols == a)
            bonded = (symbols[i] == a) & (symbols[j] == b) & (d < cutoff)
            per_centre = np.bincount(i[bonded], minlength=len(atoms))[centres]
            coordination[f"{a}-{b}"] = round(float(per_centre.mean()), 4)
            values, counts = np.unique(per_centre, return_counts=True)
            histogram[f"{a}-{b}"] = {str(int(v)): round(float(c / len(centres)), 4) for v, c in zip(values, counts)}
    angle_edges = np.linspace(0.0, 180.0, ANGLE_BINS + 1)
    angles = {}
    for name, distribution in _angles(atoms, symbols, present).items():
        counts, _ = np.histogram(distribution, bins=angle_edges)
        if counts.sum():
            angles[name] = (counts / counts.sum()).round(5).tolist()
    return GlassMetrics(len(atoms), round(density(atoms), 4), r.round(4).tolist(), rdf, coordination, histogram,
                        (0.5 * (angle_edges[1:] + angle_edges[:-1])).tolist(), angles,
                        _rings(atoms, symbols, present) if rings else {}, energy_eV_atom)


def _angles(atoms: Atoms, symbols: np.ndarray, present: list[str]) -> dict[str, np.ndarray]:
    """anion-former-anion and former-anion-former angles between bonded pairs, in degrees."""
    cutoffs = {(a, b): bond_cutoff(a, b) for a in present for b in present if bond_cutoff(a, b)}
    if not cutoffs:
        return {}
    i, j, d, D = neighbour_list("ijdD", atoms, max(cutoffs.values()))
    index = {s: k for k, s in enumerate(present)}
    table = np.zeros((len(present), len(present)))
    for (a, b), cutoff in cutoffs.items():
        table[index[a], index[b]] = cutoff
    kinds = np.array([index[s] for s in symbols])
    keep = d < table[kinds[i], kinds[j]]
    i, j, D = i[keep], j[keep], D[keep]
    found: dict[str, list[float]] = {}
    starts = np.searchsorted(i, np.arange(len(atoms) + 1))  # matscipy sorts by i
    for centre in range(len(atoms)):
        lo, hi = starts[centre], starts[centre + 1]
        c = symbols[centre]
        if c not in FORMERS and c not in ANIONS:
            continue
        for k, m in combinations(range(lo, hi), 2):
            a, b = symbols[j[k]], symbols[j[m]]
            # a former's angles between its anions; an anion's angles between the formers it bridges
            if (c in FORMERS and a in ANIONS and b in ANIONS) or (c in ANIONS and a in FORMERS and b in FORMERS):
                u, v = D[k], D[m]
                cos = float(u @ v / np.sqrt((u @ u) * (v @ v)))
                found.setdefault(f"{min(a, b)}-{c}-{max(a, b)}", []).append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return {name: np.asarray(v) for name, v in found.items()}


def _rings(atoms: Atoms, symbols: np.ndarray, present: list[str]) -> dict[str, float]:
    """Shortest-path rings of the former-anion network, by formers per ring, per former atom.

    Only formers and the anions bonded to them enter: Li and the modifiers' bonds are not network. A
    single cutoff serves matscipy, so it is the largest former-anion cutoff present; it stays below
    every anion-anion and former-former distance of these glasses (O-O 2.6 Å, Si-Si 3.1 Å)."""
    formers = [s for s in present if s in FORMERS]
    cutoffs = [bond_cutoff(f, a) for f in formers for a in present if a in ANIONS and bond_cutoff(f, a)]
    if not formers or not cutoffs:
        return {}
    network = atoms[[k for k, s in enumerate(symbols) if s in FORMERS or s in ANIONS]]
    counts = ring_statistics(network, max(cutoffs), maxlength=2 * MAX_RING)
    n_formers = sum(int((symbols == f).sum()) for f in formers)
    # a former-anion ring alternates, so a ring of length 2n holds n formers
    return {str(length // 2): round(float(c) / n_formers, 5)
            for length, c in enumerate(counts) if c and length % 2 == 0}


# --- distances between glasses ---------------------------------------------------------------------

def rdf_r_factor(reference: list[float], other: list[float]) -> float:
    """Wright's R-factor: sqrt(Σ(g_ref - g)^2 / Σ g_ref^2); 0 for identical curves."""
    g0, g1 = np.asarray(reference), np.asarray(other)
    norm = float((g0 ** 2).sum())
    return float(np.sqrt(((g0 - g1) ** 2).sum() / norm)) if norm else float("nan")


def js_divergence(p: dict | list, q: dict | list) -> float:
    """Jensen-Shannon divergence (base 2: 0 identical, 1 disjoint) of two distributions over the same bins."""
    if isinstance(p, dict):
        keys = sorted(set(p) | set(q), key=lambda k: (len(k), k))
        p, q = [p.get(k, 0.0) for k in keys], [q.get(k, 0.0) for k in keys]
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    return float(jensenshannon(p, q, base=2) ** 2)


def distance(reference: GlassMetrics, other: GlassMetrics) -> dict[str, float]:
    """Every measure's distance from `reference` to `other`, by name ("rdf Si-O", "angles O-Si-O", "cn Si-O",
    "rings", "density", "energy"); a measure only one glass has is left out."""
    out = {}
    for pair in sorted(set(reference.rdf) & set(other.rdf)):
        out[f"rdf {pair}"] = rdf_r_factor(reference.rdf[pair], other.rdf[pair])
    for name in sorted(set(reference.angles) & set(other.angles)):
        out[f"angles {name}"] = js_divergence(reference.angles[name], other.angles[name])
    for pair in sorted(set(reference.coordination) & set(other.coordination)):
        out[f"cn {pair}"] = abs(reference.coordination[pair] - other.coordination[pair])
    if reference.rings and other.rings:
        out["rings"] = js_divergence(reference.rings, other.rings)
    out["density"] = abs(reference.density_g_cm3 - other.density_g_cm3)
    if reference.energy_eV_atom is not None and other.energy_eV_atom is not None:
        out["energy"] = abs(reference.energy_eV_atom - other.energy_eV_atom)
    return out


def spread(replicas: list[GlassMetrics]) -> dict[str, float]:
    """The largest distance between any two replicas, measure by measure: how different two honest
    melt-quenches of one composition are, the yardstick of a generated glass."""
    if len(replicas) < 2:
        raise ValueError(f"the spread needs at least 2 replicas, got {len(replicas)}")
    out: dict[str, float] = {}
    for a, b in combinations(replicas, 2):
        for name, value in distance(a, b).items():
            out[name] = max(out.get(name, 0.0), value)
    return out


def mean_distance(replicas: list[GlassMetrics], other: GlassMetrics) -> dict[str, float]:
    """`other`'s mean distance to each replica, measure by measure (compare with `spread`)."""
    rows = [distance(r, other) for r in replicas]
    return {name: float(np.mean([row[name] for row in rows if name in row])) for name in rows[0]}
