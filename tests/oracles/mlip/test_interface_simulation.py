"""The interface evaluation end to end with a growing potential: SevenNet-0 labels, tiny NequIP committees.

As in test_growing_potential, the trust window is wide open and the students are far too small to be a
potential; the cells (16 + 14 atoms) and the MD are plumbing-sized. Each committee trained costs ~20-40 s
(nequip-train's start), so glass A is a lithium borate (LiBO2) against the Li3BO3 coating: the coating's
committee then knows A's elements too, and the test trains two committees (coating, stack) instead of
three (in the oracle the bulk evaluation has taught the potential glass A first). What is checked:
the potential learns the coating and the mixed stack under their own keys, γ comes out finite with the
members' spread, the record is JSON, and a rerun resumes every learning (no teacher call) and the
glasses, and says its failed MD (here: a wall-clock limit of zero) instead of raising it.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from amala.core.candidate import Candidate
from amala.core.composition import parse_composition
from amala.core.evaluation import Evaluation, Measurement
from amala.oracles.md import ase_engine as ase_md
from amala.oracles.md.cells import build
from amala.oracles.mlip.growing_potential import GrowingPotential
from amala.oracles.mlip.interface_simulation import InterfaceSpec, growing, interface_values, simulate_interface
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.nequip_student import StudentSpec
from amala.oracles.mlip.on_the_fly import OnTheFlySpec
from amala.oracles.mlip.oracle import MLIPOracle, MLIPSpec
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

TINY = StudentSpec(num_features=8, num_layers=2, radial_mlp_width=8, epochs=2, patience=None, r_max=4.0)
SETTINGS = OnTheFlySpec(trust_lo_eV_A=1e-6, trust_hi_eV_A=1e3, committee_size=2, seed_frames=2, segment_steps=20,
                        observe_every=5, min_spacing=5, per_round=2, budget=2, window=4, converged_fraction=0.0,
                        explore_temperatures_K=[600.0], max_rounds=3)
PROFILE = dataclasses.replace(ase_md.PROFILES["test"], melt_K=700.0, melt_ps=0.01, equilibrate_ps=0.02,
                              sample_every_fs=1.0)
SPEC = InterfaceSpec(coating_atoms=14, production_ps=0.02, relax_steps=5, width_A=2.0)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """One torch thread: on these 2 shared, loaded cores two made the students' steps several times slower."""
    root = tmp_path_factory.mktemp("interface")
    potential = GrowingPotential(root / "potential", make_teacher(TeacherSpec()), TINY, SETTINGS)
    start = build(parse_composition("Li2O:0.5;B2O3:0.5"), 2.2, 16, seed=0).atoms
    run = lambda profile: simulate_interface("libo2", start, SPEC, profile, root / "libo2",  # noqa: E731
                                             growing(potential), coating_folder=root / "coating")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield root, run, run(PROFILE)
    torch.set_num_threads(threads)


@pytest.mark.md
@pytest.mark.mlip
def test_the_potential_learns_coating_and_stack_and_gamma_is_finite(first):
    root, _, result = first
    assert "error" not in result, result.get("error")
    coating, stack = result["coating_key"], result["stack_key"]
    assert stack == f"libo2|{coating}"
    assert json.loads((root / "potential" / "candidates.json").read_text()) == [coating, stack]
    sources = [f.info["source"] for f in FrameStore(root / "potential" / "labels").frames()]
    assert sum(s.startswith(f"{coating}/seed:") for s in sources) == 2  # the first glass: seeded
    assert sum(s.startswith(f"{stack}/md:") for s in sources) == 2  # frames of the stack's own MD
    assert result["teacher_calls"] == {"coating": 2, "stack": 2}
    assert result["potential"]["stack"]["labels_before"] == 2 and result["potential"]["stack"]["labels_after"] == 4
    gamma = result["interface_energy"]
    assert math.isfinite(gamma["gamma_J_m2"]) and math.isfinite(gamma["gamma_std_J_m2"])
    assert len(gamma["members"]) == 2 and result["glasses"]["B"]["n_atoms"] == 14
    assert (result["md_failed"] is None) != (result["diffusivity_by_region"] is None)  # one or the other, said
    assert json.loads(json.dumps(result, allow_nan=True)) is not None
    assert json.loads((root / "libo2" / "results.json").read_text())["stack_key"] == stack


@pytest.mark.md
@pytest.mark.mlip
def test_a_rerun_resumes_and_says_its_failed_md(first):
    root, run, before = first
    again = run(dataclasses.replace(PROFILE, timeout_s=0.0))  # the limit does not change the glasses
    assert again["glasses_resumed"] and again["potential"]["coating"]["resumed"]
    assert again["teacher_calls"] == before["teacher_calls"] and len(FrameStore(root / "potential" / "labels")) == 4
    assert math.isfinite(again["interface_energy"]["gamma_J_m2"])  # γ stands without the MD
    assert "timeout" in again["md_failed"] and again["diffusivity_by_region"] is None


@pytest.mark.md
@pytest.mark.mlip
def test_the_values_carry_units_and_the_spread(first):
    _, _, result = first
    values = interface_values(result)
    gamma = values["interface_energy"]
    assert gamma.unit == "J/m^2" and gamma.value == result["interface_energy"]["gamma_J_m2"] and gamma.std > 0
    assert set(values) <= set(MLIPOracle.units) and all(values[n].unit == MLIPOracle.units[n] for n in values)
    assert all(values[n].temperature_K == 600.0 for n in values if n.startswith("d_li"))


def test_an_interface_failure_leaves_the_bulk_evaluation_standing(tmp_path):
    config = {"kind": "mlip", "profile": "test", "interface": {"coating_density_g_cm3": 5.0, "coating_atoms": 14}}
    oracle = MLIPOracle(MLIPSpec.model_validate(config), tmp_path)
    with pytest.raises(ValueError, match="widht_A"):
        MLIPSpec.model_validate({**config, "interface": {"widht_A": 3.0}})
    with pytest.raises(ValueError, match="coating"):
        MLIPSpec.model_validate({**config, "interface": {"coating": "Li2O:x"}})
    evaluation = Evaluation("k", oracle.name, oracle.fidelity, "ok", values={"ea": Measurement(0.3, "eV", 0.01)})
    start = build(parse_composition("Li2O:0.5;B2O3:0.5"), 2.2, 16, seed=0).atoms
    oracle._interface(Candidate("Li2O:0.5;B2O3:0.5", kind="composition"), start, tmp_path / "k", evaluation, {})
    error = evaluation.provenance["interface"]["error"]
    assert error.startswith("coating: CellError: cannot place 14 atoms") and "\n" not in error
    assert evaluation.status == "ok" and set(evaluation.values) == {"ea"} and evaluation.potentials == []
    assert json.loads((tmp_path / "k" / "interface" / "results.json").read_text())["error"] == error
