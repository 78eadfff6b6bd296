"""Can a surrogate learn where HTP-MD's highest transference numbers are? The Pareto benchmark's plateau, measured.

Every strategy of docs/benchmarks/htpmd-pareto.md finds the high-σ half of the pool's (log10 σ, t₊) front and
misses the high-t₊ half. Three measurements say why:

1. *Ranking.* For each surrogate kind (the Tanimoto GP, the GNN ensemble, and a random forest on RDKit's
   2D descriptors, which state the hydrogen-bond donor count that correlates with t₊ across the pool) and
   seed: train on R random polymers' t₊, score the rest, print Spearman's ρ and the median rank of the 30
   highest-t₊ polymers by the predicted mean and by mean + 2 std (where an optimistic acquisition would
   look; for the forest, its spread across trees).
2. *Neighbours.* For the 30 highest-t₊ (and, for comparison, highest-σ) polymers: the mean value of each
   one's 5 most similar pool polymers (Tanimoto, radius-2 Morgan bits, 2048), as a pool percentile; and over
   600 random polymers the correlation of a value with its neighbours' mean. A value its neighbours do not
   share is one no similarity-based model can predict.
3. *Physics or noise.* Where the 30 highest-t₊ polymers sit in the pool by the uncorrelated (Nernst-Einstein)
   part of t₊, D_Li / (D_Li + D_TFSI) from the same MD: high there too means real Li mobility, not the noise
   of the ion-ion correlation terms.

    AMALA_DATA_DIR=../shared/data OMP_NUM_THREADS=1 .venv/bin/python benchmarks/htpmd_tplus_learnability.py \\
        --seeds 0,1 --out runs/bench/htpmd_tplus_learnability.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from amala.core.datasets import load
from amala.loop.config import parse_config
from amala.models import build_featurizer, build_surrogate
from amala.models.molecular_graph import GraphBank
from amala.models.similarity import FingerprintBank

TOP = 30


def ranks(score: np.ndarray) -> np.ndarray:
    """Rank 0 = best (highest) score."""
    out = np.empty(len(score), dtype=int)
    out[np.argsort(-score)] = np.arange(len(score))
    return out


def descriptor_forest(seed: int):
    """A random forest (the project's `random_forest` surrogate) on each repeat unit's RDKit 2D descriptors
    (`models.descriptors`, NaN as 0: trees need no scaling)."""
    from rdkit import Chem

    from amala.models.descriptors import molecule_descriptors
    from amala.models.random_forest import RandomForest

    def featurize(smiles: list[str]) -> torch.Tensor:
        return torch.nan_to_num(torch.stack([molecule_descriptors(Chem.MolFromSmiles(s)) for s in smiles]))

    return RandomForest(featurize, n_estimators=300, seed=seed, n_jobs=1)


def ranking(smiles: list[str], t_plus: np.ndarray, kind: str, seed: int, n_train: int, epochs: int) -> dict:
    if kind == "descriptor_forest":
        return _ranked(descriptor_forest(seed), smiles, t_plus, kind, seed, n_train, None)
    surrogate = {"kind": "gp"} if kind == "gp" else {"kind": "gnn_ensemble", "members": 5, "epochs": epochs}
    config = parse_config({"name": "learnability", "data": {"dataset": "htpmd"}, "surrogate": surrogate,
                           "oracle": {"kind": "lookup", "properties": ["transference_number"]},
                           "objective": {"property": "transference_number", "transform": "none"}})
    bank = FingerprintBank(build_featurizer(config.surrogate.featurizer)) if kind == "gp" else GraphBank()
    model = build_surrogate(config.surrogate, bank, seed=seed)
    return _ranked(model, smiles, t_plus, kind, seed, n_train, epochs if kind != "gp" else None)


def _ranked(model, smiles: list[str], t_plus: np.ndarray, kind: str, seed: int, n_train: int,
            epochs: int | None) -> dict:
    train = np.zeros(len(smiles), dtype=bool)
    train[np.random.default_rng(seed).choice(len(smiles), n_train, replace=False)] = True
    X, y = model.encode(smiles), torch.tensor(t_plus)
    start = time.perf_counter()
    model.fit(X[torch.from_numpy(train)], y[torch.from_numpy(train)])
    fit_s = time.perf_counter() - start
    mean, std = (v.numpy() for v in model.predict(X[torch.from_numpy(~train)]))
    truth = t_plus[~train]
    top = np.argsort(-truth)[:TOP]
    return {"kind": kind, "seed": seed, "n_train": n_train, "n_test": int(len(truth)),
            "epochs": epochs, "fit_s": round(fit_s, 1),
            "spearman": round(float(spearmanr(mean, truth).statistic), 3),
            "top30_median_rank_mean": int(np.median(ranks(mean)[top])),
            "top30_median_rank_ucb2": int(np.median(ranks(mean + 2 * std)[top]))}


def neighbours(smiles: list[str], values: dict[str, np.ndarray], k: int = 5, sample: int = 600) -> dict:
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fingerprints = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]

    def nearest(i: int) -> tuple[np.ndarray, float]:
        similarity = np.array(DataStructs.BulkTanimotoSimilarity(fingerprints[i], fingerprints))
        similarity[i] = -1.0
        found = np.argsort(-similarity)[:k]
        return found, float(similarity[found].mean())

    random = np.random.default_rng(0).choice(len(smiles), sample, replace=False)
    out = {}
    for name, v in values.items():
        top = np.argsort(-v)[:TOP]
        tops = [nearest(i) for i in top]
        top_mean = np.median([v[found].mean() for found, _ in tops])
        randoms = np.array([v[nearest(i)[0]].mean() for i in random])
        out[name] = {"top30_median": round(float(np.median(v[top])), 3),
                     "top30_neighbours_mean_median": round(float(top_mean), 3),
                     "top30_neighbours_pool_percentile": round(100 * float((v < top_mean).mean()), 1),
                     "top30_neighbours_similarity": round(float(np.median([s for _, s in tops])), 2),
                     "correlation_with_neighbours_random600": round(float(np.corrcoef(v[random], randoms)[0, 1]), 2),
                     "pool_median": round(float(np.median(v)), 3)}
    return out


def nernst_einstein(frame) -> dict:
    """Is a high t₊ physical or the noise of its correlation terms? HTP-MD's t₊ includes ion-ion
    correlations; D_Li / (D_Li + D_TFSI) is the uncorrelated (Nernst-Einstein) part from the same MD. Where
    the 30 highest-t₊ polymers sit in the pool by that part."""
    t_plus = frame.transference_number.to_numpy(float)
    li, anion = frame.li_diffusivity.to_numpy(float), frame.tfsi_diffusivity.to_numpy(float)
    ideal = li / (li + anion)
    top = np.argsort(-t_plus)[:TOP]
    return {"spearman_t_plus_vs_nernst_einstein": round(float(spearmanr(t_plus, ideal).statistic), 3),
            "top30_nernst_einstein_median": round(float(np.median(ideal[top])), 3),
            "top30_nernst_einstein_pool_percentile": round(100 * float((ideal < np.median(ideal[top])).mean()), 1),
            "pool_nernst_einstein_median": round(float(np.median(ideal)), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--train", type=int, default=300)
    p.add_argument("--epochs", type=int, default=60, help="GNN ensemble epochs")
    p.add_argument("--kinds", default="gp,gnn_ensemble,descriptor_forest")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(1)
    frame = load("htpmd").frame.dropna(subset=["transference_number", "conductivity"]).reset_index(drop=True)
    smiles, t_plus = frame.smiles.tolist(), frame.transference_number.to_numpy(float)
    rows = []
    for kind in args.kinds.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(ranking(smiles, t_plus, kind, seed, args.train, args.epochs))
            print(json.dumps(rows[-1]), flush=True)
    near = neighbours(smiles, {"transference_number": t_plus,
                               "log10_conductivity": np.log10(frame.conductivity.to_numpy(float))})
    print(json.dumps(near), flush=True)
    physical = nernst_einstein(frame)
    print(json.dumps(physical), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"pool": len(frame), "ranking": rows, "neighbours": near,
                                             "nernst_einstein": physical}, indent=1))


if __name__ == "__main__":
    main()
