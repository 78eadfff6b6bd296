"""Does the simulated fidelity help predict measured conductivity? The two-fidelity composition GP on SciGlass.

High fidelity: SciGlass's measured log10 σ(373 K) (median of repeats), over the glasses made only of the
compounds that the simulated glasses use (the Pedone potential's oxides). Low fidelity: the LAMMPS quick
profile's log10 σ(373 K) of the SciGlass glasses simulated by `benchmarks/sciglass_vs_md.py` (its
glasses.jsonl; the failed ones left out). For n measured glasses (10, 20, 50), drawn at random R times
(seeds 0..R-1), two surrogates predict every other measured glass: the single-task composition GP on the
n measurements, and the two-fidelity GP (`CompositionGP` with `high`: ICM over the element featurizer) on
the n measurements plus every simulated glass. Printed and saved: the median and quartiles over draws of
each one's MAE (decades), the median of their difference, the share of draws the simulation helped, and
the learned fidelity correlation.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sciglass_multifidelity.py \\
        --data ../shared/data/sciglass/sciglass_li_oxide_glasses.csv \\
        --simulated runs/bench/sciglass_vs_md/glasses.jsonl --out runs/bench/sciglass_multifidelity.json
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from amala.core.composition import parse_composition
from amala.core.sciglass import load_table
from amala.models.composition_gp import CompositionGP, ElementFeaturizer

PROPERTY = "log10_conductivity_373K"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--simulated", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sizes", default="10,20,50")
    p.add_argument("--draws", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    simulated = [json.loads(line) for line in args.simulated.read_text().splitlines()]
    simulated = [s for s in simulated if s["status"] == "ok" and s.get("sim_log10_sigma_373K") is not None]
    compounds = {c for s in simulated for c in parse_composition(s["composition"])}
    frame = load_table(args.data).frame
    frame = frame[frame[PROPERTY].notna()]
    pool = frame[[set(parse_composition(c)) <= compounds for c in frame["composition"]]].reset_index(drop=True)
    featurizer = ElementFeaturizer.of([*pool["composition"], *(s["composition"] for s in simulated)])
    X_pool = featurizer(list(pool["composition"]))
    y_pool = torch.tensor(pool[PROPERTY].to_numpy(), dtype=torch.float64)
    X_sim = featurizer([s["composition"] for s in simulated])
    y_sim = torch.tensor([s["sim_log10_sigma_373K"] for s in simulated], dtype=torch.float64)
    print(f"{len(pool)} measured glasses of {sorted(compounds)}; {len(simulated)} simulated", flush=True)
    rows = {}
    for n in (int(v) for v in args.sizes.split(",")):
        alone, both, rho = [], [], []
        for seed in range(args.draws):
            picked = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
            rest = np.setdiff1d(np.arange(len(pool)), picked)
            single = CompositionGP(featurizer).fit(X_pool[picked], y_pool[picked])
            alone.append(float((single.predict(X_pool[rest])[0] - y_pool[rest]).abs().mean()))
            X = torch.cat([X_pool[picked], X_sim])
            y = torch.cat([y_pool[picked], y_sim])
            high = torch.cat([torch.ones(n, dtype=torch.bool), torch.zeros(len(y_sim), dtype=torch.bool)])
            two = CompositionGP(featurizer).fit(X, y, high=high)
            both.append(float((two.predict(X_pool[rest])[0] - y_pool[rest]).abs().mean()))
            rho.append(two.task_correlation())
        alone, both = np.array(alone), np.array(both)
        rows[str(n)] = {"mae_measured_only": _quartiles(alone), "mae_with_simulated": _quartiles(both),
                        "median_difference": float(np.median(both - alone)),
                        "share_helped": float(np.mean(both < alone)), "fidelity_correlation": _quartiles(rho)}
        print(n, json.dumps(rows[str(n)]), flush=True)
    result = {"property": PROPERTY, "measured_glasses": len(pool), "simulated_glasses": len(simulated),
              "compounds": sorted(compounds), "draws": args.draws, "sizes": rows,
              "featurizer": featurizer.describe()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


def _quartiles(values) -> list[float]:
    return [round(float(v), 3) for v in np.percentile(np.asarray(values, dtype=float), [25, 50, 75])]


if __name__ == "__main__":
    main()
