"""Benchmark: k-fold cross-validation of the GNN ensemble against a random forest on HTP-MD.

Both models see the same folds in the same process, so the MAE ratio and the training-time ratio
are fair. The forest is the field's usual baseline: 500 trees on 2048-bit radius-2 Morgan bits.
For the ensemble the script also reports calibration: the share of held-out polymers inside the
predicted ±1 and ±2 std intervals. Targets: log10 of conductivity and Li diffusivity, and the
transference number as is.

    AMALA_DATA_DIR=../shared/data .venv/bin/python benchmarks/cv_benchmark.py --folds 5 \
        --properties conductivity,li_diffusivity,transference_number

One JSON line per (property, fold), then one summary line per property. To train on a GPU
machine without RDKit: `--prepare FILE` featurizes here (graphs and fingerprints as tensors), and
`--from FILE --device cuda` runs the same folds there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

import numpy as np
import torch
from sklearn.model_selection import KFold

from amala.models.calibration import coverage
from amala.models.gnn_ensemble import GNNEnsemble
from amala.models.molecular_graph import GraphBank, MolGraph
from amala.models.random_forest import RandomForest


def prepare(data: str | None, properties: list[str], periodic: bool = True) -> dict:
    """Everything the folds need, as tensors: graphs (closed into rings unless `periodic` is off),
    RDKit descriptors, 2048-bit r2 Morgan bits, targets."""
    from amala.core import datasets
    from amala.models.featurizer import MorganFeaturizer

    table = datasets.load("htpmd", data)
    for prop in properties:
        if prop not in table.frame:
            sys.exit(f"--properties: {prop!r} is not a column of {table.source}")
    smiles = list(table.frame.smiles)
    bank = GraphBank(descriptors=True, periodic=periodic)
    bank.encode(smiles)
    fingerprints = MorganFeaturizer(radius=2, n_bits=2048, counts=False)(smiles).to(torch.uint8)
    descriptors = torch.stack([g.descriptors for g in bank.graphs])  # saved apart; `--descriptors` joins them
    return {"graphs": bank.graphs, "periodic": periodic, "fingerprints": fingerprints, "descriptors": descriptors,
            "targets": {prop: datasets.model_targets(table.frame, prop) for prop in properties}}


def save(prepared: dict, path: str) -> None:
    graphs = [(g.atoms.to(torch.uint8), g.bonds.to(torch.uint8), g.source.to(torch.int16), g.target.to(torch.int16))
              for g in prepared["graphs"]]  # one-hot features: bytes, not floats, to travel light
    torch.save({**prepared, "graphs": graphs}, path)


def load(path: str) -> dict:
    raw = torch.load(path, weights_only=False)
    raw["graphs"] = [MolGraph(a.float(), b.float(), s.long(), t.long()) for a, b, s, t in raw["graphs"]]
    return raw


def run(prepared: dict, prop: str, folds: int, seed: int, members: int, epochs: int, max_folds: int,
        rf_trees: int, device: str = "cpu", bootstrap: bool = True, descriptors: bool = False,
        auxiliary: list[str] = (), n_jobs: int = -1, **network) -> list[dict]:
    ok, y = prepared["targets"][prop]
    aux = None
    if auxiliary:
        columns = []
        for name in auxiliary:
            if name not in prepared["targets"]:
                sys.exit(f"--auxiliary: {name!r} was not prepared; prepare with it in --properties")
            mask, values = prepared["targets"][name]
            column = np.full(len(mask), np.nan)
            column[mask] = values
            columns.append(column[ok])
        aux = torch.tensor(np.stack(columns, 1), dtype=torch.float64)
    bank = GraphBank(descriptors)
    if descriptors and "descriptors" not in prepared:
        sys.exit("--descriptors: the prepared file has none; prepare it again")
    chosen = prepared["descriptors"] if descriptors else [None] * len(prepared["graphs"])
    graphs = [replace(g, descriptors=d) for g, d in zip(prepared["graphs"], chosen)]
    bank.graphs = [g for g, keep in zip(graphs, ok) if keep]
    X_graph = torch.arange(len(bank.graphs), dtype=torch.float64).reshape(-1, 1)
    X_fp = prepared["fingerprints"][torch.from_numpy(ok)].double()
    y_t = torch.tensor(y, dtype=torch.float64)
    rows = []
    for fold, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(y)):
        if fold >= max_folds:
            break
        t0 = time.perf_counter()
        forest = RandomForest(None, n_estimators=rf_trees, seed=seed, n_jobs=n_jobs).fit(X_fp[train], y_t[train])
        t1 = time.perf_counter()
        gnn = GNNEnsemble(bank, members=members, seed=seed + fold, epochs=epochs, device=device, bootstrap=bootstrap,
                          **network)
        gnn.fit(X_graph[train], y_t[train], auxiliary=None if aux is None else aux[train])
        t2 = time.perf_counter()
        rf_mean, _ = forest.predict(X_fp[test])
        mean, std = gnn.predict(X_graph[test])
        truth = y[test]
        row = {"property": prop, "fold": fold, "n_train": len(train), "n_test": len(test), "device": device,
               "members": members, "epochs": epochs, "bootstrap": bootstrap, "periodic": prepared.get("periodic"),
               "descriptors": descriptors, "auxiliary": list(auxiliary), **network,
               "mae_rf": float(np.abs(rf_mean.numpy() - truth).mean()),
               "mae_gnn": float(np.abs(mean.numpy() - truth).mean()),
               "train_s_rf": round(t1 - t0, 1), "train_s_gnn": round(t2 - t1, 1), "gnn_std_scale": gnn.std_scale,
               **{f"gnn_{k}": v for k, v in coverage(mean.numpy(), std.numpy(), truth).items()}}
        row["mae_ratio"] = row["mae_gnn"] / row["mae_rf"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> dict:
    keys = ("mae_rf", "mae_gnn", "mae_ratio", "train_s_rf", "train_s_gnn", "gnn_within_1std", "gnn_within_2std")
    return {"property": rows[0]["property"], "folds": len(rows),
            **{k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys}}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="path of the HTP-MD CSV (default: the dataset cache)")
    parser.add_argument("--properties", default="conductivity")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-folds", type=int, default=None, help="stop after this many folds")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rf-trees", type=int, default=500)
    parser.add_argument("--hidden", type=int, default=200, help="GNN width")
    parser.add_argument("--depth", type=int, default=3, help="message-passing steps")
    parser.add_argument("--dropout", type=float, default=0.15)
    parser.add_argument("--no-bootstrap", action="store_true", help="every member sees all training data "
                        "(no out-of-bag recalibration of the std then)")
    parser.add_argument("--open", action="store_true",
                        help="with --prepare: keep repeat units open (end markers as atoms)")
    parser.add_argument("--descriptors", action="store_true", help="join RDKit descriptors to the graph embedding")
    parser.add_argument("--auxiliary", default="", help="other prepared properties trained as extra heads (multi-task)")
    parser.add_argument("--loss", default="mse", choices=["mse", "huber", "l1"], help="training loss of the GNN")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-final", type=float, default=1e-4, help="the learning rate decays to this (0: constant)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch and the forest (default: all)")
    parser.add_argument("--device", default="cpu", help="torch device for the GNN (cpu, cuda)")
    parser.add_argument("--prepare", default=None, help="featurize and save to this file, then stop")
    parser.add_argument("--from", dest="source", default=None, help="read a file written by --prepare")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    properties = args.properties.split(",")
    auxiliary = [a for a in args.auxiliary.split(",") if a]
    needed = list(dict.fromkeys(properties + auxiliary))
    if args.prepare:
        save(prepare(args.data, needed, periodic=not args.open), args.prepare)
        return []
    prepared = load(args.source) if args.source else prepare(args.data, needed, periodic=not args.open)
    summaries = []
    for prop in properties:
        network = {"hidden": args.hidden, "depth": args.depth, "dropout": args.dropout, "lr": args.lr,
                   "lr_final": args.lr_final or None, "loss": args.loss}
        rows = run(prepared, prop, args.folds, args.seed, args.members, args.epochs, args.max_folds or args.folds,
                   args.rf_trees, args.device, not args.no_bootstrap, args.descriptors,
                   [a for a in auxiliary if a != prop], args.threads or -1, **network)
        summaries.append(summary(rows))
        print(json.dumps({"summary": True, **summaries[-1]}), flush=True)
    return summaries


if __name__ == "__main__":
    main()
