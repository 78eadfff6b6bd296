"""Transport analysis on synthetic data whose answer is known."""

import math

import numpy as np
import pytest

from amala.oracles.md.analysis import K_B_EV, NoDiffusiveRegime, arrhenius, diffusivity, msd_by_group, nernst_einstein


def _random_walk_msd(d_A2_ps, n_particles=400, n_groups=8, n_steps=2000, dt_ps=0.01, seed=0):
    """MSD of independent 3-D Brownian particles with diffusivity D (Å²/ps), one curve per group."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, math.sqrt(2 * d_A2_ps * dt_ps), size=(n_steps, n_particles, 3))
    squared = (np.cumsum(steps, axis=0) ** 2).sum(-1)  # n_steps x n_particles
    groups = squared.reshape(n_steps, n_groups, -1).mean(-1).T  # n_groups x n_steps
    return dt_ps * np.arange(1, n_steps + 1), groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_walk_recovers_its_diffusivity(seed):
    t, msd = _random_walk_msd(0.5, seed=seed)
    result = diffusivity(t, msd)
    expected = 0.5 * 1e-4  # 0.5 Å²/ps = 5e-5 cm²/s
    assert result.value_cm2_s == pytest.approx(expected, rel=0.15)
    assert 0 < result.std_cm2_s < 0.2 * expected
    assert abs(result.value_cm2_s - expected) < 3 * result.std_cm2_s  # the error bar is honest
    assert abs(result.loglog_slope - 1) < 0.15 and result.window_ps[0] < result.window_ps[1]


def test_caged_ions_are_refused_with_the_reason():
    t = np.linspace(0.01, 20, 500)
    msd = 1.5 * (1 - np.exp(-t / 0.2))  # plateau: rattling in a cage, no long-range motion
    with pytest.raises(NoDiffusiveRegime, match="not linear"):
        diffusivity(t, msd)


def test_nernst_einstein_against_a_hand_calculation():
    # 1e22 ions/cm3 (10 ions in 1000 Å3), D = 1e-6 cm2/s, 300 K: n q^2 D / kT
    sigma = nernst_einstein(1e-6, 10, 1000.0, 300.0)
    hand = 1e22 * (1.602176634e-19) ** 2 * 1e-6 / (1.380649e-23 * 300)
    assert sigma == pytest.approx(hand, rel=1e-9)


def test_arrhenius_fit_recovers_activation_energy_and_prefactor():
    rng = np.random.default_rng(1)
    ea, log10_a = 0.55, 2.0
    T = np.array([600.0, 700.0, 800.0, 900.0, 1000.0])
    sigma = 10 ** (log10_a - ea / (math.log(10) * K_B_EV * T))
    noisy = sigma * 10 ** rng.normal(0, 0.02, size=T.size)
    fit = arrhenius(T, noisy, sigma_std_S_cm=noisy * 0.02 * math.log(10))
    assert fit.ea_eV == pytest.approx(ea, abs=3 * fit.ea_std_eV + 1e-3)
    assert fit.ea_std_eV < 0.05
    value, std = fit.log10_sigma(300.0)
    truth = log10_a - ea / (math.log(10) * K_B_EV * 300.0)
    assert abs(value - truth) < 3 * std and std > fit.log10_prefactor_std * 0  # extrapolation carries uncertainty
    exact = arrhenius(T, sigma)
    assert exact.ea_eV == pytest.approx(ea, rel=1e-9) and exact.ea_std_eV < 1e-9


def test_arrhenius_needs_three_positive_points():
    with pytest.raises(ValueError, match=">= 3 temperatures"):
        arrhenius([300, 400], [1e-5, 1e-4])


def test_multi_origin_msd_of_a_random_walk_recovers_its_diffusivity():
    rng = np.random.default_rng(3)
    d_A2_ps, dt_ps = 0.2, 0.05
    steps = rng.normal(0, math.sqrt(2 * d_A2_ps * dt_ps), size=(1000, 64, 3))
    times, curves = msd_by_group(np.cumsum(steps, axis=0), dt_ps, groups=4)
    assert curves.shape == (4, len(times)) and times[0] == dt_ps and times[-1] == pytest.approx(500 * dt_ps)
    result = diffusivity(times, curves)
    assert result.value_cm2_s == pytest.approx(d_A2_ps * 1e-4, rel=0.15)
    assert abs(result.value_cm2_s - d_A2_ps * 1e-4) < 3 * result.std_cm2_s


def test_arrhenius_error_grows_when_points_scatter_beyond_their_error_bars():
    T = np.array([700.0, 800.0, 900.0, 1000.0])
    sigma = 10 ** (2.0 - 0.5 / (math.log(10) * K_B_EV * T))
    consistent = arrhenius(T, sigma, sigma_std_S_cm=0.01 * sigma)
    scattered_values = sigma * np.array([1.5, 0.7, 1.4, 0.8])
    scattered = arrhenius(T, scattered_values, sigma_std_S_cm=0.01 * scattered_values)
    assert scattered.ea_std_eV > 10 * consistent.ea_std_eV
    unweighted = arrhenius(T, scattered_values)
    assert scattered.ea_std_eV == pytest.approx(unweighted.ea_std_eV, rel=0.01)  # equal weights: same scatter
