"""Frames -> centre-of-mass drift, density, RDFs and files, checked on structures with known answers."""

import numpy as np
import pytest
from ase.build import bulk

from amala.oracles.md.structure import Frames, density, pairs, rdf, write_glass, write_trajectory


def _rock_salt_frames(n_frames=12, shift=(0.0, 0.0, 0.0)):
    crystal = bulk("LiF", "rocksalt", a=4.0, cubic=True).repeat(3)  # 216 atoms, Li-F nearest distance 2.0 Å
    crystal.set_chemical_symbols(["Li" if s == "Li" else "O" for s in crystal.get_chemical_symbols()])
    steps = np.arange(n_frames)[:, None, None] * np.asarray(shift)
    positions = crystal.positions[None] + steps
    return crystal, Frames(positions, np.array(crystal.get_chemical_symbols()), 0.05, np.diag(crystal.cell))


def test_a_rigidly_drifting_cell_has_all_its_motion_in_the_centre_of_mass():
    crystal, frames = _rock_salt_frames(shift=(0.1, -0.2, 0.05))
    drift = frames.centre_of_mass_drift(crystal.get_masses())
    relative = frames.positions - drift
    assert np.allclose(relative, relative[0]) and drift[-1, 0, 0] == pytest.approx(1.1)


def test_density_of_a_known_cell():
    crystal, _ = _rock_salt_frames()
    mass_g = crystal.get_masses().sum() * 1.66053906660e-24
    assert density(crystal, crystal.get_volume()) == pytest.approx(mass_g / (crystal.get_volume() * 1e-24))
    assert density(crystal) == density(crystal, crystal.get_volume())  # its own cell by default


def test_rdf_peaks_at_the_nearest_neighbour_distances():
    _, frames = _rock_salt_frames()
    r, curves = rdf(frames)
    assert set(curves) == {"total", "Li-O", "O-O", "Li-Li"} and r.max() < 0.5 * 12.0
    assert r[np.argmax(curves["Li-O"])] == pytest.approx(2.0, abs=0.06)  # cation-anion at a/2
    assert r[np.argmax(curves["Li-Li"])] == pytest.approx(2.83, abs=0.06)  # like ions at a/sqrt(2)
    assert curves["Li-O"][r < 1.8].max() == 0


def test_pairs_keep_every_oxygen_pair_and_li_li():
    assert pairs(["Si", "Li", "O", "P", "O"]) == [("Li", "O"), ("P", "O"), ("Si", "O"), ("O", "O"), ("Li", "Li")]


def test_written_glass_and_rdf_files(tmp_path):
    _, frames = _rock_salt_frames()
    glass, table = write_glass(frames, tmp_path)
    assert glass.read_text().startswith("216\n")
    header = table.read_text().splitlines()[0].split(",")
    assert header[0] == "r_A" and "Li-O" in header
    assert np.loadtxt(table, delimiter=",", skiprows=1).shape[1] == len(header)


def test_li_trajectory_opens_in_ase_with_species_cell_time_and_metadata(tmp_path):
    """The trajectory is a standard file (extended XYZ, gzipped): ASE reads every frame back."""
    from ase.io import read

    _, frames = _rock_salt_frames(n_frames=7, shift=(0.013, 0.0, 0.0))
    path = write_trajectory(frames, tmp_path / "li_900K.extxyz.gz", "Li", {"composition": "Li2O:1.000000",
                                                                          "temperature_K": 900.0})
    images = read(path, index=":")
    n_li = int((frames.symbols == "Li").sum())
    assert len(images) == 7 and n_li == 108
    for k, image in enumerate(images):
        assert image.get_chemical_symbols() == ["Li"] * n_li
        assert np.allclose(image.cell.lengths(), frames.box_A) and image.pbc.all()
        assert np.allclose(image.positions, frames.positions[k, frames.symbols == "Li"], atol=1e-4)
        assert image.info["time_ps"] == pytest.approx(k * frames.dt_ps)
        assert image.info["composition"] == "Li2O:1.000000" and image.info["temperature_K"] == 900.0
    assert images[-1].info["coordinates"] == "unwrapped"  # drift across the boundary is kept for MSDs


def test_final_glass_carries_the_run_metadata_in_its_info_line(tmp_path):
    from ase.io import read

    _, frames = _rock_salt_frames()
    meta = {"composition": "Li2O:0.333333;SiO2:0.666667", "profile": "quick", "temperature_K": 900.0,
            "potential": "A. Pedone et al., J. Phys. Chem. B 110, 11780 (2006)", "seed": 3}
    glass, _ = write_glass(frames, tmp_path, meta)
    back = read(glass)
    assert {k: back.info[k] for k in meta} == meta
    assert back.get_chemical_symbols() == list(frames.symbols)
