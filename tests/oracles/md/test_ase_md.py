"""The ASE melt-quench-diffuse protocol, run for real on a Lennard-Jones liquid of Li (and a few P).

A LJ fluid (σ 2.5 Å, ε 0.1 eV) is liquid at zero pressure between ~800 and ~1150 K and its ions diffuse
within a picosecond, so a ~30-atom cell gives D, σ and Ea in seconds; the numbers mean nothing for a
glass, the pipeline (stages, checks, observer, checkpoint) is what is tested. The blown-up calculators
are the real LJ calculator with its output spoiled after a few calls, as a diverging model would."""

import math
from dataclasses import replace

import ase
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.lj import LennardJones
from ase.io import read
from ase.optimize import FIRE

from amala.oracles.md import ase_engine as ase_md
from amala.oracles.md import lammps_glass as glass_md
from amala.oracles.md import protocol
from amala.oracles.md.protocol import MDProfile, SimulationFailed

# 2 fs steps (LJ Li: τ = σ·sqrt(m/ε) ≈ 0.2 ps), 0.6 ps of production sampled every 10 fs (60 frames)
LJ_PROFILE = MDProfile("lj", 30, 2.0, 1300.0, 0.1, 1000.0, (870.0, 990.0, 1100.0), 0.1, 0.6,
                       sample_every_fs=10.0, timeout_s=300, npt_below_K=1100.0, min_density_g_cm3=0.1)


def lj() -> LennardJones:
    return LennardJones(sigma=2.5, epsilon=0.1, rc=5.0, smooth=True)


def lj_cell(n: int = 30, n_p: int = 4, number_density: float = 0.045, seed: int = 0) -> Atoms:
    """Random positions at least 2.2 Å apart in a cubic box (~0.75 g/cm³), `n_p` of them P (network formers)."""
    side = (n / number_density) ** (1 / 3)
    rng = np.random.default_rng(seed)
    positions: list[np.ndarray] = []
    while len(positions) < n:
        p = rng.uniform(0, side, 3)
        if all(np.linalg.norm((p - q) - side * np.round((p - q) / side)) > 2.2 for q in positions):
            positions.append(p)
    return Atoms(["Li"] * (n - n_p) + ["P"] * n_p, positions=positions, cell=[side] * 3, pbc=True)


class Recorder:
    """Observer that records (stage, step) and raises StopDynamics once `stop(recorder)` says so."""

    def __init__(self, stop=lambda recorder: False):
        self.calls: list[tuple[str, int]] = []
        self.stop = stop

    def __call__(self, stage, step, atoms):
        self.calls.append((stage, step))
        if self.stop(self):
            raise ase_md.StopDynamics("an untrusted frame")

    def stages(self) -> list[str]:
        """The stages in the order they ran (consecutive calls of one stage counted once)."""
        return [s for k, (s, _) in enumerate(self.calls) if k == 0 or self.calls[k - 1][0] != s]


@pytest.mark.md
def test_a_stopped_run_resumes_from_its_checkpoint_and_gives_d_sigma_and_ea(tmp_path):
    cell = lj_cell()
    # stopped at the 5th sample of the second temperature's production (10 fs = 5 steps per sample)
    first = Recorder(lambda r: r.stages().count("production") == 2 and r.calls[-1] == ("production", 25))
    with pytest.raises(ase_md.StopDynamics, match="an untrusted frame"):
        ase_md.run(cell, lj(), LJ_PROFILE, tmp_path, seed=0, observer=first)
    assert first.stages()[:3] == ["melt", "quench", "equilibrate"]
    melt_steps = [step for stage, step in first.calls if stage == "melt"]
    assert melt_steps == [5 * k for k in range(1, 11)]  # every sample interval (10 fs = 5 steps) of 0.1 ps
    assert (tmp_path / "checkpoint.json").is_file() and (tmp_path / ase_md.STATE).is_file()

    second = Recorder()
    result = ase_md.run(cell, lj(), LJ_PROFILE, tmp_path, seed=0, observer=second)
    # resumed after the hottest temperature: no melt, no quench, two temperatures simulated
    assert second.stages() == ["equilibrate", "settle", "production"] * 2
    assert sorted(result.diffusivities) == sorted(LJ_PROFILE.temperatures_K)
    for T, d in result.diffusivities.items():
        assert 1e-5 < d.value_cm2_s < 1e-2 and d.std_cm2_s > 0  # a liquid: ~1e-4 cm²/s
        sigma, sigma_std = result.conductivities_S_cm[T]
        assert sigma > 0 and sigma_std > 0
        assert 0.3 < result.density_g_cm3[T] < 1.5
    assert math.isfinite(result.arrhenius.ea_eV) and result.arrhenius.ea_std_eV > 0
    assert set(result.network_msd_A2) == set(LJ_PROFILE.temperatures_K)  # the P atoms
    energy, spread = result.energy_eV_per_atom
    assert -1 < energy < 0 and spread > 0
    assert result.lammps_version == f"ase {ase.__version__} + LennardJones"
    assert {"glass", "rdf", "trajectory_870K", "trajectory_990K", "trajectory_1100K"} <= set(result.files)
    assert all(path.is_file() for path in result.files.values())
    assert not (tmp_path / "checkpoint.json").exists()  # cleared once the run has its result
    glass = read(result.files["glass"])
    assert glass.info["potential"] == result.lammps_version and glass.info["temperature_K"] == 870


