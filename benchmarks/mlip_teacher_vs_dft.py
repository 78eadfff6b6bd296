"""Benchmark bar 7 of the MLIP engine: the teacher (SevenNet-0) against PBE DFT (GPAW) on a-Li3PS4 frames.

Quantifies the second link of the chain student -> teacher -> DFT: frames of a 32-atom Li12P4S16 cell
sampled from a short SevenNet-0 MD at --T, each labelled by both teachers through the same
`FrameStore` (so a rerun recomputes nothing); the force MAE and the energy MAE (per atom, after
removing the mean offset, which depends on each method's reference energies) are printed and saved,
and the softening: the slope of SevenNet-0's force components against PBE's (least squares through
the origin, with a bootstrap interval over frames). A slope below 1 is a softer energy surface than
PBE's, the bias Deng et al. (npj Comput. Mater. 2025) report for universal potentials trained on MPtrj.
Needs GPAW (`make dft`).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mlip_teacher_vs_dft.py --out runs/bench/teacher_vs_dft
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from amala.core.composition import parse_composition
from amala.oracles.md.cells import build
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--atoms", type=int, default=32)
    p.add_argument("--T", type=float, default=900.0)
    p.add_argument("--ecut", type=float, default=400.0, help="GPAW plane-wave cutoff, eV")
    p.add_argument("--student", default=None, help="a shipped student (e.g. glass-student): its forces on the same "
                   "frames against both, the whole chain student -> teacher -> PBE")
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    seven = make_teacher(TeacherSpec())
    dft = make_teacher(TeacherSpec(kind="gpaw", ecut_eV=args.ecut), log_path=args.out / "gpaw.txt")
    atoms = build(parse_composition("Li2S:0.75;P2S5:0.25"), 1.9, args.atoms, seed=11).atoms
    atoms.calc = seven.calculator()
    rng = np.random.default_rng(11)
    MaxwellBoltzmannDistribution(atoms, temperature_K=args.T, rng=rng)
    dyn = Langevin(atoms, units.fs, temperature_K=args.T, friction=0.02 / units.fs, fixcm=False, rng=rng)
    dyn.run(300)  # away from the random start
    frames = []
    for _ in range(args.frames):
        dyn.run(30)
        frame = atoms.copy()
        frame.calc = None
        frame.wrap()
        frames.append(frame)
    seven_store, dft_store = FrameStore(args.out / "sevennet"), FrameStore(args.out / "gpaw")
    rows, pairs, started = [], [], time.perf_counter()
    student_calc = None
    if args.student:
        from amala.oracles.mlip import shipped

        student_calc = shipped.load(args.student).calculator()
    chain = []  # (student, teacher, dft) force components per frame
    for k, frame in enumerate(frames):
        a = seven_store.label(seven, frame, source=f"frame{k}")
        b = dft_store.label(dft, frame, source=f"frame{k}")
        if a is None or b is None:
            continue
        pairs.append((a.get_forces().ravel(), b.get_forces().ravel()))
        if student_calc is not None:
            copy = frame.copy()
            copy.calc = student_calc
            chain.append((copy.get_forces().ravel(), pairs[-1][0], pairs[-1][1]))
        rows.append((a.get_potential_energy() / len(a), b.get_potential_energy() / len(b),
                     np.abs(a.get_forces() - b.get_forces()).mean(), np.abs(b.get_forces()).mean()))
        print(k, rows[-1], flush=True)
    e7, edft, force_mae, force_scale = (np.array(c) for c in zip(*rows))
    offset = float(np.mean(e7 - edft))
    slope, slope_interval = softening(pairs)
    result = {"frames": len(rows), "atoms": args.atoms, "T_K": args.T, "ecut_eV": args.ecut,
              "force_mae_eV_A": float(force_mae.mean()), "mean_abs_dft_force_eV_A": float(force_scale.mean()),
              "energy_mae_meV_atom_after_offset": float(1000 * np.abs(e7 - edft - offset).mean()),
              "energy_offset_eV_atom": offset, "force_slope_teacher_vs_dft": slope,
              "force_slope_interval_95": slope_interval, "dft_failures": [f["reason"] for f in dft_store.failures()],
              "teacher": seven.provenance(), "dft": dft.provenance(),
              "seconds": round(time.perf_counter() - started, 1)}
    if chain:
        result["student"] = args.student
        result["student_vs_dft_force_mae_eV_A"] = float(np.mean([np.abs(s - d).mean() for s, _, d in chain]))
        result["student_vs_teacher_force_mae_eV_A"] = float(np.mean([np.abs(s - t).mean() for s, t, _ in chain]))
        result["force_slope_student_vs_dft"], result["force_slope_student_vs_dft_interval_95"] = softening(
            [(s, d) for s, _, d in chain])
        result["force_slope_student_vs_teacher"], result["force_slope_student_vs_teacher_interval_95"] = softening(
            [(s, t) for s, t, _ in chain])
    (args.out / "summary.json").write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result, indent=1, default=str))


def softening(pairs: list[tuple[np.ndarray, np.ndarray]], draws: int = 2000) -> tuple[float, list[float]]:
    """Slope of the teacher's force components on DFT's through the origin, and a 95% bootstrap over frames.

    Frames, not components, are resampled: the components of one frame are strongly correlated."""
    def fit(idx):
        teacher = np.concatenate([pairs[i][0] for i in idx])
        dft = np.concatenate([pairs[i][1] for i in idx])
        return float(teacher @ dft / (dft @ dft))
    rng = np.random.default_rng(0)
    boot = [fit(rng.integers(0, len(pairs), len(pairs))) for _ in range(draws)] if len(pairs) > 1 else []
    interval = [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))] if boot else []
    return fit(range(len(pairs))), interval


if __name__ == "__main__":
    main()
