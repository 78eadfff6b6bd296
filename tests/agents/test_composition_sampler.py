import numpy as np
import pytest

from amala.agents import ProposalContext
from amala.agents.composition_sampler import CompositionSampler
from amala.core.composition import parse_composition

BOUNDS = {"Li2O": (0.2, 0.5), "SiO2": (0.3, 0.8), "P2O5": (0.0, 0.15), "Al2O3": (0.0, 0.1)}


def test_proposals_respect_bounds_sum_to_one_and_are_reproducible():
    agent = CompositionSampler(BOUNDS, n=40)
    first = agent.propose(ProposalContext(iteration=0, seed=3)).candidates
    again = agent.propose(ProposalContext(iteration=0, seed=3)).candidates
    assert len(first) == 40 and [c.key for c in first] == [c.key for c in again]
    for c in first:
        fractions = parse_composition(c.representation)
        assert sum(fractions.values()) == pytest.approx(1, abs=1e-5)
        for name, (lo, hi) in BOUNDS.items():
            assert lo - 1e-6 <= fractions.get(name, 0.0) <= hi + 1e-6
        assert c.kind == "composition" and c.agent == "composition"
    li = np.array([parse_composition(c.representation)["Li2O"] for c in first])
    assert li.min() < 0.27 and li.max() > 0.43  # spread over the allowed range, not clumped


def test_known_candidates_are_not_proposed_again_and_bad_bounds_are_refused():
    agent = CompositionSampler(BOUNDS, n=10)
    first = agent.propose(ProposalContext(iteration=0, seed=1)).candidates
    later = agent.propose(ProposalContext(iteration=0, seed=1, known_keys={c.key for c in first})).candidates
    assert not {c.key for c in first} & {c.key for c in later}
    with pytest.raises(ValueError, match="sums to 1"):
        CompositionSampler({"Li2O": (0.0, 0.2), "SiO2": (0.0, 0.3)})
    with pytest.raises(ValueError, match="bounds.SiO2"):
        CompositionSampler({"Li2O": (0.0, 0.5), "SiO2": (0.9, 0.5)})


def test_proposals_lie_on_the_grid_and_fit_a_quick_md_cell():
    """Every proposal is a multiple of `step` and a ~150-atom cell can hold each of its components."""
    from amala.oracles.md.cells import formula_units

    agent = CompositionSampler(BOUNDS, n=60, step=0.02)
    for c in agent.propose(ProposalContext(iteration=0, seed=5)).candidates:
        fractions = parse_composition(c.representation)
        assert all(abs(x / 0.02 - round(x / 0.02)) < 1e-6 for x in fractions.values()), c.representation
        units = formula_units(fractions, target_atoms=150)
        assert set(units) == {k for k, x in fractions.items() if x > 0} and all(n >= 1 for n in units.values())


def test_snap_keeps_the_sum_exact():
    agent = CompositionSampler(BOUNDS, step=0.02)
    snapped = agent.snap(np.array([0.3371, 0.5012, 0.1117, 0.05]))
    assert snapped.sum() == pytest.approx(1.0, abs=1e-12) and np.allclose(snapped * 50, np.round(snapped * 50))


@pytest.mark.parametrize("fractions", [{"Li2O": float("nan"), "SiO2": 1.0}, {"Li2O": float("inf")}, {"Li2O": True},
                                       {"Li2O": -0.1, "SiO2": 1.1}, {}, {"Li2O": 0.0}])
def test_canonical_composition_refuses_non_finite_or_non_numeric_amounts(fractions):
    from amala.core.composition import InvalidComposition, canonical_composition

    with pytest.raises(InvalidComposition):
        canonical_composition(fractions)
