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


@pytest.mark.md
def test_cli_train_melt_quenches_trains_installs_and_resumes(tmp_path, monkeypatch):
    """`amala generator train` end to end on a tiny spec: real LAMMPS glasses (30 atoms, a fast quench),
    a few training steps, installed by name; a second run finds every glass on disk and trains nothing."""
    import yaml
    from typer.testing import CliRunner

    from amala.flows.cli import app

    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path / "data"))
    spec = {"name": "tiny-cli", "n_atoms": 30, "compositions": ["Li2O:0.33;SiO2:0.67"], "quench_K_per_ps": [1000],
            "seeds": [0], "snapshots": 2,
            "heldout": {"compositions": ["Li2O:0.5;SiO2:0.5"], "quench_K_per_ps": [1000], "seeds": [1]},
            "denoiser": {"features": 8, "layers": 1, "cutoff_A": 3.5, "radial_basis": 4},
            "training": {"steps": 10, "batch": 2, "validate_every": 5}}
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(spec))
    runner = CliRunner()
    first = runner.invoke(app, ["generator", "train", str(config), "--workdir", str(tmp_path / "runs")])
    assert first.exit_code == 0, first.output
    assert "2 training and 2 held-out snapshots" in first.output and "10/10 steps" in first.output
    glasses = sorted((tmp_path / "runs" / "tiny-cli" / "glasses").glob("*.extxyz"))
    assert [g.name for g in glasses] == ["33Li2O-67SiO2-q1000-s0-f0.extxyz", "33Li2O-67SiO2-q1000-s0-f1.extxyz"]
    from ase.io import read

    info = read(glasses[0]).info
    assert info["quench_K_per_ps"] == 1000 and info["temperature_K"] == 300 and info["lammps_version"]
    listed = runner.invoke(app, ["generator", "list"])
    assert "tiny-cli: Li-O-Si, 2 training snapshots, 10 steps" in listed.output
    made = runner.invoke(app, ["generator", "sample", "tiny-cli", "Li2O:0.4;SiO2:0.6", "1", "--atoms", "30",
                               "--steps", "0", "--min-distance", "0.1", "--relax", "--out", str(tmp_path / "gen")])
    assert made.exit_code == 0 and "eV/atom relaxed" in made.output, made.output
    assert read(tmp_path / "gen" / "tiny-cli-seed0.extxyz").info["energy_eV_atom"] < 0
    stamp = glasses[0].stat().st_mtime_ns
    again = runner.invoke(app, ["generator", "train", str(config), "--workdir", str(tmp_path / "runs")])
    assert again.exit_code == 0 and glasses[0].stat().st_mtime_ns == stamp  # nothing melt-quenched again
    assert "10/10 steps" in again.output  # the finished training is resumed at its end, not repeated
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**spec, "compositions": ["Li2O=0.5"]}))
    refused = runner.invoke(app, ["generator", "train", str(bad)])
    assert refused.exit_code == 2 and "composition 'Li2O=0.5'" in refused.output
