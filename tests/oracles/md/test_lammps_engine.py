"""A real (tiny) LAMMPS run of a Pedone Li2O-2SiO2 cell: the MPI runtime loads without
LD_LIBRARY_PATH, the potential is accepted, and a hot melt stays physical."""

import math

import pytest

from amala.oracles.md import lammps_engine, pedone
from amala.oracles.md.cells import build


def test_pedone_table_and_commands():
    table = pedone.parameters()
    assert table["Si"].q == pytest.approx(2.4) and table["O"].q == pytest.approx(-1.2)
    assert table["O"].C_eV_A12 == 22.0
    commands = pedone.lammps_commands(["Li", "Si", "O"])
    assert "pair_coeff 1 3 pedone 0.001114 3.429506 2.68136 1.0" in commands
    assert "pair_coeff 3 3 pedone 0.042395 1.379316 3.618701 22.0" in commands
    with pytest.raises(ValueError, match="no parameters for \\['Xe'\\]"):
        pedone.lammps_commands(["Xe", "O"])


@pytest.mark.md
def test_minimise_and_melt_a_small_disilicate_cell(tmp_path):
    cell = build({"Li2O": 1 / 3, "SiO2": 2 / 3}, 2.35, target_atoms=90, seed=3)
    lmp, elements = lammps_engine.open_cell(cell.atoms, tmp_path)
    try:
        assert elements == ["Li", "Si", "O"]
        charge = sum(lmp.numpy.extract_atom("q"))
        assert abs(charge) < 1e-9  # neutral with Pedone's partial charges too
        lmp.commands_list(["minimize 1e-6 1e-8 200 2000", "velocity all create 3000 7 dist gaussian",
                           "fix nvt all nvt temp 3000 3000 0.1", "timestep 0.001", "run 300"])
        energy = lmp.get_thermo("pe") / lmp.get_natoms()
        temperature = lmp.get_thermo("temp")
        assert math.isfinite(energy) and -30 < energy < 0  # eV/atom, bound ionic solid
        assert 1500 < temperature < 4500
        assert lmp.get_natoms() == len(cell.atoms)
    finally:
        lmp.close()
    assert (tmp_path / "lammps.log").read_text().count("pedone") >= 1
