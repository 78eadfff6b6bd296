"""The denoiser: E(3)-equivariant, and a few seconds of training on one structure already remove noise."""

import numpy as np
import pytest
import torch
from ase.spacegroup import crystal
from scipy.spatial.transform import Rotation

from amala.oracles.generator.denoiser import Denoiser, graph


def _cell(seed=0, n=30, length=9.0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n), rng.random((n, 3)) * length, np.eye(3) * length, np.array([0.5, 0.5, 0.8])


def test_rotations_rotate_translations_and_permutations_do_nothing():
    torch.manual_seed(0)
    model = Denoiser(2, 3, features=8, layers=2, cutoff=4.0, n_rbf=4)
    kinds, pos, box, cond = _cell()
    out = model(graph([(kinds, pos, box, cond)], 4.0)).detach()
    assert out.abs().max() > 0
    R = Rotation.random(random_state=3).as_matrix()
    rotated = model(graph([(kinds, pos @ R.T, box @ R.T, cond)], 4.0)).detach()
    assert torch.allclose(out @ torch.tensor(R.T, dtype=torch.float32), rotated, atol=1e-5)
    shifted = model(graph([(kinds, pos + 2.7, box, cond)], 4.0)).detach()
    assert torch.allclose(out, shifted, atol=1e-5)
    order = np.random.default_rng(1).permutation(len(kinds))
    permuted = model(graph([(kinds[order], pos[order], box, cond)], 4.0)).detach()
    assert torch.allclose(out[order], permuted, atol=1e-5)
    two = model(graph([(kinds, pos, box, cond), (kinds, pos, box, cond)], 4.0)).detach()  # batching is exact
    assert torch.allclose(two[: len(kinds)], out, atol=1e-6) and torch.allclose(two[len(kinds):], out, atol=1e-6)


def _rms_to(clean, positions, box):
    delta = positions - clean
    delta -= box.diagonal() * np.round(delta / box.diagonal())  # orthorhombic minimum image
    return float(np.sqrt((delta ** 2).sum(1).mean()))


def test_noise_then_denoise_comes_back_closer_to_the_clean_structure():
    """Noise/denoise round trip: after a few seconds of training on one clean cell, one denoising step
    takes a noisy copy (noise never seen in training) closer to it than the noise left it."""
    li2o = crystal(["O", "Li"], basis=[(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225,
                   cellpar=[4.61] * 3 + [90] * 3).repeat(2)
    kinds = np.array([0 if s == "Li" else 1 for s in li2o.get_chemical_symbols()])
    clean, box, cond = li2o.get_positions(), li2o.get_cell().array, np.array([2 / 3, 1 / 3, 0.85])
    torch.manual_seed(0)
    model = Denoiser(2, 3, features=16, layers=2, cutoff=3.5, n_rbf=8)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(150):
        noise = rng.uniform(0.05, 0.4) * rng.standard_normal(clean.shape)
        loss = ((model(graph([(kinds, clean + noise, box, cond)], 3.5)) - torch.tensor(noise).float()) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    noisy = clean + 0.25 * np.random.default_rng(99).standard_normal(clean.shape)
    with torch.no_grad():
        denoised = noisy - model(graph([(kinds, noisy, box, cond)], 3.5)).double().numpy()
    before, after = _rms_to(clean, noisy, box), _rms_to(clean, denoised, box)
    assert after < 0.7 * before, (before, after)
    assert before == pytest.approx(0.25 * np.sqrt(3), rel=0.15)
