import numpy as np
import torch
from botorch.posteriors import GPyTorchPosterior

from amala.models.featurizer import MorganFeaturizer
from amala.models.gp import TanimotoGP
from amala.models.similarity import FingerprintBank


def _library(n=120, seed=0):
    """Repeat units with varied ether / alkyl / amine content: a fingerprint-learnable space."""
    rng = np.random.default_rng(seed)
    parts = ["OCC", "CC", "NCC", "C(C)C", "SCC", "OC(=O)"]
    smiles = set()
    while len(smiles) < n:
        body = "".join(rng.choice(parts, size=rng.integers(2, 7)))
        smiles.add(f"[Cu]{body}[Au]")
    return sorted(smiles)


def test_gp_learns_a_fingerprint_function_better_than_the_mean():
    smiles = _library()
    target = torch.tensor([s.count("OCC") - 0.5 * s.count("SCC") for s in smiles], dtype=torch.float64)
    bank = FingerprintBank(MorganFeaturizer(counts=True))
    X = bank.encode(smiles)
    perm = torch.randperm(len(smiles), generator=torch.Generator().manual_seed(0))
    train, test = perm[:80], perm[80:]
    gp = TanimotoGP(bank).fit(X[train], target[train])
    mean, std = gp.predict(X[test])
    mae_gp = (mean - target[test]).abs().mean()
    mae_mean = (target[train].mean() - target[test]).abs().mean()
    assert mae_gp < 0.5 * mae_mean, (mae_gp, mae_mean)
    assert (std > 0).all()
    # training points are predicted with less uncertainty than held-out ones
    assert gp.predict(X[train])[1].mean() < std.mean()


def test_gp_is_a_botorch_model_and_warm_start_reuses_hyperparameters():
    smiles = _library(40, seed=1)
    y = torch.tensor([s.count("C") for s in smiles], dtype=torch.float64)
    bank = FingerprintBank(MorganFeaturizer())
    X = bank.encode(smiles)
    gp = TanimotoGP(bank).fit(X, y)
    posterior = gp.model.posterior(X[:5].unsqueeze(0))
    assert isinstance(posterior, GPyTorchPosterior) and posterior.mean.shape == (1, 5, 1)
    assert posterior.rsample(torch.Size([3])).shape == (3, 1, 5, 1)
    warm = TanimotoGP(bank, warm_start=gp.hyperparameters()).fit(X, y)
    cold_scale = gp.describe()["outputscale"]
    assert abs(warm.describe()["outputscale"] - cold_scale) < 0.05 * cold_scale + 1e-3


def test_measured_variances_make_a_noisy_observation_pull_less():
    """Two observations of nearly the same glass disagree; the precise one should win."""
    from amala.models.composition_gp import CompositionFeaturizer, CompositionGP

    featurizer = CompositionFeaturizer(["Li2O", "SiO2"])
    X = featurizer([f"Li2O:{x:.6f};SiO2:{1 - x:.6f}" for x in (0.20, 0.30, 0.33, 0.331, 0.45)])
    y = torch.tensor([-6.0, -5.0, -4.6, -2.0, -3.8], dtype=torch.float64)
    precise, noisy = 1e-4, 4.0
    gp = CompositionGP(featurizer).fit(X, y, torch.tensor([precise, precise, precise, noisy, precise]))
    mean, _ = gp.predict(featurizer(["Li2O:0.330500;SiO2:0.669500"]))
    assert abs(float(mean[0]) - (-4.6)) < 0.3
    assert gp.describe()["noise"].startswith("measured") and "likelihood.noise_covar.noise" not in gp.hyperparameters()
