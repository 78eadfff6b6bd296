"""The `mlip` oracle's three failure reasons (issue 13): the teacher fails, the MD blows up, Li has no
diffusive regime. Each must come back as a failed `Evaluation` whose reason is one line naming the cause,
with the labels and the committee that exist kept, and the campaign going on (no exception).

Why stand-ins: a real chain costs ~10 minutes on these 2 shared cores (measured here: SevenNet-0 10-30 s a
48-atom label, ~25 s per NequIP student to train, 0.5 s per member per MD step uncompiled); it runs once,
in test_mlip_oracle.py. Here the oracle (`build_oracle`), its growing potential, the on-the-fly loop, the
label store, `Teacher.label`, the `StudentEnsemble` and its calculator, the ASE melt-quench-diffuse protocol and
the transport analysis are all real; only the physics under them is swapped, at two seams:
- the teacher's calculator (`Teacher._build`): Lennard-Jones (σ 2.5 Å, ε 0.1 eV; matscipy's, which comes
  with nequip), or one that raises;
- student training (`on_the_fly.train_ensemble`, a `nequip-train` subprocess per member): a real
  `StudentEnsemble` of `NequIPStudent` records whose calculators are Lennard-Jones members, with their held-out
  errors measured against the teacher's labels by the real `held_out_errors`.
This Lennard-Jones cell is a liquid at the `test` profile's 600-1200 K (Li diffuses, D ~1e-4 cm²/s), so
the whole protocol runs in seconds. The failures then arise where they would in a real run: in
`Teacher.label`, in `ase_md`'s temperature check, and in `md_analysis.diffusivity`, for which one more
seam is needed: no Lennard-Jones cell that cages Li survives this profile's fast quench (ε 0.2-0.5 eV
releases enough heat to trip the temperature check), and a trajectory caged after the fact (displacements
squashed to ~0.1 Å) still passed as diffusive at one temperature in 0.1 ps, so the trajectory handed to
the analysis (`md_analysis.transport_at`) is frozen at its first frame: ions that never leave their sites.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from matscipy.calculators.pair_potential import LennardJonesQuadratic, PairPotential

from amala.core.candidate import Candidate
from amala.loop.config import parse_config
from amala.oracles.md import analysis as md_analysis
from amala.oracles.mlip import on_the_fly
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.nequip_student import NequIPStudent, held_out_errors
from amala.oracles.mlip.student import StudentEnsemble
from amala.oracles.registry import build_oracle

CONFIG = {
    "name": "mlip_failures", "representation": "composition", "data": None,
    "objective": {"property": "log10_conductivity_300K", "transform": "none"},
    "agents": [{"kind": "composition", "bounds": {"Li2S": [0.6, 0.8], "P2S5": [0.2, 0.4]}}],
    "oracle": {"kind": "mlip", "profile": "test", "compile": False,
               "student": {"num_features": 8, "radial_mlp_width": 8, "epochs": 2, "patience": None, "r_max": 4.0},
               "on_the_fly": {"committee_size": 2, "trust_lo_eV_A": 1e-6, "trust_hi_eV_A": 1e3, "seed_frames": 4,
                              "segment_steps": 20, "observe_every": 5, "min_spacing": 5, "per_round": 2,
                              "budget": 4, "window": 4, "converged_fraction": 0.0}},
}
LI3PS4 = Candidate("Li2S:0.750000;P2S5:0.250000", kind="composition", agent="t")
LI7P3S11 = Candidate("Li2S:0.700000;P2S5:0.300000", kind="composition", agent="t")
SIGMA_A = 2.5  # LJ diameter: the 48-atom Li-P-S cell at 1.9 g/cm³ has ~2.7 Å between neighbours
EPSILON_EV = 0.1  # LJ well depth: liquid at 600-1200 K (kT 0.05-0.10 eV)
ELEMENTS = (3, 15, 16)  # Li, P, S
MOVED_A2 = 0.1  # Li's mean squared displacement over a production run of the liquid is well above this, Å²


class LJ(PairPotential):
    """Lennard-Jones between every pair of Li, P and S (matscipy's, vectorised: twice as fast as ASE's on 48 atoms),
    10% deeper per member k so that members disagree; k = 0 is the teacher's."""

    def __init__(self, k: int = 0):
        pair = LennardJonesQuadratic(EPSILON_EV * (1 + 0.1 * k), SIGMA_A, 2.5 * SIGMA_A)
        super().__init__({(a, b): pair for a in ELEMENTS for b in ELEMENTS if a <= b})


class FlakyTeacher(LJ):
    """A teacher calculator that answers its first call and then fails the way an SCF does (two lines)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def calculate(self, *args, **kwargs):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("SCF did not converge in 100 iterations\n(see the teacher's log)")
        super().calculate(*args, **kwargs)


class Diverging(LJ):
    """Member k, sound on a still cell, diverging once the atoms move (forces x`FACTOR` in MD), as an
    undertrained student's surface does off its training frames."""

    FACTOR = 100.0

    def calculate(self, atoms=None, *args, **kwargs):
        super().calculate(atoms, *args, **kwargs)
        if self.atoms.get_momenta().any():
            self.results["forces"] = self.results["forces"] * self.FACTOR


