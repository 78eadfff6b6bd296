"""Benchmark of the glass structure generator (issue "Glass structures generated, not melted").

For each held-out composition of a generator's spec (never trained on), against its melt-quenched
replicas (LAMMPS, Pedone, the same cell size and quench rate):

1. Structure. Each replica's last snapshot and each generated glass is relaxed at fixed box with the
   Pedone potential (`lammps_glass.relax`), then measured (`glass_metrics`). Per measure: the replicas'
   spread (largest distance between two replicas) against the generated glasses' mean distance to the
   replicas; the relaxed energy per atom against 2x the replicas' energy range. A baseline row: random
   cells (the oracle's own starting cell) relaxed the same way, i.e. what the generator adds.
2. Cost per production-ready glass, same machine and cell size: generation + relaxation against the
   LAMMPS melt-quench (timed here, to 300 K at the spec's held-out quench rate) and against the MLIP
   oracle's melt-quench with the shipped student and with the teacher (per-step times measured here on
   this cell, times the quick ASE profile's melt and quench steps; the student's relaxation of a
   generated glass timed). The training cost and its break-even number of glasses.
3. Downstream (--md): the LAMMPS oracle's quick profile from melt-quench and from generated glasses,
   seeds 0..R-1, on one held-out composition: D_Li per temperature, Ea and log10 σ(300 K), mean and
   spread of each.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/glass_generator.py --generator li-silicate-150 \
        --glasses runs/generator/li-silicate-150 --out runs/bench/glass_generator [--md 3]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from ase.io import read

from amala.core.composition import parse_composition
from amala.oracles.generator.generator import DEFAULT_STEPS, SamplingSettings, find
from amala.oracles.md import glass_metrics as gm
from amala.oracles.md import lammps_engine, lammps_glass
from amala.oracles.md.cells import START_DENSITY_G_CM3, build


def relaxed_metrics(atoms, workdir: Path):
    started = time.perf_counter()
    relaxed, energy = lammps_glass.relax(atoms, workdir)
    return gm.measure(relaxed, energy), time.perf_counter() - started


def structure(generator, heldout: Path, out: Path, samples: int, steps: int) -> list[dict]:
    rows = []
    for name, replicas_atoms in _heldout_replicas(heldout).items():
        composition, quench, n_atoms = _recipe(replicas_atoms[0])
        replicas = [relaxed_metrics(a, out / "relax" / f"{name}-r{k}")[0] for k, a in enumerate(replicas_atoms)]
        generated, timings, failures = [], [], []
        for seed in range(samples):
            started = time.perf_counter()
            try:
                glass = generator.sample(composition, n_atoms, seed=seed, quench_K_per_ps=quench,
                                         settings=SamplingSettings(steps=steps))
            except Exception as exc:  # noqa: BLE001 - a failed generation is a result here
                failures.append(str(exc))
                continue
            sampled = time.perf_counter() - started
            glass.write(out / f"{name}-gen{seed}.extxyz", format="extxyz")
            metrics, relax_s = relaxed_metrics(glass, out / "relax" / f"{name}-g{seed}")
            generated.append(metrics)
            timings.append({"sample_s": round(sampled, 2), "relax_s": round(relax_s, 2)})
        random_cells = [relaxed_metrics(build(parse_composition(composition), generator.density(
            replicas_atoms[0].get_chemical_symbols()), n_atoms, seed=50 + s).atoms, out / "relax" / f"{name}-x{s}")[0]
            for s in range(samples)]
        spread = gm.spread(replicas)
        energies = [m.energy_eV_atom for m in replicas]
        row = {"glass": name, "composition": composition, "n_atoms": n_atoms, "quench_K_per_ps": quench,
               "replicas": len(replicas), "generated": len(generated), "generation_failures": failures,
               "replica_spread": spread,
               "replica_mean_distance": _mean_pairwise(replicas),
               "generated_to_replicas": _mean_rows([gm.mean_distance(replicas, g) for g in generated]),
               "random_to_replicas": _mean_rows([gm.mean_distance(replicas, r) for r in random_cells]),
               "energy_eV_atom": {"replicas": energies, "generated": [g.energy_eV_atom for g in generated],
                                  "random": [r.energy_eV_atom for r in random_cells]},
               "coordination": {"replicas": _mean_rows([m.coordination for m in replicas]),
                                "generated": _mean_rows([m.coordination for m in generated]),
                                "random": _mean_rows([m.coordination for m in random_cells])},
               "density_g_cm3": {"replicas": [m.density_g_cm3 for m in replicas],
                                 "generated": [m.density_g_cm3 for m in generated]},
               "timings": timings}
        e_range = max(energies) - min(energies)
        row["energy_within_2x_spread"] = bool(generated) and bool(abs(
            np.mean(row["energy_eV_atom"]["generated"]) - np.mean(energies)) <= 2 * e_range)
        row["measures_within_spread"] = {k: bool(v <= spread[k]) for k, v in row["generated_to_replicas"].items()
                                         if k in spread and k not in ("energy",)}
        (out / "metrics").mkdir(parents=True, exist_ok=True)
        (out / "metrics" / f"{name}.json").write_text(json.dumps(
            {"replicas": [m.to_dict() for m in replicas], "generated": [m.to_dict() for m in generated],
             "random": [m.to_dict() for m in random_cells]}))
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("glass", "generated", "energy_within_2x_spread")}), flush=True)
    return rows


def energy_gaps(generator, heldout: Path, out: Path, seeds: int, steps: int) -> list[dict]:
    """The energy half of the structure comparison with more seeds: each held-out composition's replicas and
    `seeds` generated glasses relaxed the same way; the mean gap to the replicas' mean and its standard error
    (3 generated glasses scatter as much as the steps change them)."""
    rows = []
    for name, replicas_atoms in _heldout_replicas(heldout).items():
        composition, quench, n_atoms = _recipe(replicas_atoms[0])
        replicas = [lammps_glass.relax(a, out / "energy" / f"{name}-r{k}")[1] for k, a in enumerate(replicas_atoms)]
        generated = [lammps_glass.relax(generator.sample(composition, n_atoms, seed=seed, quench_K_per_ps=quench,
                                                         settings=SamplingSettings(steps=steps)),
                                        out / "energy" / f"{name}-g{seed}")[1] for seed in range(seeds)]
        gaps = np.array(generated) - np.mean(replicas)
        limit = 2 * (max(replicas) - min(replicas))
        rows.append({"glass": name, "steps": steps, "seeds": seeds, "replicas_eV_atom": replicas,
                     "generated_eV_atom": generated, "gap_eV_atom": round(float(gaps.mean()), 4),
                     "gap_sem_eV_atom": round(float(gaps.std(ddof=1) / np.sqrt(seeds)), 4),
                     "limit_eV_atom": round(limit, 4), "within": bool(abs(gaps.mean()) <= limit)})
        print(json.dumps({k: rows[-1][k] for k in ("glass", "gap_eV_atom", "gap_sem_eV_atom", "limit_eV_atom")}),
              flush=True)
    return rows


def _heldout_replicas(heldout: Path) -> dict:
    """Each held-out glass (composition and quench rate) and its replicas' last snapshots (one per seed)."""
    groups = defaultdict(list)
    for path in sorted(heldout.glob("*-f*.extxyz")):
        stem, frame = path.stem.rsplit("-f", 1)
        groups[re.sub(r"-s\d+$", "", stem)].append((int(frame), path))
    out = {}
    for name, files in sorted(groups.items()):
        last = max(k for k, _ in files)
        out[name] = [read(p) for k, p in files if k == last]
    return out


