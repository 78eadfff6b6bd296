"""How much slower a campaign's own work (GP fit, scoring, qLogNEI selection) runs on a busy machine,
and how many threads it should use there.

Runs the HTP-MD retrospective on log10 Li diffusivity (qLogNEI, seed 0) several times in one process:
idle, then beside `--busy` busy-loop processes, each time with the given numbers of torch threads and
with the thread count amala picks itself (`amala.loop.threads.campaign_threads`). Prints one JSON line
per run (seconds, ratio to the idle run with the same threads, the mean fit/score/select seconds per
iteration) and the machine's load. Speeds are ratios against a baseline run in the same process.

    .venv/bin/python benchmarks/contention.py --budget 200 --busy 2 --threads 2,1,auto
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time

import torch


def _spin() -> None:
    while True:
        pass


def _one(cfg, table, threads) -> dict:
    from amala.loop import replay
    from amala.loop.threads import campaign_threads

    if threads == "auto":  # the campaign picks its threads anew for each batch
        os.environ.pop("AMALA_THREADS", None)
    else:
        os.environ["AMALA_THREADS"] = threads
    chosen = campaign_threads()
    torch.set_num_threads(chosen)
    start = time.perf_counter()
    campaign = replay._replay(cfg, table, cfg.acquisition.strategy, cfg.seed, cfg.budget.max_evaluations)
    seconds = time.perf_counter() - start
    iterations = [i for i in campaign.store.iterations(campaign.id) if i.fit_seconds]
    mean = {k: round(sum(getattr(i, f"{k}_seconds") for i in iterations) / max(len(iterations), 1), 3)
            for k in ("fit", "score", "select")}
    return {"threads": threads, "torch_threads_at_start": chosen, "seconds": round(seconds, 2), **mean,
            "evaluations": campaign.n_evaluations()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--busy", type=int, default=2, help="busy-loop processes beside the loaded runs")
    parser.add_argument("--threads", default="2,1,auto", help="torch thread counts to compare; auto = amala's")
    args = parser.parse_args()

    from amala.core import datasets
    from amala.loop.config import load_config, parse_config

    base = load_config("configs/htpmd_retro.yaml").model_dump(mode="json")
    base.update(name="contention", database="sqlite://", objective={"property": "li_diffusivity",
                                                                      "direction": "maximize", "transform": "log10"})
    base["budget"] = {"initial": 50, "max_evaluations": args.budget}
    cfg = parse_config(base)
    table = datasets.load(cfg.data.dataset, cfg.data.path, cfg.data.subset, cfg.seed)
    threads = args.threads.split(",")
    idle = {}
    for t in threads:
        row = _one(cfg, table, t)
        idle[t] = row["seconds"]
        print(json.dumps({"load": "idle", "loadavg_1min": round(os.getloadavg()[0], 2), **row}), flush=True)
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        time.sleep(2)
        for t in threads:
            row = _one(cfg, table, t)
            print(json.dumps({"load": f"{args.busy} busy loops", "loadavg_1min": round(os.getloadavg()[0], 2),
                              **row, "ratio_to_idle": round(row["seconds"] / idle[t], 2)}), flush=True)
    finally:
        for p in spinners:
            p.terminate()


if __name__ == "__main__":
    main()
