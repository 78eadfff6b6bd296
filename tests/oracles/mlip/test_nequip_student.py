"""NequIP students on SevenNet-0 labels: a tiny model trains, resumes without retraining, forms a committee
whose calculator reports its force deviation, and fails in one readable line.

Everything is tiny (16 atoms, 12 frames, 8 features, 2 epochs): the point is the plumbing, not accuracy.
The single student is trained as member 0 of the committee's folder, so the committee trains only one
more member and shows on the way that a finished member is reused.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from pydantic import TypeAdapter, ValidationError

from amala.core.plugins import PluginSpec
from amala.oracles.mlip.committee import CommitteeCalculator
from amala.oracles.mlip.nequip_student import (
    NequIPStudent,
    StudentSpec,
    held_out_errors,
    train_ensemble,
    train_student,
    training_config,
)
from amala.oracles.mlip.student import STUDENTS, StudentEnsemble, StudentTrainingFailed, settings_type, student_class

TINY = StudentSpec(l_max=1, num_features=8, num_layers=2, radial_mlp_width=8, epochs=2, batch_size=3,
                   patience=None, r_max=4.5)
SEED = 7
N_FRAMES, N_TRAIN = 12, 9  # SevenNet-0 labels; the rest are held out


def _random_cell(seed: int = 0) -> Atoms:
    """Li6P2S8 (Li3PS4's formula, 16 atoms) at ~1.9 g/cm³, random positions at least 2 Å apart."""
    rng = np.random.default_rng(seed)
    symbols = ["P"] * 2 + ["S"] * 8 + ["Li"] * 6
    length = 6.8  # Å
    positions: list[np.ndarray] = []
    while len(positions) < len(symbols):
        trial = rng.uniform(0, length, 3)
        gaps = [np.linalg.norm((trial - p + length / 2) % length - length / 2) for p in positions]
        if not gaps or min(gaps) > 2.0:
            positions.append(trial)
    return Atoms(symbols, positions=positions, cell=[length] * 3, pbc=True)


@pytest.fixture(scope="module")
def frames() -> list[Atoms]:
    """12 rattled copies of one random cell, labelled by SevenNet-0 (energy, forces, stress)."""
    from sevenn.calculator import SevenNetCalculator

    teacher = SevenNetCalculator("7net-0", device="cpu")
    base, labelled = _random_cell(), []
    for i in range(N_FRAMES):
        atoms = base.copy()
        atoms.rattle(0.08, seed=i)
        atoms.calc = teacher
        results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(), "stress": atoms.get_stress()}
        atoms.calc = SinglePointCalculator(atoms, **results)
        labelled.append(atoms)
    return labelled


@pytest.fixture(scope="module")
def committee_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("committee")


@pytest.fixture(scope="module")
def student(frames, committee_folder):
    return train_student(frames[:N_TRAIN], frames[N_TRAIN:], TINY, SEED, committee_folder / "member_0")


@pytest.mark.mlip
def test_student_trains_and_predicts(student, frames):
    assert student.checkpoint.is_file() and (student.folder / "config.yaml").is_file()
    assert (student.n_train, student.n_val) == (N_TRAIN, N_FRAMES - N_TRAIN)
    assert 0 < student.energy_mae_meV_atom < 1e5 and 0 < student.force_mae_meV_A < 1e5
    atoms = frames[-1].copy()
    atoms.calc = student.calculator()
    # nequip sets torch's default dtype to float64 on loading; the calculator puts it back, or a float32
    # model built later in the process (SevenNet's teacher, a GNN surrogate) fails on a dtype mismatch
    assert torch.get_default_dtype() == torch.float32
    assert np.isfinite(atoms.get_potential_energy())
    forces = atoms.get_forces()
    assert forces.shape == (16, 3) and np.isfinite(forces).all()
    assert held_out_errors(atoms.calc, student.folder / "val.extxyz") == pytest.approx(  # frames from a file
        (student.energy_mae_meV_atom, student.force_mae_meV_A), rel=1e-4)
    record = student.record()
    assert record["kind"] == "nequip" and record["n_train"] == N_TRAIN and "force_mae_meV_A" in record
    assert record["spec"]["num_features"] == 8 and record["files"]["compiled"] is None


@pytest.mark.mlip
def test_finished_student_is_not_retrained(student, frames):
    log_time = (student.folder / "train.log").stat().st_mtime
    again = train_student(frames[:N_TRAIN], frames[N_TRAIN:], TINY, SEED, student.folder)
    assert (student.folder / "train.log").stat().st_mtime == log_time  # nequip-train did not run again
    assert again.force_mae_meV_A == student.force_mae_meV_A
    with pytest.raises(ValueError, match="other settings"):
        train_student(frames[:N_TRAIN], frames[N_TRAIN:], TINY, SEED + 1, student.folder)


