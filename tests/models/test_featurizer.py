import numpy as np
import pytest
import torch

from amala.models.featurizer import MorganFeaturizer
from amala.models.kernels import tanimoto
from amala.models.similarity import FingerprintBank

SMILES = ["[Cu]OCCOCCOC(=O)[Au]", "[Cu]OCCOC(=O)[Au]", "[Cu]CC(C)CC[Au]", "[Cu]c1ccc(cc1)[Au]"]


def test_thermometer_counts_make_tanimoto_equal_minmax():
    f = MorganFeaturizer(radius=2, counts=True, count_cap=4)
    X = f(SMILES)
    assert X.shape == (4, 2048 * 4) and set(X.unique().tolist()) <= {0.0, 1.0}
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    C = np.stack([np.minimum(gen.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s)), 4) for s in SMILES]).astype(float)
    minmax = np.minimum(C[0], C[1]).sum() / np.maximum(C[0], C[1]).sum()
    assert float(tanimoto(X[:1], X[1:2])) == pytest.approx(minmax)
    # repeating an ether unit changes counts, so similarity is below 1 though the bit sets overlap heavily
    assert float(tanimoto(X[:1], X[1:2])) < 1.0


def test_cache_returns_identical_vectors_and_bad_smiles_fail_clearly(monkeypatch):
    """A featurized SMILES is never parsed again while cached; the cache keeps at most `cache_size`
    entries, the least recently used leaving first."""
    from amala.models import featurizer

    reference = MorganFeaturizer(counts=False)(SMILES)  # computed before parsing is watched
    parsed = []
    real_parse = featurizer.Chem.MolFromSmiles

    def counting_parse(smiles):
        parsed.append(smiles)
        return real_parse(smiles)

    monkeypatch.setattr(featurizer, "Chem", type("ChemSpy", (), {"MolFromSmiles": staticmethod(counting_parse)}))
    f = MorganFeaturizer(counts=False, cache_size=2)
    first = f(SMILES[:1])
    assert torch.equal(first, reference[:1]) and torch.equal(first, f(SMILES[:1]))
    assert parsed == SMILES[:1]  # the second call hit the cache
    f(SMILES[:2])
    f(SMILES[:1])  # touch SMILES[0]: SMILES[1] is now the least recently used
    assert parsed == SMILES[:2]
    f(SMILES[2:3])  # a third entry evicts SMILES[1], not SMILES[0]
    f(SMILES[:1])
    assert parsed == SMILES[:3]
    assert torch.equal(f(SMILES[1:2]), reference[1:2]) and parsed == SMILES[:3] + SMILES[1:2]  # recomputed, same
    with pytest.raises(ValueError, match="cannot parse"):
        f(["C1CC"])


def test_fingerprint_bank_grows_and_its_similarities_equal_the_dense_computation():
    f = MorganFeaturizer(counts=True)
    bank = FingerprintBank(f)
    rows = bank.encode(SMILES[:2])
    assert rows.tolist() == [[0.0], [1.0]]
    bank.encode(SMILES)  # two new molecules appended, old rows unchanged
    assert len(bank) == 4
    assert torch.equal(bank.bits.dense(), f(SMILES).float())
    direct = tanimoto(f(SMILES).float(), f(SMILES).float())
    assert torch.equal(bank.similarity([0, 1, 2, 3], [0, 1, 2, 3]), direct)  # same float32 numbers, bit for bit
    assert torch.equal(bank.similarity([3, 1], [2]), direct[[3, 1]][:, [2]])
    assert torch.allclose(direct.diagonal(), torch.ones(4))
