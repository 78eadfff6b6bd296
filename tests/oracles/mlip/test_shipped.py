"""The student shipped in the package data (`oracles/mlip/data/students/`): its card says what the issue's
contract asks, its bytes are the ones the card was measured on, and it runs on a small Li-P-S cell."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from amala.core.composition import parse_composition
from amala.oracles.md.cells import build
from amala.oracles.mlip import shipped


def test_the_shipped_card_has_the_contract_keys_and_matches_its_package():
    assert "glass-student" in shipped.names()
    student = shipped.load("glass-student")
    assert set(shipped.CARD_KEYS) <= set(student.card)
    assert {"Li", "P", "S", "O", "I"} <= set(student.elements)
    student.verify()  # the package's sha256 is the card's
    assert (student.folder / "replay.extxyz.gz").is_file()


def test_the_card_parses_from_the_cli():
    from amala.flows.cli import app

    result = CliRunner().invoke(app, ["potential", "card", "glass-student", "--json"])
    assert result.exit_code == 0
    card = json.loads(result.output)
    assert card["name"] == "glass-student" and card["teacher"]["model"] == "7net-0"


@pytest.mark.mlip
def test_the_shipped_package_loads_and_gives_finite_forces_on_a_20_atom_li_p_s_cell():
    atoms = build(parse_composition("Li2S:0.75;P2S5:0.25"), 1.88, 20, seed=0).atoms
    atoms.calc = shipped.load("glass-student").calculator()
    forces = atoms.get_forces()
    assert forces.shape == (len(atoms), 3) and np.all(np.isfinite(forces))
    assert np.isfinite(atoms.get_potential_energy())
