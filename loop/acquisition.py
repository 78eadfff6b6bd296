"""Choosing the next batch from a discrete candidate set with BoTorch acquisition functions.

Batches are built by sequential greedy selection, as BoTorch's `optimize_acqf_discrete` does:
each pick is added to the acquisition function's pending points before the next is chosen, so a
batch does not spend ten evaluations on ten near-copies. We run the loop ourselves to keep the
candidates' indices (two polymers can share a fingerprint) and each pick's acquisition value.

Joint (q-batch) acquisition over thousands of candidates is expensive, so BoTorch strategies first
narrow the pool to the `prescreen` candidates with the highest marginal upper confidence bound
(mean + 2 std); with a pool no larger than `prescreen`, nothing is narrowed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qUpperConfidenceBound
from botorch.sampling import SobolQMCNormalSampler
from linear_operator.utils.warnings import NumericalWarning

from amala.loop.strategies import BAYESIAN, MULTI_OBJECTIVE, STRATEGIES

PRESCREEN_BETA = 2.0  # the prescreen ranks by the marginal upper confidence bound mean + 2 std


@dataclass
class Pick:
    index: int  # row of the candidate set
    acquisition_value: float | None


def select(strategy: str, surrogate, X_candidates: torch.Tensor, X_train: torch.Tensor, q: int,
           seed: int, mean: torch.Tensor | None = None, std: torch.Tensor | None = None,
           ucb_beta: float = 2.0, prescreen: int | None = 500, mc_samples: int = 128,
           chunk: int = 1024) -> list[Pick]:
    """Pick `q` distinct rows of `X_candidates`. `mean`/`std` are the surrogate's marginal
    predictions on the candidates (maximisation sense), computed once by the caller."""
    n = len(X_candidates)
    q = min(q, n)
    if q <= 0:
        return []
    if strategy == "random":
        rng = np.random.default_rng(seed)
        return [Pick(int(i), None) for i in rng.choice(n, size=q, replace=False)]
    if strategy in MULTI_OBJECTIVE:
        raise ValueError(f"acquisition.strategy={strategy} chooses by several objectives "
                         "(amala.loop.multi_objective.select_many)")
    if strategy == "greedy":
        order = torch.argsort(mean, descending=True)[:q]
        return [Pick(int(i), float(mean[i])) for i in order]
    if strategy not in BAYESIAN:
        raise ValueError(f"acquisition.strategy: unknown {strategy!r} (choose from {STRATEGIES})")
    if surrogate.model is None:
        raise ValueError(f"acquisition.strategy={strategy} needs a Bayesian surrogate (e.g. gp), "
                         f"not {surrogate.name}")

    shortlist = torch.arange(n)
    if prescreen is not None and n > prescreen:
        shortlist = torch.argsort(mean + PRESCREEN_BETA * std, descending=True)[:prescreen]
    X_short = X_candidates[shortlist].double()
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        # linear_operator's jitter notices (a near-singular joint covariance, handled) are not news to users
        warnings.filterwarnings("ignore", category=NumericalWarning)
        local = _acquire(strategy, surrogate.model, X_short, X_train, q, seed, ucb_beta, mc_samples, chunk)
    return [Pick(int(shortlist[i]), v) for i, v in local]


def _acquire(strategy, model, X_short, X_train, q, seed, ucb_beta, mc_samples, chunk) -> list[tuple[int, float]]:
    if strategy == "thompson":
        return _thompson(model, X_short, q)
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
    if strategy == "qlognei":
        acqf = qLogNoisyExpectedImprovement(model, X_baseline=X_train.double(), sampler=sampler, prune_baseline=True)
    else:
        acqf = qUpperConfidenceBound(model, beta=ucb_beta, sampler=sampler)
    return _sequential_greedy(acqf, X_short, q, chunk)


@torch.no_grad()
def _sequential_greedy(acqf, X: torch.Tensor, q: int, chunk: int) -> list[tuple[int, float]]:
    chosen: list[tuple[int, float]] = []
    available = torch.ones(len(X), dtype=torch.bool)
    for _ in range(q):
        values = torch.cat([acqf(part.unsqueeze(-2)) for part in torch.split(X, chunk)])
        values[~available] = -torch.inf
        best = int(torch.argmax(values))
        chosen.append((best, float(values[best])))
        available[best] = False
        acqf.set_X_pending(X[[i for i, _ in chosen]])
    return chosen


@torch.no_grad()
def _thompson(model, X: torch.Tensor, q: int) -> list[tuple[int, float]]:
    """Each batch member is the argmax of its own joint posterior sample (without repeats)."""
    samples = model.posterior(X).rsample(torch.Size([q])).squeeze(-1)  # q x n
    chosen: list[tuple[int, float]] = []
    taken: set[int] = set()
    for draw in samples:
        for i in torch.argsort(draw, descending=True).tolist():
            if i not in taken:
                taken.add(i)
                chosen.append((i, float(draw[i])))
                break
    return chosen
