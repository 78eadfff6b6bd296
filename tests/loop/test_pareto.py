"""Pareto fronts and hypervolumes (`amala.loop.pareto`) against hand-computed cases."""

import numpy as np
import pytest

from amala.loop import pareto


def test_two_objective_hypervolume_is_the_staircase_area():
    # rectangles [0,1]x[0,3], [0,2]x[0,2], [0,3]x[0,1]: 3 + 1*2 + 1*1 = 6
    Y = np.array([[1, 3], [2, 2], [3, 1], [1, 1]])  # (1, 1) is dominated and adds nothing
    assert pareto.hypervolume(Y, [0, 0]) == pytest.approx(6.0)
    # a reference inside the front: only what lies above it counts, (1, 3) and (3, 1) fall out at (1, 1)
    assert pareto.hypervolume(Y, [1, 1]) == pytest.approx(1.0)
    assert pareto.hypervolume(np.empty((0, 2)), [0, 0]) == 0.0


def test_three_objective_hypervolume_by_inclusion_exclusion():
    # boxes 1x1x1 and 2x0.5x0.5 from the origin overlap in 1x0.5x0.5: 1 + 0.5 - 0.25
    Y = np.array([[1, 1, 1], [2, 0.5, 0.5]])
    assert pareto.hypervolume(Y, [0, 0, 0]) == pytest.approx(1.25)


def test_pareto_mask_and_curve():
    Y = np.array([[1, 3], [0.5, 0.5], [2, 2], [np.nan, np.nan], [3, 1]])
    assert pareto.pareto_mask(Y[[0, 1, 2, 4]]).tolist() == [True, False, True, True]
    curve = pareto.hypervolume_curve(Y, [0, 0])
    assert curve == pytest.approx([3, 3, 5, 5, 6])  # a failed evaluation (NaN) adds nothing


def test_reference_point_is_configured_or_the_initial_designs_median():
    Y = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0]])
    assert pareto.reference_point(Y, [None, None]) == [2.0, 20.0]
    assert pareto.reference_point(Y, [0.5, None]) == [0.5, 20.0]
    with pytest.raises(ValueError, match="needs evaluations"):
        pareto.reference_point(np.empty((0, 2)), [None, None])


def test_random_hypervolume_matches_the_exact_expectation_on_a_tiny_pool():
    pool = np.array([[1, 3], [2, 2], [3, 1], [np.nan, np.nan]])  # the last one costs a draw, adds nothing
    counts, expected = pareto.random_hypervolume(pool, [0, 0], n_max=1, draws=4000, seed=1)
    assert counts.tolist() == [1]
    assert expected[0] == pytest.approx((3 + 4 + 3 + 0) / 4, rel=0.05)
    counts, expected = pareto.random_hypervolume(pool, [0, 0], n_max=4, draws=50)
    assert expected[-1] == pytest.approx(6.0)  # the whole pool, whatever the order


def test_front_figures_draw_pairwise_panels_for_three_objectives(tmp_path):
    from amala.loop.report.pareto_figures import front_figure, hypervolume_figure
    from amala.loop.report.pareto_front import ParetoFront

    rng = np.random.default_rng(0)
    Y = rng.normal(size=(40, 3))
    feasible = np.ones(40, dtype=bool)
    feasible[:5] = False
    on_front = np.zeros(40, dtype=bool)
    on_front[np.nonzero(feasible)[0][pareto.pareto_mask(Y[feasible])]] = True
    reference = [-1.0, -1.0, -1.0]
    front = ParetoFront(["a [1]", "b [1]", "c [1]"], ["maximize"] * 3, Y, feasible, on_front, [], ["c >= 0"],
                        reference, pareto.hypervolume_curve(np.where(feasible[:, None], Y, np.nan), reference),
                        pareto.random_hypervolume(Y, reference, 40, draws=20))
    assert front_figure(front, tmp_path / "front.png") and hypervolume_figure(front, tmp_path / "hv.png")
    from PIL import Image

    width, height = Image.open(tmp_path / "front.png").size
    assert width > 2.5 * height  # three panels side by side: (a, b), (a, c), (b, c)
    assert not front_figure(None, tmp_path / "none.png")