@pytest.mark.mlip
def test_committee_reports_its_deviation(student, frames, committee_folder):
    log_time = (student.folder / "train.log").stat().st_mtime
    committee = train_ensemble(frames[:N_TRAIN], frames[N_TRAIN:], TINY, size=2, seed=SEED, folder=committee_folder)
    assert (student.folder / "train.log").stat().st_mtime == log_time  # member 0 reused, not retrained
    assert [m.seed for m in committee.members] == [SEED, SEED + 1]
    atoms = frames[-1].copy()
    atoms.rattle(0.1, seed=99)
    energies, forces, stresses = committee.predict(atoms)
    assert energies.shape == (2,) and forces.shape == (2, 16, 3) and stresses.shape == (2, 6)
    atoms.calc = committee.calculator()
    assert atoms.get_potential_energy() == pytest.approx(energies.mean())
    np.testing.assert_allclose(atoms.get_forces(), forces.mean(axis=0), atol=1e-6)
    assert atoms.get_stress().shape == (6,)
    assert atoms.calc.results["force_deviation"] > 0 and atoms.calc.results["energy_std"] >= 0
    assert StudentEnsemble(committee.members).record()["size"] == 2


def test_committee_calculator_takes_any_calculators(tmp_path):
    from ase.calculators.emt import EMT
    from ase.calculators.lj import LennardJones

    atoms = Atoms("Cu4", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0], [0, 0, 2.6]], cell=[8] * 3, pbc=True)
    atoms.calc = CommitteeCalculator([EMT(), LennardJones(sigma=2.3, epsilon=0.4, rc=4.0)])
    forces = atoms.get_forces()
    assert forces.shape == (4, 3) and atoms.calc.results["force_deviation"] > 0
    # a blown-up MD step is refused before any member's neighbour list sees it (which can hang, not fail)
    atoms.positions[0] = [np.nan, 0, 0]
    with pytest.raises(ValueError, match="non-finite atomic positions"):
        atoms.get_forces()
    atoms.positions[0] = [1e4, 0, 0]
    with pytest.raises(ValueError, match="1.25e\\+03 cell lengths from the cell"):
        atoms.get_forces()
    with pytest.raises(ValueError, match="at least 2"):
        CommitteeCalculator([EMT()])
    with pytest.raises(ValueError, match="2 to 16 members"):
        train_ensemble([], [], TINY, size=1, folder=tmp_path)


def test_bad_spec_field_fails_in_one_line():
    with pytest.raises(ValidationError) as error:
        StudentSpec(num_features=10_000)
    assert "num_features" in str(error.value)
    with pytest.raises(ValidationError, match="both 0"):
        StudentSpec(energy_weight=0, force_weight=0)
    with pytest.raises(ValidationError):
        StudentSpec(epochs=True)  # strict ints: YAML `true` is not 1
    with pytest.raises(ValidationError, match="extra"):
        StudentSpec(learning_rat=0.01)


def test_the_student_kind_comes_from_the_registry_and_stored_settings_keep_their_form():
    assert student_class(TINY) is NequIPStudent and STUDENTS.kinds() == ["nequip"]
    assert "kind" not in TINY.model_dump()  # student.json and stored configs read as before kinds
    settings = TypeAdapter(settings_type())
    assert settings.validate_python({"epochs": 2}) == StudentSpec(epochs=2)  # no kind: nequip
    assert settings.validate_python({"kind": "nequip", "epochs": 2}).epochs == 2
    with pytest.raises(ValidationError, match="kind"):
        settings.validate_python({"kind": "mace"})


def test_another_student_kind_drops_in_as_one_class_and_one_registry_line():
    class OtherSpec(PluginSpec):
        kind: Literal["other"] = "other"
        width: int = 3

    class Other:
        Spec, kind, title = OtherSpec, "other", "Other"

    STUDENTS.register("other", Other)
    try:
        settings = TypeAdapter(settings_type())
        assert settings.validate_python({"kind": "other"}) == OtherSpec()
        assert isinstance(settings.validate_python({}), StudentSpec)
        assert student_class(OtherSpec()) is Other
    finally:
        STUDENTS.unregister("other")


def test_stress_loss_only_with_stress(tmp_path):
    config = training_config(TINY, ["Li", "P", "S"], tmp_path / "t.extxyz", tmp_path / "v.extxyz", 1, stress=False)
    assert "stress" not in config["training_module"]["loss"]["coeffs"]
    with pytest.raises(ValueError, match="device"):
        training_config(TINY, ["Li"], tmp_path / "t.extxyz", tmp_path / "v.extxyz", 1, device="tpu")


