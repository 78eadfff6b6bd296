"""Multi-objective and constrained acquisition (`amala.loop.multi_objective`) on synthetic problems where the
answer is known: real BoTorch models and acquisition functions, no campaign."""

import numpy as np
import pytest
import torch
from botorch.models import SingleTaskGP
from botorch.models.model import ModelList

from amala.loop.config import ConstraintSpec
from amala.loop.multi_objective import prescreened, select_many
from amala.loop.objective import Constraint


class Fitted:
    """A stand-in surrogate holding real GPs (one per output) fitted on a 1-D grid."""

    name = "gp"

    def __init__(self, X, Y):
        from botorch.fit import fit_gpytorch_mll
        from gpytorch.mlls import ExactMarginalLogLikelihood

        models = []
        for k in range(Y.shape[1]):
            gp = SingleTaskGP(X, Y[:, k:k + 1])
            fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
            models.append(gp.eval())
        self.model = ModelList(*models)

    def predict(self, X):
        with torch.no_grad():
            posts = [m.posterior(X) for m in self.model.models]
        return (torch.cat([p.mean for p in posts], -1), torch.cat([p.variance.sqrt() for p in posts], -1))


def problem():
    """Objective 1 rises with x, objective 2 falls with x (a front along the whole grid); output 3 is x itself,
    the constrained property."""
    torch.manual_seed(0)
    X = torch.linspace(0, 1, 101, dtype=torch.float64).unsqueeze(-1)
    Y = torch.cat([X, 1 - X ** 2, X], -1)
    train = torch.arange(0, 101, 10)
    return X, Y, train


@pytest.mark.parametrize("strategy", ["qlognehvi", "qlognparego"])
def test_a_constraint_keeps_infeasible_candidates_out_of_the_batch(strategy):
    X, Y, train = problem()
    surrogate = Fitted(X[train], Y[train])
    mean, std = surrogate.predict(X)
    at_most = Constraint(ConstraintSpec(property="x", op="<=", value=0.5), "1")
    free = select_many(strategy, surrogate, X, X[train], 5, seed=0, mean=mean, std=std, n_objectives=2,
                       constraints=[], reference=[0.0, 0.0], prescreen=None, mc_samples=64)
    bound = select_many(strategy, surrogate, X, X[train], 5, seed=0, mean=mean, std=std, n_objectives=2,
                        constraints=[at_most.botorch(2)], reference=[0.0, 0.0], prescreen=None, mc_samples=64)
    assert len({p.index for p in bound}) == 5
    assert all(float(X[p.index]) <= 0.53 for p in bound), [float(X[p.index]) for p in bound]
    assert any(float(X[p.index]) > 0.55 for p in free)  # without it the front's right half is chosen too


def test_qlognei_with_a_constraint_maximises_the_first_objective_where_feasible():
    X, Y, train = problem()
    surrogate = Fitted(X[train], Y[train])
    mean, std = surrogate.predict(X)
    at_most = Constraint(ConstraintSpec(property="x", op="<=", value=0.5), "1")
    surrogate.model = ModelList(surrogate.model.models[0], surrogate.model.models[2])
    picks = select_many("qlognei", surrogate, X, X[train], 3, seed=0, mean=mean[:, [0, 2]], std=std[:, [0, 2]],
                        n_objectives=1, constraints=[at_most.botorch(1)], prescreen=None, mc_samples=64)
    xs = [float(X[p.index]) for p in picks]
    assert all(0.35 <= x <= 0.53 for x in xs), xs  # as high as the constraint allows


def test_hypervolume_picks_spread_along_the_front_and_are_reproducible():
    X, Y, train = problem()
    surrogate = Fitted(X[train], Y[train, :2])
    mean, std = surrogate.predict(X)
    a = select_many("qlognehvi", surrogate, X, X[train], 4, seed=3, mean=mean, std=std, n_objectives=2,
                    reference=[0.0, 0.0], prescreen=None, mc_samples=64)
    b = select_many("qlognehvi", surrogate, X, X[train], 4, seed=3, mean=mean, std=std, n_objectives=2,
                    reference=[0.0, 0.0], prescreen=None, mc_samples=64)
    assert [p.index for p in a] == [p.index for p in b]
    assert len({p.index for p in a}) == 4 and all(p.acquisition_value is not None for p in a)
    assert not set(p.index for p in a) & set(train.tolist())  # nothing new is learned from a known point


def test_greedy_parego_needs_only_means_and_respects_constraints():
    X, Y, _ = problem()
    at_least = Constraint(ConstraintSpec(property="x", op=">=", value=0.8), "1")

    class Forest:
        name, model = "random_forest", None

    picks = select_many("greedy_parego", Forest(), X, X[:0], 6, seed=0, mean=Y, std=torch.zeros_like(Y),
                        n_objectives=2, constraints=[at_least.botorch(2)])
    assert len({p.index for p in picks}) == 6 and all(float(X[p.index]) >= 0.8 for p in picks)
    with pytest.raises(ValueError, match="needs a Bayesian surrogate"):
        select_many("qlognehvi", Forest(), X, X[:0], 2, 0, Y, torch.zeros_like(Y), 2, reference=[0, 0])


def test_prescreen_keeps_the_first_pareto_layers_of_the_upper_bounds():
    rng = np.random.default_rng(0)
    mean = torch.as_tensor(rng.normal(size=(400, 2)))
    std = torch.zeros_like(mean)
    kept = prescreened(mean, std, 2, [], prescreen=30, q=5)
    assert len(kept) == 30
    from amala.loop.pareto import pareto_mask

    front = set(np.nonzero(pareto_mask(mean.numpy()))[0].tolist())
    assert front <= set(kept.tolist())  # the whole first layer survives
    # an extreme on one objective survives even when poor on the other
    mean[7] = torch.tensor([10.0, -10.0])
    assert 7 in prescreened(mean, std, 2, [], prescreen=30, q=5).tolist()


def test_constraint_text_and_direction():
    at_least = Constraint(ConstraintSpec(property="transference_number", op=">=", value=0.2), "1")
    assert at_least.text == "transference_number >= 0.2" and at_least.feasible(0.3) and not at_least.feasible(0.1)
    Z = torch.tensor([[0.1], [0.3]])
    assert (at_least.botorch(0)(Z) <= 0).tolist() == [False, True]