def oracle_with(tmp_path, monkeypatch, teacher, members=None):
    """The real oracle with the teacher's calculator `teacher` and, when `members` is given (a function
    k -> ASE calculator), committees of those members instead of trained NequIP students."""
    oracle = build_oracle(parse_config(copy.deepcopy(CONFIG)).oracle, workdir=tmp_path, seed=0)
    monkeypatch.setattr(oracle.teacher, "_build", lambda: teacher)

    def committee(train, val, spec, size=3, seed=0, folder=Path("committee"), device="cpu", **_):
        students, calculators = [], []
        for k in range(size):
            calculator = members(k)
            energy_mae, force_mae = held_out_errors(calculator, val)
            member = Path(folder) / f"member_{k}"
            member.mkdir(parents=True, exist_ok=True)
            students.append(NequIPStudent(member, member / "stand-in.ckpt", seed + k, len(train), len(val),
                                          energy_mae, force_mae, spec))
            calculators.append(calculator)
        return StudentEnsemble(students, device, _calculators=calculators)

    if members is not None:
        monkeypatch.setattr(on_the_fly, "train_ensemble", committee)
    return oracle


def assert_one_line_failure(evaluation, candidate):
    assert evaluation.status == "failed" and evaluation.candidate_key == candidate.key
    assert evaluation.reason and "\n" not in evaluation.reason and "Traceback" not in evaluation.reason
    assert not evaluation.values  # no D, σ, Ea: nothing half-measured is stored


def assert_committee_kept(evaluation):
    """The trained committee is a model version of the failed evaluation, with its labels on disk."""
    [committee] = evaluation.potentials
    assert committee["kind"] == "nequip_committee" and committee["size"] == 2 and committee["labels"] == 4
    assert committee["final"] and committee["candidate"] == LI3PS4.key
    assert Path(committee["labels_file"]).is_file() and len(FrameStore(Path(committee["labels_file"]).parent)) == 4
    assert evaluation.provenance["on_the_fly"]["teacher_calls"] == 4
    assert evaluation.provenance["potential"]["labels_after"] == 4


def test_a_failing_teacher_fails_the_candidate_in_one_line_and_the_next_one_is_still_evaluated(tmp_path,
                                                                                                monkeypatch):
    teacher = FlakyTeacher()
    oracle = oracle_with(tmp_path, monkeypatch, teacher)
    first, second = oracle.evaluate([LI3PS4, LI7P3S11])

    for evaluation, candidate in ((first, LI3PS4), (second, LI7P3S11)):
        assert_one_line_failure(evaluation, candidate)
        assert "teacher labelled 1 of" in evaluation.reason and "seed frames (need 2" in evaluation.reason
        # the teacher's own words, on one line, name the cause
        assert "sevennet:7net-0: RuntimeError: SCF did not converge in 100 iterations (see the teacher's log)" \
            in evaluation.reason
        assert not evaluation.potentials  # nothing was trained: no model version to keep
    assert teacher.calls == 8  # four seed frames each: the second candidate was not skipped
    # the one label the teacher gave and its seven failures stay in the campaign's store for the next attempt
    store = FrameStore(oracle.potential.folder / "labels")
    assert len(store) == 1 and len(store.failures()) == 7
    assert all("SCF did not converge" in f["reason"] and "\n" not in f["reason"] for f in store.failures())


@pytest.mark.md
def test_an_md_blow_up_fails_the_candidate_in_one_line_and_keeps_the_committee(tmp_path, monkeypatch):
    oracle = oracle_with(tmp_path, monkeypatch, LJ(), members=Diverging)
    [evaluation] = oracle.evaluate([LI3PS4])

    assert_one_line_failure(evaluation, LI3PS4)
    # ase_md's own temperature check caught it at the melt's first sample, and its words reach the store
    assert evaluation.reason.startswith("temperature ") and "during melt, target 1200 K: blown up" in evaluation.reason
    assert_committee_kept(evaluation)
    assert Path(evaluation.artefacts["folder"], "start.extxyz").is_file()


@pytest.mark.md
def test_no_diffusive_regime_fails_the_candidate_in_one_line_naming_each_temperature(tmp_path, monkeypatch):
    free_msd_A2: dict[float, float] = {}  # Li's mean squared displacement over the run before caging, Å²
    analyse = md_analysis.transport_at

    def caged(frames, masses, volume_A3, temperature_K, *rest, **options):
        moved = frames.positions - frames.positions[:1]
        free_msd_A2[temperature_K] = float((moved[-1, frames.symbols == "Li"] ** 2).sum(-1).mean())
        frames.positions[:] = frames.positions[:1]  # frozen: ions that do not leave their sites at all
        return analyse(frames, masses, volume_A3, temperature_K, *rest, **options)

    monkeypatch.setattr(md_analysis, "transport_at", caged)
    shared = LJ()  # both members on one calculator: no spread to measure here, and half the MD's cost
    oracle = oracle_with(tmp_path, monkeypatch, LJ(), members=lambda k: shared)
    [evaluation] = oracle.evaluate([LI3PS4])

    # the stand-in, not the run, is why: every production temperature ran, and in it Li did move
    assert sorted(free_msd_A2) == [600.0, 700.0, 800.0]
    assert all(msd > MOVED_A2 for msd in free_msd_A2.values()), free_msd_A2

    assert_one_line_failure(evaluation, LI3PS4)
    assert evaluation.reason.startswith("Li diffusive at only 0 of 3 temperatures (need 3 for an Arrhenius fit)")
    for T in (600, 700, 800):  # every production temperature ran and says why it gave no D
        assert f"{T} K: MSD is zero at some time: the ions do not move" in evaluation.reason
    assert_committee_kept(evaluation)
    md = Path(evaluation.artefacts["folder"], "md")
    # each temperature's Li trajectory is kept for a look at what the ions did
    assert sorted(p.name for p in md.glob("li_*K.extxyz.gz")) == [f"li_{T}K.extxyz.gz" for T in (600, 700, 800)]
    assert not np.isnan(evaluation.cost_seconds) and evaluation.cost_seconds > 0