@pytest.mark.mlip
def test_training_failures_are_one_readable_line(frames, tmp_path):
    with pytest.raises(StudentTrainingFailed, match="training frames: none given"):
        train_student([], frames[N_TRAIN:], TINY, 0, tmp_path / "empty")
    foreign = frames[N_TRAIN].copy()
    foreign.symbols[0] = "O"  # an element the model (Li, P, S from the training frames) has no type for
    foreign.calc = SinglePointCalculator(foreign, **frames[N_TRAIN].calc.results)
    with pytest.raises(StudentTrainingFailed, match="validation frame 0: element.* O not among"):
        train_student(frames[:N_TRAIN], [foreign], TINY, 0, tmp_path / "foreign")
    # a real nequip-train that runs out of time: killed, one line, no student left behind
    with pytest.raises(StudentTrainingFailed, match="timed out after 1 s") as error:
        train_student(frames[:N_TRAIN], frames[N_TRAIN:], TINY, 0, tmp_path / "slow", timeout_s=1)
    assert "\n" not in str(error.value)
    assert (tmp_path / "slow" / "config.yaml").is_file() and not (tmp_path / "slow" / "student.json").exists()


def test_per_element_shifts_are_recovered_from_the_energies_of_several_compositions():
    from amala.oracles.mlip.nequip_student import energy_shifts

    truth = {"Li": -1.9, "P": -5.4, "S": -4.1}
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(12):
        counts = {e: int(n) for e, n in zip(truth, rng.integers(1, 9, 3))}
        atoms = Atoms("".join(f"{e}{n}" for e, n in counts.items()))
        energy = sum(truth[e] * n for e, n in counts.items()) + rng.normal(0, 1e-3)
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=np.zeros((len(atoms), 3)))
        frames.append(atoms)
    assert np.allclose(energy_shifts(frames, ["Li", "P", "S"]), [truth["Li"], truth["P"], truth["S"]], atol=2e-3)


def test_shifts_zbl_and_a_warm_start_reach_the_training_config(tmp_path):
    spec = TINY.model_copy(update={"zbl": True})
    config = training_config(spec, ["Li", "P", "S"], tmp_path / "t.extxyz", tmp_path / "v.extxyz", 1,
                             shifts=[-1.9, -5.4, -4.1])
    model = config["training_module"]["model"]
    assert model["per_type_energy_shifts"] == {"Li": -1.9, "P": -5.4, "S": -4.1}  # nequip wants a dict
    assert model["pair_potential"]["_target_"] == "nequip.nn.pair_potential.ZBL"
    warm = training_config(TINY, ["Li", "P", "S"], tmp_path / "t.extxyz", tmp_path / "v.extxyz", 1,
                           init_from=tmp_path / "best.ckpt")
    assert warm["training_module"]["model"] == {"_target_": "nequip.model.ModelFromCheckpoint",
                                                "checkpoint_path": str((tmp_path / "best.ckpt").resolve())}
    shipped = training_config(TINY, ["Li", "P", "S"], tmp_path / "t.extxyz", tmp_path / "v.extxyz", 1,
                              init_from=tmp_path / "glass.nequip.zip")
    assert shipped["training_module"]["model"]["_target_"] == "nequip.model.ModelFromPackage"
    timed = training_config(TINY.model_copy(update={"max_minutes": 90.5}), ["Li"], tmp_path / "t.extxyz",
                            tmp_path / "v.extxyz", 1)
    assert timed["trainer"]["max_time"] == "00:01:30:30"
    assert "max_time" not in config["trainer"]
    assert StudentSpec() == StudentSpec(**{k: v for k, v in StudentSpec().model_dump().items()
                                           if k not in ("energy_shifts", "zbl", "max_minutes", "init")})  # old


@pytest.mark.mlip
def test_a_killed_training_resumes_from_its_last_epoch_and_a_warm_start_fine_tunes(student, frames, tmp_path):
    import signal

    spec = TINY.model_copy(update={"epochs": 40, "energy_shifts": "least_squares", "zbl": True})
    folder = tmp_path / "killed"
    job = _started_until_first_checkpoint(frames, spec, folder)
    job.process.send_signal(signal.SIGKILL)
    job.process.wait()
    assert (folder / "run" / "last.ckpt").is_file(), (folder / "train.log").read_text()[-2000:]
    resumed = train_student(frames[:N_TRAIN], frames[N_TRAIN:], spec, 1, folder)
    log = (folder / "train.log").read_text()
    assert "Continuing training with checkpoint file" in log  # nequip's word for a resumed run, not a new one
    assert np.isfinite(resumed.force_mae_meV_A)
    tuned = train_student(frames[:N_TRAIN], frames[N_TRAIN:], TINY, 2, tmp_path / "tuned", init_from=student.checkpoint)
    assert np.isfinite(tuned.force_mae_meV_A)
    assert "ModelFromCheckpoint" in (tmp_path / "tuned" / "config.yaml").read_text()


