"""The melt-quench-diffuse protocol, run for real in LAMMPS on small Li2O-2SiO2 cells (seconds).

The quick profile's numbers are rough (a 150-atom cell, 40 ps per temperature); these tests check
the pipeline and its failure reasons, not the physics of the glass (that is docs/benchmarks/oxide-glass-md.md's job)."""

import math
from dataclasses import replace

import pytest

from amala.oracles.md import lammps_glass as glass_md
from amala.oracles.md.cells import build
from amala.oracles.md.protocol import SimulationFailed

DISILICATE = {"Li2O": 1 / 3, "SiO2": 2 / 3}


@pytest.mark.md
def test_quick_profile_gives_diffusivities_and_an_arrhenius_fit_with_uncertainties(tmp_path):
    profile = glass_md.PROFILES["quick"]
    cell = build(DISILICATE, 2.35, target_atoms=profile.n_atoms, seed=0)
    result = glass_md.run(cell.atoms, profile, tmp_path, seed=0)
    assert sorted(result.diffusivities) == sorted(profile.temperatures_K)
    for T, d in result.diffusivities.items():
        assert 1e-8 < d.value_cm2_s < 1e-3 and 0 < d.std_cm2_s  # cm2/s, with an error bar
        assert 0 < d.window_ps[0] < d.window_ps[1] <= profile.production_ps + 1e-9
        sigma, sigma_std = result.conductivities_S_cm[T]
        assert sigma > 0 and sigma_std > 0
    assert math.isfinite(result.arrhenius.ea_eV) and result.arrhenius.ea_std_eV > 0
    value, std = result.arrhenius.log10_sigma(300.0)
    assert math.isfinite(value) and std > 0
    energy, spread = result.energy_eV_per_atom
    assert -20 < energy < -5 and spread > 0
    assert result.lammps_version.isdigit()
    assert {"log", "glass", "rdf"} <= set(result.files) and all(path.is_file() for path in result.files.values())
    for T, rho in result.density_g_cm3.items():  # NPT found the glass's own density
        assert 1.8 < rho < 3.2, (T, rho)
    assert set(result.network_msd_A2) == set(profile.temperatures_K)
    _check_files_open_in_ase(result, cell, profile)


