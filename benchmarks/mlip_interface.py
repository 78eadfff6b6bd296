"""Interface check of issue 13: a-Li3PS4 | Li3BO3-type coating, γ and D_Li in the interface region against the bulk.

Wang et al. 2023 studied amorphous-amorphous interfaces between a-Li3PS4 and its Li3B11O18 coating; Seth et al.
2025 found Li diffusivity ~10⁻⁸ cm²/s in bulk a-LiPON against ~10⁻⁹ cm²/s at its interface. This script builds
both glasses (`glass_cell.build`), melt-quenches each and equilibrates it at T (zero-pressure NPT) with one ASE
calculator (`ase_md`), stacks them into one periodic cell with two interfaces (`glass_interface.stack`, B strained
to A's lateral lengths), relaxes the stack and both bulks (positions and z) for γ (`interface_energy`), lets the
stack's z length find its own at T (z-only Berendsen NPT), runs NVT (`ase_md.production`) and resolves the Li MSD
by distance from the interfaces (`region_msd`, `region_diffusivities`). One JSON (results.json) and the glasses
and relaxed stack as extended XYZ go to --out.

Calculators: `--calculator sevennet` (the teacher, SevenNet-0, directly: universal, it has seen both
chemistries), or `--calculator committee --committee DIR` (a NequIP committee, DIR/member_k/student.json): the
committee's mean drives the MD, each member relaxes for γ, so γ gets the members' spread, and the production's
largest force deviation is recorded. A committee must have been trained on labels of the mixed cell (issue 13):
the deviation says how far the stack lies from what it learned.

A real run (hours on CPU; minutes on a GPU with --device cuda), 2 x 128 atoms, standard profile, 600 K:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mlip_interface.py --out runs/bench/interface \\
        --profile standard --atoms 128 --T 600 --ps 50 --width 3.0

Plumbing check (about a minute on one core; no diffusive regime is expected):

    .venv/bin/python benchmarks/mlip_interface.py --out /tmp/interface_tiny --profile test --atoms 16 \\
        --coating-atoms 14 --melt-ps 0.01 --quench-K-per-ps 100000 --equilibrate-ps 0.01 --ps 0.02 --sample-fs 1 \\
        --steps 20
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase import Atoms, units
from ase.io import write
from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from amala.agents.composition import parse_composition
from amala.models.nequip_student import Committee, Student
from amala.oracles import ase_md, glass_interface, glass_structure, md_analysis
from amala.oracles.glass_cell import build
from amala.oracles.glass_md import MDProfile, SimulationFailed
from amala.oracles.teachers import TeacherSpec, make_teacher

LI3PS4 = "Li2S:0.75;P2S5:0.25"
LI3BO3 = "Li2O:0.75;B2O3:0.25"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--calculator", choices=("sevennet", "committee"), default="sevennet")
    parser.add_argument("--model", default="7net-0", help="SevenNet model shipped in the sevenn wheel")
    parser.add_argument("--committee", type=Path, help="folder of a NequIP committee (member_k/student.json)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--sulfide", default=LI3PS4, help="glass A (the electrolyte)")
    parser.add_argument("--coating", default=LI3BO3, help="glass B (the coating)")
    parser.add_argument("--sulfide-density", type=float, default=1.9, help="starting g/cm3 (NPT finds its own)")
    parser.add_argument("--coating-density", type=float, default=2.1, help="starting g/cm3 (NPT finds its own)")
    parser.add_argument("--atoms", type=int, default=128, help="atoms of glass A")
    parser.add_argument("--coating-atoms", type=int, help="atoms of glass B; default: about A's starting volume")
    parser.add_argument("--profile", choices=sorted(ase_md.PROFILES), default="quick")
    parser.add_argument("--T", type=float, default=600.0, help="quench, NPT and NVT temperature, K")
    parser.add_argument("--melt-ps", type=float, help="default: the profile's")
    parser.add_argument("--quench-K-per-ps", type=float, help="default: the profile's")
    parser.add_argument("--equilibrate-ps", type=float, help="NPT of each glass and of the stack; default: profile's")
    parser.add_argument("--ps", type=float, help="NVT production of the stack, ps; default: the profile's")
    parser.add_argument("--sample-fs", type=float, help="sampling interval, fs; default: the profile's")
    parser.add_argument("--gap", type=float, default=2.0, help="Å between the slabs at each interface")
    parser.add_argument("--width", type=float, default=3.0, help="Å from an interface plane that is 'interface'")
    parser.add_argument("--lateral", action="store_true", help="D from the x, y MSD only (along the interface)")
    parser.add_argument("--fmax", type=float, default=0.05, help="eV/Å")
    parser.add_argument("--steps", type=int, default=300, help="FIRE steps per relaxation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    profile = _profile(args)
    md_calc, members, described = _calculators(args)
    clock: dict[str, float] = {}

    started = time.perf_counter()
    a_cell = build(parse_composition(args.sulfide), args.sulfide_density, args.atoms, seed=args.seed).atoms
    b_cell = (build(parse_composition(args.coating), args.coating_density, args.coating_atoms, seed=args.seed + 1).atoms
              if args.coating_atoms else
              _same_volume(args.coating, args.coating_density, a_cell.get_volume(), args.seed + 1))
    glasses = {}
    for name, cell in (("A", a_cell), ("B", b_cell)):
        print(f"glass {name}: {cell.get_chemical_formula()}, melt-quench and NPT at {args.T:g} K", flush=True)
        glass = ase_md.melt_quench(cell, md_calc, profile, seed=args.seed)
        ase_md.equilibrate(glass, md_calc, args.T, profile)
        glass.calc = None
        write(args.out / f"glass_{name}.extxyz", glass, format="extxyz")
        glasses[name] = glass
    clock["glasses_s"] = time.perf_counter() - started

    started = time.perf_counter()
    print(f"glasses done in {clock['glasses_s']:.0f} s; relaxing the stack and both bulks", flush=True)
    stack = glass_interface.stack(glasses["A"], glasses["B"], gap_A=args.gap)
    gamma = glass_interface.interface_energy(stack, members, args.fmax, args.steps)
    relaxed = gamma.pop("relaxed_stack")
    write(args.out / "stack_relaxed.extxyz", relaxed.atoms, format="extxyz")
    clock["interface_energy_s"] = time.perf_counter() - started

    started = time.perf_counter()
    print(f"γ = {gamma['gamma_J_m2']:.3f} J/m2 in {clock['interface_energy_s']:.0f} s; NPT (z) and NVT", flush=True)
    hot = _z_npt(relaxed, md_calc, args.T, profile)
    deviations: list[float] = []

    def watch(stage, step, atoms):  # a committee's disagreement on the stack: how far it is from its labels
        if stage == "production" and "force_deviation" in atoms.calc.results:
            deviations.append(float(atoms.calc.results["force_deviation"]))

    atoms = hot.atoms.copy()
    regions, whole, failed = None, None, None
    try:
        frames, _ = ase_md.production(atoms, md_calc, args.T, profile, seed=args.seed, observer=watch)
    except SimulationFailed as exc:  # said in the results next to γ, which stands without the MD
        failed = str(exc)
    else:
        regions = glass_interface.region_diffusivities(
            glass_interface.region_msd(frames, hot, args.width, lateral=args.lateral))
        at_T = md_analysis.transport_at(frames, atoms.get_masses(), atoms.get_volume(), args.T, profile.li_groups)
        whole = {"d_cm2_s": None if at_T.diffusivity is None else at_T.diffusivity.value_cm2_s,
                 "d_std_cm2_s": None if at_T.diffusivity is None else at_T.diffusivity.std_cm2_s,
                 "skipped": at_T.skipped}
    clock["md_s"] = time.perf_counter() - started

    result = {
        "calculator": described, "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "profile": dataclasses.asdict(profile),
        "glasses": {name: {"composition": composition, "formula": g.get_chemical_formula(), "n_atoms": len(g),
                           "cell_A": g.cell.lengths().tolist(), "density_g_cm3": glass_structure.density(g)}
                    for (name, g), composition in zip(glasses.items(), (args.sulfide, args.coating))},
        "stack": {"n_atoms": len(hot.atoms), "area_A2": hot.area_A2, "cell_A_at_T": hot.atoms.cell.lengths().tolist(),
                  "planes_z_A_at_T": list(hot.planes_z_A), "lateral_strain_B": list(hot.lateral_strain_b),
                  "gap_A": hot.gap_A},
        "interface_energy": gamma,
        "diffusivity_by_region": regions,
        "whole_cell": whole,
        "md_failed": failed,
        "production_max_force_deviation_eV_A": max(deviations) if deviations else None,
        "wall_s": clock,
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps({"gamma_J_m2": gamma["gamma_J_m2"], "gamma_std_J_m2": gamma.get("gamma_std_J_m2"),
                      "converged": gamma["converged"], "ratios": regions and regions["ratios"],
                      "md_failed": failed, "wall_s": clock}, indent=1))


def _profile(args) -> MDProfile:
    """The chosen profile quenched to, and simulated at, the one temperature `--T`, with the overrides given."""
    base = ase_md.PROFILES[args.profile]
    overrides = {"melt_ps": args.melt_ps, "quench_K_per_ps": args.quench_K_per_ps,
                 "equilibrate_ps": args.equilibrate_ps, "production_ps": args.ps, "sample_every_fs": args.sample_fs}
    return dataclasses.replace(base, temperatures_K=(args.T,), **{k: v for k, v in overrides.items() if v is not None})


def _calculators(args):
    """(the MD calculator, the calculators that relax for γ, a description)."""
    if args.calculator == "sevennet":
        teacher = make_teacher(TeacherSpec(model=args.model), device=args.device)
        return teacher.calculator(), teacher.calculator(), teacher.provenance()
    if args.committee is None:
        raise SystemExit("--committee: the committee folder is required with --calculator committee")
    folders = sorted(args.committee.glob("member_*"))
    if len(folders) < 2:
        raise SystemExit(f"--committee: {args.committee} holds {len(folders)} member_* folder(s); need 2 or more")
    committee = Committee([Student.load(folder) for folder in folders], args.device)
    return committee.calculator(), committee.calculators, committee.record()


def _same_volume(composition: str, density: float, volume_A3: float, seed: int) -> Atoms:
    """Glass B with about A's starting volume, so that its cube needs little lateral strain to fit A's."""
    fractions = parse_composition(composition)
    probe = build(fractions, density, 64, seed=seed).atoms
    return build(fractions, density, max(8, round(volume_A3 / (probe.get_volume() / len(probe)))), seed=seed).atoms


def _z_npt(stack: glass_interface.Stack, calculator, temperature_K: float,
           profile: MDProfile) -> glass_interface.Stack:
    """Zero-pressure Berendsen NPT along z alone (x, y stay A's): the relaxed stack's z length at T, set to the
    mean of the run's second half (the planes keep their fractional z)."""
    atoms = stack.atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng, force_temp=True)
    Stationary(atoms)
    dt = profile.timestep_fs * units.fs
    dyn = Inhomogeneous_NPTBerendsen(atoms, dt, temperature_K=temperature_K, pressure_au=0.0,
                                     taut=ase_md.TDAMP_STEPS * dt, taup=ase_md.PDAMP_STEPS * dt,
                                     compressibility_au=ase_md.COMPRESSIBILITY_PER_GPA / units.GPa, mask=(0, 0, 1))
    lengths: list[float] = []
    dyn.attach(lambda: lengths.append(float(atoms.cell.lengths()[2])),
               interval=profile.steps(profile.sample_every_fs / 1000))
    dyn.run(profile.steps(profile.equilibrate_ps))
    cell = atoms.cell.array.copy()
    cell[2, 2] = float(np.mean(lengths[len(lengths) // 2:]))
    atoms.set_cell(cell, scale_atoms=True)
    return stack.with_atoms(atoms)


if __name__ == "__main__":
    main()
