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

The profile, the result and the failure are the engine-neutral ones of `protocol`. Every way a
simulation can go wrong ends in `SimulationFailed` with a one-line reason, which the
oracle stores as a failed evaluation. The LAMMPS commands of each stage come from small functions
so that `benchmarks/md_overhead.py` can replay exactly the same input without Python in the loop.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from ase import Atoms

from amala.oracles.md import analysis as md_analysis
from amala.oracles.md import checkpoint as md_checkpoint
from amala.oracles.md import lammps_engine, pedone, protocol
from amala.oracles.md import structure as glass_structure
from amala.oracles.md.protocol import GlassResult, MDProfile, Series, SimulationFailed, file_metadata

PROFILES = protocol.engine_profiles(protocol.LAMMPS)  # this engine's profiles by name (`protocol.PROFILES`)


# --- the LAMMPS input, stage by stage --------------------------------------------------------------

def melt_commands(profile: MDProfile, seed: int) -> list[str]:
    dt_ps = profile.timestep_fs / 1000
    return [f"timestep {dt_ps}", "thermo 1000", "thermo_style custom step temp pe etotal press vol density",
            "minimize 1e-6 1e-8 500 5000",
            f"velocity all create {profile.melt_K} {seed + 1} dist gaussian mom yes rot yes",
            f"fix md all nvt temp {profile.melt_K} {profile.melt_K} {100 * dt_ps}",
            f"run {profile.steps(profile.melt_ps)}"]


def generated_start_commands(profile: MDProfile, seed: int, anneal_ps: float) -> list[str]:
    """A generated glass (`oracles/generator`) instead of the melt-quench: relax it in this potential (the
    generator's positions are close to a glass of it but not at a minimum), then a short NVT anneal at the
    hottest production temperature, where the quench would have left the glass."""
    dt_ps, hottest = profile.timestep_fs / 1000, max(profile.temperatures_K)
    return [f"timestep {dt_ps}", "thermo 1000", "thermo_style custom step temp pe etotal press vol density",
            "minimize 1e-6 1e-8 1000 10000",
            f"velocity all create {hottest} {seed + 1} dist gaussian mom yes rot yes",
            f"fix md all nvt temp {hottest} {hottest} {100 * dt_ps}", f"run {profile.steps(anneal_ps)}"]


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

def run(atoms: Atoms, profile: MDProfile, workdir: Path, seed: int = 0,
        generated_anneal_ps: float | None = None) -> GlassResult:
    """Simulate one starting cell with the profile; raises `SimulationFailed` with the reason.

    `generated_anneal_ps`: the cell is a generated glass, so it is relaxed and annealed that long at the
    hottest production temperature instead of melted and quenched."""
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
    meta = file_metadata(atoms, profile, seed, pedone.CITATION)
    lowest = min(profile.temperatures_K)
    try:
        if done is None:
            if generated_anneal_ps is None:
                _melt_and_quench(lmp, profile, seed, started)
            else:
                lmp.commands_list(generated_start_commands(profile, seed, generated_anneal_ps))
                check_thermo(lmp, max(profile.temperatures_K), "the anneal of the generated glass")
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
            check_thermo(lmp, T, f"NPT equilibration at {T:g} K")
            _check_cell(lmp, profile, started, f"NPT equilibration at {T:g} K")
            volume = float(lmp.extract_fix("vavg", 0, 0))
            lmp.commands_list(production_commands(profile, T, volume))
            density = glass_structure.density(atoms, volume)
            frames, energies = _sample(lmp, profile, np.array(symbols), started)
            check_thermo(lmp, T, f"production at {T:g} K")
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


def relax(atoms: Atoms, workdir: Path, max_steps: int = 5000) -> tuple[Atoms, float]:
    """The cell relaxed to a local minimum of the Pedone potential at fixed box (conjugate gradient):
    a generated glass judged by the energy the oracle's own potential gives it. Returns the relaxed
    copy and its energy per atom (eV); raises `SimulationFailed` with the reason."""
    try:
        lmp, elements = lammps_engine.open_cell(atoms, workdir)
    except Exception as exc:
        raise SimulationFailed(f"LAMMPS rejected the cell: {str(exc).splitlines()[0]}") from None
    try:
        lmp.commands_list(["thermo 1000", f"minimize 1e-8 1e-10 {max_steps} {10 * max_steps}"])
        energy = lmp.get_thermo("pe") / lmp.get_natoms()
        relaxed = lammps_engine.read_cell(lmp, elements)
    except Exception as exc:
        raise SimulationFailed(f"LAMMPS stopped relaxing the cell: {str(exc).splitlines()[0]}") from None
    finally:
        lmp.close()
    if not math.isfinite(energy):
        raise SimulationFailed(f"the relaxed cell's energy is not finite ({energy})")
    relaxed.info.update(atoms.info)
    return relaxed, float(energy)


def _melt_and_quench(lmp, profile: MDProfile, seed: int, started: float) -> None:
    lmp.commands_list(melt_commands(profile, seed))
    check_thermo(lmp, profile.melt_K, "melt")
    pressure_GPa = lmp.get_thermo("press") * 1e-4  # metal units: bar
    if abs(pressure_GPa) > profile.max_pressure_GPa:
        raise SimulationFailed(f"pressure {pressure_GPa:.0f} GPa in the melt at {profile.melt_K:g} K (limit "
                               f"±{profile.max_pressure_GPa:g}): the starting density is unphysical")
    for command in quench_commands(profile):
        lmp.command(command)
        if command.startswith("run"):
            _check_cell(lmp, profile, started, "the quench")
    check_thermo(lmp, max(profile.temperatures_K), "quench")


def resume_commands(profile: MDProfile, done_K: list[float]) -> list[str]:
    """Settings a checkpoint does not carry; `fix md` is a placeholder the next temperature replaces."""
    dt_ps = profile.timestep_fs / 1000
    note = f"after {', '.join(f'{T:g} K' for T in done_K)}" if done_K else "after the quench"
    return [f'print "amala: resumed from the checkpoint {note}"', f"timestep {dt_ps}", "thermo 1000",
            "thermo_style custom step temp pe etotal press vol density", "fix md all nve"]


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


def check_thermo(lmp, target_K: float, stage: str) -> None:
    """A blown-up temperature or a non-finite energy ends the run with the reason."""
    temperature = lmp.get_thermo("temp")
    energy = lmp.get_thermo("pe")
    if not math.isfinite(energy) or not math.isfinite(temperature):
        raise SimulationFailed(f"non-finite energy or temperature during {stage}")
    if abs(temperature - target_K) > 0.5 * target_K:
        raise SimulationFailed(f"temperature {temperature:.0f} K during {stage}, target {target_K:.0f} K: blown up")