def _recipe(replica) -> tuple[str, float, int]:
    """Composition, quench rate (K/ps) and atom count a generated glass must match."""
    return replica.info["composition"], float(replica.info["quench_K_per_ps"]), len(replica)


def _mean_pairwise(metrics):
    from itertools import combinations
    return _mean_rows([gm.distance(a, b) for a, b in combinations(metrics, 2)])


def _mean_rows(rows: list[dict]) -> dict:
    keys = sorted({k for r in rows for k in r})
    return {k: round(float(np.mean([r[k] for r in rows if k in r])), 5) for k in keys}


def cost(generator, heldout: Path, out: Path, steps: int, student: str | None) -> dict:
    """Seconds to a production-ready glass, each way, on this cell size (one core)."""
    first = sorted(heldout.glob("*-f0.extxyz"))[0]
    reference = read(first)
    composition, n_atoms = reference.info["composition"], len(reference)
    quench = float(reference.info["quench_K_per_ps"])
    # LAMMPS melt-quench to 300 K (the training glasses' protocol, without their 300 K NPT and snapshots)
    profile = lammps_glass.PROFILES["quick"]
    import dataclasses
    profile = dataclasses.replace(profile, quench_K_per_ps=quench, temperatures_K=(300.0,))
    cell = build(parse_composition(composition), START_DENSITY_G_CM3, n_atoms, seed=7).atoms
    lmp, _ = lammps_engine.open_cell(cell, out / "cost" / "melt_quench")
    started = time.perf_counter()
    lmp.commands_list(lammps_glass.melt_commands(profile, 7) + lammps_glass.quench_commands(profile))
    lammps_s = time.perf_counter() - started
    lmp.close()
    started = time.perf_counter()
    glass = generator.sample(composition, n_atoms, seed=11, quench_K_per_ps=quench,
                             settings=SamplingSettings(steps=steps))
    sample_s = time.perf_counter() - started
    _, relax_s = relaxed_metrics(glass, out / "cost" / "relax")
    result = {"composition": composition, "n_atoms": n_atoms, "lammps_melt_quench_s": round(lammps_s, 1),
              "lammps_melt_quench_ps": profile.melt_ps + (profile.melt_K - 300.0) / quench,
              "generate_s": round(sample_s, 2), "lammps_relax_s": round(relax_s, 2),
              "speedup_vs_lammps": round(lammps_s / (sample_s + relax_s), 2),
              "training_minutes": generator.card.get("training_minutes"),
              "training_glasses_s": _glasses_seconds(heldout.parent / "glasses")}
    train_s = result["training_glasses_s"] + 60 * (result["training_minutes"] or 0.0)
    result["training_total_s"] = round(train_s, 1)
    saved = lammps_s - (sample_s + relax_s)
    result["break_even_glasses_vs_lammps"] = round(train_s / saved, 1) if saved > 0 else None
    if student:
        result.update(_mlip_cost(glass, student, sample_s))
        saved = result["student_melt_quench_s"] - (sample_s + result["student_relax_s"])
        result["break_even_glasses_vs_student"] = round(train_s / saved, 1) if saved > 0 else None
    return result


