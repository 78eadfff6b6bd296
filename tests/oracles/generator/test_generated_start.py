"""The LAMMPS oracle starting from a generated glass: real LAMMPS, the tiny test generator (its glasses
are poor; this checks the path and the records, the benchmark checks the structures)."""

from dataclasses import replace

import pytest
from pydantic import ValidationError

from amala.agents import Candidate
from amala.core.composition import canonical_composition
from amala.oracles.generator.spec import StructureSpec
from amala.oracles.md import lammps_glass as glass_md
from amala.oracles.md.oracle import GlassMDOracle, MDSpec


@pytest.fixture
def fast_profile(monkeypatch):
    quick = glass_md.PROFILES["quick"]
    monkeypatch.setitem(glass_md.PROFILES, "test", replace(quick, name="test", n_atoms=120, melt_ps=2.0,
                                                           equilibrate_ps=1.0, production_ps=15.0))


def _candidate(parts):
    return Candidate(canonical_composition(parts), kind="composition", agent="test")


@pytest.mark.md
def test_generated_start_is_simulated_and_named_in_provenance(tmp_path, fast_profile, tiny_generator):
    generator, folder = tiny_generator
    structure = StructureSpec(source="generator", generator=str(folder), steps=0, anneal_ps=1.0)
    oracle = GlassMDOracle(tmp_path, profile="test", seed=1, structure=structure)
    assert oracle.fidelity == "test-generated"  # stored beside, never over, the melt-quench's results
    ok, unknown = oracle.evaluate([_candidate({"Li2O": 1, "SiO2": 2}), _candidate({"Li2O": 1, "B2O3": 1})])
    assert ok.ok, ok.reason
    assert ok.provenance["structure_source"] == "generator"
    assert ok.provenance["generator"] == "tiny" and ok.provenance["generator_version"] == generator.version
    assert ok.provenance["generation_seconds"] >= 0 and ok.provenance["anneal_ps"] == 1.0
    assert ok.values["ea"].unit == "eV" and 1.5 < ok.values["density"].value < 3.5
    log = (tmp_path / "md" / "test-generated" / ok.candidate_key / "lammps.log").read_text()
    melt = glass_md.PROFILES["test"].melt_K
    assert "minimize" in log and f"velocity all create {melt:g}" not in log  # relaxed, never melted
    # a composition the generator cannot make is a failed evaluation with the reason, not a crash
    assert unknown.status == "failed" and "generator tiny knows Li, O, Si" in unknown.reason


def test_structure_settings_refuse_a_generator_without_a_name():
    with pytest.raises(ValidationError, match="structure.generator: name the generator"):
        MDSpec.model_validate({"kind": "md", "structure": {"source": "generator"}})
    with pytest.raises(ValidationError):
        MDSpec.model_validate({"kind": "md", "structure": {"source": "diffusion"}})
    assert "glasses from generator g1" in MDSpec.model_validate(
        {"kind": "md", "structure": {"source": "generator", "generator": "g1"}}).describe()
