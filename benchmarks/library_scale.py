"""Benchmark: the cost of one campaign iteration over a candidate library of 10^4 to 10^6 repeat units.

Library: one file made by `amala library build OUT --n N --seed 0` (mutation/crossover enumeration
from the default seed polymers); the sizes measured are its first N rows (`--sizes`), written once
as their own files next to it. For every (size, observations) case, in a fresh process (so the peak
resident memory is that case's own), through the campaign's own code (`loop.campaign.Campaign`):

1. a campaign with one agent, `library` (the file), the emulator oracle (a random forest trained on
   all of HTP-MD: EMULATED conductivities, labelled as such; never MD) and the surrogate `--surrogate`
   (gp, or gnn_ensemble with 3 members and 20 epochs), qLogNEI, batches of 10, prescreen 500, 128 MC
   samples;
2. its initial design: `obs` rows drawn at random, evaluated by the emulator (not timed);
3. one iteration, timed: propose + fit + score every valid row in chunks + shortlist + select +
   store (`select_batch`), with the campaign's own fit / score / select split.

Also reported per size, once: building the fingerprint cache (`open_cache`, 2 worker processes) and
the campaign process's one-off preparation of the library (set bits and text of every row).
Peak memory is the process's ru_maxrss: it includes the emulator (trained in the same process).

    AMALA_DATA_DIR=../shared/data .venv/bin/python benchmarks/library_scale.py /work/bench/lib-1e6.csv \\
        --sizes 10000,100000,1000000 --observations 100,500

One JSON line per case on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sized_library(path: Path, n: int) -> Path:
    """The first n rows of the library as their own file (the whole file when n covers it)."""
    import pandas as pd

    from amala.core.library import open_library

    total = open_library(path).count_rows()
    if n >= total:
        return path
    out = path.with_name(f"{path.stem}.first{n}{path.suffix}")
    if not out.is_file():
        pd.read_csv(path, nrows=n).to_csv(out, index=False)
    return out


def build_cache(path: Path) -> dict:
    from amala.models.fingerprint_cache import open_cache

    start = time.perf_counter()
    cache = open_cache(path, workers=2)
    return {"case": "fingerprint_cache", "library": path.name, "rows": len(cache), "valid": int(cache.valid.sum()),
            "built": cache.built, "seconds": round(time.perf_counter() - start, 2),
            "bytes": cache.bits_path.stat().st_size, "peak_rss_mb": round(_peak_mb())}


def one_case(path: Path, observations: int, surrogate: str, seed: int) -> dict:
    """One (library, observations) case: the campaign's initial design, then one timed iteration."""
    from amala.loop.campaign import Campaign
    from amala.loop.config import parse_config

    work = Path(tempfile.mkdtemp(prefix="amala-libscale-"))
    settings = {"kind": surrogate} if surrogate == "gp" else {"kind": surrogate, "members": 3, "epochs": 20}
    config = parse_config({
        "name": f"scale-{path.stem}-{observations}", "seed": seed, "workdir": str(work),
        "database": f"sqlite:///{work / 'amala.db'}",
        "data": {"dataset": "htpmd"},  # the emulator's training table (not the pool)
        "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
        "agents": [{"kind": "library", "path": str(path)}],
        "oracle": {"kind": "emulator", "properties": ["conductivity"]},
        "surrogate": settings,
        "acquisition": {"strategy": "qlognei", "batch_size": 10, "prescreen": 500},
        "budget": {"initial": observations, "max_evaluations": observations + 10},
    }, "library_scale")
    campaign = Campaign(config)
    start = time.perf_counter()
    campaign.step()  # the initial design: `observations` random rows, emulated
    initial = time.perf_counter() - start
    prepared = _peak_mb()
    start = time.perf_counter()
    batch = campaign.select_batch(campaign.propose())
    seconds = time.perf_counter() - start
    row = campaign.store.iterations(campaign.id)[-1]
    return {"case": "iteration", "library": path.name, "candidates": int(campaign._sources[0].valid.sum()),
            "observations": campaign.n_evaluations(), "surrogate": surrogate, "seed": seed,
            "seconds_per_iteration": round(seconds, 2),
            "timings": {k: round(getattr(row, f"{k}_seconds") or 0.0, 2) for k in ("fit", "score", "select")},
            "selected": len(batch.candidates), "initial_design_seconds": round(initial, 1),
            "peak_rss_mb_before_iteration": round(prepared), "peak_rss_mb": round(_peak_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("library", type=Path, nargs="?")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--observations", default="100,500")
    parser.add_argument("--surrogate", default="gp", help="gp or gnn_ensemble (3 members, 20 epochs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", nargs=2, metavar=("LIBRARY", "OBS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_case(Path(args.one[0]), int(args.one[1]), args.surrogate, args.seed)), flush=True)
        return
    for n in (int(s) for s in args.sizes.split(",")):
        path = sized_library(args.library.resolve(), n)
        print(json.dumps(build_cache(path)), flush=True)
        for obs in (int(s) for s in args.observations.split(",")):
            done = subprocess.run([sys.executable, __file__, "--one", str(path), str(obs), "--surrogate",
                                   args.surrogate, "--seed", str(args.seed)], env=os.environ, text=True,
                                  capture_output=True)
            if done.returncode:
                print(json.dumps({"case": "iteration", "library": path.name, "observations": obs,
                                  "error": done.stderr.strip().splitlines()[-1:]}), flush=True)
            else:
                print(done.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
