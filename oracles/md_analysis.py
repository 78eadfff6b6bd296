"""From molecular-dynamics trajectories to transport numbers, with uncertainties.

Pure numpy/scipy, independent of the MD engine, so the same analysis serves LAMMPS runs, MLIP runs
and synthetic data in tests. Units: time in ps, lengths in Å, temperatures in K; results in the
field's units (D in cm²/s, σ in S/cm, Ea in eV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import constants

K_B_EV = constants.k / constants.e  # Boltzmann constant, eV/K
A2_PER_PS_TO_CM2_PER_S = 1e-16 / 1e-12  # Å²/ps -> cm²/s


class NoDiffusiveRegime(ValueError):
    """The MSD has no window where it grows linearly in time (caged or sub-diffusive ions)."""


@dataclass(frozen=True)
class Diffusivity:
    value_cm2_s: float
    std_cm2_s: float
    window_ps: tuple[float, float]  # the fitted, linear part of the MSD
    loglog_slope: float  # d log MSD / d log t in that window (1 = diffusive)


def diffusivity(time_ps: np.ndarray, msd_A2: np.ndarray, dim: int = 3, min_fraction: float = 0.3,
                slope_tolerance: float = 0.15) -> Diffusivity:
    """Einstein relation D = MSD / (2 dim t), fitted over the late window where MSD is linear in t.

    `msd_A2` is either one curve (n_times,) or one curve per independent group of ions
    (n_groups, n_times). The window starts after the ballistic/caged regime: the earliest start
    (from 10% of the run on) at which the log-log slope of the mean MSD over the rest of the run is
    within `slope_tolerance` of 1, keeping at least `min_fraction` of the points. The uncertainty is
    the spread of the per-group slopes / sqrt(n_groups): neighbouring MSD points are strongly
    correlated, so a least-squares error on one curve would be far too small. With a single curve,
    that least-squares error is all there is, and it is a lower bound.
    """
    t = np.asarray(time_ps, dtype=float)
    curves = np.atleast_2d(np.asarray(msd_A2, dtype=float))
    if t.ndim != 1 or curves.shape[-1] != len(t) or len(t) < 10:
        raise ValueError("diffusivity: time must be 1-D and MSD (n_times,) or (n_groups, n_times), >= 10 points")
    keep = t > 0
    t, curves = t[keep], curves[:, keep]
    msd = curves.mean(0)
    if (msd <= 0).any():
        raise NoDiffusiveRegime("MSD is zero at some time: the ions do not move")
    n = len(t)
    factor = A2_PER_PS_TO_CM2_PER_S / (2 * dim)
    for start in range(n // 10, int(n * (1 - min_fraction)) + 1):
        tw = t[start:]
        slope_ll = np.polyfit(np.log(tw), np.log(msd[start:]), 1)[0]
        if abs(slope_ll - 1) > slope_tolerance:
            continue
        (slope, _), cov = np.polyfit(tw, msd[start:], 1, cov=True)
        if slope <= 0:
            break
        if len(curves) > 1:
            slopes = [np.polyfit(tw, c[start:], 1)[0] for c in curves]
            std = float(np.std(slopes, ddof=1) / math.sqrt(len(curves)))
        else:
            std = math.sqrt(cov[0, 0])
        return Diffusivity(slope * factor, std * factor, (float(tw[0]), float(tw[-1])), float(slope_ll))
    slope_all = np.polyfit(np.log(t[n // 2:]), np.log(msd[n // 2:]), 1)[0]
    raise NoDiffusiveRegime(f"MSD is not linear in time (late log-log slope {slope_all:.2f}, need 1 ± "
                            f"{slope_tolerance}): sub-diffusive, or the run is too short")


def nernst_einstein(d_cm2_s: float, n_ions: int, volume_A3: float, temperature_K: float, charge: int = 1) -> float:
    """Conductivity (S/cm) of one mobile species, ignoring ion-ion correlations (Nernst–Einstein)."""
    n_per_cm3 = n_ions / (volume_A3 * 1e-24)
    q = charge * constants.e
    return n_per_cm3 * q * q * d_cm2_s / (constants.k * temperature_K)


@dataclass(frozen=True)
class ArrheniusFit:
    ea_eV: float
    ea_std_eV: float
    log10_prefactor: float  # log10 of A in S/cm
    log10_prefactor_std: float
    covariance: np.ndarray  # of (log10 A, Ea)

    def log10_sigma(self, temperature_K: float) -> tuple[float, float]:
        """log10 σ(T) and its standard deviation, by propagating the fit covariance."""
        g = np.array([1.0, -1.0 / (math.log(10) * K_B_EV * temperature_K)])
        return float(self.log10_prefactor + g[1] * self.ea_eV), float(math.sqrt(g @ self.covariance @ g))


def arrhenius(temperature_K, sigma_S_cm, sigma_std_S_cm=None) -> ArrheniusFit:
    """Fit log10 σ = log10 A − Ea / (ln 10 · k_B · T) (the ChemArr readout) by weighted least squares.

    With per-point uncertainties the weights are 1/var(log10 σ) and the covariance is absolute;
    without them it is scaled by the residual variance (needs ≥ 3 temperatures).
    """
    T = np.asarray(temperature_K, dtype=float)
    s = np.asarray(sigma_S_cm, dtype=float)
    if len(T) < 3 or len(T) != len(s) or (s <= 0).any() or (T <= 0).any():
        raise ValueError("arrhenius: need >= 3 temperatures and positive conductivities")
    X = np.column_stack([np.ones_like(T), -1.0 / (math.log(10) * K_B_EV * T)])
    y = np.log10(s)
    if sigma_std_S_cm is not None:
        var = (np.asarray(sigma_std_S_cm, dtype=float) / (s * math.log(10))) ** 2
        W = np.diag(1 / var)
        cov = np.linalg.inv(X.T @ W @ X)
        beta = cov @ X.T @ W @ y
    else:
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        dof = len(T) - 2
        resid = y - X @ beta
        cov = np.linalg.inv(X.T @ X) * (resid @ resid / dof)
    return ArrheniusFit(float(beta[1]), float(math.sqrt(cov[1, 1])), float(beta[0]), float(math.sqrt(cov[0, 0])), cov)
