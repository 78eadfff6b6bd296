"""Learning a machine-learned potential on the fly: explore with a committee, ask the teacher only when it disagrees.

The loop (DP-GEN's explore / label / train, with FLARE-style uncertainty in the MD itself):
1. seed: a few rattled and strained copies of the starting cell are labelled by the teacher;
2. train a committee of students on everything labelled so far (`student.train_ensemble`: the kind the
   student settings name, NequIP by default);
3. explore: MD with the committee's mean forces, at the exploration temperatures in turn; every
   `observe_every` steps the committee's force deviation sorts the frame (`committee.FrameSelector`):
   trusted -> go on; uncertain -> keep it for the teacher; untrusted -> stop this trajectory and go
   back to the last trusted frame (with fresh velocities) instead of sampling nonsense; an untrusted
   frame goes to the teacher itself when the round has room (early on, when the students know little,
   nearly every frame is untrusted and these are the frames there are to learn from);
4. label the kept frames, retrain, explore again; stop once the frames over the last window were
   (almost) all trusted, or the teacher-call budget is spent.

It avoids the known pains of such loops: the teacher is called on a few frames, not every step
(FLARE#274 also ran away in temperature: a trajectory hotter than `runaway_factor` x its target is
treated as untrusted); a kill loses at most the MD segment and the one teacher call in flight, and a
resume repeats no teacher call (DP-GEN#1678): labels live in `labelled_frames.FrameStore`, keyed by
the frame, and the loop's own state (round, selector counts, the current frame, frames waiting for
the teacher) is written atomically at every boundary. Every decision is appended to
`decisions.jsonl` (one JSON line per observed frame) and summed in the selector's log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated

import numpy as np
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.optimize import FIRE
from pydantic import Field, model_validator

from amala.core.atomic_files import write_atoms, write_text
from amala.core.plugins import Float, Int, PluginSpec, Spec
from amala.oracles.md import ase_engine as ase_md
from amala.oracles.mlip.committee import Action, FrameSelector, SelectionLog, TrustWindow
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.student import StudentEnsemble, train_ensemble
from amala.oracles.mlip.teachers import Teacher

log = logging.getLogger(__name__)

STATE = "state.json"
CURRENT = "current.extxyz"  # the frame the next exploration starts from, with its momenta
LAST_TRUSTED = "last_trusted.extxyz"
PENDING = "pending"  # frames selected for the teacher, not yet labelled: one extxyz file each


class OnTheFlyFailed(RuntimeError):
    """Nothing to learn from: the teacher labelled too few frames (each failure is in the frame store)."""


class _RoundFull(Exception):
    """Raised inside the MD step hook once enough frames wait for the teacher: label and retrain first."""


class OnTheFlySpec(Spec):
    """How the loop explores, asks and stops (the `on_the_fly` settings of the `mlip` oracle)."""

    trust_lo_eV_A: Float = Field(0.05, gt=0, le=5, description="committee force deviation below which a frame is "
                                 "trusted (DP-GEN's common value)")
    trust_hi_eV_A: Float = Field(0.15, gt=0, le=1e4, description="deviation from which a trajectory is stopped and "
                                 "restarted from its last trusted frame")
    committee_size: Int = Field(3, ge=2, le=16, description="students per committee, different seeds")
    bootstrap: bool = Field(False, description="members also train on resampled training sets")
    seed_frames: Int = Field(8, ge=2, le=1000, description="frames labelled before the first training")
    seed_md_stride: Int = Field(0, ge=0, le=10_000, description="0: the seed frames are rattled and strained copies "
                                "of the start cell; N: they are every N-th step of a short MD with the teacher "
                                "itself at the hottest exploration temperature (N x seed_frames teacher calls; "
                                "the frames a random start cell's students need to be stable at all)")
    rattle_A: Float = Field(0.1, ge=0, le=1, description="Å: displacement spread of the seed frames")
    strain: Float = Field(0.03, ge=0, le=0.2, description="largest isotropic strain of a seed frame")
    explore_temperatures_K: list[Annotated[Float, Field(ge=100, le=5000)]] | None = Field(
        None, min_length=1, max_length=20, description="K, in turn per exploration segment (the mlip oracle: melt and "
        "production temperatures of its MD profile); each within 100-5000 K: colder, the MD samples nothing the "
        "production runs need (they run at 500-1500 K); hotter, no glass melt is that hot")
    timestep_fs: Float = Field(1.0, gt=0, le=5)
    segment_steps: Int = Field(1000, ge=1, le=10_000_000, description="MD steps per exploration segment")
    observe_every: Int = Field(10, ge=1, le=100_000, description="MD steps between two committee checks")
    min_spacing: Int = Field(50, ge=1, le=1_000_000, description="MD steps between two frames sent to the teacher")
    per_round: Int = Field(10, ge=1, le=10_000, description="labels before the students retrain")
    budget: Int = Field(300, ge=2, le=1_000_000, description="teacher calls in all, seed frames included")
    window: Int = Field(100, ge=1, le=1_000_000, description="observed frames over which convergence is judged")
    converged_fraction: Float = Field(0.01, ge=0, le=1, description="converged when at most this fraction of the "
                                      "window was not trusted")
    max_rounds: Int = Field(30, ge=1, le=10_000, description="committees trained at most")
    runaway_factor: Float = Field(2.5, gt=1, le=100, description="a trajectory hotter than this x its target has run "
                                  "away (FLARE#274): treated as untrusted")
    holdout_fraction: Float = Field(0.1, gt=0, lt=1, description="labels kept out of training to measure the "
                                    "students' errors")

    @model_validator(mode="after")
    def _consistent(self):
        if not self.trust_lo_eV_A < self.trust_hi_eV_A:
            raise ValueError(f"trust_lo_eV_A ({self.trust_lo_eV_A}) must be below trust_hi_eV_A "
                             f"({self.trust_hi_eV_A}) eV/Å")
        seeding = self.seed_md_stride * (self.seed_frames - 1) + 1 if self.seed_md_stride else self.seed_frames
        if seeding > self.budget:
            raise ValueError(f"budget: {self.budget} teacher calls, fewer than the {seeding} the seed frames take")
        return self


@dataclass
class OnTheFlyResult:
    committee: StudentEnsemble
    store: FrameStore
    log: SelectionLog
    rounds: list[dict]  # per trained committee: round, n_train, n_val, held-out MAEs per member
    converged: bool
    stop_reason: str
    md_steps: int
    folder: Path
    teacher_md_calls: int = 0  # steps of the teacher's own seed MD not kept as labels
    prefix: str = ""  # the sources of this run's frames start with it (a store shared by several runs)

    @property
    def teacher_calls(self) -> int:
        """This run's teacher calls (labels, failures, the seed MD's other steps), not other runs' in a shared store."""
        return self.store.calls_from(self.prefix) + self.teacher_md_calls

    @property
    def labelled_fraction(self) -> float:
        """Teacher calls on MD frames per MD step taken (the "fraction of MD steps labelled")."""
        return self.store.calls_from(self.prefix + "md:") / self.md_steps if self.md_steps else math.nan

    @property
    def uncertain_fraction(self) -> float | None:
        """Of the frames the exploration observed, the fraction the committee did not trust."""
        return (self.log.uncertain + self.log.untrusted) / self.log.seen if self.log.seen else None

    def record(self) -> dict:
        return {"teacher_calls": self.teacher_calls, "labelled": len(self.store), "md_steps": self.md_steps,
                "labelled_fraction": self.labelled_fraction, "converged": self.converged,
                "stop_reason": self.stop_reason, "decisions": self.log.as_dict(), "rounds": self.rounds,
                "uncertain_fraction": self.uncertain_fraction, "labels_file": str(self.store.labels_path)}


