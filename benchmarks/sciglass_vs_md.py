"""How far is the LAMMPS glass oracle from experiment? SciGlass glasses simulated and compared.

Picks `--n` compositions of SciGlass's Li oxide glasses that the Pedone 2006 potential covers (oxides of
Li, Na, K, Mg, Ca, Al, Si, Ti, P only) and that have a conductivity measured at 373 K, spread evenly over
the measured range (sorted by it, every k-th), simulates each with the `md` oracle (LAMMPS, `--profile`),
and compares: simulated log10 σ(373 K) (the oracle's Arrhenius fit, moved from 300 K to 373 K with its
own Ea) and Ea against the medians of the measured values. One JSON line per glass in <out>/glasses.jsonl
(a rerun skips the glasses done), then <out>/summary.json (Spearman rank correlation, bias and spread of
sim − measured) and <out>/sim_vs_measured.png.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sciglass_vs_md.py \\
        --data ../shared/data/sciglass/sciglass_li_oxide_glasses.csv --out runs/bench/sciglass_vs_md --n 32
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

K_B_EV = 8.617333262e-5
PEDONE_OXIDES = {"Li2O", "Na2O", "K2O", "MgO", "CaO", "Al2O3", "SiO2", "TiO2", "P2O5"}


def choose(data: Path, n: int) -> tuple[list[dict], int]:
    from amala.core import datasets, sciglass

    frame = datasets.load(sciglass.NAME, data).frame
    covered = [{item.split(":")[0] for item in c.split(";")} <= PEDONE_OXIDES for c in frame.composition]
    rows = frame[np.array(covered) & frame["log10_conductivity_373K"].notna()]
    rows = rows.sort_values("log10_conductivity_373K").reset_index(drop=True)
    picks = np.unique(np.linspace(0, len(rows) - 1, n).round().astype(int))
    return [{"composition": r.composition, "measured_log10_sigma_373K": float(r.log10_conductivity_373K),
             "measured_std": None if math.isnan(std := r.log10_conductivity_373K_std) else float(std),
             "measured_n": int(r.log10_conductivity_373K_n),
             "measured_ea_eV": None if math.isnan(r.ea) else float(r.ea), "sources": r.sources}
            for r in rows.iloc[picks].itertuples()], len(rows)


def simulate(glass: dict, profile: str, workdir: str) -> dict:
    import torch

    from amala.core.candidate import Candidate
    from amala.oracles.md.oracle import GlassMDOracle, MDSpec

    torch.set_num_threads(1)
    oracle = GlassMDOracle.from_spec(MDSpec(profile=profile), workdir=Path(workdir), seed=0)
    began = time.perf_counter()
    [evaluation] = oracle.evaluate([Candidate(glass["composition"], kind="composition", agent="benchmark")])
    row = {**glass, "status": evaluation.status, "reason": evaluation.reason,
           "seconds": round(time.perf_counter() - began, 1)}
    if evaluation.status == "ok":
        s300, ea = evaluation.values["log10_conductivity_300K"], evaluation.values["ea"]
        shift = ea.value / (math.log(10) * K_B_EV) * (1 / 300.0 - 1 / 373.15)
        row.update(sim_log10_sigma_373K=s300.value + shift, sim_log10_sigma_300K=s300.value,
                   sim_log10_sigma_300K_std=s300.std, sim_ea_eV=ea.value, sim_ea_std_eV=ea.std)
    return row


def summarise(rows: list[dict], out: Path, pool_size: int) -> dict:
    from scipy.stats import spearmanr

    ok = [r for r in rows if r["status"] == "ok"]
    sim = np.array([r["sim_log10_sigma_373K"] for r in ok])
    meas = np.array([r["measured_log10_sigma_373K"] for r in ok])
    with_ea = [r for r in ok if r["measured_ea_eV"] is not None]
    sim_ea = np.array([r["sim_ea_eV"] for r in with_ea])
    meas_ea = np.array([r["measured_ea_eV"] for r in with_ea])
    diff, diff_ea = sim - meas, sim_ea - meas_ea
    summary = {"glasses": len(rows), "ok": len(ok), "pool_covered_with_373K": pool_size,
               "sigma_373K": {"spearman": float(spearmanr(sim, meas).statistic) if len(ok) > 2 else None,
                              "bias_decades": float(diff.mean()), "spread_decades": float(diff.std(ddof=1)),
                              "measured_range": [float(meas.min()), float(meas.max())],
                              "simulated_range": [float(sim.min()), float(sim.max())]},
               "ea": {"n": len(with_ea),
                      "spearman": float(spearmanr(sim_ea, meas_ea).statistic) if len(with_ea) > 2 else None,
                      "bias_eV": float(diff_ea.mean()) if len(with_ea) else None,
                      "spread_eV": float(diff_ea.std(ddof=1)) if len(with_ea) > 1 else None}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    axes[0].scatter(meas, sim, s=18)
    lo, hi = min(meas.min(), sim.min()) - 0.5, max(meas.max(), sim.max()) + 0.5
    axes[0].plot([lo, hi], [lo, hi], "k--", lw=0.8, label="sim = measured")
    axes[0].set(xlabel="measured log10 σ(373 K) [S/cm] (median of repeats)",
                ylabel="simulated log10 σ(373 K) [S/cm]", title=f"σ(373 K), Spearman ρ = "
                f"{summary['sigma_373K']['spearman']:.2f}")
    axes[0].legend()
    axes[1].scatter(meas_ea, sim_ea, s=18, color="C1")
    axes[1].plot([0, 1.2], [0, 1.2], "k--", lw=0.8)
    axes[1].set(xlabel="measured Ea [eV] (fit below Tg)", ylabel="simulated Ea [eV]",
                title=f"Ea, {len(with_ea)} glasses")
    fig.tight_layout()
    fig.savefig(out / "sim_vs_measured.png", dpi=120)
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--profile", default="quick")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    glasses, pool_size = choose(args.data, args.n)
    log = args.out / "glasses.jsonl"
    done = {json.loads(line)["composition"] for line in log.read_text().splitlines()} if log.is_file() else set()
    todo = [g for g in glasses if g["composition"] not in done]
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(simulate, g, args.profile, str(args.out / "md")) for g in todo]
        for future in as_completed(futures):
            row = future.result()
            with open(log, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    print(json.dumps(summarise(rows, args.out, pool_size), indent=1))


if __name__ == "__main__":
    main()
