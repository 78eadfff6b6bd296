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
