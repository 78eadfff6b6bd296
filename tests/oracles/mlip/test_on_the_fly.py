"""On-the-fly learning end to end on a 32-atom Li2S-P2S5 cell: the real teacher (SevenNet-0, ~0.2 s a
frame here), real NequIP students (tiny: 8 features, 2 epochs, so each trains in ~10 s), real ASE MD.

The trust window is set wide open below (every frame "uncertain") because students this small
disagree far beyond DP-GEN's 0.05/0.15 eV/Å: the tests check the loop's bookkeeping (labels,
retrains, restarts, resume, failures), not the physics, which is docs/benchmarks/mlip-li3ps4.md's job.
"""

from __future__ import annotations

import json

import pytest
from ase.io import read

from amala.core.composition import parse_composition
from amala.oracles.md.cells import build
from amala.oracles.mlip.labelled_frames import frame_id
from amala.oracles.mlip.nequip_student import StudentSpec
from amala.oracles.mlip.on_the_fly import OnTheFly, OnTheFlySpec
from amala.oracles.mlip.teachers import TeacherFailed, TeacherSpec, make_teacher

TINY = StudentSpec(num_features=8, num_layers=2, radial_mlp_width=8, epochs=2, patience=None, r_max=4.0)


def settings(**overrides) -> OnTheFlySpec:
    base = dict(trust_lo_eV_A=1e-6, trust_hi_eV_A=1e3, committee_size=2, seed_frames=4, segment_steps=40,
                observe_every=5, min_spacing=5, per_round=3, budget=10, window=4, converged_fraction=0.0,
                explore_temperatures_K=[600.0, 900.0], max_rounds=5)
    return OnTheFlySpec(**{**base, **overrides})


@pytest.fixture(scope="module")
def teacher():
    return make_teacher(TeacherSpec())


@pytest.fixture(scope="module")
def cell():
    return build(parse_composition("Li2S:0.75;P2S5:0.25"), 1.9, 32, seed=3).atoms


class Counting:
    """The real teacher, counting the frames it is asked about; `fail_on` calls raise TeacherFailed,
    `kill_after` raises KeyboardInterrupt at that call, as a kill in the middle of a run would stop it."""

    def __init__(self, teacher, fail_on=(), kill_after=None):
        self.teacher, self.fail_on, self.kill_after = teacher, set(fail_on), kill_after
        self.asked: list[str] = []

    def __getattr__(self, name):
        return getattr(self.teacher, name)

    def label(self, atoms):
        if self.kill_after is not None and len(self.asked) == self.kill_after:
            raise KeyboardInterrupt
        self.asked.append(frame_id(atoms))
        if len(self.asked) in self.fail_on:
            raise TeacherFailed("sevennet:7net-0: SCF did not converge (injected by the test)")
        return self.teacher.label(atoms)


@pytest.mark.md
@pytest.mark.mlip
def test_one_cycle_labels_retrains_and_records_every_decision(tmp_path, teacher, cell):
    counting = Counting(teacher, fail_on={6})  # the 2nd frame from MD fails: recorded, the run goes on
    result = OnTheFly(tmp_path, counting, TINY, settings(), seed=1).run(cell)

    assert result.stop_reason.startswith("teacher budget spent")
    assert result.teacher_calls == len(counting.asked) == 10 and len(set(counting.asked)) == 10
    failures = result.store.failures()
    assert len(failures) == 1 and "SCF did not converge" in failures[0]["reason"]
    assert failures[0]["source"].startswith("md:")
    sources = [f.info["source"] for f in result.store.frames()]
    assert sum(s.startswith("seed:") for s in sources) == 4 and sum(s.startswith("md:") for s in sources) == 5
    # a committee per set of labels: 4 seed labels, then +2 (one failed), +3
    assert [r["labels"] for r in result.rounds] == [4, 6, 9]
    assert all(m["force_mae_meV_A"] > 0 for r in result.rounds for m in r["members"])
    assert result.log.selected == 6 and result.log.seen == result.log.uncertain
    decisions = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert len(decisions) == result.log.seen and {d["action"] for d in decisions} <= {"label", "continue"}
    assert all(d["deviation_eV_A"] > 0 for d in decisions)
    assert 0 < result.labelled_fraction <= 1 and result.md_steps > 0


@pytest.mark.md
@pytest.mark.mlip
def test_an_untrusted_frame_restarts_and_seed_md_calls_are_counted(tmp_path, teacher, cell):
    """Everything above 2e-3 eV/Å is untrusted: every check restarts the trajectory from the last trusted
    frame with fresh velocities, and the untrusted frames go to the teacher while the budget allows.

    The seed frames here come from a short MD with the teacher (a random start cell is far from
    anything students learn from rattled copies): every MD step is a teacher call, kept or not."""
    s = settings(trust_lo_eV_A=1e-3, trust_hi_eV_A=2e-3, seed_md_stride=2, budget=8)
    result = OnTheFly(tmp_path, teacher, TINY, s, seed=2).run(cell)
    sources = [f.info["source"] for f in result.store.frames()]
    assert sum(src.startswith("seed-md:") for src in sources) == 4
    # steps 0, 2, 4, 6 kept as labels; the forces of steps 1, 3, 5 were computed and are counted too
    assert result.teacher_md_calls == 3
    # a tiny student's trajectory may also run hot (> 2.5x its target): restarted too, but never labelled
    assert result.log.restarts == result.log.untrusted == result.log.seen >= 1 and result.log.selected == 1
    decisions = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    # each trajectory stops at its first check (every 5 steps) and the segment (40 steps) goes on from the
    # last trusted frame: none runs on into nonsense
    assert [d["action"] for d in decisions] == ["restart"] * 8 and result.md_steps == 40
    assert result.teacher_calls == 8 and sources[-1].startswith("md:")  # + one untrusted frame (the budget)
    assert result.stop_reason == "teacher budget spent (8 calls)"


@pytest.mark.md
@pytest.mark.mlip
def test_a_killed_run_resumes_without_asking_the_teacher_again(tmp_path, teacher, cell):
    first = Counting(teacher, kill_after=5)  # 4 seed frames and 1 of the 3 from MD, then the process dies
    with pytest.raises(KeyboardInterrupt):
        OnTheFly(tmp_path, first, TINY, settings(budget=7), seed=1).run(cell)
    second = Counting(teacher)
    result = OnTheFly(tmp_path, second, TINY, settings(budget=7), seed=1).run(cell)
    assert not set(first.asked) & set(second.asked), "a frame was labelled twice"
    assert len(second.asked) == 2  # the two selected frames the kill left unlabelled, and nothing else
    assert result.teacher_calls == len(first.asked) + len(second.asked) == 7
    ids = [f.info["frame_id"] for f in read(result.store.labels_path, index=":")]
    assert len(ids) == len(set(ids)) == 7
    # the committee trained before the kill (4 seed labels) was read back, not trained again
    assert [r["labels"] for r in result.rounds][0] == 4
    assert len(list(tmp_path.glob("committee_*_labels_*"))) == len(result.rounds)



def test_settings_that_cannot_work_fail_in_one_line():
    with pytest.raises(ValueError, match="trust_lo_eV_A .* must be below trust_hi_eV_A"):
        OnTheFlySpec(trust_lo_eV_A=0.2, trust_hi_eV_A=0.1)
    with pytest.raises(ValueError, match="budget: 20 teacher calls, fewer than the 31 the seed frames take"):
        OnTheFlySpec(seed_frames=4, seed_md_stride=10, budget=20)