@pytest.mark.md
def test_the_observer_sees_every_sample_and_stopping_ends_the_run_at_once(tmp_path):
    recorder = Recorder(lambda r: r.calls[-1][1] >= 10)
    with pytest.raises(ase_md.StopDynamics) as stopped:
        ase_md.run(lj_cell(), lj(), LJ_PROFILE, tmp_path, seed=1, observer=recorder)
    assert stopped.value.reason == "an untrusted frame"
    assert recorder.calls == [("melt", 5), ("melt", 10)]


class Spoiled(LennardJones):
    """The real LJ calculator whose results go bad after `healthy` calls, in one of three ways."""

    def __init__(self, how: str, healthy: int):
        super().__init__(sigma=2.5, epsilon=0.1, rc=5.0, smooth=True)
        self.how, self.healthy, self.n_calls = how, healthy, 0

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.n_calls += 1
        if self.n_calls <= self.healthy:
            return
        if self.how == "nan":
            self.results["energy"] = float("nan")
            self.results["forces"] = np.full_like(self.results["forces"], np.nan)
        elif self.how == "huge":
            self.results["forces"] = self.results["forces"] * 1e4
        else:
            raise RuntimeError("SCF did not converge in 100 iterations\n(details)")


@pytest.mark.parametrize("how, reason", [("nan", "non-finite energy, forces or temperature during melt"),
                                         ("huge", r"temperature \d+ K during melt, target 1300 K: blown up"),
                                         ("error", "the calculator failed during melt: RuntimeError: SCF did not "
                                                   "converge in 100 iterations$")])
@pytest.mark.md
def test_a_blown_up_calculator_fails_with_a_one_line_reason(how, reason):
    cell = lj_cell()
    cell.calc = lj()
    FIRE(cell, logfile=None).run(fmax=0.5, steps=200)  # relaxed: the protocol's own relaxation takes one call
    calculator = Spoiled(how, healthy=2)  # good for the stress check and the first MD step, then spoiled
    with pytest.raises(SimulationFailed, match=reason) as failed:
        ase_md.melt_quench(cell, calculator, LJ_PROFILE, seed=0)
    assert "\n" not in str(failed.value)


@pytest.mark.md
def test_a_vaporising_cell_and_a_missing_stress_fail_with_the_reason(tmp_path):
    dense_limit = replace(LJ_PROFILE, npt_below_K=1200.0, min_density_g_cm3=5.0)  # any LJ Li cell is "vapour"
    with pytest.raises(SimulationFailed, match=r"expanded to .* during quench .* vaporised"):
        ase_md.melt_quench(lj_cell(), lj(), dense_limit, seed=0)

    class NoStress(LennardJones):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            if "stress" in properties:
                raise PropertyNotImplementedError("stress")
            super().calculate(atoms, properties, system_changes)

    with pytest.raises(SimulationFailed, match="the calculator gives no stress, which NPT needs"):
        ase_md.run(lj_cell(), NoStress(sigma=2.5, epsilon=0.1, rc=5.0), LJ_PROFILE, tmp_path)


def test_mlip_profiles_are_glass_md_profiles_with_three_temperatures_and_1_fs_steps():
    for name, profile in ase_md.PROFILES.items():
        assert isinstance(profile, MDProfile) and profile.name == name
        assert len(profile.temperatures_K) >= protocol.MIN_TEMPERATURES and profile.timestep_fs == 1.0
        assert max(profile.temperatures_K) <= profile.npt_below_K <= profile.melt_K
    assert ase_md.PROFILES["test"].steps(ase_md.PROFILES["test"].production_ps) <= 200  # seconds with a student


def test_both_engines_take_their_profiles_from_the_one_table():
    for name, by_engine in protocol.PROFILES.items():
        assert by_engine and set(by_engine) <= {protocol.LAMMPS, protocol.ASE}
        assert all(profile.name == name for profile in by_engine.values())
    for engine, profiles, names in ((protocol.ASE, ase_md.PROFILES, ["quick", "standard", "test"]),
                                    (protocol.LAMMPS, glass_md.PROFILES, ["quick", "standard", "long"])):
        assert list(profiles) == names
        assert all(profiles[name] is protocol.PROFILES[name][engine] for name in names)
