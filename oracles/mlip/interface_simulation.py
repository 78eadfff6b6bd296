"""The interface evaluation as one function: a glass A and a coating glass B of one potential,
stacked into a periodic cell with two A|B interfaces -> γ (J/m²) and Li diffusivity by distance from them.

Wang et al. 2023 (a-Li3PS4 | Li3B11O18) and Seth et al. 2025 (a-LiPON, D ≈ 10⁻⁸ cm²/s in the bulk against
≈ 10⁻⁹ at the interface) let a potential that had seen both chemistries, and their mixture, run the stack.
So does `simulate_interface`, with any `Learner` (what gives the calculators of each stage):

1. coating: the potential learns glass B under its own key (`coating_key`); its learning state lies in a
   folder shared by every candidate with that coating, so the second one resumes it and pays no teacher
   call (`growing`). A fixed calculator (`fixed`: the teacher itself, a trained committee) learns nothing.
2. glasses: A (the caller's starting cell; the potential learned its glass already, in the bulk evaluation)
   and B are melt-quenched to T and equilibrated at T (zero-pressure NPT) with that committee, then kept
   in the folder: a rerun with the same cells and protocol starts from them.
3. stack: `glass_interface.stack` (B strained to A's lateral cell); the potential then learns the mixed
   cell under "<key>|<coating key>" (the potential must have seen both chemistries:
   teacher labels of the mixed cell).
4. γ: the stack and both bulks relaxed by every committee member (`glass_interface.interface_energy`): the
   mean and the members' spread.
5. transport: z-only Berendsen NPT finds the stack's length at T, NVT production with the committee's mean,
   Li MSD by region (`region_msd`, `region_diffusivities`): D in the interface region and in each bulk with
   the spread over Li groups, and their ratios. A failure of this MD is said (`md_failed`): γ stands without it.

Everything goes to one folder per candidate and the result is a JSON-ready dict (also `results.json`); a
failure before γ (learning, glass MD, relaxation) ends in its `error`, naming the stage, with what was done
(and paid for) before it. Units: Å, K, ps, eV, J/m², cm²/s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.io import read
from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from pydantic import Field, field_validator
from threadpoolctl import threadpool_limits

from amala.core.atomic_files import write_atoms, write_text
from amala.core.candidate import candidate_key
from amala.core.composition import InvalidComposition, canonical_composition, component_elements, parse_composition
from amala.core.evaluation import Measurement
from amala.core.plugins import Float, Int, Spec, Text
from amala.oracles.md import analysis as md_analysis
from amala.oracles.md import ase_engine as ase_md
from amala.oracles.md import checkpoint as md_checkpoint
from amala.oracles.md import structure as glass_structure
from amala.oracles.md.cells import FORMAL_CHARGE, CellError, build
from amala.oracles.md.protocol import MDProfile, SimulationFailed
from amala.oracles.mlip import interfaces as glass_interface
from amala.oracles.mlip.growing_potential import GrowingPotential
from amala.oracles.mlip.on_the_fly import OnTheFlyFailed
from amala.oracles.mlip.student import StudentTrainingFailed

LI3BO3 = "Li2O:0.75;B2O3:0.25"
# what the interface evaluation reports (`interface_values`): the mlip oracle gives these only with `interface` set
INTERFACE_PROPERTIES = ("interface_energy", "d_li_interface", "d_li_bulk", "d_li_interface_ratio")
# what ends an interface evaluation before γ, said in its `error`; anything else is a bug and raises
FAILURES = (SimulationFailed, glass_interface.InterfaceFailed, OnTheFlyFailed, StudentTrainingFailed, CellError)


class InterfaceSpec(Spec):
    """The `interface` settings of the mlip oracle (and of benchmarks/mlip_interface.py)."""

    coating: Text = Field(LI3BO3, description="composition of glass B, the coating (default Li3BO3-type "
                          "Li2O:0.75;B2O3:0.25), as the campaign's compositions are written")
    coating_density_g_cm3: Float = Field(2.1, ge=0.5, le=10, description="g/cm³ of the coating's starting cell "
                                         "(its NPT at T then finds the glass's own)")
    coating_atoms: Int | None = Field(None, ge=4, le=20_000, description="atoms of glass B; default: about glass "
                                      "A's starting volume, so that B needs little lateral strain")
    temperature_K: Float = Field(600.0, ge=100, le=3000, description="K: quench target, NPT and NVT of the stack")
    width_A: Float = Field(3.0, gt=0, le=50, description="Å: a Li closer than this to an interface plane is in "
                           "the interface region")
    gap_A: Float = Field(2.0, gt=0, le=10, description="Å between the two slabs at each interface when stacked")
    production_ps: Float | None = Field(None, gt=0, le=100_000, description="ps of NVT production of the stack; "
                                        "default: the MD profile's")
    lateral: bool = Field(False, description="D from the x, y MSD only (motion along the interface)")
    fmax_eV_A: Float = Field(0.05, gt=0, le=10, description="eV/Å: force at which the γ relaxations stop")
    relax_steps: Int = Field(300, ge=0, le=100_000, description="FIRE steps per γ relaxation at most")

    @field_validator("coating")
    @classmethod
    def _composition(cls, value: str) -> str:
        try:
            fractions = parse_composition(value)
        except InvalidComposition as exc:
            raise ValueError(f"coating: {exc}") from None
        problem = next(filter(None, map(component_problem, fractions)), None)
        if problem:
            raise ValueError(problem)
        return value

    def coating_key(self) -> str:
        """The coating's key in the growing potential: a campaign candidate of the same composition has it too."""
        return candidate_key("composition", canonical_composition(parse_composition(self.coating)))

    def profile(self, base: MDProfile) -> MDProfile:
        """`base` quenched to, and simulated at, the one temperature `temperature_K`."""
        return dataclasses.replace(base, temperatures_K=(self.temperature_K,),
                                   production_ps=self.production_ps or base.production_ps)


