"""Benchmark: polymer-grouped k-fold cross-validation on ChemArr's experimental conductivities.

Every test polymer is new to the models (the split is by polymer, so no formulation of a test
polymer is ever trained on), which is what a campaign's predictions face. Split: the unique polymers
(canonical repeat units) are shuffled with `--seed` (numpy default_rng) and cut into `--folds` near-equal
groups. All rows compared come from one run of this script, on the same folds:

* mean: the training rows' mean log10 σ (knowing nothing);
* forest: `models.formulation_forest.FormulationForest` alone (`--rf-trees`, sklearn defaults otherwise) on
  polymer and salt Morgan bits (r2, 1024 + 256 bits), log10 molality with a missing flag, and 1000/T (the
  classic baseline);
* gnn: the graph-only D-MPNN ensemble (`models.gnn_ensemble.GNNEnsemble`, the chemprop-style option and
  the starting point): polymer graph + temperature through its Arrhenius readout, no salt or
  molality, `--gnn-members` members, 20 epochs, learning rate decaying to 1e-4, dropout 0.15;
* ensemble: `models.formulation_ensemble.FormulationEnsemble` (settings from the flags), which also gives
  the rows "ensemble_networks", "ensemble_graphs" and "ensemble_forest" (each of its parts alone, from the
  same fit; `--graph-members 0 --forest-trees 0` runs the fingerprint networks only).

Metrics (log10 S/cm): MAE and R² pooled over all held-out rows, MAE per polymer (the mean over
polymers of each one's MAE: PEO alone has a third of the rows), MAE at 20–30 °C, and for every row with
a std the share of rows inside ±1 and ±2 predicted std.

    AMALA_DATA_DIR=../shared/data .venv/bin/python benchmarks/formulation_cv.py --folds 10 --seed 0

One JSON line per (model, fold), then one summary line per model. `--only-folds 0,1` runs a subset
(for exploration; the bar is on all folds).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from amala.models.calibration import coverage
from amala.models.formulation_ensemble import FormulationEnsemble
from amala.models.formulation_features import FormulationFeaturizer
from amala.models.formulation_forest import FormulationForest


def prepare(data: str | None) -> dict:
    """Every row of the published table, as published: the campaign's validity rules (agents.formulation)
    would drop the single-ion conductors and the polymer-in-salt rows, which the published baselines
    include, so the benchmark reads the CSV itself. Polymers are grouped by RDKit canonical SMILES."""
    import pandas as pd
    from rdkit import Chem

    from amala.core import datasets

    frame = pd.read_csv(datasets.resolve_path("chemarr", data))
    frame = frame.rename(columns={"salt smiles": "salt_smiles"})
    featurizer = FormulationFeaturizer()
    molality = frame.molality.to_numpy(dtype=float)
    X = featurizer.table(list(frame.smiles), list(frame.salt_smiles), list(molality), list(frame.mw))
    canonical = {s: Chem.CanonSmiles(s) for s in set(frame.smiles)}
    return {"X": X, "featurizer": featurizer, "y": frame.conductivity.to_numpy(dtype=float),
            "T": frame.temperature.to_numpy(dtype=float) + 273.15,
            "polymer": np.array([canonical[s] for s in frame.smiles]), "molality": molality,
            "smiles": list(frame.smiles)}


def polymer_folds(polymers: np.ndarray, folds: int, seed: int) -> np.ndarray:
    unique = np.array(sorted(set(polymers)))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[i]: k for k, part in enumerate(np.array_split(order, folds)) for i in part}
    return np.array([fold_of[p] for p in polymers])


def predict_fold(model: str, prepared: dict, train: np.ndarray, test: np.ndarray, args) -> dict[str, tuple]:
    """{row name: (mean, std, extra)} on the test rows; the ensemble gives two rows from one fit."""
    y, X, T = prepared["y"], prepared["X"], prepared["T"]
    if model == "mean":
        return {"mean": (np.full(test.sum(), y[train].mean()), np.zeros(test.sum()), {})}
    if model == "forest":
        forest = FormulationForest(prepared["featurizer"].blocks, args.rf_trees, seed=args.seed, n_jobs=args.jobs)
        mean, std = forest.fit(X[train], y[train], T[train]).predict(X[test], T[test])
        return {"forest": (mean, std, {})}
    if model == "gnn":
        from amala.models.gnn_ensemble import GNNEnsemble

        gnn = GNNEnsemble(members=args.gnn_members, epochs=20, lr_final=1e-4, dropout=0.15, seed=args.seed)
        rows = gnn.encode(prepared["smiles"])
        gnn.fit(rows[train], torch.as_tensor(y[train]), temperature_K=torch.as_tensor(T[train]))
        mean, std = np.zeros(test.sum()), np.zeros(test.sum())
        for t in np.unique(T[test]):  # one call per measured temperature
            at = T[test] == t
            m, s = gnn.predict(rows[test][torch.as_tensor(at)], temperature_K=float(t))
            mean[at], std[at] = m.numpy(), s.numpy()
        return {"gnn": (mean, std, {"std_scale": round(gnn.std_scale, 3)})}
    ensemble = FormulationEnsemble(prepared["featurizer"], members=args.members, max_epochs=args.max_epochs,
                                   patience=args.patience, hidden=args.hidden, dropout=args.dropout,
                                   weight_decay=args.weight_decay, batch_size=args.batch_size, seed=args.seed,
                                   calibration=args.calibration, forest_trees=args.forest_trees,
                                   polymer_weight=args.polymer_weight, graph_members=args.graph_members,
                                   graph_hidden=args.graph_hidden, n_jobs=args.jobs)
    T = torch.as_tensor(T)
    X = ensemble.with_graphs(X, prepared["smiles"])
    ensemble.fit(X[train], torch.as_tensor(y[train]), temperature_K=T[train])
    parts = ensemble.predict_parts(X[test], temperature_K=T[test])
    extra = {"epochs_used": ensemble.epochs_used, "std_scale": round(ensemble.std_scale, 3),
             "graph_std_scale": round(ensemble.graph_std_scale, 3)}
    rows = {"ensemble": (*(t.numpy() for t in parts["ensemble"]), extra)}
    for part in ("networks", "graphs", "forest"):  # each part alone, from the same fit
        if part in parts and len(parts) > 2:
            rows[f"ensemble_{part}"] = (*(t.numpy() for t in parts[part]), {})
    return rows


def metrics(y, mean, std, T, polymers) -> dict:
    error = np.abs(mean - y)
    room = (T >= 293.15) & (T <= 303.15)
    per_polymer = [error[polymers == p].mean() for p in np.unique(polymers)]
    out = {"n": int(len(y)), "mae": float(error.mean()),
           "r2": float(1 - ((mean - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()),
           "mae_per_polymer": float(np.mean(per_polymer)),
           "mae_20_30C": float(error[room].mean()) if room.any() else None, "n_20_30C": int(room.sum())}
    if std.any():
        cal = coverage(mean, std, y)
        out.update(within_1std=cal["within_1std"], within_2std=cal["within_2std"])
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="local copy of ChemArr's clean_train_data.csv")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--only-folds", default=None, help="comma-separated fold indices (exploration)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="mean,forest,ensemble")
    parser.add_argument("--rf-trees", type=int, default=500, help="trees of the forest row")
    parser.add_argument("--forest-trees", type=int, default=300, help="trees of the ensemble's own forest "
                        "(0: networks only)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--gnn-members", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--graph-members", type=int, default=0, help="the ensemble's graph networks (0: none; "
                        "docs/benchmarks/formulation-surrogate-cv.md ran 3)")
    parser.add_argument("--graph-hidden", type=int, default=200)
    parser.add_argument("--polymer-weight", type=float, default=0.5, help="loss weight n^-w of a polymer's rows")
    parser.add_argument("--calibration", default="quantile", choices=["quantile", "rms", "none"])
    parser.add_argument("--save", default=None, help="write every row's held-out mean and std per model (.npz, "
                        "with the fold, polymer, temperature and measured value of each row) to mix or plot later")
    args = parser.parse_args()
    torch.set_num_threads(args.jobs)
    prepared = prepare(args.data)
    fold = polymer_folds(prepared["polymer"], args.folds, args.seed)
    folds = range(args.folds) if args.only_folds is None else [int(k) for k in args.only_folds.split(",")]
    y, T, polymers = prepared["y"], prepared["T"], prepared["polymer"]
    print(json.dumps({"rows": len(y), "polymers": len(set(polymers)), "folds": args.folds, "seed": args.seed,
                      "settings": vars(args)}), flush=True)
    saved = {"fold": fold, "polymer": polymers, "T_K": T, "log10_sigma": y}
    for model in args.models.split(","):
        results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        seen, started = np.zeros(len(y), bool), time.perf_counter()
        for k in folds:
            test = fold == k
            tic = time.perf_counter()
            for name, (mean, std, extra) in predict_fold(model, prepared, ~test, test, args).items():
                mean_all, std_all = results.setdefault(name, (np.zeros_like(y), np.zeros_like(y)))
                mean_all[test], std_all[test] = mean, std
                print(json.dumps({"model": name, "fold": k, **metrics(y[test], mean, std, T[test], polymers[test]),
                                  "seconds": round(time.perf_counter() - tic, 1), **extra}), flush=True)
            seen |= test
        saved.update({f"{name}_mean": mean for name, (mean, _) in results.items()})
        saved.update({f"{name}_std": std for name, (_, std) in results.items()})
        for name, (mean, std) in results.items():
            print(json.dumps({"model": name, "summary": True, "folds": list(folds),
                              **metrics(y[seen], mean[seen], std[seen], T[seen], polymers[seen]),
                              "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    if args.save:
        np.savez_compressed(args.save, **saved)


if __name__ == "__main__":
    main()
