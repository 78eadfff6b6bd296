"""Benchmark bar 3 of the MLIP engine: D_Li from the teacher's own MD, the reference for the student's.

A ~64-atom amorphous Li3PS4 cell (75Li2S·25P2S5) is melted and equilibrated with the teacher
(SevenNet-0), then run in NVT at a temperature where Li diffuses within a few ps; the Li MSD goes
through the same analysis as every amala MD run (`md_analysis.msd_by_group`, `diffusivity`). The
unwrapped trajectory is written as extxyz so the student's run of the same cell can be compared
(`benchmarks/mlip_li3ps4.py --teacher-md <dir>`). Slow on a CPU (~0.3-0.5 s per step): run it in the
background on one core, or on a GPU machine:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mlip_teacher_md.py --out runs/bench/teacher_md --ps 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.io import write
from ase.md.bussi import Bussi
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from amala.agents.composition import parse_composition
from amala.oracles import glass_structure, md_analysis
from amala.oracles.glass_cell import build
from amala.oracles.teachers import TeacherSpec, make_teacher

LI3PS4 = "Li2S:0.75;P2S5:0.25"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--atoms", type=int, default=64)
    parser.add_argument("--density", type=float, default=1.9, help="g/cm3 (a-Li3PS4 ≈ 1.9)")
    parser.add_argument("--melt-K", type=float, default=1200.0)
    parser.add_argument("--melt-ps", type=float, default=1.0)
    parser.add_argument("--T", type=float, default=900.0, help="production temperature, K")
    parser.add_argument("--ps", type=float, default=5.0, help="production length, ps")
    parser.add_argument("--dt-fs", type=float, default=1.0)
    parser.add_argument("--sample-fs", type=float, default=10.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = make_teacher(TeacherSpec(), device=args.device)
    atoms = build(parse_composition(LI3PS4), args.density, args.atoms, seed=args.seed).atoms
    atoms.calc = teacher.calculator()
    rng = np.random.default_rng(args.seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=args.melt_K, rng=rng)
    Stationary(atoms)
    started = time.perf_counter()
    Langevin(atoms, args.dt_fs * units.fs, temperature_K=args.melt_K, friction=0.02 / units.fs,
             rng=rng).run(int(args.melt_ps * 1000 / args.dt_fs))
    melt_s = time.perf_counter() - started
    dyn = Bussi(atoms, args.dt_fs * units.fs, temperature_K=args.T, taut=100 * units.fs, rng=rng)
    every = int(args.sample_fs / args.dt_fs)
    positions, temperatures = [], []
    dyn.attach(lambda: (positions.append(atoms.get_positions().copy()), temperatures.append(atoms.get_temperature())),
               interval=every)
    steps = int(args.ps * 1000 / args.dt_fs)
    started = time.perf_counter()
    dyn.run(steps)
    md_s = time.perf_counter() - started
    trajectory = glass_structure.Frames(np.array(positions), np.array(atoms.get_chemical_symbols()),
                                        args.sample_fs / 1000, atoms.cell.lengths())
    at_T = md_analysis.transport_at(trajectory, atoms.get_masses(), atoms.get_volume(), args.T, li_groups=4)
    x = trajectory.positions  # centre-of-mass drift removed (ASE does not wrap: these are unwrapped)
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
    write(args.out / "teacher_md_li3ps4.extxyz", frames, format="extxyz")
    np.save(args.out / "positions.npy", x)
    summary = {"teacher": teacher.provenance(), "n_atoms": len(atoms), "T_K": args.T, "production_ps": args.ps,
               "mean_T_K": float(np.mean(temperatures)), "melt_seconds": melt_s, "md_seconds": md_s,
               "seconds_per_step": md_s / steps, **result}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