def _glasses_seconds(folder: Path) -> float:
    """LAMMPS seconds of the training glasses: each glass's last snapshot records its wall time."""
    last: dict[str, float] = {}
    for path in folder.glob("*-f*.extxyz"):
        stem = path.stem.rsplit("-f", 1)[0]
        last[stem] = max(last.get(stem, 0.0), float(read(path).info.get("seconds", 0.0)))
    return round(sum(last.values()), 1)


def _mlip_cost(glass, student: str, sample_s: float) -> dict:
    from ase import units
    from ase.md.langevin import Langevin
    from ase.optimize import FIRE

    from amala.oracles.md import ase_engine
    from amala.oracles.mlip import shipped
    from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

    profile = ase_engine.PROFILES["quick"]
    steps = profile.steps(profile.melt_ps) + profile.steps((profile.melt_K - max(profile.temperatures_K))
                                                          / profile.quench_K_per_ps)

    def per_step(calc, n):
        atoms = glass.copy()
        atoms.calc = calc
        dyn = Langevin(atoms, profile.timestep_fs * units.fs, temperature_K=profile.melt_K, friction=0.01)
        dyn.run(2)
        started = time.perf_counter()
        dyn.run(n)
        return (time.perf_counter() - started) / n

    student_calc = shipped.load(student).calculator()
    student_step = per_step(student_calc, 50)
    teacher_step = per_step(make_teacher(TeacherSpec()).calculator(), 3)
    relaxed = glass.copy()
    relaxed.calc = student_calc
    started = time.perf_counter()
    FIRE(relaxed, logfile=None).run(fmax=0.1, steps=300)
    relax_s = time.perf_counter() - started
    return {"mlip_profile": profile.name, "mlip_melt_quench_steps": steps,
            "student_s_per_step": round(student_step, 4), "teacher_s_per_step": round(teacher_step, 3),
            "student_melt_quench_s": round(student_step * steps, 1),
            "teacher_melt_quench_s": round(teacher_step * steps, 1),
            "student_relax_s": round(relax_s, 2),
            "speedup_vs_student": round(student_step * steps / (sample_s + relax_s), 2),
            "speedup_vs_teacher": round(teacher_step * steps / (sample_s + relax_s), 1)}


