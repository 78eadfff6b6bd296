import numpy as np
import pytest
import torch

from amala.loop.acquisition import select
from amala.models.featurizer import MorganFeaturizer
from amala.models.gp import TanimotoGP
from amala.models.similarity import FingerprintBank


@pytest.fixture(scope="module")
def fitted():
    """A GP trained on a small series where longer ether chains are better."""
    smiles = [f"[Cu]{'OCC' * k}{'CC' * j}[Au]" for k in range(1, 9) for j in range(0, 5)]
    y = torch.tensor([s.count("OCC") - 0.3 * s.count("CC") for s in smiles], dtype=torch.float64)
    bank = FingerprintBank(MorganFeaturizer(counts=True, count_cap=8))
    X = bank.encode(smiles)
    train = torch.tensor([i for i in range(len(smiles)) if i % 3 == 0])
    cand = torch.tensor([i for i in range(len(smiles)) if i % 3 != 0])
    gp = TanimotoGP(bank).fit(X[train], y[train])
    mean, std = gp.predict(X[cand])
    return gp, X[cand], X[train], y[cand], mean, std


@pytest.mark.parametrize("strategy", ["qlognei", "qucb", "thompson", "greedy", "random"])
def test_each_strategy_returns_q_distinct_candidates(fitted, strategy):
    gp, Xc, Xt, _, mean, std = fitted
    picks = select(strategy, gp, Xc, Xt, q=4, seed=3, mean=mean, std=std, prescreen=None)
    indices = [p.index for p in picks]
    assert len(indices) == 4 == len(set(indices))
    assert all(0 <= i < len(Xc) for i in indices)


@pytest.mark.parametrize("strategy", ["qlognei", "qucb", "greedy"])
def test_model_based_strategies_beat_random_on_a_learnable_series(fitted, strategy):
    gp, Xc, Xt, yc, mean, std = fitted
    chosen = [p.index for p in select(strategy, gp, Xc, Xt, q=5, seed=0, mean=mean, std=std)]
    random_mean = np.mean([yc[[p.index for p in select("random", gp, Xc, Xt, 5, s)]].mean() for s in range(20)])
    assert yc[chosen].mean() > random_mean + 0.5


def test_selection_is_reproducible_and_prescreen_limits_the_shortlist(fitted):
    gp, Xc, Xt, _, mean, std = fitted
    a = select("qlognei", gp, Xc, Xt, 3, seed=7, mean=mean, std=std, prescreen=5)
    b = select("qlognei", gp, Xc, Xt, 3, seed=7, mean=mean, std=std, prescreen=5)
    assert [p.index for p in a] == [p.index for p in b]
    top5 = set(torch.argsort(mean + 2 * std, descending=True)[:5].tolist())
    assert {p.index for p in a} <= top5
    assert all(p.acquisition_value is not None for p in a)


def test_bayesian_strategy_refuses_a_model_without_posterior(fitted):
    _, Xc, Xt, _, mean, std = fitted

    class Forest:
        name, model = "random_forest", None

    with pytest.raises(ValueError, match="needs a Bayesian surrogate"):
        select("qlognei", Forest(), Xc, Xt, 2, 0, mean=mean, std=std)


def test_config_acquisition_and_benchmark_share_one_strategy_list():
    from typing import get_args

    from amala.loop import replay, strategies
    from amala.loop.config import AcquisitionSpec

    assert get_args(AcquisitionSpec.model_fields["strategy"].annotation) == strategies.STRATEGIES
    assert set(strategies.STRATEGIES) <= set(replay.STRATEGIES)
    assert set(strategies.BAYESIAN) | set(strategies.NON_BAYESIAN) == set(strategies.STRATEGIES)
    with pytest.raises(ValueError, match="unknown 'nope'"):
        select("nope", None, torch.zeros(3, 1), torch.zeros(1, 1), 1, 0, mean=torch.zeros(3), std=torch.ones(3))
