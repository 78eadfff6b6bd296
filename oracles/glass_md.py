"""The melt-quench-diffuse protocol for one oxide-glass composition, run in LAMMPS.

minimise -> melt (NVT) -> quench at a set rate -> at each production temperature: equilibrate,
then record the Li mean squared displacement in independent groups of Li ions -> D_Li(T) from
the linear regime (`md_analysis.diffusivity`) -> Nernst-Einstein sigma(T) -> Arrhenius fit ->
Ea and sigma(300 K), each with an uncertainty. Every way a simulation can go wrong ends in
`SimulationFailed` with a one-line reason, which the oracle stores as a failed evaluation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from amala.oracles import lammps_engine, md_analysis


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
    equilibrate_ps: float
    production_ps: float
    sample_every_fs: float = 50.0
    li_groups: int = 4  # independent Li subsets for the error bar of D
    max_pressure_GPa: float = 20.0  # beyond this at a production temperature the density is wrong
    timeout_s: float = 3600.0


PROFILES = {
    # tests and demo: small cell, a few ps; numbers are rough, the pipeline is the same
    "quick": MDProfile("quick", 150, 1.0, 3000.0, 4.0, 500.0, (1000.0, 1150.0, 1300.0), 2.0, 10.0, timeout_s=900),
    # overnight use: >= 500 atoms, 100 ps of production per temperature
    "standard": MDProfile("standard", 600, 1.0, 3500.0, 20.0, 10.0, (700.0, 800.0, 900.0, 1000.0), 20.0, 100.0,
                          timeout_s=48 * 3600),
}


@dataclass
class GlassResult:
    diffusivities: dict[float, md_analysis.Diffusivity]
    conductivities_S_cm: dict[float, tuple[float, float]]  # T -> (sigma, std)
    arrhenius: md_analysis.ArrheniusFit
    energy_eV_per_atom: tuple[float, float]  # mean, std over the lowest-temperature production
    lammps_version: str
    log: Path
    extras: dict = field(default_factory=dict)


def run(atoms: Atoms, profile: MDProfile, workdir: Path, seed: int = 0) -> GlassResult:
    """Simulate one starting cell with the profile; raises `SimulationFailed` with the reason."""
    started = time.monotonic()
    n_li = atoms.get_chemical_symbols().count("Li")
    if n_li < profile.li_groups:
        raise SimulationFailed(f"only {n_li} Li atoms: too few for {profile.li_groups} independent MSD groups")
    try:
        lmp, elements = lammps_engine.open_cell(atoms, workdir)
    except Exception as exc:  # LAMMPS reports bad input as a generic exception
        raise SimulationFailed(f"LAMMPS rejected the cell: {str(exc).splitlines()[0]}") from None
    li_type = elements.index("Li") + 1
    dt_ps = profile.timestep_fs / 1000
    steps = lambda ps: max(1, int(round(ps / dt_ps)))  # noqa: E731
    volume = atoms.get_volume()
    diffusivities, sigmas, energies = {}, {}, []
    try:
        lmp.commands_list([f"timestep {dt_ps}", "thermo 1000", "thermo_style custom step temp pe etotal press",
                           "minimize 1e-6 1e-8 500 5000",
                           f"velocity all create {profile.melt_K} {seed + 1} dist gaussian",
                           f"fix md all nvt temp {profile.melt_K} {profile.melt_K} {100 * dt_ps}",
                           f"run {steps(profile.melt_ps)}"])
        _check(lmp, profile.melt_K, "melt")
        hottest = max(profile.temperatures_K)
        quench_ps = (profile.melt_K - hottest) / profile.quench_K_per_ps
        lmp.commands_list(["unfix md", f"fix md all nvt temp {profile.melt_K} {hottest} {100 * dt_ps}",
                           f"run {steps(quench_ps)}"])
        # independent Li subsets by atom id (ids follow the random placement order of the builder)
        k = profile.li_groups
        for g in range(k):
            lmp.commands_list([f'variable in_li{g} atom "type == {li_type} && (id % {k}) == {g}"',
                               f"group li{g} variable in_li{g}"])
        for T in sorted(profile.temperatures_K, reverse=True):
            lmp.commands_list(["unfix md", f"fix md all nvt temp {T} {T} {100 * dt_ps}", f"run {steps(profile.equilibrate_ps)}"])
            _check(lmp, T, f"equilibration at {T:g} K")
            pressure_GPa = lmp.get_thermo("press") * 1e-4  # metal units: bar
            if abs(pressure_GPa) > profile.max_pressure_GPa:
                raise SimulationFailed(f"pressure {pressure_GPa:.0f} GPa at {T:g} K (limit ±{profile.max_pressure_GPa:g}): "
                                       f"the cell's density is unphysical for this composition")
            tag = f"{int(T)}"
            lmp.commands_list([f"compute msd{tag}_{g} li{g} msd com yes" for g in range(profile.li_groups)]
                              + ["run 0"])  # a full setup once, so the chunks below may skip it
            chunk = steps(profile.sample_every_fs / 1000)
            n_samples = max(10, steps(profile.production_ps) // chunk)
            curves = np.zeros((profile.li_groups, n_samples))
            pe = np.zeros(n_samples)
            for k in range(n_samples):
                if time.monotonic() - started > profile.timeout_s:
                    raise SimulationFailed(f"timeout after {profile.timeout_s:.0f} s (profile {profile.name})")
                lmp.command(f"run {chunk} pre no post no")
                for g in range(profile.li_groups):
                    curves[g, k] = lmp.numpy.extract_compute(f"msd{tag}_{g}", 0, 1)[3]
                pe[k] = lmp.get_thermo("pe") / lmp.get_natoms()
            _check(lmp, T, f"production at {T:g} K")
            times = chunk * dt_ps * np.arange(1, n_samples + 1)
            try:
                d = md_analysis.diffusivity(times, curves)
            except md_analysis.NoDiffusiveRegime as exc:
                raise SimulationFailed(f"Li at {T:g} K: {exc}") from None
            diffusivities[T] = d
            sigma = md_analysis.nernst_einstein(d.value_cm2_s, n_li, volume, T)
            sigmas[T] = (sigma, sigma * d.std_cm2_s / d.value_cm2_s)
            energies = pe  # ends as the lowest temperature's series
            lmp.commands_list([f"uncompute msd{tag}_{g}" for g in range(profile.li_groups)])
        version = str(lmp.version())
    except SimulationFailed:
        raise
    except Exception as exc:
        raise SimulationFailed(f"LAMMPS stopped: {str(exc).splitlines()[0]}") from None
    finally:
        lmp.close()
    temps = sorted(sigmas)
    fit = md_analysis.arrhenius(temps, [sigmas[t][0] for t in temps], [sigmas[t][1] for t in temps])
    return GlassResult(diffusivities, sigmas, fit, (float(np.mean(energies)), float(np.std(energies))), version,
                       workdir / "lammps.log")


def _check(lmp, target_K: float, stage: str) -> None:
    """A blown-up temperature or a non-finite energy ends the run with the reason."""
    temperature = lmp.get_thermo("temp")
    energy = lmp.get_thermo("pe")
    if not math.isfinite(energy) or not math.isfinite(temperature):
        raise SimulationFailed(f"non-finite energy or temperature during {stage}")
    if abs(temperature - target_K) > 0.5 * target_K:
        raise SimulationFailed(f"temperature {temperature:.0f} K during {stage}, target {target_K:.0f} K: blown up")
