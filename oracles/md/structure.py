"""What a simulated glass is made of and looks like: sampled frames, density, RDFs, the final cell.

The MD protocol hands its sampled positions here; this module turns them into the files a user
opens afterwards in other tools (ASE, OVITO, MDAnalysis): the final glass as extended XYZ with the
run's metadata in its info line, partial radial distribution functions as CSV, and the Li
trajectory as gzipped extended XYZ (species, cell, time per frame), and into the numbers the
analysis needs (centre-of-mass drift, density). RDFs come from ASE (`ase.geometry.rdf.get_rdf`,
consistent with LAMMPS `compute rdf`).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.geometry.rdf import get_rdf
from ase.io import write
from ase.units import _amu

RDF_BINS = 160
RDF_FRAMES = 10  # from the second half of the lowest-temperature production
TRAJECTORY_DECIMALS = 4  # Å; frames are sampled as float32 (~1e-5 Å at these box sizes), so more digits are noise


@dataclass
class Frames:
    positions: np.ndarray  # unwrapped, Å, (n_frames, n_atoms, 3), atoms in the starting cell's order
    symbols: np.ndarray  # (n_atoms,)
    dt_ps: float  # between frames
    box_A: np.ndarray  # orthogonal cell lengths (3,)

    def centre_of_mass_drift(self, masses: np.ndarray) -> np.ndarray:
        """Displacement of the whole cell's centre of mass from the first frame, (n_frames, 1, 3).

        Diffusion is motion relative to the glass: a drifting cell (thermostat noise, round-off)
        would otherwise add a spurious t² term to every MSD."""
        w = np.asarray(masses, dtype=float) / np.sum(masses)
        com = np.einsum("fai,a->fi", self.positions, w)
        return (com - com[0])[:, None, :]

    def atoms(self, index: int = -1) -> Atoms:
        return Atoms(list(self.symbols), positions=self.positions[index], cell=self.box_A, pbc=True).copy()

    def element_images(self, element: str, info: dict | None = None) -> list[Atoms]:
        """One `Atoms` per frame holding only `element`, unwrapped, with the frame's time in ps.

        Unwrapped positions (continuous across the periodic boundary, relative to the cell's
        centre of mass) are what an MSD is computed from, so a reader can redo the analysis."""
        chosen = self.symbols == element
        positions = np.round(self.positions[:, chosen].astype(float), TRAJECTORY_DECIMALS)
        images = []
        for k, frame in enumerate(positions):
            image = Atoms([element] * int(chosen.sum()), positions=frame, cell=self.box_A, pbc=True)
            image.info.update(info or {})
            image.info.update(time_ps=round(k * self.dt_ps, 6), coordinates="unwrapped")
            images.append(image)
        return images


def write_trajectory(frames: Frames, path: Path, element: str = "Li", info: dict | None = None) -> Path:
    """The element's trajectory as extended XYZ (gzipped when the name ends in .gz).

    A format ASE (`ase.io.read(path, index=":")`), OVITO and MDAnalysis read, unlike a private
    array file; every frame carries the species, the cell, its time and the run's metadata. gzip at
    level 6: within 10% of level 9's size at a tenth of its time (seconds per temperature)."""
    images = frames.element_images(element, info)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", compresslevel=6) as handle:
            write(handle, images, format="extxyz")
    else:
        write(path, images, format="extxyz")
    return Path(path)


def density(atoms: Atoms, volume_A3: float | None = None) -> float:
    """g/cm³ of the atoms in a cell of the given volume (default: their own cell's). The one
    definition: starting cells are checked and NPT runs measured with it."""
    volume_A3 = atoms.get_volume() if volume_A3 is None else volume_A3
    return float(atoms.get_masses().sum() * _amu * 1e3 / (volume_A3 * 1e-24))


def pairs(symbols) -> list[tuple[str, str]]:
    """Element pairs worth a partial RDF: every pair involving O, plus Li-Li (site spacing)."""
    elements = sorted(set(symbols), key=lambda e: (e == "O", e))
    chosen = [(a, b) for a, b in combinations_with_replacement(elements, 2) if "O" in (a, b)]
    return chosen + ([("Li", "Li")] if "Li" in elements else [])


def rdf(frames: Frames) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """r (Å) and g(r) (total and partials), averaged over frames of the second half of the run."""
    n = len(frames.positions)
    images = []
    for k in np.linspace(n // 2, n - 1, min(RDF_FRAMES, n - n // 2)).astype(int):
        image = frames.atoms(k)
        image.wrap()
        images.append(image)
    rmax = min(8.0, 0.49 * float(frames.box_A.min()))
    total, r = get_rdf(images, rmax, RDF_BINS)
    curves = {"total": total}
    for a, b in pairs(frames.symbols):
        curves[f"{a}-{b}"] = get_rdf(images, rmax, RDF_BINS, elements=(a, b), no_dists=True)
    return r, curves


def write_glass(frames: Frames, workdir: Path, info: dict | None = None) -> tuple[Path, Path]:
    """The final glass (extended XYZ, `info` in its comment line) and its RDFs (CSV: r_A then one
    g(r) column per pair). The info line makes the file self-describing once it leaves the run
    folder: composition, profile, temperature, potential and seed travel with the structure."""
    glass = frames.atoms(-1)
    glass.wrap()
    glass.info.update(info or {})
    glass_path, rdf_path = workdir / "glass.extxyz", workdir / "rdf.csv"
    write(glass_path, glass, format="extxyz")
    r, curves = rdf(frames)
    np.savetxt(rdf_path, np.column_stack([r, *curves.values()]), delimiter=",", fmt="%.5g",
               header=",".join(["r_A", *curves]), comments="")
    return glass_path, rdf_path
