"""Sparse fingerprints and chunked GP scoring give the same numbers as the dense computations."""

import numpy as np
import torch

from amala.models.featurizer import MorganFeaturizer
from amala.models.gp import TanimotoGP
from amala.models.kernels import IndexedKernel, tanimoto
from amala.models.similarity import FingerprintBank
from amala.models.sparse_bits import DENSE_ROWS, SparseBits, TanimotoTo


def _random_bits(n, dim, density, seed):
    rng = np.random.default_rng(seed)
    block = (rng.random((n, dim)) < density).astype(np.uint8)
    block[0] = 0  # an all-zero row: similarity 1 to another all-zero row, 0 to the rest
    return block


def test_sparse_rows_round_trip_take_and_append():
    block = _random_bits(50, 300, 0.05, 0)
    bits = SparseBits.from_dense(block)
    assert torch.equal(bits.dense(), torch.from_numpy(block).float())
    assert np.array_equal(bits.sizes(), block.sum(1))
    assert torch.equal(bits.take([7, 3, 7]).dense(), torch.from_numpy(block[[7, 3, 7]]).float())
    assert torch.equal(bits.slice(10, 20).dense(), torch.from_numpy(block[10:20]).float())
    grown = SparseBits(300)
    for start in range(0, 50, 7):  # appends in pieces give the same rows
        grown.append(bits.slice(start, min(start + 7, 50)))
    assert torch.equal(grown.dense(), bits.dense())


def test_sparse_and_dense_paths_give_the_dense_tanimoto_bit_for_bit():
    block = _random_bits(DENSE_ROWS + 300, 256, 0.04, 1)  # more rows than the dense path takes
    reference = SparseBits.from_dense(block[:40])
    block[-1] = 0  # a second all-zero row, in the sparse part
    query = SparseBits.from_dense(block)
    direct = tanimoto(torch.from_numpy(block).float(), torch.from_numpy(block[:40]).float())
    similar = TanimotoTo(reference)(query)  # sparse product (more than DENSE_ROWS rows)
    assert torch.equal(similar, direct)
    assert torch.equal(TanimotoTo(reference)(query.slice(0, 100)), direct[:100])  # dense product
    assert similar[-1, 0] == 1.0 and similar[0, 0] == 1.0


def _series():
    smiles = [f"[Cu]{'OCC' * k}{'CC' * j}{'N' * m}[Au]" for k in range(1, 7) for j in range(4) for m in range(3)]
    y = torch.tensor([s.count("OCC") - 0.3 * s.count("CC") + 0.2 * s.count("N") for s in smiles],
                     dtype=torch.float64)
    return smiles, y


def test_chunked_gp_prediction_equals_botorchs_dense_posterior():
    smiles, y = _series()
    bank = FingerprintBank(MorganFeaturizer(counts=True))
    X = bank.encode(smiles)
    train = torch.arange(0, len(smiles), 3)
    for y_var in (None, torch.full((len(train),), 0.05, dtype=torch.float64)):  # learned and measured noise
        gp = TanimotoGP(bank).fit(X[train], y[train], y_var)
        mean, std = gp.predict(X, chunk=7)  # many chunks
        posterior = gp.model.posterior(X)  # BoTorch's dense joint posterior over every candidate
        assert torch.allclose(mean, posterior.mean.squeeze(-1), atol=1e-6)
        assert torch.allclose(std, posterior.variance.squeeze(-1).clamp_min(0).sqrt(), atol=1e-6)
        # scoring fingerprints that are not in the bank (a library's cached rows) gives the same numbers
        fresh = FingerprintBank(MorganFeaturizer(counts=True))
        fresh.encode(smiles[::-1])
        outside = fresh.bits.take(np.arange(len(smiles))[::-1].copy())
        assert torch.allclose(gp.predict_bits(outside, chunk=5)[0], mean, atol=1e-12)


def test_the_kernel_holds_only_the_rows_it_was_asked_about():
    smiles, y = _series()
    bank = FingerprintBank(MorganFeaturizer(counts=True))
    X = bank.encode(smiles)
    kernel = IndexedKernel(bank)
    k = kernel(X[:5], X[3:9]).to_dense()
    assert kernel.gram.shape == (9, 9)  # rows 0-8, not the bank's 72
    direct = tanimoto(bank.bits.dense()[:5], bank.bits.dense()[3:9]).double()
    assert torch.equal(k, direct)
    assert torch.equal(kernel(X[8:9], X[0:2]).to_dense(), bank.similarity([8], [0, 1]).double())
