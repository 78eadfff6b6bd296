"""A committee of machine-learned potentials: how much its members disagree on a frame (the uncertainty),
the committee as one ASE calculator, and what the on-the-fly loop does with the disagreement.

"Committee" means two things in this engine, both here: the disagreement measure with its trust levels,
and `CommitteeCalculator`, any list of ASE calculators driven as one (its mean) that reports the
disagreement with every evaluation. The members it is built from in production are a trained
`student.StudentEnsemble` (students of one kind that differ by seed), whose `calculator()` is a
`CommitteeCalculator`; this module knows nothing of how they were trained.

On-the-fly learning (DP-GEN, FLARE; Wang et al. 2023 for amorphous Li3PS4) runs MD with a committee of
students and asks the teacher (a universal potential or DFT) only about frames where the committee
disagrees. The disagreement is DP-GEN's `max_devi_f` (`force_deviation`): for each atom, the root-mean-square
distance of the members' force vectors from their mean; the frame's value is the largest over atoms (one
badly described Li hop is what ruins a trajectory, not the average atom). The committee calculator reports
it for every MD step it evaluates, so the loop reads it without evaluating the frame a second time.

`TrustWindow` sorts frames into three classes (DP-GEN's common 0.05 / 0.15 eV/Å as defaults):
- below `lo`: trusted, the students agree; the frame teaches nothing new;
- from `lo` to `hi`: uncertain, worth a teacher call;
- from `hi` up: untrusted, the trajectory has left what the students know. Going on would sample
  nonsense (FLARE#274's runaway temperatures), so the trajectory restarts from its last trusted frame.

`FrameSelector` applies that to a running trajectory and keeps the count of every decision, so a
run's log says how many frames were seen, selected and restarted, and when the loop converged.
All of it is independent of the MD engine and of the potentials' kind, so it is tested on synthetic
forces and cheap ASE calculators.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

__all__ = ["Action", "CommitteeCalculator", "ExplodedStructure", "FrameSelector", "SelectionLog", "Trust",
           "TrustWindow", "force_deviation"]


def force_deviation(forces: np.ndarray) -> float:
    """Max over atoms of the committee's RMS force deviation from its mean [eV/Å].

    `forces`: (members, atoms, 3) in eV/Å. With one member there is no disagreement to measure."""
    forces = np.asarray(forces, dtype=float)
    if forces.ndim != 3 or forces.shape[2] != 3:
        raise ValueError(f"committee forces: expected shape (members, atoms, 3), got {forces.shape}")
    if forces.shape[0] < 2:
        raise ValueError(f"committee forces: {forces.shape[0]} member(s); a deviation needs at least 2")
    if not np.isfinite(forces).all():
        return float("inf")  # a member that blew up is the strongest disagreement there is
    spread = forces - forces.mean(axis=0, keepdims=True)
    per_atom = np.sqrt((spread**2).sum(axis=2).mean(axis=0))
    return float(per_atom.max())


class CommitteeCalculator(Calculator):
    """The committee's mean energy, forces and stress, with its disagreement in the same results.

    `results["force_deviation"]` (eV/Å, see `force_deviation`) and `results["energy_std"]` (eV/atom, the
    members' energy spread divided by the atom count) come with every evaluation, so MD driven by this
    calculator knows the uncertainty of each step it took without evaluating the frame again.
    Members are any ASE calculators (NequIP students in production, anything cheap in tests)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, members: list[Calculator], **kwargs):
        super().__init__(**kwargs)
        if len(members) < 2:
            raise ValueError(f"committee calculator: {len(members)} member(s); a deviation needs at least 2")
        self.members = list(members)

    def member_predictions(self, atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Each member's (energy eV (M,), forces eV/Å (M, N, 3), stress eV/Å³ Voigt (M, 6) or None); the
        stress only for a cell periodic in all three directions and when every member gives one."""
        energies, forces, stresses = [], [], []
        for member in self.members:
            energies.append(member.get_potential_energy(atoms))
            forces.append(member.get_forces(atoms))
            if stresses is not None and atoms.pbc.all():
                try:
                    stresses.append(member.get_stress(atoms))
                except PropertyNotImplementedError:
                    stresses = None
            else:
                stresses = None
        return (np.array(energies, dtype=float), np.array(forces, dtype=float),
                None if stresses is None else np.array(stresses, dtype=float))

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        _check_positions(self.atoms)
        energies, forces, stresses = self.member_predictions(self.atoms)
        energy = float(energies.mean())
        self.results = {"energy": energy, "free_energy": energy, "forces": forces.mean(axis=0),
                        "force_deviation": force_deviation(forces),
                        "energy_std": float(energies.std()) / len(self.atoms)}
        if stresses is not None:
            self.results["stress"] = stresses.mean(axis=0)
        elif "stress" in properties:
            raise PropertyNotImplementedError("committee stress: needs a 3D-periodic cell and members that give one")


class ExplodedStructure(ValueError):
    """Atoms with non-finite positions, or flown far outside their cell: an MD step that blew up."""


MAX_CELL_LENGTHS = 100.0  # an atom further than this many cell lengths from the cell has flown away


def _check_positions(atoms) -> None:
    """Refuse a blown-up frame before the members see it: a neighbour list built on atoms thousands of
    cell lengths apart (one huge-force step of an untrained student) does not fail, it hangs
    (matscipy's, seen here on a 64-atom cell), and a hang is what no MD loop can recover from."""
    positions = atoms.get_positions()
    if not np.isfinite(positions).all():
        raise ExplodedStructure("non-finite atomic positions: the MD step blew up")
    if atoms.cell.rank == 3:
        scaled = atoms.cell.scaled_positions(positions)
        if np.abs(scaled).max() > MAX_CELL_LENGTHS:
            raise ExplodedStructure(f"an atom is {np.abs(scaled).max():.3g} cell lengths from the cell: the MD "
                                    "step blew up")


class Trust(str, Enum):
    TRUSTED = "trusted"
    UNCERTAIN = "uncertain"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True)
class TrustWindow:
    lo: float = 0.05  # eV/Å: below, the committee agrees
    hi: float = 0.15  # eV/Å: from here on, the trajectory is stopped and restarted

    def __post_init__(self):
        if not 0 < self.lo < self.hi:
            raise ValueError(f"trust window: need 0 < trust_lo < trust_hi, got {self.lo} and {self.hi} eV/Å")

    def classify(self, deviation: float) -> Trust:
        if deviation < self.lo:
            return Trust.TRUSTED
        return Trust.UNCERTAIN if deviation < self.hi else Trust.UNTRUSTED


class Action(str, Enum):
    CONTINUE = "continue"  # trusted, or uncertain but not taken (spacing, budget, round full)
    LABEL = "label"  # send this frame to the teacher
    RESTART = "restart"  # untrusted: go back to the last trusted frame


@dataclass
class SelectionLog:
    """What the selector decided, frame by frame, summed: the numbers a run reports."""

    seen: int = 0
    trusted: int = 0
    uncertain: int = 0
    untrusted: int = 0
    selected: int = 0
    restarts: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class FrameSelector:
    """Decides, frame by frame, which frames the teacher labels.

    - an uncertain frame is selected unless the last selected one is fewer than `min_spacing` steps
      back (neighbouring MD frames are nearly the same structure: one label teaches what both would),
      the round already holds `per_round` frames, or the teacher-call budget is spent;
    - an untrusted frame asks for a restart from `last_trusted_step`;
    - `converged` once, over the last `window` frames seen, the fraction that were not trusted is
      at most `converged_fraction` (and at least `window` frames were seen).
    """

    trust: TrustWindow = field(default_factory=TrustWindow)  # eV/Å
    min_spacing: int = 10  # MD steps between two selected frames
    per_round: int = 20  # frames labelled before the students retrain
    budget: int = 500  # teacher calls in all (the whole campaign's MLIP bill)
    window: int = 200  # frames over which convergence is judged
    converged_fraction: float = 0.01
    log: SelectionLog = field(default_factory=SelectionLog)
    spent: int = 0  # teacher calls already made (restored on resume: calls are never repeated)
    pending: list[int] = field(default_factory=list)  # steps selected in this round, not yet labelled
    last_trusted_step: int | None = None
    _last_selected: int | None = None
    _recent: deque = field(default_factory=deque)

    def observe(self, step: int, deviation: float) -> Action:
        trust = self.trust.classify(deviation)
        self.log.seen += 1
        setattr(self.log, trust.value, getattr(self.log, trust.value) + 1)
        self._recent.append(trust is not Trust.TRUSTED)
        while len(self._recent) > self.window:
            self._recent.popleft()
        if trust is Trust.TRUSTED:
            self.last_trusted_step = step
            return Action.CONTINUE
        if trust is Trust.UNTRUSTED:
            self.log.restarts += 1
            return Action.RESTART
        spaced = self._last_selected is None or step - self._last_selected >= self.min_spacing
        if spaced and len(self.pending) < self.per_round and self.take(step):
            return Action.LABEL
        return Action.CONTINUE

    def take(self, step: int) -> bool:
        """Select this frame for the teacher if the budget allows. `observe` calls it for uncertain
        frames; the loop calls it for an untrusted frame when nothing else was selected, since a
        trajectory that keeps leaving what the students know, with no uncertain frame on the way,
        would otherwise restart forever without anything to learn from."""
        if self.spent + len(self.pending) >= self.budget:
            return False
        self.pending.append(step)
        self._last_selected = step
        self.log.selected += 1
        return True

    def state(self) -> dict:
        """What a resumed run needs to go on deciding as if it had never stopped (JSON-able)."""
        return {"log": self.log.as_dict(), "spent": self.spent, "last_trusted_step": self.last_trusted_step,
                "last_selected": self._last_selected, "recent": [bool(x) for x in self._recent]}

    @classmethod
    def restore(cls, saved: dict | None, **settings) -> FrameSelector:
        selector = cls(**settings)
        if saved:
            selector.log = SelectionLog(**saved["log"])
            selector.spent, selector.last_trusted_step = saved["spent"], saved["last_trusted_step"]
            selector._last_selected = saved["last_selected"]
            selector._recent = deque(saved["recent"], maxlen=None)
        return selector

    @property
    def round_full(self) -> bool:
        """Enough new frames for the students to retrain."""
        return len(self.pending) >= self.per_round

    def labelled(self, calls: int) -> None:
        """The round's frames went to the teacher (`calls` of them answered or failed): a new round."""
        self.spent += calls
        self.pending = []

    @property
    def budget_spent(self) -> bool:
        return self.spent >= self.budget

    @property
    def converged(self) -> bool:
        if len(self._recent) < self.window:
            return False
        return sum(self._recent) / len(self._recent) <= self.converged_fraction