def _check_files_open_in_ase(result, cell, profile):
    """Trajectories and the final glass are standard extended XYZ that say what they are."""
    from ase.io import read

    n_li = cell.atoms.get_chemical_symbols().count("Li")
    frames = max(20, profile.steps(profile.production_ps) // profile.steps(profile.sample_every_fs / 1000))
    for T in profile.temperatures_K:
        images = read(result.files[f"trajectory_{T:g}K"], index=":")
        assert len(images) == frames and all(image.get_chemical_symbols() == ["Li"] * n_li for image in images)
        rho = result.density_g_cm3[T]  # g/cm3 from the NPT volume, which sets the production cell's edge
        volume = cell.atoms.get_masses().sum() * 1.66053906660e-24 / rho * 1e24  # Å3
        assert images[0].cell.lengths() == pytest.approx([volume ** (1 / 3)] * 3, rel=1e-3)
        assert images[-1].info["temperature_K"] == T and images[-1].info["time_ps"] > 0
    glass = read(result.files["glass"])
    assert len(glass) == len(cell.atoms)
    assert glass.info["composition"] == "Li2O:0.333333;SiO2:0.666667"
    assert glass.info["profile"] == "quick" and glass.info["seed"] == 0
    assert glass.info["temperature_K"] == min(profile.temperatures_K) and "Pedone" in glass.info["potential"]


@pytest.mark.md
def test_a_run_too_short_to_be_diffusive_fails_with_the_reason(tmp_path):
    profile = replace(glass_md.PROFILES["quick"], melt_ps=1.0, equilibrate_ps=0.5, production_ps=0.5)
    cell = build(DISILICATE, 2.35, target_atoms=100, seed=0)
    with pytest.raises(SimulationFailed, match="not linear in time"):
        glass_md.run(cell.atoms, profile, tmp_path)


@pytest.mark.md
def test_an_unphysically_dense_cell_fails_with_the_reason(tmp_path):
    profile = replace(glass_md.PROFILES["quick"], melt_ps=1.0, equilibrate_ps=0.5, production_ps=2.0)
    cell = build(DISILICATE, 6.0, target_atoms=100, seed=0, min_distance=1.0)
    with pytest.raises(SimulationFailed, match="pressure .* GPa .* unphysical"):
        glass_md.run(cell.atoms, profile, tmp_path)


@pytest.mark.md
def test_a_melt_that_boils_at_zero_pressure_fails_with_the_reason(tmp_path):
    """A Li2O·SiO2 melt held at 3500 K under zero pressure expands without bound in this model;
    the default protocol avoids it (constant volume above 2000 K), and the guard names it."""
    profile = replace(glass_md.PROFILES["quick"], n_atoms=100, melt_K=3500.0, melt_ps=2.0, npt_below_K=3500.0,
                      quench_K_per_ps=10.0, min_density_g_cm3=1.5)
    cell = build({"Li2O": 0.5, "SiO2": 0.5}, 2.35, target_atoms=100, seed=0)
    with pytest.raises(SimulationFailed, match="expanded to .* vaporised"):
        glass_md.run(cell.atoms, profile, tmp_path)


def test_quench_runs_at_constant_volume_above_the_switch_and_at_zero_pressure_below():
    commands = glass_md.quench_commands(glass_md.PROFILES["standard"], parts=4)
    nvt = next(c for c in commands if "nvt" in c)
    npt = next(c for c in commands if "npt" in c)
    assert "3500.0 2000.0" in nvt and "2000.0 1000.0" in npt and "iso 0 0" in npt
    runs = [c for c in commands if c.startswith("run") and "stop" in c]
    assert len(runs) == 4 and all(c == runs[0] for c in runs)  # one temperature ramp over four parts


@pytest.mark.md
def test_an_interrupted_glass_resumes_from_its_checkpoint_and_repeats_no_finished_temperature(tmp_path,
                                                                                                 monkeypatch):
    """A run killed after its first production temperature (here: an exception right after the
    checkpoint is written, as a SIGKILL would leave it) resumes from the saved cell: the melt,
    the quench and the finished temperature are not simulated again, and the result is complete."""
    from amala.oracles.md import checkpoint as md_checkpoint

    profile = replace(glass_md.PROFILES["quick"], melt_ps=1.0, quench_K_per_ps=400.0, equilibrate_ps=1.0,
                      production_ps=8.0)
    cell = build(DISILICATE, 2.35, target_atoms=100, seed=0)
    real_save = md_checkpoint.Checkpoint.save

    def killed_after_first_temperature(self, lmp, done):
        real_save(self, lmp, done)
        if done:
            raise KeyboardInterrupt("killed")

    monkeypatch.setattr(md_checkpoint.Checkpoint, "save", killed_after_first_temperature)
    with pytest.raises(KeyboardInterrupt):
        glass_md.run(cell.atoms, profile, tmp_path, seed=0)
    first = max(profile.temperatures_K)
    saved = md_checkpoint.Checkpoint(tmp_path, md_checkpoint.fingerprint(cell.atoms, profile, 0)).load()
    assert list(saved) == [first]
    monkeypatch.setattr(md_checkpoint.Checkpoint, "save", real_save)

    try:
        result = glass_md.run(cell.atoms, profile, tmp_path, seed=0)
    except SimulationFailed as exc:  # 100 atoms, 8 ps: a temperature may show no hops; the resume is the point
        assert "diffusive" in str(exc)
        result = None
    log = (tmp_path / "lammps.log").read_text()
    assert log.splitlines().count("amala: resumed from the checkpoint after 1300 K") == 1  # the output, not the echo
    assert log.count("minimize") == 1 and log.count("fix md all nvt temp 3000.0 3000.0") == 1  # melted once
    if result is not None:
        assert set(result.density_g_cm3) == set(profile.temperatures_K)
    assert not (tmp_path / md_checkpoint.INDEX).exists()  # done: the checkpoint is gone
    # a changed profile never resumes a stale state
    assert md_checkpoint.fingerprint(cell.atoms, replace(profile, production_ps=9.0), 0) != \
        md_checkpoint.fingerprint(cell.atoms, profile, 0)
