"""A shipped student audited by the teacher (`oracles/mlip/audit.py`) through the real `mlip` oracle.

Stand-ins, as in test_mlip_failures.py and for the same reason (a real chain costs minutes here): the
teacher's calculator is Lennard-Jones (`Teacher._build`), the shipped student is a card with a placeholder
package whose calculator is a Lennard-Jones 20% deeper than the teacher's (so its forces are measurably
wrong), and a fine-tune (`AuditedStudent.fine_tune`, a nequip-train subprocess) writes a version whose
calculator is the teacher's own Lennard-Jones. The oracle, the ASE melt-quench-diffuse protocol, the spot
checks, the gate, the label store, the teacher MD of a fine-tune and the evaluation's record are real.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from typer.testing import CliRunner

from amala.loop.config import parse_config
from amala.oracles.mlip import shipped
from amala.oracles.mlip.audit import AuditedStudent, AuditSpec, GateFailed, SpotChecks, Version, rolling_error
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.oracle import glass_family
from amala.oracles.registry import build_oracle
from tests.oracles.mlip.test_mlip_failures import CONFIG, LI3PS4, LJ

CARD_FORCE_MAE = 0.01  # eV/Å: the stand-in student (20% deeper wells) is several times worse on these glasses


@pytest.fixture
def shipped_folder(tmp_path, monkeypatch):
    folder = tmp_path / "students"
    (folder / "toy").mkdir(parents=True)
    (folder / "toy" / "toy.nequip.zip").write_bytes(b"placeholder")
    card = {"name": "toy", "elements": ["Li", "P", "S"], "teacher": {"kind": "sevennet", "model": "7net-0"},
            "heldout_force_mae_eV_A": 0.05, "heldout_energy_mae_eV_atom": 0.005, "speedup_vs_teacher_128_atoms": 30.0,
            "d_li_ratio_900K": 1.1, "d_li_ratio_interval": [0.8, 1.5], "sha256": shipped._sha256(
                folder / "toy" / "toy.nequip.zip"), "families": {"thiophosphate": {"force_mae_eV_A": CARD_FORCE_MAE}}}
    (folder / "toy" / "card.json").write_text(json.dumps(card))
    monkeypatch.setattr(shipped, "SHIPPED_FOLDER", folder)
    return folder


def test_a_card_is_read_and_an_unknown_name_refused_in_one_line(shipped_folder):
    student = shipped.load("toy")
    assert shipped.names() == ["toy"] and student.elements == ["Li", "P", "S"]
    assert student.family_force_mae("thiophosphate") == CARD_FORCE_MAE
    assert student.family_force_mae("oxide") == 0.05  # no family row: the overall held-out value
    assert student.missing_elements(["Li", "O", "S"]) == ["O"]
    student.verify()
    with pytest.raises(shipped.UnknownStudent, match="no shipped student 'nope' \\(shipped: toy"):
        shipped.load("nope")
    (shipped_folder / "toy" / "toy.nequip.zip").write_bytes(b"changed")
    with pytest.raises(ValueError, match="changed after it was measured"):
        student.verify()


def test_the_reference_follows_the_cards_error_by_temperature(shipped_folder):
    """The gate judges a check at 1200 K against the card's 1200 K row, not its production value: linear
    in T between rows, two glasses of a family at one T averaged, constant beyond the rows."""
    card_file = shipped_folder / "toy" / "card.json"
    card = json.loads(card_file.read_text())
    card["heldout"] = [{"family": "thiophosphate", "T_K": T, "force_mae_meV_A": e}
                       for T, e in ((500.0, 100.0), (900.0, 140.0), (900.0, 160.0), (1200.0, 250.0))]
    card["heldout"].append({"family": "oxide", "T_K": 900.0, "force_mae_meV_A": 300.0})
    card_file.write_text(json.dumps(card))
    student = shipped.load("toy")
    assert student.reference_force_mae("thiophosphate", 700.0) == pytest.approx(0.125)
    assert student.reference_force_mae("thiophosphate", 900.0) == pytest.approx(0.150)
    assert student.reference_force_mae("thiophosphate", 1050.0) == pytest.approx(0.200)
    assert student.reference_force_mae("thiophosphate", 300.0) == pytest.approx(0.100)
    assert student.reference_force_mae("thiophosphate", 2000.0) == pytest.approx(0.250)
    assert student.reference_force_mae("oxide", 500.0) == pytest.approx(0.300)
    assert student.reference_force_mae("borate", 900.0) == 0.05  # no rows, no family value: the overall one


def _checks(ratios: list[float], stages: list[str]) -> SpotChecks:
    checks = SpotChecks(None, None, "c", {}, Path("/nonexistent/never-written.jsonl"))
    checks.checks = [{"stage": stage, "force_mae_eV_A": 0.1 * r, "reference_eV_A": 0.1, "ratio": r}
                     for r, stage in zip(ratios, stages)]
    return checks


def test_the_gate_decides_early_only_with_enough_checks_and_a_clear_interval(shipped_folder, tmp_path):
    audited = AuditedStudent(shipped.load("toy"), None, tmp_path / "potential", AuditSpec(gate_min_checks=6))
    decide = audited.gate(audited.latest())
    good, bad = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95], [3.0, 3.2, 2.9, 3.1, 3.0, 2.8]
    assert decide(_checks(good[:5], ["melt"] * 3 + ["quench"] * 2), False) is None  # too few checks
    assert decide(_checks(good, ["melt"] * 5 + ["quench"]), False) is None  # one in the quench: not yet
    assert decide(_checks(good, ["melt"] * 4 + ["quench"] * 2), False) is True  # interval below 1.5: pass
    with pytest.raises(GateFailed, match="3.00 x the card's .* decided early"):
        decide(_checks(bad, ["melt"] * 4 + ["quench"] * 2), False)
    wide = [0.5, 2.5, 0.6, 2.4, 0.5, 2.6]  # mean 1.5: the interval straddles the factor
    assert decide(_checks(wide, ["melt"] * 4 + ["quench"] * 2), False) is None
    with pytest.raises(GateFailed, match="1.53 x"):
        decide(_checks(wide + [1.6], ["melt"] * 4 + ["quench"] * 3), True)  # the quench's end: the mean decides
    assert decide(_checks([1.2], ["quench"]), True) is True
    assert decide(_checks([], []), True) is True  # no check at all: the production checks judge the glass


def test_the_cli_lists_and_prints_cards(shipped_folder):
    from amala.flows.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["potential", "list"])
    assert listed.exit_code == 0 and "toy: Li P S" in listed.output and "30x the teacher" in listed.output
    card = runner.invoke(app, ["potential", "card", "toy", "--json"])
    assert card.exit_code == 0
    parsed = json.loads(card.output)
    assert set(shipped.CARD_KEYS) <= set(parsed) and parsed["d_li_ratio_interval"] == [0.8, 1.5]
    missing = runner.invoke(app, ["potential", "card", "nope"])
    assert missing.exit_code != 0 and "no shipped student 'nope'" in missing.output


def test_rolling_error_has_a_t_interval():
    summary = rolling_error([0.1, 0.2, 0.3, float("nan")])
    assert summary["checks"] == 3 and summary["force_mae_eV_A"] == pytest.approx(0.2)
    low, high = summary["interval_eV_A"]
    assert low == pytest.approx(0.2 - 4.303 * 0.1 / np.sqrt(3), rel=1e-3) and high > 0.2
    assert rolling_error([])["force_mae_eV_A"] is None and rolling_error([0.1])["interval_eV_A"] is None


class _Teacher:
    name = "lj"

    def __init__(self):
        self.calls = 0

    def label(self, atoms):
        self.calls += 1
        frame = atoms.copy()
        frame.calc = LJ(0)
        frame.get_forces()
        from ase.calculators.singlepoint import SinglePointCalculator

        result = SinglePointCalculator(frame, energy=frame.get_potential_energy(), forces=frame.get_forces())
        frame.calc = result
        return frame

    def provenance(self):
        return {"teacher": "lj", "model": "lj", "version": "1", "level_of_theory": "Lennard-Jones", "settings": {}}


def test_spot_checks_come_every_n_steps_per_stage_and_a_resume_pays_none_again(tmp_path):
    atoms = bulk("Li", "bcc", a=3.5, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    atoms.calc = LJ(2)
    atoms.get_forces()
    teacher, store = _Teacher(), FrameStore(tmp_path / "labels")
    checks = SpotChecks(teacher, store, "c1:v0", {"melt": 10, "production": 20}, tmp_path / "checks.jsonl")
    for stage, steps in (("melt", range(5, 45, 5)), ("quench", range(5, 45, 5)), ("production", range(5, 45, 5)),
                         ("production", range(5, 25, 5))):  # production restarts its count at a new temperature
        for step in steps:
            atoms.positions[0, 0] += 0.01  # a new frame each time
            atoms.get_forces()
            checks("melt" if stage == "melt" else stage, step, atoms)
    assert [c["stage"] for c in checks.checks] == ["melt"] * 4 + ["production"] * 3
    assert all(c["force_mae_eV_A"] > 0 for c in checks.checks) and teacher.calls == 7
    again = SpotChecks(teacher, store, "c1:v0", {"melt": 10}, tmp_path / "checks.jsonl")
    assert len(again.checks) == 7 and again.errors(("melt",)) == checks.errors(("melt",))
    assert store.calls_from("c1:") == 7


def test_spot_checks_stop_gating_after_an_early_pass_and_keep_ratios_to_the_card(tmp_path):
    atoms = bulk("Li", "bcc", a=3.5, cubic=True).repeat(2)
    atoms.calc = LJ(2)
    teacher, store, decisions = _Teacher(), FrameStore(tmp_path / "labels"), []

    def gate(checks, final):
        decisions.append(final)
        return len(checks.of(("melt", "quench"))) >= 3 or None  # passes at the third check

    checks = SpotChecks(teacher, store, "c1:v0", {"melt": 5, "quench": 5, "production": 10},
                        tmp_path / "checks.jsonl", gate=gate, reference=lambda T: 0.01 + T * 1e-5)
    for stage in ("melt", "quench", "production"):
        for step in range(5, 30, 5):
            atoms.positions[0, 0] += 0.01
            atoms.get_forces()
            checks(stage, step, atoms)
    assert [c["stage"] for c in checks.checks] == ["melt"] * 3 + ["production"] * 2  # no quench check after a pass
    assert decisions == [False] * 3  # decided early: no final decision at the quench's end
    check = checks.checks[0]
    assert check["reference_eV_A"] == pytest.approx(0.01 + check["T_K"] * 1e-5)
    assert check["ratio"] == pytest.approx(check["force_mae_eV_A"] / check["reference_eV_A"])


def test_glass_family_from_elements():
    assert glass_family(["Li", "P", "S", "I"]) == "thiophosphate"
    assert glass_family(["Li", "P", "O", "N"]) == "lipon"
    assert glass_family(["Li", "B", "O"]) == "borate"
    assert glass_family(["Li", "Si", "O"]) == "oxide"


def audited_oracle(tmp_path, monkeypatch, student_k: int, audit: dict, workdir: str = "campaign"):
    config = copy.deepcopy(CONFIG)
    config["oracle"]["student"] = {"init": "toy"}
    config["oracle"]["potential_folder"] = str(tmp_path / "potential")
    config["oracle"]["audit"] = {"gate_every": 10, "production_every": 20, "fine_tune_steps": 8, "replay": 0,
                                 **audit}
    oracle = build_oracle(parse_config(config).oracle, workdir=tmp_path / workdir, seed=0)
    monkeypatch.setattr(oracle.teacher, "_build", lambda: LJ(0))
    tunes = []

    def calculator(version: Version):
        return LJ(student_k) if version.number == 0 else LJ(0)

    def fine_tune(new_labels, validation, candidate, seed=0):
        tunes.append({"labels": len(new_labels), "validation": len(validation), "candidate": candidate})
        number = oracle.audited.latest().number + 1
        folder = oracle.audited.folder / "versions" / f"v{number}"
        folder.mkdir(parents=True)
        record = {"version": number, "calculator_file": str(folder / "student.json"),
                  "labels": [f.info["frame_id"] for f in new_labels]}
        (folder / "version.json").write_text(json.dumps(record))
        return Version(number, folder / "student.json", record)

    monkeypatch.setattr(oracle.audited, "calculator", calculator)
    monkeypatch.setattr(oracle.audited, "fine_tune", fine_tune)
    return oracle, tunes


@pytest.mark.md
def test_the_gate_passes_a_student_within_tolerance_with_no_new_labels(tmp_path, monkeypatch, shipped_folder):
    oracle, tunes = audited_oracle(tmp_path, monkeypatch, student_k=0, audit={})
    assert isinstance(oracle.audited, AuditedStudent)
    [evaluation] = oracle.evaluate([LI3PS4])
    assert evaluation.status == "ok", evaluation.reason
    audit = evaluation.provenance["audit"]
    assert tunes == [] and len(audit["attempts"]) == 1 and audit["attempts"][0]["gate"]["passed"]
    error = evaluation.provenance["potential_error"]
    assert error["force_mae_eV_A"] == pytest.approx(0.0, abs=1e-6) and error["card_force_mae_eV_A"] == CARD_FORCE_MAE
    assert audit["teacher_calls"] == audit["attempts"][0]["spot_checks"] > 0  # spot checks only: no teacher MD
    production = audit["attempts"][0]["production"]
    assert production["checks"] > 0 and production["steps"] >= 20 * production["checks"]  # one every 20 steps
    assert production["labelled_fraction"] == pytest.approx(production["checks"] / production["steps"])
    # the report's growth section reads it as it reads every MLIP evaluation, with the measured error
    from amala.loop.report.potential_growth import learned_candidates

    [row] = learned_candidates([(LI3PS4, evaluation)])
    assert (row.system, row.version, row.position) == ("toy (shipped)", "v0", 0)
    assert row.teacher_calls == audit["teacher_calls"]
    assert row.spot_check_meV_A == pytest.approx(0.0, abs=1e-3) and row.card_meV_A == pytest.approx(10.0)


@pytest.mark.md
def test_a_student_outside_tolerance_is_fine_tuned_and_the_glass_redone(tmp_path, monkeypatch, shipped_folder):
    oracle, tunes = audited_oracle(tmp_path, monkeypatch, student_k=2, audit={})
    [evaluation] = oracle.evaluate([LI3PS4])
    assert evaluation.status == "ok", evaluation.reason
    attempts = evaluation.provenance["audit"]["attempts"]
    assert [a["version"] for a in attempts] == [0, 1]
    assert not attempts[0]["gate"]["passed"] and attempts[0]["gate"]["force_mae_eV_A"] > 1.5 * CARD_FORCE_MAE
    assert attempts[1]["gate"]["passed"] and attempts[1]["production"]["checks"] > 0
    # the fine-tune got the teacher's MD of this glass (every step a label) and was validated on the spot checks
    [tune] = tunes
    assert tune["labels"] >= 8 and tune["candidate"] == LI3PS4.key
    assert tune["validation"] == attempts[0]["spot_checks"]  # all its spot checks, melt and quench
    assert evaluation.provenance["level_of_theory"].startswith("NequIP student toy (v1)")
    # another campaign on the same potential folder starts from the fine-tuned version: no second fine-tune
    other, more = audited_oracle(tmp_path, monkeypatch, student_k=2, audit={}, workdir="other")
    [again] = other.evaluate([LI3PS4])
    assert again.status == "ok", again.reason
    assert more == [] and again.provenance["audit"]["final_version"] == 1


@pytest.mark.md
def test_a_gate_that_keeps_failing_is_a_failed_evaluation_with_its_reason(tmp_path, monkeypatch, shipped_folder):
    oracle, tunes = audited_oracle(tmp_path, monkeypatch, student_k=2, audit={"max_fine_tunes": 0})
    [evaluation] = oracle.evaluate([LI3PS4])
    assert evaluation.status == "failed" and "gate failed after 0 fine-tunes" in evaluation.reason
    assert evaluation.provenance["audit"]["attempts"][0]["gate"]["passed"] is False and tunes == []


def test_a_simulation_that_fails_keeps_its_audit_record(tmp_path, monkeypatch, shipped_folder):
    """An MD failure after the gate (here: a production MD that raises at once) is the evaluation's reason,
    and the audit record (teacher calls paid, checks made) stays with it."""
    from amala.oracles.md import ase_engine
    from amala.oracles.md.protocol import SimulationFailed

    oracle, _ = audited_oracle(tmp_path, monkeypatch, student_k=0, audit={})

    def broken(*args, **kwargs):
        raise SimulationFailed("Li diffusive at only 1 of 3 temperatures")
    monkeypatch.setattr(ase_engine, "run", broken)
    [evaluation] = oracle.evaluate([LI3PS4])
    assert evaluation.status == "failed" and evaluation.reason == "Li diffusive at only 1 of 3 temperatures"
    audit = evaluation.provenance["audit"]
    assert audit["failure"] == evaluation.reason and audit["teacher_calls"] == 0 and len(audit["attempts"]) == 1


def test_a_glass_with_an_element_the_student_lacks_fails_in_one_line(tmp_path, monkeypatch, shipped_folder):
    from amala.core.candidate import Candidate

    oracle, _ = audited_oracle(tmp_path, monkeypatch, student_k=0, audit={})
    [evaluation] = oracle.evaluate([Candidate("Li2S:0.700000;P2S5:0.200000;LiCl:0.100000", kind="composition",
                                              agent="t")])
    assert evaluation.status == "failed" and "has no type for Cl" in evaluation.reason


def test_a_campaign_may_set_its_cells_size(tmp_path, shipped_folder):
    config = copy.deepcopy(CONFIG)
    config["oracle"].update(student={"init": "toy"}, atoms=24)
    oracle = build_oracle(parse_config(config).oracle, workdir=tmp_path, seed=0)
    assert oracle.profile.n_atoms == 24 and oracle.fidelity.endswith("-24at")
    assert "cells have 24 atoms, not the profile's 48" in oracle.profile.caveat
    config["oracle"]["atoms"] = 2
    with pytest.raises(ValueError, match="atoms"):
        parse_config(config)


def test_an_unknown_init_is_refused_by_the_config_in_one_line(shipped_folder):
    config = copy.deepcopy(CONFIG)
    config["oracle"]["student"] = {"init": "nope"}
    with pytest.raises(ValueError, match="init: no shipped student 'nope' \\(shipped: toy"):
        parse_config(config)


@pytest.mark.md
def test_check_spot_checks_a_fresh_teacher_melt_quench(tmp_path, monkeypatch, shipped_folder):
    """`amala potential check`: a fresh teacher MD of the composition, the student's error on it per
    temperature beside the card's (the Lennard-Jones teacher of test_distill; the student is a Lennard-Jones
    too, so the error is known to be zero)."""
    from ase.calculators.lj import LennardJones

    from amala.flows.cli import app
    from amala.oracles.mlip import distill
    from tests.oracles.mlip.test_distill import LJTeacher

    monkeypatch.setattr(distill, "make_teacher", lambda spec: LJTeacher(spec))
    monkeypatch.setattr(shipped.ShippedStudent, "calculator",
                        lambda self, device="cpu", compiled=False: LennardJones(sigma=2.0, epsilon=0.01, rc=4.5,
                                                                                smooth=True))
    result = CliRunner().invoke(app, ["potential", "check", "toy", "Li2S:0.75;P2S5:0.25", "--atoms", "16",
                                      "--workdir", str(tmp_path / "check")])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["1200 K (melt)", "900 K", "700 K", "500 K"]
    assert all(" 0 meV/Å (0.0x the card's 10 for thiophosphate)" in line for line in lines)
    refused = CliRunner().invoke(app, ["potential", "check", "toy", "Li2O:0.5;SiO2:0.5"])
    assert refused.exit_code != 0 and "element(s) O, Si are not among toy's" in refused.output


@pytest.mark.md
def test_a_generated_glass_is_annealed_gated_and_named_in_provenance(tmp_path, monkeypatch, shipped_folder):
    """`structure: {source: generator}` in the mlip oracle: the generated cell replaces the melt-quench,
    the anneal is gated like a quench, and the evaluation names the generator (a tiny generator trained
    for seconds on synthetic Li-P-S cells: the path, not the quality)."""
    from amala.oracles.generator.spec import GeneratorSpec
    from amala.oracles.generator.training import train
    from tests.oracles.generator.conftest import TINY, _synthetic

    generator = train(GeneratorSpec.model_validate({**TINY, "n_atoms": 48}),
                      _synthetic(["Li2S:0.75;P2S5:0.25", "Li2S:0.7;P2S5:0.3"], [0, 1], n_atoms=48, density=1.9),
                      _synthetic(["Li2S:0.72;P2S5:0.28"], [5], n_atoms=48, density=1.9), tmp_path / "gen")
    monkeypatch.setitem(CONFIG["oracle"], "structure", {"source": "generator", "generator": str(tmp_path / "gen" /
                                                                                             "generator"),
                                                        "steps": 0, "anneal_ps": 0.2})
    oracle, tunes = audited_oracle(tmp_path, monkeypatch, student_k=0, audit={})
    assert oracle.fidelity.endswith("-generated")
    [evaluation] = oracle.evaluate([LI3PS4])
    assert evaluation.status == "ok", evaluation.reason
    assert evaluation.provenance["structure_source"] == "generator"
    assert evaluation.provenance["generator_version"] == generator.version
    gate = evaluation.provenance["audit"]["attempts"][0]["gate"]
    assert gate["passed"] and gate["melt_quench_steps"] >= 30  # the anneal, checked as a quench (early pass)