@dataclass
class _State:
    round: int = 0
    md_steps: int = 0
    segments: int = 0
    teacher_md_calls: int = 0  # teacher calls of the seed MD whose frames were not kept as labels
    seed_md_started: bool = False
    labels_at_start: int | None = None  # labels in the store when this run first started (a grown potential's)
    seed: bool = True  # label seed frames first: no committee yet, or this cell holds elements it never saw
    rounds: list[dict] = field(default_factory=list)
    selector: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> _State | None:
        path = folder / STATE
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:  # starting over would lose the selector's counts and the budget
            raise OnTheFlyFailed(f"{path}: unreadable on-the-fly state ({exc}); move it away to start over") from None
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})

    def save(self, folder: Path) -> None:
        write_text(folder / STATE, json.dumps(asdict(self), indent=1))


class OnTheFly:
    """One on-the-fly learning run in `folder`; `run(start)` resumes whatever an earlier run left there.

    By default the run owns its labels (`folder/frames`) and committees. A campaign that grows one
    potential over many compositions (`growing_potential`) passes its shared `store` and `committees`
    folder instead and a `tag` per candidate: the run then starts from the committee of every label so
    far, skips the seed frames when that committee knows the cell's elements, and counts (budget,
    teacher calls, labelled fraction) only the calls whose sources carry its tag."""

    def __init__(self, folder: Path, teacher: Teacher, student: PluginSpec, settings: OnTheFlySpec | None = None,
                 seed: int = 0, device: str = "cpu", store: FrameStore | None = None,
                 committees: Path | None = None, tag: str = ""):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.teacher, self.student, self.seed, self.device = teacher, student, seed, device
        self.settings = settings or OnTheFlySpec()
        self.store = store if store is not None else FrameStore(self.folder / "frames")  # an empty store is falsy
        self.committees = Path(committees or self.folder)
        self.prefix = f"{tag}/" if tag else ""

    def _calls(self, state: _State) -> int:
        return self.store.calls_from(self.prefix) + state.teacher_md_calls

    # --- the loop ------------------------------------------------------------------------------------

    def run(self, start: Atoms) -> OnTheFlyResult:
        s = self.settings
        state = _State.load(self.folder) or self._first_state(start)
        selector = self._selector(state.selector)
        if state.seed:
            self._label_seed_frames(start, state)
        if len(self.store) < 2:
            reasons = "; ".join(f["reason"] for f in self.store.failures()[:2]) or "no frame"
            raise OnTheFlyFailed(f"the teacher labelled {len(self.store)} of {self.store.calls} seed frames "
                                 f"(need 2: one to train on, one held out): {reasons}")
        current = self._read(CURRENT) or start.copy()
        last_trusted = self._read(LAST_TRUSTED) or current.copy()
        self._label_pending(selector)  # frames a killed run had selected but not all labelled
        selector.spent = self._calls(state)  # the budget counts every teacher call of this run
        committee, stop = None, ""
        while True:
            committee = self._train(state)  # reads back the committee when no label was added
            if selector.converged:
                stop = f"converged: {s.converged_fraction:.0%} or fewer of the last {s.window} frames uncertain"
            elif selector.budget_spent or self._calls(state) >= s.budget:
                stop = f"teacher budget spent ({self._calls(state)} calls)"
            elif state.round >= s.max_rounds or state.segments >= 10 * s.max_rounds:
                stop = f"{state.round} rounds, {state.segments} MD segments without convergence"
            if stop:
                break
            if not (self.folder / CURRENT).is_file():  # the first segment: not from a raw random packing
                current = last_trusted = self._settled(current, committee)
            current, last_trusted = self._explore(committee, selector, state, current, last_trusted)
            self._save(state, selector, current, last_trusted)
            out_of_budget = selector.spent + len(selector.pending) >= s.budget
            if selector.round_full or out_of_budget or selector.converged or state.segments >= 10 * s.max_rounds:
                self._label_pending(selector)  # then retrain: a round's labels teach the next committee
                state.selector = selector.state()
                state.save(self.folder)
        log.info("on-the-fly learning stopped: %s", stop)
        state.selector = selector.state()
        state.save(self.folder)
        return OnTheFlyResult(committee, self.store, selector.log, state.rounds, selector.converged, stop,
                              state.md_steps, self.folder, state.teacher_md_calls, self.prefix)

    def _first_state(self, start: Atoms) -> _State:
        """A new run: seed frames only when there is no committee yet or the cell has an element no label has."""
        known = {s for frame in self.store.frames() for s in frame.get_chemical_symbols()}
        state = _State(labels_at_start=len(self.store),
                       seed=len(self.store) < 2 or not set(start.get_chemical_symbols()) <= known)
        state.save(self.folder)
        return state

    def _explore(self, committee: StudentEnsemble, selector: FrameSelector, state: _State, current: Atoms,
                 last_trusted: Atoms) -> tuple[Atoms, Atoms]:
        """One MD segment with the committee; returns where the next one starts and the last trusted frame."""
        s = self.settings
        temperatures = s.explore_temperatures_K or [600.0, 900.0, 1200.0]
        T = temperatures[state.segments % len(temperatures)]
        state.segments += 1
        atoms = current.copy()
        atoms.calc = committee.calculator()
        if not atoms.get_momenta().any():
            rng = np.random.default_rng([self.seed, state.segments])
            MaxwellBoltzmannDistribution(atoms, temperature_K=T, rng=rng)
            Stationary(atoms)
        dyn = Langevin(atoms, s.timestep_fs * units.fs, temperature_K=T, friction=0.01 / units.fs, fixcm=False,
                       rng=np.random.default_rng([self.seed, state.segments, 1]))
        first = state.md_steps
        decisions = open(self.folder / "decisions.jsonl", "a")
        trusted_snapshot = [last_trusted]
        restart_rng = np.random.default_rng([self.seed, state.segments, 2])

        def observe():
            if dyn.nsteps == 0:
                return  # the starting frame: judged already (end of the last segment, a trusted or a seed frame)
            step = first + dyn.nsteps
            deviation = float(atoms.calc.results["force_deviation"])
            hot = atoms.get_temperature() > s.runaway_factor * T
            action = selector.observe(step, math.inf if hot else deviation)
            decisions.write(json.dumps({"step": step, "T_K": T, "deviation_eV_A": deviation,
                                        "temperature_K": round(atoms.get_temperature(), 1),
                                        "action": action.value}) + "\n")
            if action is Action.CONTINUE and selector.last_trusted_step == step:
                trusted_snapshot[0] = _snapshot(atoms)
            elif action is Action.LABEL or (action is Action.RESTART and not hot and not selector.round_full
                                            and selector.take(step)):
                frame = _plain(atoms)
                frame.info["source"] = f"{self.prefix}md:round{state.round}:step{step}:T{T:g}"
                (self.folder / PENDING).mkdir(exist_ok=True)
                write_atoms(self.folder / PENDING / f"{step:012d}.extxyz", frame)
            if action is Action.RESTART:  # back to the last trusted frame, with fresh velocities: a new trajectory
                trusted = trusted_snapshot[0]
                atoms.set_cell(trusted.cell)
                atoms.set_positions(trusted.get_positions())
                MaxwellBoltzmannDistribution(atoms, temperature_K=T, rng=restart_rng)
                Stationary(atoms)
            if selector.round_full:
                raise _RoundFull

        dyn.attach(observe, interval=s.observe_every)
        after = None
        try:
            dyn.run(s.segment_steps)
        except _RoundFull:
            pass
        except Exception as exc:  # the committee's MD broke between two checks (NaN positions, a neighbour list)
            log.warning("exploration at %g K stopped at step %d (%s); next from the last trusted frame", T,
                        first + dyn.nsteps, " ".join(str(exc).split())[:200])
            after = trusted_snapshot[0].copy()
            after.set_momenta(np.zeros((len(after), 3)))  # fresh velocities next segment
        finally:
            decisions.close()
        state.md_steps = first + dyn.nsteps
        return after or _snapshot(atoms), trusted_snapshot[0]

    def _settled(self, start: Atoms, committee: StudentEnsemble) -> Atoms:
        """The start cell with its overlaps relaxed away by the committee (as `ase_md.melt_quench` does
        before its melt). A random packing's overlaps would otherwise turn into heat within a few steps:
        every trajectory ran past `runaway_factor` x T, was restarted from that same cell, and nothing was
        ever labelled (seen with a grown potential meeting a new composition without seed frames)."""
        atoms = _plain(start)
        atoms.calc = committee.calculator()
        try:
            FIRE(atoms, logfile=None).run(fmax=ase_md.RELAX_FMAX_EV_A, steps=ase_md.RELAX_STEPS)
        except Exception as exc:  # a committee that cannot relax it: explore from the cell as it is
            log.warning("relaxing the start cell with the committee failed (%s); exploring from it as is",
                        " ".join(str(exc).split())[:200])
            return start.copy()
        settled = _snapshot(atoms)
        settled.set_momenta(np.zeros((len(settled), 3)))  # fresh velocities at the first segment's T
        return settled if np.all(np.isfinite(settled.positions)) else start.copy()

    # --- labels and training -------------------------------------------------------------------------

    def _label_seed_frames(self, start: Atoms, state: _State) -> None:
        """The first training set. Rattled copies (seeded: the same ones on every resume, so those
        already labelled are found in the store) or a short MD with the teacher (rerun only if it did not
        finish: its kept frames are then found in the store, its other steps are counted again)."""
        s = self.settings
        rng = np.random.default_rng([self.seed, 7])
        if s.seed_md_stride:
            if not state.seed_md_started:  # never twice: a killed seed MD keeps what it labelled and counted
                self._teacher_md(start, state, rng)
            return
        for k in range(s.seed_frames):
            frame = start.copy()
            scale = 1 + rng.uniform(-s.strain, s.strain)
            frame.set_cell(frame.cell * scale, scale_atoms=True)
            frame.positions += rng.normal(0, s.rattle_A, frame.positions.shape)
            frame.wrap()
            self.store.label(self.teacher, _plain(frame), source=f"{self.prefix}seed:{k}")

    def _teacher_md(self, start: Atoms, state: _State, rng: np.random.Generator) -> None:
        s = self.settings
        T = max(s.explore_temperatures_K or [1200.0])
        atoms = _plain(start)
        atoms.calc = self.teacher.calculator()
        MaxwellBoltzmannDistribution(atoms, temperature_K=T, rng=rng)
        Stationary(atoms)
        dyn = Langevin(atoms, s.timestep_fs * units.fs, temperature_K=T, friction=0.02 / units.fs, fixcm=False,
                       rng=rng)
        state.seed_md_started = True
        state.save(self.folder)

        def keep():  # every stride-th step is stored; the steps between are counted as the calls they were
            frame = _plain(atoms)
            frame.calc = SinglePointCalculator(frame, **{k: v for k, v in atoms.calc.results.items()
                                                         if k in ("energy", "forces", "stress")})
            if self.store.keep(self.teacher, frame, source=f"{self.prefix}seed-md:step{dyn.nsteps}:T{T:g}") is None:
                raise OnTheFlyFailed(f"the teacher's MD gave non-finite forces at step {dyn.nsteps}")
            state.teacher_md_calls = dyn.nsteps - (dyn.nsteps // s.seed_md_stride)  # steps not kept as labels
            state.save(self.folder)

        dyn.attach(keep, interval=s.seed_md_stride)
        try:
            dyn.run(s.seed_md_stride * (s.seed_frames - 1))
        except Exception as exc:  # the teacher cannot run MD from this cell: say so, keep what was labelled
            log.warning("teacher MD for the seed frames stopped at step %d: %s", dyn.nsteps, exc)
        if not (self.folder / CURRENT).is_file():  # exploration starts from the teacher's melt, not the random cell
            write_atoms(self.folder / CURRENT, _snapshot(atoms))

    def _label_pending(self, selector: FrameSelector) -> int:
        """Label the frames waiting in pending/ (one file each, written atomically), oldest first; a
        file goes once its frame is stored, so a kill in the middle leaves only the unlabelled ones."""
        folder = self.folder / PENDING
        before = self.store.calls
        for path in sorted(folder.glob("*.extxyz")) if folder.is_dir() else []:
            frame = read(path)
            self.store.label(self.teacher, frame, source=str(frame.info.get("source", "md")))
            path.unlink()
        calls = self.store.calls - before
        selector.labelled(calls)
        return calls

    def _train(self, state: _State) -> StudentEnsemble:
        """The committee on every label so far. Its folder is named by the number of labels, so a
        resumed run reads back a committee already trained on the same frames instead of retraining."""
        n = len(self.store)
        train, held_out = self.store.split(self.settings.holdout_fraction)
        s = self.settings
        key = hashlib.sha256(repr(([f.info["frame_id"] for f in train], [f.info["frame_id"] for f in held_out],
                                   s.committee_size, s.bootstrap)).encode()).hexdigest()[:8]
        committee = train_ensemble(train, held_out, self.student, size=s.committee_size, seed=self.seed,
                                   folder=self.committees / f"committee_{n:05d}_labels_{key}", device=self.device,
                                   bootstrap=s.bootstrap)
        if not state.rounds or state.rounds[-1]["labels"] != n:
            state.rounds.append({"round": len(state.rounds), "labels": n, **committee.record()})
            state.round = len(state.rounds)
            state.save(self.folder)
        return committee

    # --- state ----------------------------------------------------------------------------------------

    def _selector(self, saved: dict) -> FrameSelector:
        s = self.settings
        return FrameSelector.restore(saved, trust=TrustWindow(s.trust_lo_eV_A, s.trust_hi_eV_A),
                                     min_spacing=s.min_spacing, per_round=s.per_round, budget=s.budget,
                                     window=s.window, converged_fraction=s.converged_fraction)

    def _save(self, state: _State, selector: FrameSelector, current: Atoms, last_trusted: Atoms) -> None:
        """Everything the next segment needs, written before the teacher is asked about the pending frames."""
        for name, atoms in ((CURRENT, current), (LAST_TRUSTED, last_trusted)):
            write_atoms(self.folder / name, atoms)
        state.selector = selector.state()
        state.save(self.folder)

    def _read(self, name: str) -> Atoms | None:
        path = self.folder / name
        return read(path) if path.is_file() else None


def _snapshot(atoms: Atoms) -> Atoms:
    """A copy with positions and momenta, without the calculator (which holds the whole committee)."""
    frame = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions(), cell=atoms.cell, pbc=atoms.pbc,
                  momenta=atoms.get_momenta(), info=dict(atoms.info))
    return frame


def _plain(atoms: Atoms) -> Atoms:
    """The frame as the teacher sees it: wrapped into the cell, no momenta."""
    frame = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions(), cell=atoms.cell, pbc=atoms.pbc,
                  info=dict(atoms.info))
    frame.wrap()
    return frame
