"""Crystalline references and the amorphization energy (issue 13).

Every crystal of the data file builds with its declared formula, Wyckoff multiplicities and published
density; `reference_for` finds Li2S for pure Li2S in every spelling and nothing for an off-stoichiometric
mix; SevenNet-0 puts a rattled, partly shuffled 12-atom Li2S "glass" above the 12-atom crystal after a
few relaxation steps each (SevenNet-0 loads in seconds, each call on 12 atoms takes 0.1-1 s
(1 s on these 2 shared cores under load), so the relaxations are kept to 4 steps).
"""

from __future__ import annotations

import json
import re
import warnings
from importlib import resources

import numpy as np
import pytest
from ase.calculators.emt import EMT

from amala.oracles.mlip.crystal_references import (
    AmorphizationFailed,
    amorphization_energy,
    cell_density_g_cm3,
    element_fractions,
    load_references,
    reference_for,
)

REQUIRED = {"Li2S", "LiI", "Li2O"}


def test_required_crystals_are_in_the_file():
    assert REQUIRED <= {r.name for r in load_references()}


@pytest.mark.parametrize("reference", load_references(), ids=lambda r: r.name)
def test_every_crystal_builds_with_its_formula_sites_and_density(reference):
    atoms = reference.atoms()
    assert element_fractions(atoms) == pytest.approx(reference.fractions, abs=1e-12)
    counts = {e: atoms.get_chemical_symbols().count(e) for e in reference.fractions}
    multiplicity = {}
    for site in reference.sites:  # the Wyckoff labels' multiplicities add up to the atoms built
        multiplicity[site.element] = multiplicity.get(site.element, 0) + int(re.match(r"\d+", site.wyckoff)[0])
    assert counts == multiplicity
    assert atoms.cell.cellpar() == pytest.approx(reference.cellpar)
    if reference.density_g_cm3 is not None:
        assert cell_density_g_cm3(atoms) == pytest.approx(reference.density_g_cm3, rel=0.05)
    assert reference.citation.title and reference.source["copied_from"]
    bigger = reference.atoms(min_atoms=50)
    assert len(bigger) >= 50 and cell_density_g_cm3(bigger) == pytest.approx(cell_density_g_cm3(atoms))


def test_reference_for_reads_every_spelling_of_a_composition():
    li2s = reference_for("Li2S:1")
    assert li2s is not None and li2s.name == "Li2S"
    for same in ("Li2S:1.0", {"Li2S": 1.0}, {"Li": 2, "S": 1}, {"Li": 0.666667, "S": 0.333333}, li2s.atoms()):
        assert reference_for(same) is li2s
    assert reference_for("Li2O:1").name == "Li2O" and reference_for({"LiI": 3}).name == "LiI"
    assert reference_for("Li2S:0.999;P2S5:0.001") is None  # off-stoichiometric
    assert reference_for("Li2S:0.75;P2S5:0.25") is None  # Li3PS4: no published coordinates found (see the file)
    assert element_fractions("Li2S:0.75;P2S5:0.25") == pytest.approx({"Li": 3 / 8, "P": 1 / 8, "S": 4 / 8})


def test_bad_input_fails_with_one_line_naming_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown elements"):
        element_fractions("Xx2O:1")
    with pytest.raises(ValueError, match="finite number"):
        element_fractions({"Li2S": float("nan")})
    raw = json.loads(resources.files("amala.oracles.mlip").joinpath("data/crystal_references.json").read_text())
    raw["crystals"][0]["sites"][0]["element"] = "Qq"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"bad\.json: crystal Li2S: field 'sites'"):
        load_references(str(bad))
    li2s = reference_for("Li2S:1")
    with pytest.raises(ValueError, match="crystal Li2S: the glass"):
        amorphization_energy(reference_for("Li2O:1").atoms(), li2s, EMT())
    with pytest.raises(AmorphizationFailed, match="crystal Li2S: relaxing the crystal failed"):
        amorphization_energy(li2s.atoms(), li2s, EMT(), steps=2)  # EMT has no Li or S parameters


@pytest.fixture(scope="module")
def sevennet():
    from sevenn.calculator import SevenNetCalculator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sevenn warns that no tensor-product accelerator is installed
        return SevenNetCalculator("7net-0", device="cpu")


@pytest.mark.md
@pytest.mark.mlip
def test_amorphization_energy_of_a_shuffled_li2s_cell_is_positive(sevennet):
    reference = reference_for("Li2S:1")
    glass = reference.atoms()  # 12 atoms
    symbols = glass.get_chemical_symbols()
    li, s = symbols.index("Li"), symbols.index("S")
    positions = glass.positions.copy()
    positions[[li, s]] = positions[[s, li]]  # one Li and one S swap places: an antisite pair
    glass.positions = positions
    glass.rattle(0.25, seed=3)
    result = amorphization_energy(glass, reference, sevennet, fmax_eV_A=0.05, steps=4)
    assert np.isfinite(result["amorphization_energy_eV_atom"]) and result["amorphization_energy_eV_atom"] > 0
    assert result["amorphization_energy_eV_atom"] == pytest.approx(
        result["glass_energy_eV_atom"] - result["crystal_energy_eV_atom"])
    assert result["crystal"] == "Li2S" and "Wyckoff" in result["citation"]
    for stage in ("glass", "crystal"):
        assert result["relaxed"][stage]["steps"] <= 4 and result["relaxed"][stage]["n_atoms"] == 12
        assert isinstance(result["relaxed"][stage]["converged"], bool)
    relaxed = result["relaxed"]
    assert result["converged"] == (relaxed["glass"]["converged"] and relaxed["crystal"]["converged"])
    assert glass.calc is None  # the caller's glass is left as it was
