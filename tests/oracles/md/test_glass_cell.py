import io

import pytest
from ase.io import read, write

from amala.oracles.md.cells import (
    MIN_DISTANCE_A,
    CellError,
    build,
    formula_units,
    min_pair_distance,
    net_formal_charge,
)
from amala.oracles.md.structure import density

DISILICATE = {"Li2O": 1 / 3, "SiO2": 2 / 3}


def test_lithium_disilicate_cell_is_exact_neutral_dense_and_spaced():
    cell = build(DISILICATE, density_g_cm3=2.35, target_atoms=300, seed=1)
    counts = {s: cell.atoms.get_chemical_symbols().count(s) for s in ("Li", "Si", "O")}
    li2o, sio2 = cell.formula_units["Li2O"], cell.formula_units["SiO2"]
    assert counts == {"Li": 2 * li2o, "Si": sio2, "O": li2o + 2 * sio2}
    assert sio2 == 2 * li2o  # 1:2 is representable exactly, so it is kept exactly
    assert abs(len(cell.atoms) - 300) <= 9
    assert net_formal_charge(cell.atoms) == 0
    assert density(cell.atoms) == pytest.approx(2.35, rel=1e-9)
    assert min_pair_distance(cell.atoms) >= MIN_DISTANCE_A


def test_four_component_fractions_are_rounded_once_and_stay_close():
    fractions = {"Li2O": 0.4, "SiO2": 0.35, "P2O5": 0.15, "Al2O3": 0.1}
    units = formula_units(fractions, 500)
    total = sum(units.values())
    for oxide, x in fractions.items():
        assert abs(units[oxide] / total - x) <= 1 / total
    cell = build(fractions, 2.5, target_atoms=500, seed=0)
    assert net_formal_charge(cell.atoms) == 0


def test_extended_xyz_round_trip_keeps_cell_and_metadata():
    cell = build(DISILICATE, 2.35, target_atoms=120, seed=2)
    buffer = io.StringIO()
    write(buffer, cell.atoms, format="extxyz")
    back = read(io.StringIO(buffer.getvalue()), format="extxyz")
    assert back.get_chemical_symbols() == cell.atoms.get_chemical_symbols()
    assert back.cell.lengths() == pytest.approx(cell.atoms.cell.lengths())
    assert back.info["density_g_cm3"] == 2.35
    assert back.info["composition"] == "Li2O:0.333333;SiO2:0.666667" == back.info["requested_composition"]
    assert back.info["formula_units"] == ";".join(f"{o}:{n}" for o, n in sorted(cell.formula_units.items()))


@pytest.mark.parametrize("fractions, density, message", [
    ({"Li2O": 0.5, "SiO2": 0.4}, 2.3, "sum to 1"),
    ({"Li2O": 0.5, "UO2": 0.5}, 2.3, "not covered"),
    ({"Li2O": 0.001, "SiO2": 0.999}, 2.3, "too few"),
    (DISILICATE, 25.0, "outside 0.5-10"),
    (DISILICATE, 9.0, "cannot place"),
])
def test_impossible_cells_are_refused_with_the_reason(fractions, density, message):
    with pytest.raises(CellError, match=message):
        build(fractions, density, target_atoms=150, max_tries=200)
