"""The frame store: every teacher call is made once and survives a kill mid-write.

Teachers here are real: tblite GFN1-xTB on an 8-atom Li3PS4 cell (~1 s a call) where calls are counted,
and ASE's Lennard-Jones calculator behind the same Teacher interface where many frames are needed fast
(the split). `Counting` is a thin wrapper that counts the calls reaching the real teacher.
"""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from test_teachers import coincident, lips_cell

from amala.oracles.mlip.labelled_frames import FrameStore, frame_id
from amala.oracles.mlip.teachers import SevenNetTeacher, Teacher, TeacherSpec, make_teacher


class Counting:
    """Counts the calls that reach the wrapped (real) teacher; everything else is the teacher's."""

    def __init__(self, teacher: Teacher):
        self.teacher, self.calls = teacher, 0
        self.name = teacher.name

    def provenance(self) -> dict:
        return self.teacher.provenance()

    def label(self, atoms):
        self.calls += 1
        return self.teacher.label(atoms)


class LennardJonesTeacher(SevenNetTeacher):
    """A Teacher on ASE's Lennard-Jones calculator: instant, for tests that need many frames (its provenance
    says SevenNet-0)."""

    def _build(self):
        return LennardJones(sigma=2.0, epsilon=0.01, rc=5.0)


@pytest.fixture(scope="module")
def tblite():
    return make_teacher(TeacherSpec(kind="tblite"))


def small(seed: int = 0):
    return lips_cell(formula_units=1, seed=seed)


def test_frame_id_is_the_structure():
    atoms = small()
    fid = frame_id(atoms)
    assert len(fid) == 16 and int(fid, 16) >= 0
    assert frame_id(atoms.copy()) == fid
    moved = atoms.copy()
    moved.positions[3, 1] += 1e-3
    assert frame_id(moved) != fid
    shrunk = atoms.copy()
    shrunk.set_cell(atoms.cell * 0.99)
    assert frame_id(shrunk) != fid


@pytest.mark.mlip
def test_a_frame_is_labelled_once(tmp_path, tblite):
    teacher, atoms = Counting(tblite), small()
    store = FrameStore(tmp_path / "run")
    first = store.label(teacher, atoms, "md:round0:step10")
    again = store.label(teacher, atoms.copy(), "md:round1:step3")
    assert teacher.calls == 1 and store.calls == 1 and len(store) == 1 and atoms in store
    assert again.get_potential_energy() == pytest.approx(first.get_potential_energy())
    assert np.allclose(again.get_forces(), first.get_forces()) and np.allclose(again.get_stress(), first.get_stress())
    assert again.info["source"] == "md:round0:step10" and again.info["frame_id"] == frame_id(atoms)
    reopened = FrameStore(tmp_path / "run")  # a restarted run
    assert reopened.label(teacher, atoms, "md:round2:step0") is not None
    assert teacher.calls == 1 and reopened.calls == 1


@pytest.mark.mlip
def test_a_failure_is_recorded_and_not_retried(tmp_path, tblite):
    teacher, bad = Counting(tblite), coincident(small())
    store = FrameStore(tmp_path)
    assert store.label(teacher, bad, "md:round0:step5") is None
    assert store.label(teacher, bad, "md:round0:step6") is None
    assert teacher.calls == 1 and store.calls == 1 and len(store) == 0 and bad not in store
    (failure,) = store.failures()
    assert failure["frame_id"] == frame_id(bad) and failure["source"] == "md:round0:step5"
    assert failure["teacher"] == "tblite:GFN1-xTB" and "InputError" in failure["reason"]
    assert FrameStore(tmp_path).label(teacher, bad, "again") is None and teacher.calls == 1


def test_a_truncated_append_is_dropped_and_the_next_one_is_clean(tmp_path):
    teacher = Counting(LennardJonesTeacher(TeacherSpec()))
    store = FrameStore(tmp_path)
    frames = [small(seed) for seed in range(3)]
    for i, atoms in enumerate(frames[:2]):
        store.label(teacher, atoms, f"md:step{i}")
    data = store.labels_path.read_bytes()
    last = data.rfind(b"\n8\n") + 1  # start of the last frame (8 atoms)
    store.labels_path.write_bytes(data[: last + (len(data) - last) // 2])  # killed in the middle of writing it
    assert [f.info["source"] for f in store.frames()] == ["md:step0"]
    with store.failures_path.open("w") as fh:  # and a failure line cut short
        fh.write(json.dumps({"frame_id": "0" * 16, "source": "x", "reason": "r", "teacher": "t"}) + "\n{\"frame_")
    with pytest.warns(UserWarning, match="truncated"):
        reopened = FrameStore(tmp_path)
    assert len(reopened) == 1 and len(reopened.failures()) == 1 and frames[1] not in reopened
    reopened.label(teacher, frames[2], "md:step2")
    reopened.label(teacher, frames[1], "md:step1")  # the cut frame is labelled again: the one call a kill can cost
    plain = ase.io.read(reopened.labels_path, ":")
    assert len(plain) == 3 and [f.info["source"] for f in reopened.frames()] == ["md:step0", "md:step2", "md:step1"]
    assert reopened.failures_path.read_text().endswith("}\n")


@pytest.mark.mlip
def test_labels_are_plain_extxyz(tmp_path, tblite):
    store = FrameStore(tmp_path)
    labelled = store.label(tblite, small(), "md:round0:step0")
    (plain,) = ase.io.read(store.labels_path, ":")
    assert plain.get_potential_energy() == pytest.approx(labelled.get_potential_energy())
    assert np.allclose(plain.get_forces(), labelled.get_forces())
    assert np.allclose(plain.get_stress(), labelled.get_stress())
    assert plain.info["teacher"] == "tblite:GFN1-xTB" and plain.info["level_of_theory"] == "GFN1-xTB"
    assert plain.info["teacher_model"] == "GFN1-xTB" and isinstance(plain.info["teacher_version"], str)


def test_split_is_deterministic_and_stable(tmp_path):
    teacher = LennardJonesTeacher(TeacherSpec())
    store = FrameStore(tmp_path)
    assert store.split() == ([], [])
    store.label(teacher, small(0), "s0")
    train, held = store.split()
    assert len(train) == 1 and held == []  # one frame: train on it
    store.label(teacher, small(1), "s1")
    train, held = store.split()
    assert len(train) == 1 and len(held) == 1  # at least one held out, at least one to train on

    def ids(frames):
        return {f.info["frame_id"] for f in frames}

    for seed in range(2, 40):
        store.label(teacher, small(seed), f"s{seed}")
    train, held = store.split(0.1)
    assert len(train) + len(held) == 40 and not ids(train) & ids(held)
    natural = {fid for fid in ids(store.frames()) if int(fid, 16) % 1000 < 100}
    assert len(natural) >= 1 and ids(held) == natural
    assert ids(FrameStore(tmp_path).split(0.1)[1]) == ids(held)  # same split from a reopened store
    for seed in range(40, 60):
        store.label(teacher, small(seed), f"s{seed}")
    assert ids(held) <= ids(store.split(0.1)[1])  # a held-out frame stays held out as frames are added
    assert len(store.split(0.5, min_holdout=5)[1]) >= 5