@pytest.mark.mlip
def test_a_packaged_student_loads_predicts_as_its_checkpoint_and_fine_tunes(student, frames, tmp_path):
    """What shipping a student does: `nequip-package`, a card with the package's sha256, an eager calculator
    with the checkpoint's forces, and a fine-tune that starts from the package (ModelFromPackage)."""
    from amala.oracles.mlip import shipped

    card = {"elements": ["Li", "P", "S"], "teacher": {"model": "7net-0"}, "heldout_force_mae_eV_A": 0.1,
            "heldout_energy_mae_eV_atom": 0.01, "speedup_vs_teacher_128_atoms": 1.0, "d_li_ratio_900K": None,
            "d_li_ratio_interval": None}
    packaged = shipped.package(student.checkpoint, "tiny", card, folder=tmp_path / "students")
    packaged.verify()
    assert packaged.card["sha256"] and packaged.card["versions"]["nequip"]
    atoms = frames[-1].copy()
    atoms.calc = packaged.calculator()
    from_package = atoms.get_forces()
    atoms.calc = student.calculator()
    assert np.allclose(from_package, atoms.get_forces(), atol=1e-4)
    tuned = train_student(frames[:N_TRAIN], frames[N_TRAIN:], TINY, 3, tmp_path / "tuned", init_from=packaged.package)
    assert np.isfinite(tuned.force_mae_meV_A)
    assert "ModelFromPackage" in (tmp_path / "tuned" / "config.yaml").read_text()


@pytest.mark.mlip
def test_a_training_stopped_by_sigterm_is_not_taken_for_a_finished_student(frames, tmp_path):
    """Lightning stops on SIGTERM and exits 0 with its best checkpoint written: the student it would leave
    is half-trained, so `finish` refuses it and the next call resumes the training instead."""
    import signal

    from amala.oracles.mlip.student import StudentTrainingFailed

    folder = tmp_path / "stopped"
    job = _started_until_first_checkpoint(frames, TINY.model_copy(update={"epochs": 40}), folder)
    job.process.send_signal(signal.SIGTERM)
    with pytest.raises(StudentTrainingFailed, match="stopped \\(SIGTERM\\)"):
        job.finish(240)
    assert not (folder / "student.json").exists()


@pytest.mark.mlip
def test_a_compiled_model_is_used_only_when_it_matches_the_uncompiled_one(student, frames, tmp_path):
    """An AOTInductor compile with the ZBL prior gave NaN here: `compiled_disagrees` is the check. The
    saved model against itself agrees; a file that is no compiled model is refused, with the reason."""
    from amala.oracles.mlip.nequip_student import compiled_disagrees

    bogus = tmp_path / "bogus.nequip.pt2"
    bogus.write_bytes(b"not a model")
    reason = compiled_disagrees(bogus, student.checkpoint, frames[-1])
    assert reason and reason.startswith("the compiled model does not load")
    assert compiled_disagrees(bogus, student.checkpoint, None) is None  # nothing to check on: trusted as before


def _started_until_first_checkpoint(frames, spec, folder):
    """A training started in `folder` and left running until it has written its first checkpoint."""
    import time

    from amala.oracles.mlip.nequip_student import _start

    job = _start(frames[:N_TRAIN], frames[N_TRAIN:], spec, 1, folder, "cpu", None)
    deadline = time.monotonic() + 240
    while not (folder / "run" / "last.ckpt").is_file() and job.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    return job


@pytest.mark.mlip
def test_a_finished_student_asked_for_more_epochs_trains_on_and_other_settings_are_refused(student, frames,
                                                                                            tmp_path):
    import shutil

    folder = tmp_path / "more"
    shutil.copytree(student.folder, folder)
    with pytest.raises(ValueError, match="holds a student trained with other settings"):
        train_student(frames[:N_TRAIN], frames[N_TRAIN:], TINY.model_copy(update={"num_features": 4}), SEED, folder)
    longer = TINY.model_copy(update={"epochs": TINY.epochs + 1})
    more = train_student(frames[:N_TRAIN], frames[N_TRAIN:], longer, SEED, folder)
    assert more.spec.epochs == TINY.epochs + 1 and np.isfinite(more.force_mae_meV_A)
    assert "Continuing training with checkpoint file" in (folder / "train.log").read_text()
