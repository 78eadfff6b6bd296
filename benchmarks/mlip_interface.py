"""Interface check: a-Li3PS4 | Li3BO3-type coating, γ and D_Li in the interface region against the bulk.

Wang et al. 2023 studied amorphous-amorphous interfaces between a-Li3PS4 and its Li3B11O18 coating; Seth et al.
2025 found Li diffusivity ~10⁻⁸ cm²/s in bulk a-LiPON against ~10⁻⁹ cm²/s at its interface. This script runs the
mlip oracle's interface pipeline (`interface_simulation.simulate_interface`: both glasses melt-quenched and
equilibrated at T, stacked with two interfaces, γ from relaxations of the stack and both bulks, z-only NPT, NVT,
Li MSD by distance from the interfaces) with one fixed calculator instead of the campaign's growing potential.
results.json and the glasses and stacks as extended XYZ go to --out; a rerun into the same --out with the same
cells and protocol starts from its glasses.

Calculators: `--calculator sevennet` (the teacher, SevenNet-0, directly: universal, it has seen both
chemistries), or `--calculator committee --committee DIR` (a NequIP committee, DIR/member_k/student.json): the
committee's mean drives the MD, each member relaxes for γ, so γ gets the members' spread, and the production's
largest force deviation is recorded. A committee must have been trained on labels of the mixed cell:
the deviation says how far the stack lies from what it learned. (The mlip oracle's `interface` setting runs the
same pipeline with the growing potential, which learns the coating and the stack itself.)

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
from pathlib import Path

import torch

from amala.core.composition import parse_composition
from amala.oracles.md import ase_engine as ase_md
from amala.oracles.md.cells import build
from amala.oracles.md.protocol import MDProfile
from amala.oracles.mlip.interface_simulation import LI3BO3, InterfaceSpec, fixed, simulate_interface
from amala.oracles.mlip.nequip_student import NequIPStudent
from amala.oracles.mlip.student import StudentEnsemble
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

LI3PS4 = "Li2S:0.75;P2S5:0.25"


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
    profile = _profile(args)
    spec = InterfaceSpec(coating=args.coating, coating_density_g_cm3=args.coating_density,
                         coating_atoms=args.coating_atoms, temperature_K=args.T, width_A=args.width, gap_A=args.gap,
                         production_ps=args.ps, lateral=args.lateral, fmax_eV_A=args.fmax, relax_steps=args.steps)
    start = build(parse_composition(args.sulfide), args.sulfide_density, args.atoms, seed=args.seed).atoms
    print(f"{start.get_chemical_formula()} | {args.coating} at {args.T:g} K, profile {profile.name}", flush=True)
    result = simulate_interface("benchmark", start, spec, profile, args.out, fixed(*_calculators(args)),
                                seed=args.seed)
    result["command_line"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    gamma = result.get("interface_energy") or {}
    regions = result.get("diffusivity_by_region")
    print(json.dumps({"gamma_J_m2": gamma.get("gamma_J_m2"), "gamma_std_J_m2": gamma.get("gamma_std_J_m2"),
                      "converged": gamma.get("converged"), "ratios": regions and regions["ratios"],
                      "error": result.get("error"), "md_failed": result.get("md_failed"),
                      "wall_s": result["wall_s"]}, indent=1))


def _profile(args) -> MDProfile:
    """The chosen profile with the overrides given (`InterfaceSpec` sets its temperature and production)."""
    base = ase_md.PROFILES[args.profile]
    overrides = {"melt_ps": args.melt_ps, "quench_K_per_ps": args.quench_K_per_ps,
                 "equilibrate_ps": args.equilibrate_ps, "sample_every_fs": args.sample_fs}
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})


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
    committee = StudentEnsemble([NequIPStudent.load(folder) for folder in folders], args.device)
    return committee.calculator(), committee.calculators, committee.record()


if __name__ == "__main__":
    main()
