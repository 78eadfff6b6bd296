"""Benchmark of the growing potential: do later compositions of a campaign need fewer teacher calls?

One `GrowingPotential` (SevenNet-0 teacher, NequIP committee of 3) learns a sequence of Li2S–P2S5–LiI
glasses in turn, as a campaign would hand them over, with the oracle's default trust window (DP-GEN's
0.05 / 0.15 eV/Å) and a per-glass teacher budget. Only the learning is run (no production MD): the bar is
about teacher calls, "the last three need ≤ 30% of the first three's". Each glass's record (teacher
calls, labels before/after, uncertain fraction, committee version, stop reason, wall time) goes to
<out>/growth.jsonl; a rerun skips the glasses done and resumes an interrupted one without repeating a
teacher call.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mlip_growth.py --out runs/bench/growth
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from amala.core.composition import parse_composition
from amala.oracles.md.cells import build
from amala.oracles.mlip.growing_potential import GrowingPotential
from amala.oracles.mlip.nequip_student import StudentSpec
from amala.oracles.mlip.on_the_fly import OnTheFlySpec
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

GLASSES = ["Li2S:0.75;P2S5:0.25", "Li2S:0.7;P2S5:0.3", "Li2S:0.8;P2S5:0.2", "Li2S:0.7;P2S5:0.25;LiI:0.05",
           "Li2S:0.65;P2S5:0.25;LiI:0.1", "Li2S:0.6;P2S5:0.2;LiI:0.2", "Li2S:0.72;P2S5:0.28",
           "Li2S:0.68;P2S5:0.22;LiI:0.1", "Li2S:0.62;P2S5:0.23;LiI:0.15"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--glasses", nargs="+", default=GLASSES, help="compositions, in the order they are learned")
    p.add_argument("--atoms", type=int, default=64)
    p.add_argument("--density", type=float, default=1.9, help="g/cm3 of the starting cells")
    p.add_argument("--budget", type=int, default=80, help="teacher calls per glass at most")
    p.add_argument("--per-round", type=int, default=20)
    p.add_argument("--max-rounds", type=int, default=3, help="committees trained per glass at most")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--explore-K", type=float, nargs="+", default=[600.0, 900.0, 1200.0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = make_teacher(TeacherSpec(), device=args.device)
    student = StudentSpec(num_features=16, num_layers=2, radial_mlp_width=32, epochs=args.epochs, patience=15)
    settings = OnTheFlySpec(committee_size=3, seed_frames=12, seed_md_stride=5, per_round=args.per_round,
                            budget=args.budget, max_rounds=args.max_rounds, segment_steps=500, observe_every=10,
                            min_spacing=20, window=50, explore_temperatures_K=args.explore_K)
    potential = GrowingPotential(args.out / "potential", teacher, student, settings, seed=args.seed,
                                 device=args.device)
    log_path = args.out / "growth.jsonl"
    done = {json.loads(line)["glass"] for line in log_path.read_text().splitlines()} if log_path.is_file() else set()
    for k, glass in enumerate(args.glasses):
        key = f"{k:02d}_{glass.replace(':', '').replace(';', '_')}"
        if glass in done:
            continue
        start = build(parse_composition(glass), args.density, args.atoms, seed=args.seed + k).atoms
        began = time.perf_counter()
        learned = potential.learn(key, start, args.out / "glasses" / key)
        row = {"glass": glass, "atoms": len(start), **learned.record, "stop_reason": learned.result.stop_reason,
               "rounds": len(learned.result.rounds), "md_steps": learned.result.md_steps,
               "wall_seconds": round(time.perf_counter() - began, 1),
               "force_val_mae_meV_A": [m["force_mae_meV_A"] for m in learned.result.rounds[-1]["members"]]
               if learned.result.rounds else None}
        with open(log_path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in log_path.read_text().splitlines()]
    calls = [r["teacher_calls"] for r in rows]
    if len(calls) >= 6:
        first, last = sum(calls[:3]), sum(calls[-3:])
        summary = {"first_three_calls": first, "last_three_calls": last, "ratio": last / first if first else None,
                   "bar": 0.30, "calls": calls}
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
