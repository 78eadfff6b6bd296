"""How good is a generator? PolyGen's six metrics on a set of sampled repeat units.

validity (parses and is a repeat unit with one [Cu] and one [Au]), uniqueness (distinct among the
valid), novelty (unique ones not in the training set), synthesizability (share with SA score < 5,
Ertl & Schuffenhauer 2009, RDKit's Contrib scorer, computed on the repeat unit with its end
markers removed), similarity (mean over samples of the Tanimoto similarity to the nearest training
molecule) and diversity (1 − mean pairwise Tanimoto among the unique samples). Fingerprints:
2048-bit radius-2 Morgan bits.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import RDConfig, rdFingerprintGenerator

from amala.core.polymer import END_MARKERS, InvalidPolymer, canonical_smiles

SA_THRESHOLD = 5.0


@lru_cache(maxsize=1)
def _sascorer():
    sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
    import sascorer  # RDKit Contrib, shipped in the rdkit wheel

    return sascorer


def sa_score(smiles: str) -> float:
    """Synthetic accessibility (1 easy – 10 hard) of the repeat unit without its end markers."""
    mol = Chem.RWMol(Chem.MolFromSmiles(smiles))
    for atom in sorted((a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() in END_MARKERS), reverse=True):
        mol.RemoveAtom(atom)
    core = mol.GetMol()
    Chem.SanitizeMol(core)
    return float(_sascorer().calculateScore(core))


_GENERATOR = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def _fingerprints(smiles: Sequence[str]):
    return [_GENERATOR.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def evaluate(samples: Sequence[str], training: Sequence[str], max_pairs: int = 2000, seed: int = 0) -> dict:
    valid = []
    for s in samples:
        try:
            valid.append(canonical_smiles(s))
        except InvalidPolymer:
            pass
    unique = list(dict.fromkeys(valid))
    train = {canonical_smiles(s) for s in training}
    novel = [s for s in unique if s not in train]
    result = {"n": len(samples), "validity": len(valid) / max(1, len(samples)),
              "uniqueness": len(unique) / max(1, len(valid)), "novelty": len(novel) / max(1, len(unique))}
    if not unique:
        return {**result, "synthesizability": 0.0, "similarity": float("nan"), "diversity": float("nan")}
    result["synthesizability"] = float(np.mean([sa_score(s) < SA_THRESHOLD for s in unique]))
    fps, train_fps = _fingerprints(unique), _fingerprints(sorted(train))
    result["similarity"] = float(np.mean([max(DataStructs.BulkTanimotoSimilarity(fp, train_fps)) for fp in fps]))
    rng = np.random.default_rng(seed)
    sample = [fps[i] for i in rng.permutation(len(fps))[:max_pairs]]
    pairwise = [s for i, fp in enumerate(sample[:-1]) for s in DataStructs.BulkTanimotoSimilarity(fp, sample[i + 1:])]
    result["diversity"] = 1.0 - float(np.mean(pairwise)) if pairwise else float("nan")
    return result


# --- compositions (glass priors) -------------------------------------------------------------------

def knn_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Improved precision and recall of Kynkäänniemi et al. (NeurIPS 2019): each set's manifold is the
    union of balls around its points reaching their k-th nearest neighbour in the same set. Precision:
    the share of `fake` inside the real manifold (are samples realistic?); recall: the share of `real`
    inside the fake manifold (do samples cover the real ones?). Euclidean distances between rows."""
    def radii(points: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(queries: np.ndarray, points: np.ndarray, r: np.ndarray) -> float:
        d = np.linalg.norm(queries[:, None, :] - points[None, :, :], axis=-1)
        return float(np.mean((d <= r[None, :]).any(axis=1)))

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def composition_metrics(samples: Sequence[str], training: Sequence[str], heldout: Sequence[str],
                        compounds: Sequence[str], k: int = 5) -> dict:
    """A composition generator's samples against held-out glasses: validity (a composition amala reads,
    made of the compounds, with a Li compound), uniqueness (distinct among the valid), novelty (unique ones
    not in `training`), and k-NN precision and recall (`knn_precision_recall`) of the valid samples
    against `heldout` in mole-fraction space."""
    from amala.agents.glass_prior import fractions_of, within
    from amala.core.composition import InvalidComposition, canonical_composition, parse_composition

    valid = []
    for text in samples:
        try:
            canonical = canonical_composition(parse_composition(text))
        except InvalidComposition:
            continue
        if within([canonical], compounds)[0] and any("Li" in name for name in parse_composition(canonical)):
            valid.append(canonical)
    unique = set(valid)
    novel = unique - set(training)
    precision, recall = (knn_precision_recall(fractions_of(heldout, compounds), fractions_of(valid, compounds), k)
                         if valid else (0.0, 0.0))
    return {"samples": len(samples), "validity": len(valid) / len(samples) if samples else 0.0,
            "uniqueness": len(unique) / len(valid) if valid else 0.0,
            "novelty": len(novel) / len(unique) if unique else 0.0, "precision": precision, "recall": recall, "k": k}
