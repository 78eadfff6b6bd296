"""What the engine needs from a machine-learned potential (a "student"), and where the kinds come from.

The on-the-fly loop, the growing potential and the mlip oracle never name an architecture: they train
students through `train_ensemble`, drive MD with a `StudentEnsemble`'s committee calculator, compile its
members, and store the records the students give. A kind (NequIP today; MACE or Allegro next) is one
class satisfying `Student`, in its own module, plus one line in `STUDENTS`; its settings model is its
`Spec`, chosen in a config by `kind` (`settings_type`).

Three things in this engine are called committees; this module holds the one that is trained:
- `StudentEnsemble`: students of one kind trained on the same labels with different seeds (a trained
  ensemble, what DP-GEN calls the committee of models);
- `committee.CommitteeCalculator`: any list of ASE calculators driven as one, which the ensemble's
  `calculator()` returns;
- `committee.force_deviation` and `committee.TrustWindow`: how much the members disagree, and what that
  disagreement means for a frame.

Units: energies eV, forces eV/Å, stress eV/Å³ (ASE's), lengths Å; errors in meV/atom and meV/Å.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Protocol, Union

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from pydantic import BeforeValidator, Field

from amala.core.plugins import PluginSpec, Registry
from amala.oracles.mlip.committee import CommitteeCalculator

DEFAULT_KIND = "nequip"  # the kind of a `student` setting without `kind`, as before there were kinds
STUDENTS = Registry("student", "amala.students", {"nequip": "amala.oracles.mlip.nequip_student:NequIPStudent"})


def starts_from(settings) -> str | None:
    """The shipped student a campaign's students start from (the settings' `init`), None from scratch.
    Only kinds that have shipped students (NequIP) have an `init` setting; any other kind starts from
    scratch."""
    name = getattr(settings, "init", "scratch")
    return None if name == "scratch" else name


class StudentTrainingFailed(RuntimeError):
    """Training a student failed or timed out; the message is one line (the log's last error)."""


class Student(Protocol):
    """A trained potential and what it was measured to be worth, as the engine uses it.

    The class is the kind: it carries its settings (`Spec`, with `kind` its registry name), trains
    (`train`, `train_ensemble`: on teacher-labelled frames, a list or an extxyz file, measuring the
    held-out errors through its own calculator) and reads back a finished student (`load`), so that a
    resumed campaign never trains a finished student twice. An instance is one trained student."""

    Spec: ClassVar[type[PluginSpec]]
    kind: ClassVar[str]  # the registry name; its ensembles' records say "<kind>_committee"
    title: ClassVar[str]  # how records and logs name the architecture ("NequIP")

    folder: Path  # everything the student is, written by `save` (a folder holding one is finished)
    seed: int
    n_train: int
    n_val: int
    energy_mae_meV_atom: float  # held out, measured through `calculator`
    force_mae_meV_A: float
    compiled: Path | None  # a faster form for MD, when `compile` made one
    compile_error: str | None  # why `compile` did not, said once (a resume does not try again)

    def calculator(self, device: str = "cpu") -> Calculator:
        """An ASE calculator of this student (energy, forces and, for a periodic cell, stress)."""

    def record(self) -> dict:
        """Provenance, JSON-able: kind, seed, training set sizes, held-out errors, files, settings, version."""

    def save(self) -> None:
        """Write the record into `folder`, atomically: a half-written one must not pass for a finished student."""

    def compile(self, device: str = "cpu") -> Student:
        """This student made faster for MD, or itself with `compile_error` set; saved either way."""

    @classmethod
    def load(cls, folder: Path) -> Student:
        """The finished student `save` wrote into `folder`."""

    @classmethod
    def train(cls, train_frames: list[Atoms] | Path, val_frames: list[Atoms] | Path, spec: PluginSpec, seed: int,
              folder: Path, device: str = "cpu", timeout_s: float = 6 * 3600) -> Student:
        """One student in `folder` (returned untrained when the folder holds a finished one with these settings);
        raises StudentTrainingFailed in one line."""

    @classmethod
    def train_ensemble(cls, train_frames: list[Atoms] | Path, val_frames: list[Atoms] | Path, spec: PluginSpec,
                       size: int = 3, seed: int = 0, folder: Path = Path("committee"), device: str = "cpu",
                       bootstrap: bool = False, timeout_s: float = 6 * 3600) -> StudentEnsemble:
        """`size` students in folder/member_k with seeds seed+k (with `bootstrap`, each on its own resample of
        the training frames); finished members are reused."""


@dataclass
class StudentEnsemble:
    """Students of one kind that differ by seed (and optionally by training subset): the trained committee.
    Their spread is the uncertainty; `calculator()` drives MD with their mean and reports the spread."""

    members: list[Student]
    device: str = "cpu"
    _calculators: list | None = field(default=None, repr=False)

    @property
    def calculators(self) -> list:
        """One ASE calculator per member, built once."""
        if self._calculators is None:
            self._calculators = [member.calculator(self.device) for member in self.members]
        return self._calculators

    def calculator(self) -> CommitteeCalculator:
        """The ensemble as one ASE calculator (mean prediction plus `force_deviation`, `energy_std`)."""
        return CommitteeCalculator(self.calculators)

    def predict(self, atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Each member's (energy eV (M,), forces eV/Å (M, N, 3), stress eV/Å³ Voigt (M, 6) or None)."""
        return CommitteeCalculator(self.calculators).member_predictions(atoms)

    def compiled(self) -> StudentEnsemble:
        """The ensemble of the members' compiled forms (`Student.compile`)."""
        return StudentEnsemble([member.compile(self.device) for member in self.members], self.device)

    def record(self) -> dict:
        return {"kind": f"{type(self.members[0]).kind}_committee", "size": len(self.members),
                "members": [member.record() for member in self.members]}


def student_class(spec: PluginSpec) -> type[Student]:
    """The kind of student `spec` configures."""
    return STUDENTS[spec.kind]


def train_ensemble(train_frames: list[Atoms] | Path, val_frames: list[Atoms] | Path, spec: PluginSpec,
                   **settings) -> StudentEnsemble:
    """A trained ensemble of the kind `spec` configures (see `Student.train_ensemble` for `settings`)."""
    return student_class(spec).train_ensemble(train_frames, val_frames, spec, **settings)


def _with_kind(value):
    """A `student` mapping without `kind` is the default kind's, as configs were written before there were kinds."""
    return {"kind": DEFAULT_KIND, **value} if isinstance(value, dict) and "kind" not in value else value


def settings_type():
    """The `student` settings of the mlip oracle: one settings model per registered kind, chosen by `kind`."""
    specs = tuple(cls.Spec for cls in STUDENTS.classes().values())
    return Annotated[Annotated[Union[specs], Field(discriminator="kind")], BeforeValidator(_with_kind)]


def default_settings() -> PluginSpec:
    """The default kind's settings at their defaults."""
    return STUDENTS[DEFAULT_KIND].Spec()
