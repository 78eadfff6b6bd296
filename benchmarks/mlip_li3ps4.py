"""Benchmark of the MLIP engine on amorphous Li3PS4 (75Li2S·25P2S5) with SevenNet-0 as the teacher.

Stages (each writes its JSON into --out, and a rerun skips the stages already done; the on-the-fly
learning itself resumes without repeating a teacher call):
  learn     on-the-fly learning on a --cell-atoms cell (committee, trust window, budget)          bar 4
  held_out  a separate melt-quench of a --test-atoms cell with the student (other seed); frames the
            student never saw, labelled by the teacher: energy and force MAE                      bar 1
  speed     per-MD-step time of the teacher and the student (uncompiled, and compiled when
            nequip-compile works), alternating in one process on the same cell                    bar 2
  sizes     the same labels, students of other sizes: held-out error against time per step        bar 2
  dynamics  D_Li from the student's NVT of the teacher-MD cell (benchmarks/mlip_teacher_md.py)      bar 3
  arrhenius melt-quench-NPT-NVT with the student (ase_md), D, σ(T), Ea and σ(300 K)                bar 5

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mlip_li3ps4.py --out runs/bench/li3ps4 \
        --teacher-md runs/bench/teacher_md
    ... --composition "Li2O:0.333333;SiO2:0.666667" --density 2.3 --out runs/bench/li2si2o5   (bar 6)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.md.bussi import Bussi
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from amala.core.composition import parse_composition
from amala.oracles.md import analysis as md_analysis
from amala.oracles.md import ase_engine as ase_md
from amala.oracles.md import structure as glass_structure
from amala.oracles.md.cells import build
from amala.oracles.md.protocol import MDProfile, SimulationFailed
from amala.oracles.mlip.nequip_student import (
    NequIPStudent,
    StudentSpec,
    compile_student,
    held_out_errors,
    train_student,
)
from amala.oracles.mlip.on_the_fly import OnTheFly, OnTheFlySpec
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

LI3PS4 = "Li2S:0.75;P2S5:0.25"
SIZES = {"small": dict(num_features=8, num_layers=2, radial_mlp_width=16),
         "medium": dict(num_features=16, num_layers=2, radial_mlp_width=32),
         "large": dict(num_features=32, num_layers=3, radial_mlp_width=32)}


def stage(out: Path, name: str, compute):
    """Run a stage once: its result is kept in <out>/<name>.json and read back on a rerun."""
    path = out / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    started = time.perf_counter()
    try:
        result = compute()
    except SimulationFailed as exc:  # the student's MD blew up: that is a result too, and later stages still run
        result = {"failed": str(exc)}
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    path.write_text(json.dumps(result, indent=1, default=str))
    print(name, json.dumps(result, default=str)[:2000], flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--composition", default=LI3PS4)
    p.add_argument("--density", type=float, default=1.9, help="g/cm3 of the starting cells")
    p.add_argument("--cell-atoms", type=int, default=64, help="cell of the on-the-fly learning")
    p.add_argument("--test-atoms", type=int, default=128, help="cell of the held-out, speed and Arrhenius stages")
    p.add_argument("--size", default="medium", choices=sorted(SIZES))
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--per-round", type=int, default=24)
    p.add_argument("--max-rounds", type=int, default=6)
    p.add_argument("--explore-K", type=float, nargs="+", default=[600.0, 900.0, 1200.0])
    p.add_argument("--teacher-md", type=Path, help="folder of benchmarks/mlip_teacher_md.py (bar 3)")
    p.add_argument("--stages", nargs="+", default=["learn", "held_out", "speed", "dynamics", "arrhenius", "sizes"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    fractions = parse_composition(args.composition)
    teacher = make_teacher(TeacherSpec())
    student_spec = StudentSpec(**SIZES[args.size], epochs=args.epochs, patience=20, learning_rate=args.lr)
    settings = OnTheFlySpec(committee_size=3, seed_frames=24, seed_md_stride=5, per_round=args.per_round,
                            budget=args.budget, max_rounds=args.max_rounds,
                            segment_steps=500, observe_every=10, min_spacing=20, window=50,
                            explore_temperatures_K=args.explore_K)
    otf = OnTheFly(args.out / "on_the_fly", teacher, student_spec, settings, seed=args.seed)
    start = build(fractions, args.density, args.cell_atoms, seed=args.seed).atoms
    learned = {}

    def learn():
        learned["result"] = result = otf.run(start)
        return {**result.record(), "cell_atoms": len(start), "student": student_spec.model_dump(),
                "settings": settings.model_dump(), "teacher": teacher.provenance()}

    stage(args.out, "learn", learn)
    result = learned.get("result") or otf.run(start)  # a rerun reads the finished loop back: no teacher call
    committee = result.committee
    student = committee.members[0]
    test_cell = build(fractions, args.density, args.test_atoms, seed=args.seed + 1).atoms
    quick = MDProfile("bench-held-out", args.test_atoms, 1.0, 1200.0, 2.0, 200.0, (600.0,), 1.0, 1.0,
                      sample_every_fs=100.0, npt_below_K=1200.0)
    held_out_frames: list = []

    def held_out():
        picks = []

        def keep(stage_name, step, atoms):
            if step % 500 == 0:
                picks.append(atoms.copy())

        glass = ase_md.melt_quench(test_cell, student.calculator(), quick, seed=args.seed + 1, observer=keep)
        picks.append(glass.copy())
        labelled = [f for f in (teacher_label(teacher, a) for a in picks) if f is not None]
        held_out_frames.extend(labelled)
        members = [held_out_errors(m.calculator(), labelled) for m in committee.members]
        mean = held_out_errors(committee.calculator(), labelled)
        return {"frames": len(labelled), "atoms": args.test_atoms,
                "members_energy_mae_meV_atom": [e for e, _ in members],
                "members_force_mae_meV_A": [f for _, f in members],
                "committee_energy_mae_meV_atom": mean[0], "committee_force_mae_meV_A": mean[1],
                "bar_force_meV_A": 50, "bar_energy_meV_atom": 5}

    if "held_out" in args.stages:
        stage(args.out, "held_out", held_out)

    def speed():
        cell = test_cell.copy()
        rows = {"teacher": teacher.calculator(), "student": student.calculator()}
        compiled = compile_student(student)
        if compiled.compiled is not None:
            rows["student_compiled"] = compiled.calculator()
        times = {name: [] for name in rows}
        for _ in range(3):  # alternating, so machine load hits all alike
            for name, calc in rows.items():
                times[name].append(seconds_per_step(cell, calc, steps=10))
        best = {name: min(t) for name, t in times.items()}
        return {"atoms": len(cell), "seconds_per_step": best, "all": times,
                "speedup_uncompiled": best["teacher"] / best["student"],
                "speedup_compiled": best["teacher"] / best["student_compiled"] if "student_compiled" in best else None,
                "compile_error": compiled.compile_error}

    if "speed" in args.stages:
        stage(args.out, "speed", speed)

    if "dynamics" in args.stages and args.teacher_md and (args.teacher_md / "summary.json").is_file():
        stage(args.out, "dynamics", lambda: dynamics(args.teacher_md, student, fractions, args))

    def arrhenius():
        profile = MDProfile("bench", args.test_atoms, 1.0, 1200.0, 3.0, 200.0, (700.0, 850.0, 1000.0), 2.0, 10.0,
                            sample_every_fs=20.0, timeout_s=6 * 3600, npt_below_K=1200.0)
        glass = ase_md.run(test_cell, student.calculator(), profile, args.out / "arrhenius", seed=args.seed,
                           engine=f"NequIP student {args.size}, {len(result.store)} labels")
        fit = glass.arrhenius
        log10_sigma, log10_std = fit.log10_sigma(300.0)
        return {"ea_eV": fit.ea_eV, "ea_std_eV": fit.ea_std_eV, "log10_sigma_300K": log10_sigma,
                "log10_sigma_300K_std": log10_std,
                "d_li_cm2_s": {f"{T:g}": [d.value_cm2_s, d.std_cm2_s] for T, d in glass.diffusivities.items()},
                "sigma_S_cm": {f"{T:g}": list(s) for T, s in glass.conductivities_S_cm.items()},
                "density_g_cm3": {f"{T:g}": v for T, v in glass.density_g_cm3.items()},
                "skipped": {f"{T:g}": v for T, v in glass.skipped_K.items()}}

    if "arrhenius" in args.stages:
        stage(args.out, "arrhenius", arrhenius)

    def sizes():
        train, val = result.store.split(settings.holdout_fraction)
        rows = {}
        for name, size in SIZES.items():
            spec = StudentSpec(**size, epochs=args.epochs, patience=20, learning_rate=args.lr)
            other = train_student(train, val, spec, args.seed, args.out / "sizes" / name)
            e, f = held_out_errors(other.calculator(), held_out_frames or val)
            rows[name] = {"energy_mae_meV_atom": e, "force_mae_meV_A": f,
                          "seconds_per_step": seconds_per_step(test_cell.copy(), other.calculator(), steps=10)}
        return {"on": "held-out melt-quench frames" if held_out_frames else "held-out labels", "sizes": rows}

    if "sizes" in args.stages:
        stage(args.out, "sizes", sizes)


def teacher_label(teacher, atoms):
    from amala.oracles.mlip.teachers import TeacherFailed

    try:
        return teacher.label(atoms)
    except TeacherFailed:
        return None


def seconds_per_step(atoms, calc, steps: int, temperature_K: float = 600.0) -> float:
    atoms = atoms.copy()
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=np.random.default_rng(0))
    dyn = Bussi(atoms, 1.0 * units.fs, temperature_K=temperature_K, taut=100 * units.fs, rng=np.random.default_rng(1))
    dyn.run(1)  # model warm-up outside the clock
    started = time.perf_counter()
    dyn.run(steps)
    return (time.perf_counter() - started) / steps


def dynamics(teacher_md: Path, student: NequIPStudent, fractions: dict, args) -> dict:
    """The student's D_Li on the teacher-MD cell: same composition, atoms, density, seed, temperature."""
    ref = json.loads((teacher_md / "summary.json").read_text())
    atoms = build(fractions, args.density, ref["n_atoms"], seed=0).atoms  # the teacher run's cell (its seed 0)
    positions = np.load(teacher_md / "positions.npy")
    atoms.positions = positions[0]  # the teacher's first production frame: the same melted start
    atoms.calc = student.calculator()
    rng = np.random.default_rng(args.seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=ref["T_K"], rng=rng)
    Stationary(atoms)
    dyn = Bussi(atoms, 1.0 * units.fs, temperature_K=ref["T_K"], taut=100 * units.fs, rng=rng)
    dyn.run(500)  # settle on the student's surface
    frames = []
    dyn.attach(lambda: frames.append(atoms.get_positions().copy()), interval=10)
    started = time.perf_counter()
    dyn.run(int(ref["production_ps"] * 1000))
    trajectory = glass_structure.Frames(np.array(frames), np.array(atoms.get_chemical_symbols()), 0.01,
                                        atoms.cell.lengths())
    at_T = md_analysis.transport_at(trajectory, atoms.get_masses(), atoms.get_volume(), ref["T_K"], li_groups=4)
    if at_T.diffusivity is None:
        return {"T_K": ref["T_K"], "student_no_diffusive_regime": at_T.skipped}
    d = at_T.diffusivity
    ratio = d.value_cm2_s / ref["d_li_cm2_s"] if "d_li_cm2_s" in ref else None
    return {"T_K": ref["T_K"], "ps": ref["production_ps"], "student_d_li_cm2_s": d.value_cm2_s,
            "student_d_li_std_cm2_s": d.std_cm2_s, "teacher_d_li_cm2_s": ref.get("d_li_cm2_s"),
            "teacher_d_li_std_cm2_s": ref.get("d_li_std_cm2_s"), "ratio_student_over_teacher": ratio,
            "student_md_seconds": time.perf_counter() - started, "teacher_md_seconds": ref["md_seconds"]}


if __name__ == "__main__":
    main()