def downstream(generator_name: str, composition: str, replicas: int, out: Path,
               sources: tuple[str, ...] = ("melt_quench", "generator"), steps: int = DEFAULT_STEPS) -> dict:
    from amala.agents import Candidate
    from amala.core.composition import canonical_composition
    from amala.oracles.generator.spec import StructureSpec
    from amala.oracles.md.oracle import GlassMDOracle

    candidate = Candidate(canonical_composition(parse_composition(composition)), kind="composition", agent="bench")
    rows = {}
    for source in sources:
        structure = StructureSpec(source=source, generator=generator_name if source == "generator" else None,
                                  steps=steps)
        values = []
        for seed in range(replicas):
            started = time.perf_counter()
            oracle = GlassMDOracle(out / "md" / source / f"seed{seed}", profile="quick", seed=seed, structure=structure)
            evaluation = oracle.evaluate([candidate])[0]
            values.append({"ok": evaluation.ok, "reason": evaluation.reason, "seconds": time.perf_counter() - started,
                           **({k: v.value for k, v in evaluation.values.items()} if evaluation.ok else {})})
            print(source, seed, json.dumps(values[-1])[:300], flush=True)
        rows[source] = values
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--generator", required=True)
    p.add_argument("--glasses", type=Path, required=True, help="the generator's work folder (its heldout/)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--student", default="glass-student")
    p.add_argument("--md", type=int, default=0, help="replicas of the downstream comparison (0: skip)")
    p.add_argument("--md-composition", default="Li2O:0.3;SiO2:0.7")
    p.add_argument("--md-sources", default="melt_quench,generator", help="which arms of the downstream comparison")
    p.add_argument("--skip-structure", action="store_true")
    p.add_argument("--energy-seeds", type=int, default=0, help="also: relaxed-energy gaps over this many seeds")
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if not args.skip_structure:
        generator = find(args.generator)
        summary["generator"] = {"name": generator.name, "version": generator.version, "card": generator.card}
        summary["structure"] = structure(generator, args.glasses / "heldout", args.out, args.samples, args.steps)
        summary["cost"] = cost(generator, args.glasses / "heldout", args.out, args.steps, args.student)
        summary_path.write_text(json.dumps(summary, indent=1))
    if args.energy_seeds:
        summary[f"energy_{args.steps}_steps"] = energy_gaps(find(args.generator), args.glasses / "heldout", args.out,
                                                             args.energy_seeds, args.steps)
    if args.md:
        rows = downstream(args.generator, args.md_composition, args.md, args.out, tuple(args.md_sources.split(",")),
                          args.steps)
        summary["downstream"] = {**summary.get("downstream", {}), **rows}
    summary_path.write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("cost",) if k in summary}, indent=1))


if __name__ == "__main__":
    main()
