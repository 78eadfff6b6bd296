"""Benchmark: the MD protocol on binary lithium silicate glasses x Li2O · (1 − x) SiO2.

Runs `glass_md.run` for each x (one process per glass, `--workers` at once) and prints one JSON
line per glass: D_Li(T) with its error and fitted window, σ(T), density and network-former MSD per
temperature, Ea, log10 σ(300 K) and the wall time. docs/benchmarks/oxide-glass-md.md compares Li2O·2SiO2 (x = 1/3)
with published values and checks that σ rises with x:

    .venv/bin/python benchmarks/md_validation.py --profile standard --x 0.2,0.333333,0.5 --workers 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from amala.oracles.md import lammps_glass as glass_md
from amala.oracles.md.cells import START_DENSITY_G_CM3, build


def simulate(x: float, profile_name: str, seed: int, workdir: str) -> dict:
    profile = glass_md.PROFILES[profile_name]
    cell = build({"Li2O": x, "SiO2": 1 - x}, START_DENSITY_G_CM3, target_atoms=profile.n_atoms, seed=seed)
    start = time.perf_counter()
    out = {"x_li2o": x, "profile": profile_name, "seed": seed, "atoms": len(cell.atoms)}
    try:
        r = glass_md.run(cell.atoms, profile, Path(workdir) / f"x{x:g}_s{seed}", seed=seed)
    except glass_md.SimulationFailed as exc:
        return {**out, "ok": False, "reason": str(exc), "seconds": round(time.perf_counter() - start)}
    log10_s300, log10_s300_std = r.arrhenius.log10_sigma(300.0)
    return {**out, "ok": True, "seconds": round(time.perf_counter() - start),
            "ea_eV": [round(r.arrhenius.ea_eV, 4), round(r.arrhenius.ea_std_eV, 4)],
            "log10_sigma_300K": [round(log10_s300, 3), round(log10_s300_std, 3)],
            "per_temperature": {f"{T:g}": {"d_li_cm2_s": [d.value_cm2_s, d.std_cm2_s], "window_ps": list(d.window_ps),
                                           "sigma_S_cm": list(map(float, r.conductivities_S_cm[T])),
                                           "density_g_cm3": round(r.density_g_cm3[T], 3),
                                           "network_msd_A2": round(r.network_msd_A2[T], 3)}
                                for T, d in sorted(r.diffusivities.items())},
            "skipped": {f"{T:g}": why for T, why in r.skipped_K.items()}}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="standard", choices=sorted(glass_md.PROFILES))
    parser.add_argument("--x", default="0.2,0.333333,0.5", help="Li2O mole fractions, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", default=None, help="keep the runs' files here (default: a temporary folder)")
    args = parser.parse_args(argv)
    xs = [float(v) for v in args.x.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or tmp
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            futures = [pool.submit(simulate, x, args.profile, args.seed, workdir) for x in xs]
            results = []
            for future in futures:
                results.append(future.result())
                print(json.dumps(results[-1]), flush=True)
    return results


if __name__ == "__main__":
    main()