def component_problem(name: str) -> str | None:
    """Why `glass_cell.build` cannot make a cell with component `name` (None when it can): the name must be
    a formula of real elements (`component_elements`), each element must have a formal charge in
    `glass_cell.FORMAL_CHARGE` (the elements the mlip oracle's glasses are made of), and the formal charges
    must sum to zero. Checked on a config, so that a glass no cell can hold is refused before a run."""
    try:
        counts = component_elements(name)
    except InvalidComposition as exc:
        return str(exc)
    unknown = sorted(set(counts) - set(FORMAL_CHARGE))
    if unknown:
        return (f"component {name!r}: {', '.join(unknown)} cannot be built into a glass cell (elements with a formal "
                f"charge: {', '.join(sorted(FORMAL_CHARGE))})")
    charge = sum(FORMAL_CHARGE[e] * n for e, n in counts.items())
    if charge:
        return f"component {name!r} is not charge-neutral with formal charges ({charge:+d} e per formula unit)"
    return None


# --- where the calculators come from ----------------------------------------------------------------------

@dataclasses.dataclass
class Potential:
    """The calculators of one stage: `md` drives the MD (a committee's mean), `members` relax for γ (one
    calculator, or a committee's members for γ's spread); `record` is what learning it cost (the growing
    potential's record: teacher calls, labels, version), None for a fixed calculator."""

    md: object
    members: object
    description: dict
    record: dict | None = None


Learner = Callable[[str, Atoms, Path], Potential]  # (key, start cell, learning folder) -> the stage's calculators


def fixed(md, members, description: dict) -> Learner:
    """Calculators that learn nothing (the teacher itself, a committee trained elsewhere)."""
    return lambda key, start, folder: Potential(md, members, description)


