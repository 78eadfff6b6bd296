"""From molecular-dynamics trajectories to transport numbers, with uncertainties.

Pure numpy/scipy, independent of the MD engine, so the same analysis serves LAMMPS runs, MLIP runs
and synthetic data in tests: `transport_at` (one production temperature) and `fit_series` (the Arrhenius
fit of a run) are the one place both MD protocols turn trajectories into numbers. Units: time in ps,
lengths in Å, temperatures in K; results in the field's units (D in cm²/s, σ in S/cm, Ea in eV).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import constants

from amala.core.composition import NETWORK_FORMERS

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
                curvature_tolerance: float = 0.2) -> Diffusivity:
    """Einstein relation D = d MSD / dt / (2 dim), fitted over the late window where MSD is linear in t.

    `msd_A2` is either one curve (n_times,) or one curve per independent group of ions
    (n_groups, n_times). The window starts after the ballistic and caged regimes: the earliest start
    (from 10% of the lags on, keeping at least `min_fraction` of them) at which the slopes of the
    window's first and second halves agree, within `curvature_tolerance` (relative) or within twice
    the statistical noise of that difference (the spread over the independent groups: a few dozen
    ions in a short run cannot show linearity better than that), and the MSD at least doubles across the
    window (long-range motion, not rattling in a cage). The fit has an
    intercept: in a glass the MSD is offset by the cage size, which is why the log-log slope, kept
    as a diagnostic, can sit below 1 in a perfectly linear window. The uncertainty is the spread of
    the per-group slopes / sqrt(n_groups): neighbouring MSD points are strongly correlated, so a
    least-squares error on one curve would be far too small. With a single curve, that
    least-squares error is all there is, and it is a lower bound.
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
    worst = math.inf
    for start in range(n // 10, int(n * (1 - min_fraction)) + 1):
        tw, mw = t[start:], msd[start:]
        if mw[-1] < 2 * mw[0]:
            break  # later starts grow even less
        change, noise = _curvature(tw, curves[:, start:])
        worst = min(worst, change)
        if change > curvature_tolerance and change > 2 * noise:
            continue
        (slope, _), cov = np.polyfit(tw, mw, 1, cov=True)
        if len(curves) > 1:
            slopes = [np.polyfit(tw, c[start:], 1)[0] for c in curves]
            std = float(np.std(slopes, ddof=1) / math.sqrt(len(curves)))
        else:
            std = math.sqrt(cov[0, 0])
        slope_ll = float(np.polyfit(np.log(tw), np.log(mw), 1)[0])
        return Diffusivity(slope * factor, std * factor, (float(tw[0]), float(tw[-1])), slope_ll)
    growth = msd[-1] / msd[n // 10]
    detail = (f"its slope changes by {worst:.0%} across the late window (limit {curvature_tolerance:.0%})"
              if math.isfinite(worst) else f"it grows only {growth:.1f}x over the late lags (need 2x)")
    raise NoDiffusiveRegime(f"MSD is not linear in time: {detail}; caged or sub-diffusive ions, or the run is too "
                            "short")


def _curvature(t: np.ndarray, curves: np.ndarray) -> tuple[float, float]:
    """Relative change of the MSD slope between the two halves of the window, and its standard error
    from the spread over the groups (0 with one curve). Infinite when either half does not rise."""
    half = len(t) // 2

    def change(msd: np.ndarray) -> float:
        early, late = np.polyfit(t[:half + 1], msd[:half + 1], 1)[0], np.polyfit(t[half:], msd[half:], 1)[0]
        return late / early - 1 if early > 0 and late > 0 else math.inf  # signed: noise averages out

    mean_change = abs(change(curves.mean(0)))
    if len(curves) < 2 or not math.isfinite(mean_change):
        return mean_change, 0.0
    per_group = np.array([change(c) for c in curves])
    noise = float(np.std(per_group, ddof=1) / math.sqrt(len(curves))) if np.isfinite(per_group).all() else 0.0
    return mean_change, noise


def msd_by_group(positions_A: np.ndarray, dt_ps: float, groups: int = 4, max_lag_fraction: float = 0.5,
                 n_lags: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared displacement per group of ions, averaged over every time origin.

    `positions_A` are unwrapped coordinates (n_frames, n_ions, 3) with the system's centre-of-mass
    drift already removed. Averaging over all origins (not only t = 0) is what makes a short run
    usable: at a lag of a tenth of the run it averages ~10 independent windows. The ions are dealt
    round-robin into `groups` independent subsets, whose spread is the error bar of `diffusivity`.
    Returns (lag times in ps, MSD in Å² of shape (groups, n_lags)).
    """
    x = np.asarray(positions_A, dtype=float)
    n_frames, n_ions = x.shape[:2]
    if x.ndim != 3 or x.shape[2] != 3 or n_ions < groups or n_frames < 20:
        raise ValueError("msd_by_group: need positions (n_frames >= 20, n_ions >= groups, 3)")
    max_lag = max(10, int(n_frames * max_lag_fraction))
    lags = np.unique(np.linspace(1, max_lag, n_lags).astype(int))
    per_ion = np.array([((x[lag:] - x[:-lag]) ** 2).sum(-1).mean(0) for lag in lags])  # (n_lags, n_ions)
    curves = np.array([per_ion[:, g::groups].mean(1) for g in range(groups)])
    return lags * dt_ps, curves


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

    With per-point uncertainties the weights are 1/var(log10 σ) and the covariance is scaled up by the
    reduced χ² when the points scatter more than their error bars say (the Birge ratio: short MD runs
    underestimate their own noise, and an Ea error bar must not be smaller than the scatter shows);
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
        resid = y - X @ beta
        cov = cov * max(1.0, float(resid @ W @ resid) / (len(T) - 2)) if len(T) > 2 else cov
    else:
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        dof = len(T) - 2
        resid = y - X @ beta
        cov = np.linalg.inv(X.T @ X) * (resid @ resid / dof)
    return ArrheniusFit(float(beta[1]), float(math.sqrt(cov[1, 1])), float(beta[0]), float(math.sqrt(cov[0, 0])), cov)


# --- one temperature of an MD series, and the series' fit: shared by the LAMMPS and the ASE engines -------

MIN_TEMPERATURES = 3  # diffusive temperatures needed for an Arrhenius fit with an error estimate


class TooFewTemperatures(ValueError):
    """Li was diffusive at fewer than `MIN_TEMPERATURES` temperatures; the message lists why each other failed."""


@dataclass(frozen=True)
class TemperatureResult:
    temperature_K: float
    diffusivity: Diffusivity | None  # None: no diffusive regime, see `skipped`
    sigma_S_cm: tuple[float, float] | None  # Nernst-Einstein σ and its std, S/cm
    network_msd_A2: float | None  # network formers' displacement² from first to last frame (None: no formers)
    skipped: str | None  # why this temperature gave no D


def transport_at(frames, masses, volume_A3: float, temperature_K: float, li_groups: int,
                 formers=NETWORK_FORMERS) -> TemperatureResult:
    """Li transport of one production run: MSD per Li group -> D (or the reason there is none) -> σ.

    `frames` is a `glass_structure.Frames` (unwrapped positions, Å; symbols; dt_ps). Its centre-of-mass
    drift is removed in place first, so the trajectory the caller writes afterwards is the one analysed.
    The network formers' MSD is kept as the check that the network is frozen. Engine-independent: the
    LAMMPS and the ASE protocols both call this, so their numbers mean the same thing."""
    frames.positions -= frames.centre_of_mass_drift(masses)
    li_mask = frames.symbols == "Li"
    lag_ps, curves = msd_by_group(frames.positions[:, li_mask], frames.dt_ps, groups=li_groups)
    former_mask = np.isin(frames.symbols, formers)
    network = None
    if former_mask.any():
        moved = frames.positions[-1, former_mask] - frames.positions[0, former_mask]
        network = float((moved**2).sum(-1).mean())
    try:
        d = diffusivity(lag_ps, curves)
    except NoDiffusiveRegime as exc:  # too cold to see hops in this run; the others may still give Ea
        return TemperatureResult(temperature_K, None, None, network, str(exc))
    sigma = nernst_einstein(d.value_cm2_s, int(li_mask.sum()), volume_A3, temperature_K)
    return TemperatureResult(temperature_K, d, (sigma, sigma * d.std_cm2_s / d.value_cm2_s), network, None)


def fit_series(sigmas: dict[float, tuple[float, float]], skipped: dict[float, str],
               n_temperatures: int) -> ArrheniusFit:
    """The Arrhenius fit of σ(T) (T -> (σ, std), S/cm), or `TooFewTemperatures` naming each skipped T's reason."""
    if len(sigmas) < MIN_TEMPERATURES:
        reasons = "; ".join(f"{T:g} K: {why}" for T, why in sorted(skipped.items()))
        raise TooFewTemperatures(f"Li diffusive at only {len(sigmas)} of {n_temperatures} temperatures "
                                 f"(need {MIN_TEMPERATURES} for an Arrhenius fit). {reasons}")
    temps = sorted(sigmas)
    return arrhenius(temps, [sigmas[t][0] for t in temps], [sigmas[t][1] for t in temps])
