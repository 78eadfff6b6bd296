"""The glasses a generator learns from: melt-quenched by the LAMMPS oracle's own potential and protocol.

Each glass is one composition, one quench rate and one seed: a random cell at the oracle's starting
density, melted and quenched with the LAMMPS oracle's commands (`lammps_glass.melt_commands`,
`quench_commands`) down to 300 K, relaxed at zero pressure (NPT), then a few snapshots of NVT at that
volume, a few picoseconds apart. Every snapshot is an extended XYZ file whose info line says what it is
(composition, quench rate, seed, snapshot, potential, LAMMPS version, density, energy per atom), so the
generator's card can list its glasses and a user can open them in OVITO. A glass already on disk is
not simulated again, so a killed build resumes where it stopped.

Why LAMMPS: classical MD is cheap enough here (about a minute for a 150-atom glass at 50 K/ps on one
core) to give a generator hundreds of training cells, which the machine-learned potentials cannot.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms
from ase.io import read

from amala.core.atomic_files import write_atoms
from amala.core.composition import parse_composition
from amala.oracles.md import lammps_engine, lammps_glass, pedone
from amala.oracles.md.cells import START_DENSITY_G_CM3, build
from amala.oracles.md.protocol import SimulationFailed
from amala.oracles.md.structure import density

FINAL_K = 300.0


@dataclass(frozen=True)
class GlassRecipe:
    """One training glass: what to melt-quench and how."""

    composition: str
    quench_K_per_ps: float
    seed: int
    n_atoms: int = 150
    snapshots: int = 3
    snapshot_every_ps: float = 2.0
    profile: str = "quick"  # the LAMMPS profile whose melt (temperature, time) and timestep are used

    @property
    def stem(self) -> str:
        fractions = parse_composition(self.composition)
        name = "-".join(f"{100 * x:.4g}{part}" for part, x in sorted(fractions.items()))  # 33.33Li2O-66.67SiO2
        return f"{name}-q{self.quench_K_per_ps:g}-s{self.seed}"


def snapshot_paths(folder: Path, recipe: GlassRecipe) -> list[Path]:
    return [folder / f"{recipe.stem}-f{k}.extxyz" for k in range(recipe.snapshots)]


def melt_quench(recipe: GlassRecipe, folder: Path, density_g_cm3: float = START_DENSITY_G_CM3) -> list[Path]:
    """Simulate one training glass (or find it on disk); returns its snapshot files.

    Raises `SimulationFailed` with the reason (a melt that boiled, a blown-up temperature)."""
    paths = snapshot_paths(folder, recipe)
    if all(p.is_file() for p in paths):
        return paths
    started = time.monotonic()
    base = lammps_glass.PROFILES[recipe.profile]
    profile = dataclasses.replace(base, quench_K_per_ps=recipe.quench_K_per_ps, temperatures_K=(FINAL_K,),
                                  equilibrate_ps=5.0, timeout_s=6 * 3600)
    cell = build(parse_composition(recipe.composition), density_g_cm3, recipe.n_atoms, seed=recipe.seed).atoms
    workdir = folder / "work" / recipe.stem
    lmp, elements = lammps_engine.open_cell(cell, workdir)
    try:
        lmp.commands_list(lammps_glass.melt_commands(profile, recipe.seed))
        lmp.commands_list(lammps_glass.quench_commands(profile))
        lmp.commands_list(lammps_glass.equilibrate_commands(profile, FINAL_K))
        volume = float(lmp.extract_fix("vavg", 0, 0))
        lmp.commands_list(lammps_glass.production_commands(profile, FINAL_K, volume))
        version, n = str(lmp.version()), lmp.get_natoms()
        for k, path in enumerate(paths):
            lmp.command(f"run {profile.steps(recipe.snapshot_every_ps)}")
            lammps_glass.check_thermo(lmp, FINAL_K, f"snapshot {k} at {FINAL_K:g} K")
            energy = lmp.get_thermo("pe") / n
            atoms = lammps_engine.read_cell(lmp, elements)
            atoms.info.update({"composition": cell.info["composition"], "quench_K_per_ps": recipe.quench_K_per_ps,
                               "seed": recipe.seed, "snapshot": k, "temperature_K": FINAL_K,
                               "energy_eV_atom": round(energy, 6), "potential": pedone.CITATION,
                               "lammps_version": version, "melt_K": profile.melt_K, "melt_ps": profile.melt_ps,
                               "density_g_cm3": round(density(atoms), 4),
                               "seconds": round(time.monotonic() - started, 1)})
            write_atoms(path, atoms)
    except SimulationFailed:
        raise
    except Exception as exc:
        raise SimulationFailed(f"LAMMPS stopped: {str(exc).splitlines()[0]}") from None
    finally:
        lmp.close()
    return paths


def campaign_glasses(folders: list[str | Path]) -> list[Atoms]:
    """The final glasses an MD oracle wrote under campaigns' work folders (`**/glass.extxyz`), as training
    glasses: the campaign's own oracle made them, so a generator trained on them makes its kind of glass.
    The quench rate is the profile's (named in each file's info line); the source file is kept in the
    info line. A file without a composition or a known profile is named in the error."""
    from amala.oracles.md import ase_engine

    out = []
    for folder in folders:
        for path in sorted(Path(folder).glob("**/glass.extxyz")):
            atoms = read(path)
            profile = str(atoms.info.get("profile", ""))
            engine = lammps_glass.PROFILES if "lammps_version" in atoms.info and str(
                atoms.info["lammps_version"]).isdigit() else ase_engine.PROFILES
            if "composition" not in atoms.info or profile not in engine:
                raise ValueError(f"{path}: not an MD oracle's glass (composition {atoms.info.get('composition')!r}, "
                                 f"profile {profile!r})")
            atoms.info.update({"quench_K_per_ps": engine[profile].quench_K_per_ps, "source_file": str(path)})
            out.append(atoms)
    return out


def read_glasses(paths: list[Path]) -> list[Atoms]:
    """Training snapshots back from their files; a file that is not a glass snapshot is named."""
    out = []
    for path in paths:
        atoms = read(path)
        missing = [k for k in ("composition", "quench_K_per_ps") if k not in atoms.info]
        if missing:
            raise ValueError(f"{path}: not a training glass (no {', '.join(missing)} in its info line)")
        out.append(atoms)
    return out
