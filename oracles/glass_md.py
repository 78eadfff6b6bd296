"""The melt-quench-diffuse protocol for one oxide-glass composition, run in LAMMPS.

minimise -> melt (NVT, at the starting density) -> quench at a set rate (NPT at zero pressure, so
the glass finds its own density) -> at each production temperature, hottest first: NPT to measure
the equilibrium volume, then NVT at that volume while the unwrapped positions of every atom are
sampled -> Li mean squared displacement over all time origins (`md_analysis.msd_by_group`) ->
D_Li(T) from the linear regime (a temperature too cold to show it is skipped with its reason;
fewer than three diffusive temperatures fail the run) -> Nernst-Einstein sigma(T) -> Arrhenius fit -> Ea and
sigma(300 K),
each with an uncertainty. The network formers' MSD at each temperature is kept as the check that
the network is frozen (production below the simulated glass transition). At the lowest
temperature the glass's radial distribution functions and energy per atom are measured. The files
(final glass, Li trajectories) carry the run's metadata, so they still say what they are when
opened alone in ASE or OVITO.

Every way a simulation can go wrong ends in `SimulationFailed` with a one-line reason, which the
oracle stores as a failed evaluation. The LAMMPS commands of each stage come from small functions
so that `benchmarks/md_overhead.py` can replay exactly the same input without Python in the loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from amala.oracles import glass_structure, lammps_engine, md_analysis, md_checkpoint, pedone

MIN_TEMPERATURES = md_analysis.MIN_TEMPERATURES  # diffusive temperatures needed for an Arrhenius fit


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


QUICK_CAVEAT = ("quick MD profile: ~150-atom cells, 40 ps at 900-1300 K, far above room temperature. Its Ea "
                "comes out far too low and σ(300 K), a long Arrhenius extrapolation, orders of magnitude too "
                "high: it exercises the loop and ranks glasses only roughly. Use the standard profile for numbers.")
STANDARD_CAVEAT = ("standard MD profile (Pedone 2006 potential, 700-1000 K): on Li2O·2SiO2 it gives Ea ≈ 0.30 eV, "
                   "about half of what is measured on lithium silicate glasses (≈ 0.6-0.8 eV, BENCHMARKS.md), so "
                   "σ(300 K) is over-estimated; trust σ(T) at the simulated temperatures, and the ranking, more "
                   "than the extrapolation to 300 K.")

LONG_CAVEAT = ("long MD profile (Pedone 2006 potential): 600 atoms, 600 ps per temperature at 500-650 K, below "
               "the glass transition where Li hops through a frozen network; about 1.3 h per glass on one core. "
               "On Li2O·2SiO2 it still gives Ea ≈ 0.28 eV, as the standard profile does: the low Ea comes from the "
               "potential and the fast quench, not from the temperature range (BENCHMARKS.md).")

PROFILES = {
    # tests and demo: ~150 atoms, ~170 ps in all (~60 s on one core); rough numbers, same pipeline. 40 ps
    # per temperature is what three compositions (x Li2O, x = 0.2, 0.33, 0.5) needed to be diffusive at
    # all three temperatures; 800 K was too cold to see hops in that time (BENCHMARKS.md).
    "quick": MDProfile("quick", 150, 1.0, 3000.0, 5.0, 50.0, (900.0, 1100.0, 1300.0), 5.0, 40.0, timeout_s=900,
                       caveat=QUICK_CAVEAT),
    # overnight use: >= 500 atoms, 100 ps of production per temperature (~20 min on one core)
    "standard": MDProfile("standard", 600, 1.0, 3500.0, 20.0, 10.0, (700.0, 800.0, 900.0, 1000.0), 20.0, 100.0,
                          timeout_s=48 * 3600, caveat=STANDARD_CAVEAT),
    # validation and careful overnight use: the Arrhenius range moved below the glass transition
    # (experimental Tg of Li2O·2SiO2 ≈ 730 K), six times longer runs so that Li still hops at 500 K
    "long": MDProfile("long", 600, 1.0, 3500.0, 20.0, 10.0, (500.0, 550.0, 600.0, 650.0), 20.0, 600.0,
                      sample_every_fs=100.0, timeout_s=72 * 3600, caveat=LONG_CAVEAT),
}


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


# --- the LAMMPS input, stage by stage --------------------------------------------------------------

def melt_commands(profile: MDProfile, seed: int) -> list[str]:
    dt_ps = profile.timestep_fs / 1000
    return [f"timestep {dt_ps}", "thermo 1000", "thermo_style custom step temp pe etotal press vol density",
            "minimize 1e-6 1e-8 500 5000",
            f"velocity all create {profile.melt_K} {seed + 1} dist gaussian mom yes rot yes",
            f"fix md all nvt temp {profile.melt_K} {profile.melt_K} {100 * dt_ps}",
            f"run {profile.steps(profile.melt_ps)}"]


def quench_commands(profile: MDProfile, parts: int = 10) -> list[str]:
    """Cool at the profile's rate: at constant volume down to `npt_below_K`, then at zero pressure.

    Above ~2000 K a Li-rich silicate melt at zero pressure boils in this model (a Li2O·SiO2 cell
    expanded without bound from 3500 K), so the hot part keeps the starting density and the glass
    finds its own density only once the melt is cohesive. The NPT part is cut into `parts` runs so
    the caller can check the density and the clock between them."""
    dt_ps, hottest = profile.timestep_fs / 1000, max(profile.temperatures_K)
    switch = min(max(profile.npt_below_K, hottest), profile.melt_K)
    commands = ["unfix md", f"fix md all nvt temp {profile.melt_K} {switch} {100 * dt_ps}",
                f"run {profile.steps((profile.melt_K - switch) / profile.quench_K_per_ps)}"]
    npt_steps = profile.steps((switch - hottest) / profile.quench_K_per_ps)
    if npt_steps > 1:
        commands += ["unfix md", "reset_timestep 0",  # `start 0 stop N` spans one temperature ramp over the parts
                     f"fix md all npt temp {switch} {hottest} {100 * dt_ps} iso 0 0 {1000 * dt_ps}"]
        commands += [f"run {npt_steps // parts} start 0 stop {npt_steps}"] * parts
    return commands


def equilibrate_commands(profile: MDProfile, T: float) -> list[str]:
    """NPT at T; `fix vavg` averages the volume over the second half of the run.

    The step counter restarts at 0 because `fix ave/time` reports on multiples of its period."""
    dt_ps, n = profile.timestep_fs / 1000, profile.steps(profile.equilibrate_ps)
    n = max(20, n - n % 20)
    return ["unfix md", "reset_timestep 0", f"fix md all npt temp {T} {T} {100 * dt_ps} iso 0 0 {1000 * dt_ps}",
            "variable volume equal vol", f"fix vavg all ave/time 10 {max(1, n // 20)} {n} v_volume", f"run {n}"]


def production_commands(profile: MDProfile, T: float, volume_A3: float) -> list[str]:
    """The cubic cell at the equilibrium volume, then NVT; a short settling run after the rescaling."""
    dt_ps, side = profile.timestep_fs / 1000, volume_A3 ** (1 / 3)
    return ["unfix vavg", "unfix md", f"change_box all x final 0 {side} y final 0 {side} z final 0 {side} remap",
            f"fix md all nvt temp {T} {T} {100 * dt_ps}", f"run {profile.steps(0.1 * profile.equilibrate_ps)}"]


# --- the protocol ----------------------------------------------------------------------------------

def file_metadata(atoms: Atoms, profile: MDProfile, seed: int) -> dict:
    """What every written structure says about itself: composition, profile, potential and seeds.

    The composition is the one the starting cell was built with (`glass_cell.build` records it);
    a cell from elsewhere is described by its chemical formula."""
    cell_info = {k: v for k, v in atoms.info.items()
                 if k in ("requested_composition", "formula_units", "density_g_cm3", "seed")}
    meta = {"composition": atoms.info.get("composition") or atoms.get_chemical_formula(),
            "profile": profile.name, "potential": pedone.CITATION, "seed": seed}
    if "seed" in cell_info:
        meta["cell_seed"] = cell_info.pop("seed")
    if "density_g_cm3" in cell_info:
        meta["start_density_g_cm3"] = cell_info.pop("density_g_cm3")
    return {**meta, **cell_info}


def run(atoms: Atoms, profile: MDProfile, workdir: Path, seed: int = 0) -> GlassResult:
    """Simulate one starting cell with the profile; raises `SimulationFailed` with the reason."""
    started = time.monotonic()
    symbols = atoms.get_chemical_symbols()
    n_li = symbols.count("Li")
    if n_li < profile.li_groups:
        raise SimulationFailed(f"only {n_li} Li atoms: too few for {profile.li_groups} independent MSD groups")
    checkpoint = md_checkpoint.Checkpoint(workdir, md_checkpoint.fingerprint(atoms, profile, seed))
    done = checkpoint.load()  # None: from the start; else the temperatures already simulated
    try:
        if done is None:
            lmp, elements = lammps_engine.open_cell(atoms, workdir)
        else:
            elements = lammps_engine.type_order(atoms)
            lmp = lammps_engine.open_data(checkpoint.state, elements, workdir, append=True)
    except Exception as exc:  # LAMMPS reports bad input as a generic exception
        raise SimulationFailed(f"LAMMPS rejected the cell: {str(exc).splitlines()[0]}") from None
    series = Series(files={"log": workdir / "lammps.log"})
    meta = file_metadata(atoms, profile, seed)
    lowest = min(profile.temperatures_K)
    try:
        if done is None:
            _melt_and_quench(lmp, profile, seed, started)
            done = {}
            checkpoint.save(lmp, done)
        else:
            lmp.commands_list(resume_commands(profile, sorted(done)))
        lmp.command("compute unwrapped all property/atom xu yu zu")
        for T in sorted(profile.temperatures_K, reverse=True):
            if T in done:  # simulated before an interruption
                series.restore(T, done[T])
                continue
            lmp.commands_list(equilibrate_commands(profile, T))
            _check(lmp, T, f"NPT equilibration at {T:g} K")
            _check_cell(lmp, profile, started, f"NPT equilibration at {T:g} K")
            volume = float(lmp.extract_fix("vavg", 0, 0))
            lmp.commands_list(production_commands(profile, T, volume))
            density = glass_structure.density(atoms, volume)
            frames, energies = _sample(lmp, profile, np.array(symbols), started)
            _check(lmp, T, f"production at {T:g} K")
            series.add(md_analysis.transport_at(frames, atoms.get_masses(), volume, T, profile.li_groups), density,
                       frames, workdir, meta)
            if T != lowest:  # the lowest is the last: its frames make the final glass, nothing to resume after it
                done[T] = series.saved(T)
                checkpoint.save(lmp, done)
        # the loop ends at the lowest temperature: that glass is the one described
        version = str(lmp.version())
        series.files["glass"], series.files["rdf"] = glass_structure.write_glass(
            frames, workdir, {**meta, "temperature_K": T, "density_g_cm3": round(series.densities[T], 4),  # T: lowest
                              "lammps_version": version})
    except SimulationFailed:
        checkpoint.clear()
        raise
    except Exception as exc:
        checkpoint.clear()
        raise SimulationFailed(f"LAMMPS stopped: {str(exc).splitlines()[0]}") from None
    finally:
        lmp.close()
    checkpoint.clear()  # the candidate has its outcome: a result, or the failure below
    return series.result(energies, version, len(profile.temperatures_K))


def _melt_and_quench(lmp, profile: MDProfile, seed: int, started: float) -> None:
    lmp.commands_list(melt_commands(profile, seed))
    _check(lmp, profile.melt_K, "melt")
    pressure_GPa = lmp.get_thermo("press") * 1e-4  # metal units: bar
    if abs(pressure_GPa) > profile.max_pressure_GPa:
        raise SimulationFailed(f"pressure {pressure_GPa:.0f} GPa in the melt at {profile.melt_K:g} K (limit "
                               f"±{profile.max_pressure_GPa:g}): the starting density is unphysical")
    for command in quench_commands(profile):
        lmp.command(command)
        if command.startswith("run"):
            _check_cell(lmp, profile, started, "the quench")
    _check(lmp, max(profile.temperatures_K), "quench")


def resume_commands(profile: MDProfile, done_K: list[float]) -> list[str]:
    """Settings a checkpoint does not carry; `fix md` is a placeholder the next temperature replaces."""
    dt_ps = profile.timestep_fs / 1000
    note = f"after {', '.join(f'{T:g} K' for T in done_K)}" if done_K else "after the quench"
    return [f'print "amala: resumed from the checkpoint {note}"', f"timestep {dt_ps}", "thermo 1000",
            "thermo_style custom step temp pe etotal press vol density", "fix md all nve"]


@dataclass
class Series:
    """The per-temperature results of one run as they accumulate, hottest first, and what a checkpoint keeps
    of them. Engine-independent: the LAMMPS protocol here and `ase_md` collect, save, restore and finish
    their runs through it, so both give the same `GlassResult` and the same checkpoint entries."""

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


def _sample(lmp, profile: MDProfile, symbols: np.ndarray, started: float) -> tuple[glass_structure.Frames, np.ndarray]:
    """Unwrapped positions of all atoms and the energy per atom, every sample step.

    LAMMPS ids follow the order of the starting cell (id - 1 = index in `symbols`); atoms are
    re-sorted in memory by LAMMPS, so each frame is put back in id order."""
    chunk = profile.steps(profile.sample_every_fs / 1000)
    n_samples = max(20, profile.steps(profile.production_ps) // chunk)
    n_atoms = lmp.get_natoms()
    positions = np.empty((n_samples, n_atoms, 3), dtype=np.float32)
    energies = np.empty(n_samples)
    for k in range(n_samples):
        if time.monotonic() - started > profile.timeout_s:
            raise SimulationFailed(f"timeout after {profile.timeout_s:.0f} s (profile {profile.name})")
        lmp.command(f"run {chunk} pre no post no")
        n_local = lmp.extract_global("nlocal")
        ids = lmp.numpy.extract_atom("id")[:n_local]
        positions[k, ids - 1] = lmp.numpy.extract_compute("unwrapped", 1, 2)[:n_local]
        energies[k] = lmp.get_thermo("pe") / n_atoms
    low, high = lmp.extract_box()[:2]
    frames = glass_structure.Frames(positions, symbols, chunk * profile.timestep_fs / 1000, np.subtract(high, low))
    return frames, energies


def _check_cell(lmp, profile: MDProfile, started: float, stage: str) -> None:
    """A cell that expands into a gas, or a run past its time budget, ends with the reason."""
    density = lmp.get_thermo("density")
    if not density >= profile.min_density_g_cm3:
        raise SimulationFailed(f"the cell expanded to {density:.3g} g/cm3 during {stage} at "
                               f"{lmp.get_thermo('temp'):.0f} K: the melt vaporised at zero pressure")
    if time.monotonic() - started > profile.timeout_s:
        raise SimulationFailed(f"timeout after {profile.timeout_s:.0f} s (profile {profile.name}) during {stage}")


def _check(lmp, target_K: float, stage: str) -> None:
    """A blown-up temperature or a non-finite energy ends the run with the reason."""
    temperature = lmp.get_thermo("temp")
    energy = lmp.get_thermo("pe")
    if not math.isfinite(energy) or not math.isfinite(temperature):
        raise SimulationFailed(f"non-finite energy or temperature during {stage}")
    if abs(temperature - target_K) > 0.5 * target_K:
        raise SimulationFailed(f"temperature {temperature:.0f} K during {stage}, target {target_K:.0f} K: blown up")
