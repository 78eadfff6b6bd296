"""Choosing a batch by several modelled outputs: objectives at once (a Pareto campaign), or one objective
under outcome constraints.

The model has one output per column: the objectives first (each maximised: model space), then each
constrained property. Strategies:

- `qlognehvi` (default with two objectives or more): BoTorch's qLogNoisyExpectedHypervolumeImprovement
  against the campaign's reference point (`amala.loop.pareto.reference_point`), batches built by the same
  sequential greedy selection as single-objective campaigns (each pick becomes a pending point, so the
  next one is chosen for what it adds beyond it);
- `qlognparego`: BoTorch's qLogNParEGO, the cheaper alternative: each pick maximises the noisy expected
  improvement of a random augmented Chebyshev scalarisation (new weights per pick, drawn from the seed);
- `greedy_parego`: for surrogates without a posterior (a random forest per output): a random Chebyshev
  scalarisation of the predicted means per pick, greedy;
- `qlognei` with constraints: one objective, output 0, feasibility-weighted.

Constraints go through BoTorch's constraint handling (each candidate's acquisition weighted by its
modelled probability of being feasible); `greedy_parego` keeps candidates whose predicted means are
feasible, unless none is.

The prescreen narrows large pools before joint acquisition: candidates are ranked by Pareto layers of
their objectives' marginal upper confidence bounds (mean + 2 std), dropping those that cannot be
feasible even optimistically (a constraint broken at mean ± 2 std in its favour), and the first
`prescreen` are kept. Layers, not a sum, so a candidate best on one objective and poor on the other
survives as well as a balanced one.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from linear_operator.utils.warnings import NumericalWarning

from amala.loop.acquisition import PRESCREEN_BETA, Pick, _sequential_greedy
from amala.loop.pareto import pareto_mask

LAYER_POOL = 4  # the prescreen sorts into Pareto layers only the best LAYER_POOL x prescreen per objective


def select_many(strategy: str, surrogate, X_candidates: torch.Tensor, X_train: torch.Tensor, q: int, seed: int,
                mean: torch.Tensor, std: torch.Tensor, n_objectives: int, constraints: list | None = None,
                reference: list[float] | None = None, prescreen: int | None = 500, mc_samples: int = 128,
                chunk: int = 1024) -> list[Pick]:
    """Pick `q` distinct rows of `X_candidates`. `mean`/`std`: n x outputs marginal predictions (objectives
    first, maximisation sense); `constraints`: BoTorch callables on output samples (<= 0 feasible)."""
    n = len(X_candidates)
    q = min(q, n)
    if q <= 0:
        return []
    constraints = list(constraints or [])
    if strategy == "random":
        rng = np.random.default_rng(seed)
        return [Pick(int(i), None) for i in rng.choice(n, size=q, replace=False)]
    if strategy == "greedy_parego":
        return _greedy_parego(mean, n_objectives, constraints, q, seed)
    if strategy not in ("qlognehvi", "qlognparego", "qlognei"):
        raise ValueError(f"acquisition.strategy: {strategy} does not choose by several outputs")
    model = surrogate.model
    if model is None:
        raise ValueError(f"acquisition.strategy={strategy} needs a Bayesian surrogate (e.g. gp), not {surrogate.name}")
    shortlist = prescreened(mean, std, n_objectives, constraints, prescreen, q)
    X_short = X_candidates[shortlist].double()
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumericalWarning)
        warnings.filterwarnings("ignore", message=".*[Pp]runing.*")
        local = _acquire(strategy, model, X_short, X_train.double(), q, seed, n_objectives, constraints, reference,
                         mc_samples, chunk)
    return [Pick(int(shortlist[i]), v) for i, v in local]


def prescreened(mean: torch.Tensor, std: torch.Tensor, n_objectives: int, constraints: list, prescreen: int | None,
                q: int) -> torch.Tensor:
    """Indices of the candidates kept for joint acquisition (all of them when the pool is small)."""
    n = len(mean)
    keep = torch.ones(n, dtype=torch.bool)
    if constraints:  # optimistic feasibility: each constraint at mean + 2 std or mean - 2 std, the kinder
        hi, lo = mean + PRESCREEN_BETA * std, mean - PRESCREEN_BETA * std
        for c in constraints:
            keep &= torch.minimum(c(hi), c(lo)) <= 0
        if int(keep.sum()) < q:
            keep[:] = True
    index = torch.nonzero(keep).squeeze(-1)
    if prescreen is None or len(index) <= prescreen:
        return index
    ucb = (mean + PRESCREEN_BETA * std)[index, :n_objectives]
    top = set()
    for k in range(n_objectives):
        top.update(torch.argsort(ucb[:, k], descending=True)[:LAYER_POOL * prescreen].tolist())
    rows = torch.tensor(sorted(top))
    order: list[int] = []
    left = rows
    while len(order) < prescreen and len(left):
        front = torch.as_tensor(pareto_mask(ucb[left].numpy()))
        order += left[front].tolist()
        left = left[~front]
    return index[torch.tensor(order[:prescreen])]


def _samplers(model, mc_samples: int, seed: int):
    """Quasi-MC samplers per output (`ModelList` posteriors are lists), seeded: same data, same batch."""
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.sampling.list_sampler import ListSampler

    shape = torch.Size([mc_samples])
    return ListSampler(*[SobolQMCNormalSampler(sample_shape=shape, seed=seed + k) for k in range(model.num_outputs)])


def _acquire(strategy, model, X_short, X_train, q, seed, n_objectives, constraints, reference, mc_samples, chunk):
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective

    sampler = _samplers(model, mc_samples, seed)
    if strategy == "qlognei":
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.acquisition.objective import GenericMCObjective

        acqf = qLogNoisyExpectedImprovement(model, X_baseline=X_train, sampler=sampler,
                                            objective=GenericMCObjective(lambda Z, X=None: Z[..., 0]),
                                            constraints=constraints or None, prune_baseline=True, cache_root=False)
        return _sequential_greedy(acqf, X_short, q, chunk)
    # the objectives among the outputs (the constrained properties follow them)
    picked = IdentityMCMultiOutputObjective(outcomes=list(range(n_objectives))) \
        if model.num_outputs > n_objectives else None
    if strategy == "qlognehvi":
        from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement

        if reference is None:
            raise ValueError("qlognehvi needs a reference point")
        acqf = qLogNoisyExpectedHypervolumeImprovement(
            model, ref_point=torch.tensor(reference, dtype=torch.float64), X_baseline=X_train, sampler=sampler,
            objective=picked, constraints=constraints or None, prune_baseline=True, cache_root=False)
        return _sequential_greedy(acqf, X_short, q, chunk)
    return _parego(model, X_short, X_train, q, seed, n_objectives, picked, constraints, sampler, chunk)


@torch.no_grad()
def _parego(model, X_short, X_train, q, seed, n_objectives, picked, constraints, sampler, chunk):
    """qLogNParEGO with new random weights for each pick and the earlier picks pending."""
    from botorch.acquisition.multi_objective.parego import qLogNParEGO

    weights = _weights(q, n_objectives, seed)
    chosen: list[tuple[int, float]] = []
    available = torch.ones(len(X_short), dtype=torch.bool)
    for w in weights:
        pending = X_short[[i for i, _ in chosen]] if chosen else None
        acqf = qLogNParEGO(model, X_baseline=X_train, scalarization_weights=w, sampler=sampler, objective=picked,
                           constraints=constraints or None, X_pending=pending, prune_baseline=True, cache_root=False)
        values = torch.cat([acqf(part.unsqueeze(-2)) for part in torch.split(X_short, chunk)])
        values[~available] = -torch.inf
        best = int(torch.argmax(values))
        chosen.append((best, float(values[best])))
        available[best] = False
    return chosen


def _weights(q: int, n_objectives: int, seed: int) -> torch.Tensor:
    """q weight vectors uniform on the simplex, from the seed."""
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.dirichlet(np.ones(n_objectives), size=q), dtype=torch.float64)


def _greedy_parego(mean: torch.Tensor, n_objectives: int, constraints: list, q: int, seed: int) -> list[Pick]:
    """Per pick, the best predicted mean under a random augmented Chebyshev scalarisation (objectives scaled to
    [0, 1] over the candidates), among the candidates whose predicted means meet every constraint."""
    objectives = mean[:, :n_objectives].double()
    lo, hi = objectives.min(0).values, objectives.max(0).values
    scaled = (objectives - lo) / (hi - lo).clamp_min(1e-12)
    feasible = torch.ones(len(mean), dtype=torch.bool)
    for c in constraints:
        feasible &= c(mean.double()) <= 0
    if int(feasible.sum()) < q:
        feasible[:] = True
    available = feasible.clone()
    picks: list[Pick] = []
    for w in _weights(q, n_objectives, seed):
        score = (scaled * w).min(-1).values + 0.05 * (scaled * w).sum(-1)
        score[~available] = -torch.inf
        best = int(torch.argmax(score))
        picks.append(Pick(best, float(score[best])))
        available[best] = False
    return picks
