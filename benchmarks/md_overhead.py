"""Benchmark: what the MD oracle costs on top of LAMMPS itself.

The same melt-quench-diffuse input is run twice in one process, alternately: once bare (each
stage a single LAMMPS `run`, the Li positions written by a LAMMPS `dump`, no Python in the loop)
and once through `GlassMDOracle.evaluate` (cell building, sampling through the Python interface,
MSD/Arrhenius analysis, RDFs, files). The ratio of their wall times is the overhead recorded in
docs/benchmarks/oxide-glass-md.md:

    .venv/bin/python benchmarks/md_overhead.py --profile quick --repeats 3
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from amala.core.candidate import Candidate
from amala.core.composition import canonical_composition, parse_composition
from amala.oracles.md import lammps_engine
from amala.oracles.md import lammps_glass as glass_md
from amala.oracles.md.cells import START_DENSITY_G_CM3, build
from amala.oracles.md.oracle import GlassMDOracle

DISILICATE = canonical_composition({"Li2O": 1, "SiO2": 2})


def bare_run(composition: str, profile: glass_md.MDProfile, workdir: Path, seed: int = 0,
             density_g_cm3: float = START_DENSITY_G_CM3) -> float:
    """Wall seconds of the oracle's LAMMPS input with nothing but LAMMPS in the loop."""
    start = time.perf_counter()
    cell = build(parse_composition(composition), density_g_cm3, profile.n_atoms, seed=seed)
    lmp, _ = lammps_engine.open_cell(cell.atoms, workdir, log_name="bare.log")
    try:
        # the same parts, without the checks
        lmp.commands_list(glass_md.melt_commands(profile, seed) + glass_md.quench_commands(profile))
        chunk = profile.steps(profile.sample_every_fs / 1000)
        n_samples = max(20, profile.steps(profile.production_ps) // chunk)
        for T in sorted(profile.temperatures_K, reverse=True):
            lmp.commands_list(glass_md.equilibrate_commands(profile, T))
            volume = float(lmp.extract_fix("vavg", 0, 0))
            lmp.commands_list(glass_md.production_commands(profile, T, volume)
                              + [f"dump li all custom {chunk} {workdir / f'bare_{T:g}K.dump'} id type xu yu zu",
                                 f"run {n_samples * chunk}", "undump li"])
    finally:
        lmp.close()
    return time.perf_counter() - start


def oracle_run(composition: str, profile_name: str, workdir: Path, seed: int = 0) -> tuple[float, str]:
    start = time.perf_counter()
    candidate = Candidate(composition, kind="composition", agent="benchmark")
    evaluation = GlassMDOracle(workdir, profile=profile_name, seed=seed).evaluate([candidate])[0]
    return time.perf_counter() - start, evaluation.status if evaluation.ok else f"failed: {evaluation.reason}"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(glass_md.PROFILES))
    parser.add_argument("--composition", default=DISILICATE)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    profile = glass_md.PROFILES[args.profile]
    bare, oracle, statuses = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            bare.append(bare_run(args.composition, profile, Path(tmp) / f"bare{r}", seed=r))
            seconds, status = oracle_run(args.composition, args.profile, Path(tmp) / f"oracle{r}", seed=r)
            oracle.append(seconds)
            statuses.append(status)
    result = {"profile": args.profile, "composition": args.composition, "n_atoms_target": profile.n_atoms,
              "bare_s": [round(s, 2) for s in bare], "oracle_s": [round(s, 2) for s in oracle],
              "oracle_status": statuses, "overhead": round(sum(oracle) / sum(bare) - 1, 4)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
