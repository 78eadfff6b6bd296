"""The MD oracle end to end on one real (tiny) LAMMPS run, and its refusals."""

from dataclasses import replace
from pathlib import Path

import pytest

from amala.agents import Candidate
from amala.core.composition import InvalidComposition, canonical_composition, parse_composition
from amala.loop.store import SelectedCandidate, Store
from amala.oracles.md import lammps_glass as glass_md
from amala.oracles.md.oracle import GlassMDOracle


def test_canonical_composition_round_trip():
    text = canonical_composition({"SiO2": 2, "Li2O": 1})
    assert text == "Li2O:0.333333;SiO2:0.666667"
    assert parse_composition(text) == pytest.approx({"Li2O": 1 / 3, "SiO2": 2 / 3}, abs=1e-6)
    with pytest.raises(InvalidComposition):
        parse_composition("Li2O=0.5")


@pytest.fixture
def fast_profile(monkeypatch):
    quick = glass_md.PROFILES["quick"]
    monkeypatch.setitem(glass_md.PROFILES, "test", replace(quick, name="test", n_atoms=120, melt_ps=2.0,
                                                           equilibrate_ps=1.0, production_ps=15.0))


@pytest.mark.md
def test_evaluations_carry_units_uncertainties_files_and_provenance(tmp_path, fast_profile):
    oracle = GlassMDOracle(tmp_path, profile="test", seed=1)
    good = Candidate(canonical_composition({"Li2O": 1, "SiO2": 2}), kind="composition", agent="test")
    alien = Candidate(canonical_composition({"Li2O": 1, "UO2": 1}), kind="composition", agent="test")
    ok, refused = oracle.evaluate([good, alien])
    assert refused.status == "failed" and "not covered" in refused.reason
    assert ok.ok, ok.reason
    assert ok.values["ea"].unit == "eV" and ok.values["ea"].std > 0
    assert ok.values["conductivity_300K"].unit == "S/cm" and ok.values["conductivity_300K"].std > 0
    temperatures = glass_md.PROFILES["test"].temperatures_K
    assert {k for k in ok.values if k.startswith("d_li_")} == {f"d_li_{T:g}K" for T in temperatures}
    assert all(ok.values[f"conductivity_{T:g}K"].unit == "S/cm" for T in temperatures)
    assert all(ok.values[f"conductivity_{T:g}K"].temperature_K == T for T in temperatures)
    assert 1.5 < ok.values["density"].value < 3.5 and ok.values["density"].unit == "g/cm^3"
    assert ok.provenance["profile"] == "test" and ok.provenance["seed"] == 1
    assert ok.provenance["lammps_version"].isdigit()
    simulated = parse_composition(ok.provenance["simulated_composition"])
    assert simulated == pytest.approx({"Li2O": 1 / 3, "SiO2": 2 / 3}, abs=1e-6)
    for path in ok.artefacts.values():
        assert (tmp_path / "md" / "test" / good.key) in Path(path).parents

    store = Store(f"sqlite:///{tmp_path}/amala.db")  # files are referenced from the database, never inside it
    cid = store.open_campaign("glass", {}).id
    batch = store.record_selection(cid, "random", [SelectedCandidate(good), SelectedCandidate(alien)])
    store.record_evaluations(cid, batch, [ok, refused], lambda e: e.values["ea"].value if e.ok else None)
    rows = {c.key: e for c, e in store.evaluations(cid)}
    assert rows[good.key].provenance["lammps_version"] == ok.provenance["lammps_version"]
    assert rows[good.key].artefacts["log"].endswith("lammps.log")
    assert rows[alien.key].reason == refused.reason