def growing(potential: GrowingPotential, compile: bool = False) -> Learner:
    """The campaign's growing potential: each stage is a `learn` under its key (resumed if its folder
    holds a state: `resumed` then says its teacher calls were paid, and counted, by an earlier evaluation)."""
    def learn(key: str, start: Atoms, folder: Path) -> Potential:
        resumed = (Path(folder) / "state.json").is_file()
        learned = potential.learn(key, start, folder, compile=compile)
        committee = learned.result.committee
        record = {**learned.record, "key": key, "resumed": resumed, "run_folder": str(folder),
                  "stop_reason": learned.result.stop_reason, "rounds": learned.result.rounds}
        return Potential(committee.calculator(), committee.calculators, committee.record(), record)
    return learn


# --- the evaluation ---------------------------------------------------------------------------------------

def simulate_interface(key: str, start_a: Atoms, spec: InterfaceSpec, profile: MDProfile, folder: Path,
                       learn: Learner, coating_folder: Path | None = None, seed: int = 0) -> dict:
    """γ and region-resolved D_Li of glass A (melt-quenched from `start_a`) against the coating `spec.coating`,
    in `folder`, with the calculators `learn` gives (see the module's steps). `profile` is the MD protocol
    (`spec.profile` sets its temperature and production); `coating_folder` holds the coating's learning
    (default folder/coating_on_the_fly; the mlip oracle shares one per coating). Returns the JSON-ready record,
    also written to folder/results.json; failures are said in it (`error`, `md_failed`), not raised."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    profile = spec.profile(profile)
    coating_key = spec.coating_key()
    result: dict = {"key": key, "coating": spec.coating, "coating_key": coating_key,
                    "stack_key": f"{key}|{coating_key}", "folder": str(folder), "settings": spec.model_dump(),
                    "profile": dataclasses.asdict(profile), "potential": {}, "teacher_calls": {}, "wall_s": {}}
    stage = "coating"
    try:
        b_start = _coating_cell(spec, start_a, seed + 1)
        coating = _learn(result, "coating", learn, coating_key, b_start,
                         Path(coating_folder) if coating_folder else folder / "coating_on_the_fly")
        stage = "glasses"
        glasses = _glasses(result, start_a, b_start, coating.md, spec, profile, folder, seed)
        stage = "stack"
        stack = glass_interface.stack(glasses["A"], glasses["B"], gap_A=spec.gap_A)
        write_atoms(folder / "stack.extxyz", stack.atoms)
        mixed = _learn(result, "stack", learn, result["stack_key"], stack.atoms, folder / "stack_on_the_fly")
        result["calculator"] = mixed.description
        stage = "interface energy"
        started = time.perf_counter()
        # each relaxation step solves 9x9 matrices (FrechetCellFilter): BLAS threads only wait for each other
        # there, ten times slower than one thread on a busy machine
        with threadpool_limits(1, user_api="blas"):
            gamma = glass_interface.interface_energy(stack, mixed.members, spec.fmax_eV_A, spec.relax_steps)
        relaxed = gamma.pop("relaxed_stack")
        write_atoms(folder / "stack_relaxed.extxyz", relaxed.atoms)
        result["interface_energy"], result["stack"] = gamma, _stack_record(relaxed)
        result["wall_s"]["interface_energy"] = time.perf_counter() - started
    except FAILURES as exc:
        result["error"] = f"{stage}: {_first_line(exc)}"
    else:
        _transport(result, relaxed, mixed.md, spec, profile, seed)
    text = json.dumps(result, indent=1, default=_json_default)
    write_text(folder / "results.json", text)
    return json.loads(text)  # JSON-ready: numpy numbers and tuples as json reads them back


def interface_values(record: dict) -> dict[str, Measurement]:
    """The stored numbers of an interface record (`simulate_interface`), each with its unit and std:
    interface_energy (J/m², the committee's spread), d_li_interface and d_li_bulk (cm²/s at the record's T,
    the spread over Li groups; bulk is glass A's, the electrolyte's) and d_li_interface_ratio (1,
    propagated). A number the record lacks (an error, a failed MD, no diffusive regime) is left out."""
    values: dict[str, Measurement] = {}

    def add(name: str, value, std, unit: str, temperature_K: float | None = None):
        if value is not None and math.isfinite(value):
            std = std if std is not None and math.isfinite(std) else None
            values[name] = Measurement(float(value), unit, std, temperature_K=temperature_K)

    gamma = record.get("interface_energy") or {}
    add("interface_energy", gamma.get("gamma_J_m2"), gamma.get("gamma_std_J_m2"), "J/m^2")
    regions = record.get("diffusivity_by_region") or {}
    T = record.get("settings", {}).get("temperature_K")
    for name, region in (("d_li_interface", "interface"), ("d_li_bulk", "bulk_A")):
        d = regions.get("regions", {}).get(region, {})
        add(name, d.get("d_cm2_s"), d.get("d_std_cm2_s"), "cm^2/s", T)
    ratio = regions.get("ratios", {}).get("interface/bulk_A") or {}
    add("d_li_interface_ratio", ratio.get("value"), ratio.get("std"), "1", T)
    return values


def _coating_cell(spec: InterfaceSpec, start_a: Atoms, seed: int) -> Atoms:
    """Glass B's starting cell: `coating_atoms` atoms, or about A's starting volume."""
    fractions = parse_composition(spec.coating)
    density = spec.coating_density_g_cm3
    if spec.coating_atoms:
        return build(fractions, density, spec.coating_atoms, seed=seed).atoms
    probe = build(fractions, density, 64, seed=seed).atoms
    n_atoms = max(8, round(start_a.get_volume() / (probe.get_volume() / len(probe))))
    return build(fractions, density, n_atoms, seed=seed).atoms


def _learn(result: dict, stage: str, learn: Learner, key: str, start: Atoms, folder: Path) -> Potential:
    started = time.perf_counter()
    potential = learn(key, start, folder)
    result["wall_s"][f"learn_{stage}"] = time.perf_counter() - started
    if potential.record is not None:
        result["potential"][stage] = potential.record
        result["teacher_calls"][stage] = potential.record["teacher_calls"]
    return potential


def _glasses(result: dict, start_a: Atoms, start_b: Atoms, calculator, spec: InterfaceSpec, profile: MDProfile,
             folder: Path, seed: int) -> dict[str, Atoms]:
    """A and B melt-quenched to T and equilibrated at T; read back instead when a run with the same starting
    cells, protocol and seed left them (glasses.json holds the key)."""
    started = time.perf_counter()
    protocol = dataclasses.replace(profile, timeout_s=0.0, caveat="")  # a wall-clock limit makes no other glass
    key = hashlib.sha256(repr((md_checkpoint.fingerprint(start_a, protocol, seed),
                               md_checkpoint.fingerprint(start_b, protocol, seed))).encode()).hexdigest()[:16]
    index = folder / "glasses.json"
    saved = json.loads(index.read_text()) if index.is_file() else {}
    resumed = saved.get("key") == key and all((folder / f"glass_{n}.extxyz").is_file() for n in "AB")
    glasses = {}
    for name, start in (("A", start_a), ("B", start_b)):
        path = folder / f"glass_{name}.extxyz"
        if resumed:
            glasses[name] = read(path)
            continue
        glass = ase_md.melt_quench(start, calculator, profile, seed=seed)
        ase_md.equilibrate(glass, calculator, spec.temperature_K, profile)
        glass.calc = None
        write_atoms(path, glass)
        glasses[name] = glass
    if not resumed:
        write_text(index, json.dumps({"key": key}))
    result["glasses"] = {name: {"formula": g.get_chemical_formula(), "n_atoms": len(g),
                                "cell_A": g.cell.lengths().tolist(), "density_g_cm3": glass_structure.density(g),
                                "file": str(folder / f"glass_{name}.extxyz")} for name, g in glasses.items()}
    result["glasses_resumed"] = resumed
    result["wall_s"]["glasses"] = time.perf_counter() - started
    return glasses


def _transport(result: dict, relaxed: glass_interface.Stack, calculator, spec: InterfaceSpec, profile: MDProfile,
               seed: int) -> None:
    """z-NPT, NVT production and D by region into `result`; a failed MD is said in `md_failed`."""
    started = time.perf_counter()
    deviations: list[float] = []

    def watch(stage, step, atoms):  # a committee's disagreement on the stack: how far it is from its labels
        if stage == "production" and "force_deviation" in atoms.calc.results:
            deviations.append(float(atoms.calc.results["force_deviation"]))

    result.update(stack_at_T=None, diffusivity_by_region=None, whole_cell=None, md_failed=None)
    T = spec.temperature_K
    try:
        hot = _z_npt(relaxed, calculator, T, profile, seed)
        result["stack_at_T"] = _stack_record(hot)
        atoms = hot.atoms.copy()
        frames, _ = ase_md.production(atoms, calculator, T, profile, seed=seed, observer=watch)
    except SimulationFailed as exc:
        result["md_failed"] = str(exc)
    else:
        msd = glass_interface.region_msd(frames, hot, spec.width_A, lateral=spec.lateral)
        result["diffusivity_by_region"] = glass_interface.region_diffusivities(msd)
        at_T = md_analysis.transport_at(frames, atoms.get_masses(), atoms.get_volume(), T, profile.li_groups)
        d = at_T.diffusivity
        result["whole_cell"] = {"d_cm2_s": None if d is None else d.value_cm2_s,
                                "d_std_cm2_s": None if d is None else d.std_cm2_s, "skipped": at_T.skipped}
    result["production_max_force_deviation_eV_A"] = max(deviations) if deviations else None
    result["wall_s"]["md"] = time.perf_counter() - started


def _stack_record(stack: glass_interface.Stack) -> dict:
    return {"n_atoms": len(stack.atoms), "area_A2": stack.area_A2, "cell_A": stack.atoms.cell.lengths().tolist(),
            "planes_z_A": list(stack.planes_z_A), "lateral_strain_B": list(stack.lateral_strain_b),
            "gap_A": stack.gap_A}


def _z_npt(stack: glass_interface.Stack, calculator, temperature_K: float, profile: MDProfile,
           seed: int) -> glass_interface.Stack:
    """Zero-pressure Berendsen NPT along z alone (x, y stay A's) for the profile's `equilibrate_ps`, with
    ase_md's checks (non-finite, runaway temperature, vaporised cell, timeout): the stack's z length at T
    is the mean of the run's second half (the planes keep their fractional z)."""
    atoms = stack.atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=np.random.default_rng([seed, 3]),
                                 force_temp=True)
    Stationary(atoms)
    dt = profile.timestep_fs * units.fs
    dyn = Inhomogeneous_NPTBerendsen(atoms, dt, temperature_K=temperature_K, pressure_au=0.0,
                                     taut=ase_md.TDAMP_STEPS * dt, taup=ase_md.PDAMP_STEPS * dt,
                                     compressibility_au=ase_md.COMPRESSIBILITY_PER_GPA / units.GPa, mask=(0, 0, 1))
    lengths: list[float] = []
    # ase_md's own loop and checks (private there; no second copy of them here)
    ase_md.drive(dyn, atoms, "z-NPT", profile.steps(profile.equilibrate_ps), profile, time.monotonic(), None,
                  temperature_K, check_cell=True, sample=lambda: lengths.append(float(atoms.cell.lengths()[2])))
    cell = atoms.cell.array.copy()
    cell[2, 2] = float(np.mean(lengths[len(lengths) // 2:]))
    atoms.set_cell(cell, scale_atoms=True)
    return stack.with_atoms(atoms)


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json_default(value):
    """numpy scalars and arrays, paths: what json cannot write by itself."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
