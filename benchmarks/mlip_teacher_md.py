"""Benchmark bar 2 of the distilled student: D_Li from the teacher's own MD, the reference for the student's.

A ~64-atom amorphous Li3PS4 cell (75Li2S·25P2S5) is melted and equilibrated with the teacher
(SevenNet-0), then run in NVT at a temperature where Li diffuses within a few ps; the Li MSD goes
through the same analysis as every amala MD run (`md_analysis.transport_at`). Every MD step is a teacher
label: energy (eV), forces (eV/Å) and unwrapped positions (Å) of each step are kept (float32), so the run
also feeds the distillation set.

Slow on a CPU (~0.5-0.8 s per step at 64 atoms): it runs in chunks of `--chunk` steps and writes a
checkpoint (positions, momenta, phase, step) after each, so a kill or a machine's shutdown loses at most one
chunk and the same command resumes where it stopped. The thermostat's random numbers are seeded per
(seed, phase, chunk), so a resumed run is the run that was never interrupted:

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/mlip_teacher_md.py --out runs/bench/teacher_md_s0 --seed 0

The summary (D_Li with its interval, σ, seconds per step, the teacher's provenance) is written when the
production phase is complete; `--analyse` recomputes it from the stored chunks.

`--potential PATH` runs the same protocol (same cell and seeds) with a student instead of the teacher: a
nequip checkpoint, a `.nequip.zip` package or a compiled `.nequip.pt2`; the student's D_Li over the
teacher's is bar 2 of the distilled student (`benchmarks/ship_student.py` reads both summaries).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase import Atoms, units
from ase.io import write
from ase.md.bussi import Bussi
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from amala.core.atomic_files import write_arrays
from amala.core.composition import parse_composition
from amala.oracles.md import analysis as md_analysis
from amala.oracles.md import structure as glass_structure
from amala.oracles.md.cells import build
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

LI3PS4 = "Li2S:0.75;P2S5:0.25"


def phases(args) -> list[tuple[str, float, int]]:
    """(name, temperature K, steps): a melt at `--melt-K`, then production at `--T`."""
    return [("melt", args.melt_K, round(args.melt_ps * 1000 / args.dt_fs)),
            ("production", args.T, round(args.ps * 1000 / args.dt_fs))]


def run_chunk(atoms: Atoms, phase: str, temperature: float, steps: int, args, chunk: int) -> dict:
    rng = np.random.default_rng([args.seed, 0 if phase == "melt" else 1, chunk])
    if phase == "melt":
        dyn = Langevin(atoms, args.dt_fs * units.fs, temperature_K=temperature, friction=0.02 / units.fs, rng=rng)
    else:
        dyn = Bussi(atoms, args.dt_fs * units.fs, temperature_K=temperature, taut=100 * units.fs, rng=rng)
    rec = {"positions": [], "forces": [], "energy": [], "temperature": []}

    def record():  # the calculator's cached results of this step: no extra teacher call
        rec["positions"].append(atoms.get_positions().astype(np.float32))
        rec["forces"].append(atoms.get_forces().astype(np.float32))
        rec["energy"].append(atoms.get_potential_energy())
        rec["temperature"].append(atoms.get_temperature())

    dyn.attach(record, interval=1)
    dyn.run(steps)
    return {k: np.array(v) for k, v in rec.items()}


def analyse(out: Path, atoms: Atoms, args, teacher_provenance, seconds: float, steps_timed: int) -> dict:
    files = sorted((out / "chunks").glob("production_*.npz"))
    data = [np.load(f) for f in files]
    # the first of each chunk is the state the chunk starts from; keep one row per step
    x = np.concatenate([d["positions"][1:] for d in data])
    temps = np.concatenate([d["temperature"][1:] for d in data])
    every = max(1, round(args.sample_fs / args.dt_fs))
    x = x[::every].astype(np.float64)
    trajectory = glass_structure.Frames(x, np.array(atoms.get_chemical_symbols()), every * args.dt_fs / 1000,
                                        atoms.cell.lengths())
    at_T = md_analysis.transport_at(trajectory, atoms.get_masses(), atoms.get_volume(), args.T, li_groups=4)
    if at_T.diffusivity is not None:
        result = {"d_li_cm2_s": at_T.diffusivity.value_cm2_s, "d_li_std_cm2_s": at_T.diffusivity.std_cm2_s,
                  "window_ps": at_T.diffusivity.window_ps, "sigma_S_cm": at_T.sigma_S_cm}
    else:
        result = {"no_diffusive_regime": at_T.skipped}
    frames = []
    for k in range(0, len(x), 10):
        frame = atoms.copy()
        frame.calc = None
        frame.positions = x[k]
        frames.append(frame)
    write(out / "teacher_md_li3ps4.extxyz", frames, format="extxyz")
    np.save(out / "positions.npy", x)
    summary = {"teacher": teacher_provenance, "n_atoms": len(atoms), "T_K": args.T,
               "production_ps": len(x) * every * args.dt_fs / 1000, "dt_fs": args.dt_fs, "seed": args.seed,
               "mean_T_K": float(np.mean(temps)), "seconds_per_step": seconds / max(steps_timed, 1), **result}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def student_calculator(path: Path, device: str):
    """(ASE calculator, provenance) of a student file."""
    from amala.oracles.mlip.nequip_student import load_calculator

    return load_calculator(path, device), {"student": str(path),
                                           "level_of_theory": "NequIP student distilled from SevenNet-0"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--atoms", type=int, default=64)
    parser.add_argument("--density", type=float, default=1.9, help="g/cm3 (a-Li3PS4 ≈ 1.9)")
    parser.add_argument("--melt-K", dest="melt_K", type=float, default=1200.0)
    parser.add_argument("--melt-ps", type=float, default=2.0)
    parser.add_argument("--T", type=float, default=900.0, help="production temperature, K")
    parser.add_argument("--ps", type=float, default=12.0, help="production length, ps")
    parser.add_argument("--dt-fs", type=float, default=2.0)
    parser.add_argument("--sample-fs", type=float, default=10.0, help="spacing of the frames of the MSD, fs")
    parser.add_argument("--chunk", type=int, default=100, help="steps between checkpoints")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--analyse", action="store_true", help="only recompute the summary from the chunks")
    parser.add_argument("--potential", type=Path, default=None, help="a student (checkpoint, .nequip.zip or "
                        ".nequip.pt2) in the teacher's place")
    args = parser.parse_args()
    torch.set_num_threads(1)
    (args.out / "chunks").mkdir(parents=True, exist_ok=True)
    (args.out / "args.json").write_text(json.dumps({k: str(v) for k, v in vars(args).items()}, indent=1))
    if args.potential is not None:
        calculator, provenance = student_calculator(args.potential, args.device)
    else:
        teacher = make_teacher(TeacherSpec(), device=args.device)
        calculator, provenance = teacher.calculator(), teacher.provenance()
    atoms = build(parse_composition(LI3PS4), args.density, args.atoms, seed=args.seed).atoms
    state_file = args.out / "state.npz"
    if state_file.exists():
        state = np.load(state_file)
        atoms.positions, done = state["positions"], {"melt": int(state["melt"]), "production": int(state["production"])}
        atoms.set_momenta(state["momenta"])
        seconds, steps_timed = float(state["seconds"]), int(state["steps_timed"])
        print(f"resuming: melt {done['melt']} steps, production {done['production']} steps done", flush=True)
    else:
        rng = np.random.default_rng(args.seed)
        MaxwellBoltzmannDistribution(atoms, temperature_K=args.melt_K, rng=rng)
        Stationary(atoms)
        done, seconds, steps_timed = {"melt": 0, "production": 0}, 0.0, 0
    atoms.calc = calculator
    if not args.analyse:
        for phase, temperature, total in phases(args):
            while done[phase] < total:
                chunk = done[phase] // args.chunk
                steps = min(args.chunk, total - done[phase])
                started = time.perf_counter()
                rec = run_chunk(atoms, phase, temperature, steps, args, chunk)
                seconds += time.perf_counter() - started
                steps_timed += steps
                write_arrays(args.out / "chunks" / f"{phase}_{chunk:04d}.npz", **rec)
                done[phase] += steps
                write_arrays(state_file, positions=atoms.get_positions(), momenta=atoms.get_momenta(),
                            melt=done["melt"], production=done["production"], seconds=seconds,
                            steps_timed=steps_timed)
                print(f"{phase} {done[phase]}/{total} steps, {seconds / steps_timed:.2f} s/step, "
                      f"T {rec['temperature'][-1]:.0f} K", flush=True)
    summary = analyse(args.out, atoms, args, provenance, seconds, steps_timed)
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
