"""The composition GP with two fidelities (simulated low, measured high): it carries the shape the
fidelities share over a systematic offset, and stays the single-task GP with one fidelity."""

import numpy as np
import pytest
import torch

from amala.loop.config import parse_config
from amala.models.composition_gp import CompositionFeaturizer, CompositionGP


def _problem(n=30, n_high=5, seed=0):
    featurizer = CompositionFeaturizer(["Li2O", "SiO2"])
    x = np.random.default_rng(seed).uniform(0.1, 0.5, n)
    truth = lambda v: -8 + 10 * v + np.sin(30 * v)  # noqa: E731 - too wiggly for 5 points alone
    high = torch.zeros(n, dtype=torch.bool)
    high[:n_high] = True
    y = torch.tensor(np.where(high.numpy(), truth(x), truth(x) + 5.0))  # the low fidelity: five decades off
    test = np.linspace(0.12, 0.48, 40)
    encode = lambda v: featurizer([f"Li2O:{a:.4f};SiO2:{1 - a:.4f}" for a in v])  # noqa: E731
    return featurizer, encode(x), y, high, encode(test), truth(test)


def test_two_fidelities_carry_the_low_fidelitys_shape_over_its_offset():
    featurizer, X, y, high, X_test, truth = _problem()
    two = CompositionGP(featurizer).fit(X, y, high=high)
    mean, std = two.predict(X_test)
    alone = CompositionGP(featurizer).fit(X[high], y[high])
    mean_alone, _ = alone.predict(X_test)
    error, error_alone = np.abs(mean.numpy() - truth).mean(), np.abs(mean_alone.numpy() - truth).mean()
    assert error < 0.2 * error_alone, (error, error_alone)
    assert abs(mean.numpy().mean() - truth.mean()) < 0.5  # predictions at high fidelity, not at the offset
    assert (std > 0).all() and two.task_correlation() > 0.9
    assert "fidelity covariance" in two.describe()["kernel"] and two.describe()["fidelity_correlation"] > 0.9


def test_one_fidelity_is_the_single_task_gp():
    featurizer, X, y, high, X_test, _ = _problem()
    low_only = torch.zeros_like(high)
    a = CompositionGP(featurizer).fit(X, y, high=low_only)
    b = CompositionGP(featurizer).fit(X, y)
    assert torch.allclose(a.predict(X_test)[0], b.predict(X_test)[0])
    assert a.task_correlation() is None and "fidelity_correlation" not in a.describe()
    with pytest.raises(ValueError, match="one temperature"):
        CompositionGP(featurizer).fit(X, y, high=high, temperature_K=torch.full((len(y),), 300.0))


def test_high_fidelity_is_accepted_for_compositions_and_refused_for_polymers():
    glass = {"name": "g", "representation": "composition", "data": None, "oracle": {"kind": "md"},
             "agents": [{"kind": "composition", "bounds": {"Li2O": [0.2, 0.5], "SiO2": [0.5, 0.8]}}],
             "surrogate": {"kind": "gp", "high_fidelity": ["external"]}}
    assert parse_config(glass).surrogate.high_fidelities() == ["external"]
    polymer = {"name": "p", "surrogate": {"kind": "gp", "high_fidelity": ["external"]}}
    with pytest.raises(Exception, match="two fidelities in composition campaigns only"):
        parse_config(polymer)


def test_the_two_fidelity_gp_drives_botorch_acquisition():
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement

    featurizer, X, y, high, X_test, truth = _problem()
    two = CompositionGP(featurizer).fit(X, y, high=high)
    acquisition = qLogNoisyExpectedImprovement(two.model, X_baseline=X.double(), prune_baseline=False)
    values = acquisition(X_test.double().unsqueeze(1)).detach()
    assert values.shape == (len(X_test),) and torch.isfinite(values).all()
