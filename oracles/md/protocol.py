"""The melt-quench-diffuse protocol, engine-neutral: the profile, the result, the temperature series, the failure.

Two engines run the protocol: LAMMPS with the Pedone potential (`lammps_glass`) and any ASE calculator, the
machine-learned potentials among them (`ase_engine`). Both take their numbers from the one profile table
here, collect each temperature's results through `Series`, return the same `GlassResult` and end every
failed run in `SimulationFailed`, so D, σ and Ea mean the same whichever engine computed them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from amala.oracles.md import analysis as md_analysis
from amala.oracles.md import structure as glass_structure

MIN_TEMPERATURES = md_analysis.MIN_TEMPERATURES  # diffusive temperatures needed for an Arrhenius fit
LAMMPS, ASE = "lammps", "ase"  # the engines: `lammps_glass`, `ase_engine`


class SimulationFailed(RuntimeError):
    """A run that produced no trustworthy number; the message is the stored reason."""


@dataclass(frozen=True)
class MDProfile:
    name: str
    n_atoms: int
    timestep_fs: float
    melt_K: float
    melt_ps: float
    quench_K_per_ps: float
    temperatures_K: tuple[float, ...]  # production, below the simulated glass transition
    equilibrate_ps: float  # NPT at each temperature before production (its second half sets the volume)
    production_ps: float  # NVT, sampled every `sample_every_fs`
    sample_every_fs: float = 50.0
    li_groups: int = 4  # independent Li subsets for the error bar of D
    max_pressure_GPa: float = 20.0  # beyond this in the melt, the starting density is unphysical
    timeout_s: float = 3600.0
    npt_below_K: float = 2000.0  # the quench runs at constant volume above this, at zero pressure below
    min_density_g_cm3: float = 1.0  # below this the cell has vaporised, not formed a glass
    caveat: str = ""  # what a reader must know before trusting this profile's numbers (shown in reports)

    def steps(self, ps: float) -> int:
        return max(1, int(round(ps * 1000 / self.timestep_fs)))


# --- the profiles ----------------------------------------------------------------------------------

QUICK_CAVEAT_LAMMPS = ("quick MD profile: ~150-atom cells, 40 ps at 900-1300 K, far above room temperature. Its Ea "
                       "comes out far too low and σ(300 K), a long Arrhenius extrapolation, orders of magnitude too "
                       "high: it exercises the loop and ranks glasses only roughly. Use the standard profile for "
                       "numbers.")
STANDARD_CAVEAT_LAMMPS = ("standard MD profile (Pedone 2006 potential, 700-1000 K): on Li2O·2SiO2 it gives Ea ≈ 0.30 "
                          "eV, about half of what is measured on lithium silicate glasses (≈ 0.6-0.8 eV, "
                          "oxide-glass MD benchmark), so σ(300 K) is over-estimated; trust σ(T) at the simulated "
                          "temperatures, and the ranking, more than the extrapolation to 300 K.")
LONG_CAVEAT_LAMMPS = ("long MD profile (Pedone 2006 potential): 600 atoms, 600 ps per temperature at 500-650 K, below "
                      "the glass transition where Li hops through a frozen network; about 1.3 h per glass on one core. "
                      "On Li2O·2SiO2 it still gives Ea ≈ 0.28 eV, as the standard profile does: the low Ea comes from "
                      "the potential and the fast quench, not from the temperature range (oxide-glass MD benchmark).")
QUICK_CAVEAT_ASE = ("quick MLIP profile: ~128 atoms, 10 ps per temperature at 700-1000 K, above the glass transition "
                    "of thiophosphate glasses; σ(300 K) is a long Arrhenius extrapolation. It exercises the student "
                    "and ranks glasses roughly.")
STANDARD_CAVEAT_ASE = ("standard MLIP profile: ~200 atoms, 30 ps per temperature at 500-800 K; cell and time scales "
                       "are still far below experiment's, and the numbers are at the teacher's level of theory at "
                       "best.")

# profile name -> engine -> its profile. A name means the same use on every engine (quick: tests and demos,
# standard: overnight numbers), but no numbers are shared: LAMMPS runs Pedone oxide glasses, which melt at
# 3000-3500 K and need hundreds of atoms; the ASE engine runs machine-learned potentials, mostly on
# thiophosphate glasses, which melt at 1200-1500 K and cost far more per step. A name an engine does not
# run ("long" in ASE, "test" in LAMMPS) has no entry for it.
#
# ASE: 1 fs, because the fastest motions of these glasses (Si-O ~33 fs, P-S ~80 fs per period, Li rattling)
# get >= 30 steps per period, which keeps a freshly trained student's rougher surface stable; 2 fs would do
# for sulfides alone, not for oxides.
PROFILES: dict[str, dict[str, MDProfile]] = {
    "quick": {
        # ~150 atoms, ~170 ps in all (~60 s on one core); rough numbers, same pipeline. 40 ps per temperature is
        # what three compositions (x Li2O, x = 0.2, 0.33, 0.5) needed to be diffusive at all three temperatures;
        # 800 K was too cold to see hops in that time (docs/benchmarks/oxide-glass-md.md).
        LAMMPS: MDProfile("quick", 150, 1.0, 3000.0, 5.0, 50.0, (900.0, 1100.0, 1300.0), 5.0, 40.0, timeout_s=900,
                          caveat=QUICK_CAVEAT_LAMMPS),
        # a-Li3PS4-sized cells with a student (~40 ms per step on one core): ~50k steps, about half an hour.
        # 10 ps per temperature: Li in a sulfide melt at 700 K moves a few Å² in that time, enough for a linear MSD.
        ASE: MDProfile("quick", 128, 1.0, 1500.0, 5.0, 100.0, (700.0, 850.0, 1000.0), 3.0, 10.0,
                       sample_every_fs=20.0, timeout_s=4 * 3600, npt_below_K=1200.0, caveat=QUICK_CAVEAT_ASE),
    },
    "standard": {
        # overnight use: >= 500 atoms, 100 ps of production per temperature (~20 min on one core)
        LAMMPS: MDProfile("standard", 600, 1.0, 3500.0, 20.0, 10.0, (700.0, 800.0, 900.0, 1000.0), 20.0, 100.0,
                          timeout_s=48 * 3600, caveat=STANDARD_CAVEAT_LAMMPS),
        # ~200 atoms, a slower quench and 30 ps at four temperatures down to 500 K, ~170k steps
        # (~2-3 h a glass on one core with a compiled student; minutes on a GPU)
        ASE: MDProfile("standard", 200, 1.0, 1500.0, 10.0, 50.0, (500.0, 600.0, 700.0, 800.0), 5.0, 30.0,
                       sample_every_fs=20.0, timeout_s=12 * 3600, npt_below_K=1200.0, caveat=STANDARD_CAVEAT_ASE),
    },
    "long": {
        # validation and careful overnight use: the Arrhenius range moved below the glass transition
        # (experimental Tg of Li2O·2SiO2 ≈ 730 K), six times longer runs so that Li still hops at 500 K
        LAMMPS: MDProfile("long", 600, 1.0, 3500.0, 20.0, 10.0, (500.0, 550.0, 600.0, 650.0), 20.0, 600.0,
                          sample_every_fs=100.0, timeout_s=72 * 3600, caveat=LONG_CAVEAT_LAMMPS),
    },
    "test": {
        # plumbing only: every stage runs (~290 steps), no diffusion is expected. A tiny uncompiled committee of
        # two costs 0.1-0.5 s a step here (more under load), so the tests that run it stay around a minute.
        ASE: MDProfile("test", 48, 1.0, 1200.0, 0.02, 10_000.0, (600.0, 700.0, 800.0), 0.02, 0.05,
                       sample_every_fs=5.0, timeout_s=300, npt_below_K=1000.0, caveat="test profile: plumbing only"),
    },
}


def engine_profiles(engine: str) -> dict[str, MDProfile]:
    """One engine's profiles by name, in the table's order: the names of `PROFILES` it runs."""
    return {name: by_engine[engine] for name, by_engine in PROFILES.items() if engine in by_engine}


# --- the result ------------------------------------------------------------------------------------

@dataclass
class GlassResult:
    diffusivities: dict[float, md_analysis.Diffusivity]
    conductivities_S_cm: dict[float, tuple[float, float]]  # T -> (sigma, std)
    arrhenius: md_analysis.ArrheniusFit
    energy_eV_per_atom: tuple[float, float]  # mean, std over the lowest-temperature production
    density_g_cm3: dict[float, float]  # NPT-equilibrated, per production temperature
    network_msd_A2: dict[float, float]  # network formers' MSD at the longest lag: small = frozen network
    lammps_version: str
    files: dict[str, Path] = field(default_factory=dict)  # log, glass, rdf, trajectory_<T>K (extxyz.gz)
    skipped_K: dict[float, str] = field(default_factory=dict)  # temperature -> why it gave no D


def file_metadata(atoms: Atoms, profile: MDProfile, seed: int, potential: str) -> dict:
    """What every written structure says about itself: composition, profile, potential and seeds.

    The composition is the one the starting cell was built with (`glass_cell.build` records it);
    a cell from elsewhere is described by its chemical formula."""
    cell_info = {k: v for k, v in atoms.info.items()
                 if k in ("requested_composition", "formula_units", "density_g_cm3", "seed")}
    meta = {"composition": atoms.info.get("composition") or atoms.get_chemical_formula(),
            "profile": profile.name, "potential": potential, "seed": seed}
    if "seed" in cell_info:
        meta["cell_seed"] = cell_info.pop("seed")
    if "density_g_cm3" in cell_info:
        meta["start_density_g_cm3"] = cell_info.pop("density_g_cm3")
    return {**meta, **cell_info}


@dataclass
class Series:
    """The per-temperature results of one run as they accumulate, hottest first, and what a checkpoint keeps
    of them. Engine-independent: both engines collect, save, restore and finish their runs through it, so
    both give the same `GlassResult` and the same checkpoint entries."""

    diffusivities: dict[float, md_analysis.Diffusivity] = field(default_factory=dict)
    sigmas: dict[float, tuple[float, float]] = field(default_factory=dict)  # T -> (σ, std), S/cm
    densities: dict[float, float] = field(default_factory=dict)  # g/cm³
    network_msd: dict[float, float] = field(default_factory=dict)  # Å²
    skipped: dict[float, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def add(self, result: md_analysis.TemperatureResult, density_g_cm3: float, frames: glass_structure.Frames,
            workdir: Path, meta: dict) -> None:
        """Keep one temperature's numbers and write its Li trajectory (extxyz.gz, with the run's metadata)."""
        T = result.temperature_K
        self.densities[T] = density_g_cm3
        if result.network_msd_A2 is not None:
            self.network_msd[T] = result.network_msd_A2
        self.files[f"trajectory_{T:g}K"] = glass_structure.write_trajectory(
            frames, Path(workdir) / f"li_{T:g}K.extxyz.gz", "Li", {**meta, "temperature_K": T})
        if result.diffusivity is None:
            self.skipped[T] = result.skipped
        else:
            self.diffusivities[T] = result.diffusivity
            self.sigmas[T] = result.sigma_S_cm

    def saved(self, T: float) -> dict:
        """Temperature T as a checkpoint entry (JSON)."""
        d = self.diffusivities.get(T)
        return {"diffusivity": None if d is None else asdict(d), "sigma": self.sigmas.get(T),
                "density": self.densities[T], "network_msd": self.network_msd.get(T), "skipped": self.skipped.get(T),
                "trajectory": str(self.files[f"trajectory_{T:g}K"])}

    def restore(self, T: float, saved: dict) -> None:
        """Temperature T back from its checkpoint entry, as if it had just been simulated."""
        if saved["diffusivity"] is not None:
            d = saved["diffusivity"]
            self.diffusivities[T] = md_analysis.Diffusivity(d["value_cm2_s"], d["std_cm2_s"], tuple(d["window_ps"]),
                                                            d["loglog_slope"])
            self.sigmas[T] = tuple(saved["sigma"])
        if saved["skipped"] is not None:
            self.skipped[T] = saved["skipped"]
        self.densities[T] = saved["density"]
        if saved["network_msd"] is not None:
            self.network_msd[T] = saved["network_msd"]
        self.files[f"trajectory_{T:g}K"] = Path(saved["trajectory"])

    def result(self, energies_eV_per_atom, engine_version: str, n_temperatures: int) -> GlassResult:
        """The finished run: the Arrhenius fit, or `SimulationFailed` when too few temperatures were diffusive."""
        try:
            fit = md_analysis.fit_series(self.sigmas, self.skipped, n_temperatures)
        except md_analysis.TooFewTemperatures as exc:
            raise SimulationFailed(str(exc)) from None
        energy = (float(np.mean(energies_eV_per_atom)), float(np.std(energies_eV_per_atom)))
        return GlassResult(self.diffusivities, self.sigmas, fit, energy, self.densities, self.network_msd,
                           engine_version, self.files, self.skipped)
