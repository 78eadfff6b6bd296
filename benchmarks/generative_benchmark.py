"""Benchmark: does a campaign with generators beat one that only picks from the known pool?

Both run the same loop (GP, qLogNEI, batches of 10, 10 iterations) against the same emulator
oracle (a random forest trained once on all of HTP-MD: novel polymers cannot be looked up), so
the comparison is between candidate sources: `pool` alone, or `pool` + mutation + GPT. Reported per
(variant, seed): the best emulated log10 σ, how many of the top 10 are novel (not in HTP-MD), and
which agents proposed the top 10. Emulated numbers rank generators; they are not measurements.

    AMALA_DATA_DIR=../shared/data .venv/bin/python benchmarks/generative_benchmark.py --seeds 0-2 \
        --gpt-checkpoint runs/gpt
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from amala.core import datasets
from amala.loop.campaign import Campaign
from amala.loop.config import parse_config
from amala.loop.replay import parse_seeds, replay
from amala.loop.store import Store
from amala.oracles.tables.emulator import EmulatorOracle


def variant_config(variant: str, seed: int, gpt_checkpoint: str | None, iterations: int, batch: int) -> dict:
    agents = [{"kind": "pool"}]
    if variant == "generators":
        agents += [{"kind": "mutation", "n": 100}, {"kind": "gpt", "n": 100, "checkpoint": gpt_checkpoint}]
    return {"name": f"generative-{variant}-{seed}", "seed": seed, "database": "sqlite://", "data": {"dataset": "htpmd"},
            "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
            "agents": agents, "oracle": {"kind": "emulator", "properties": ["conductivity"]},
            "acquisition": {"strategy": "qlognei", "batch_size": batch},
            "budget": {"initial": batch, "max_evaluations": batch * iterations}}


def run(table, oracle, variant: str, seed: int, gpt_checkpoint: str | None, iterations: int = 10,
        batch: int = 10) -> dict:
    start = time.perf_counter()
    config = parse_config(variant_config(variant, seed, gpt_checkpoint, iterations, batch))
    campaign = replay(Campaign(config, store=Store("sqlite://"), table=table, oracle=oracle))
    rows = [(c, e) for c, e in campaign.store.evaluations(campaign.id) if e.objective is not None]
    top = sorted(rows, key=lambda ce: ce[1].objective, reverse=True)[:10]
    pool = set(table.frame.smiles)
    return {"variant": variant, "seed": seed, "evaluations": len(rows),
            "best_emulated_log10_sigma": round(top[0][1].objective, 4) if top else None,
            "novel_in_top10": sum(c.representation not in pool for c, _ in top),
            "top10_by_agent": dict(Counter(c.agent for c, _ in top)),
            "best_in_pool_emulated": None, "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--gpt-checkpoint", default=None, help="pre-trained GPT (else trained at start, ~15 min)")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--variants", default="pool,generators")
    args = parser.parse_args(argv)
    table = datasets.load("htpmd")
    oracle = EmulatorOracle(table, properties=["conductivity"])
    pool_best = float(max(oracle.models["conductivity"].predict(oracle.featurizer(list(table.frame.smiles)))[0]))
    rows = []
    for seed in parse_seeds(args.seeds):
        for variant in args.variants.split(","):
            row = run(table, oracle, variant, seed, args.gpt_checkpoint, args.iterations)
            row["best_in_pool_emulated"] = round(pool_best, 4)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
