"""Teachers: the reference calculators whose labels (energy eV, forces eV/Å, stress eV/Å³) the students learn.

A teacher is any ASE calculator behind one small interface (`Teacher`): `label(atoms)` returns a labelled copy or
raises `TeacherFailed` with a one-line reason, never anything else, so an on-the-fly loop records a
failed call (SCF not converged, non-finite forces, a calculator error) and goes on instead of crashing.
Every label carries `provenance()`: which calculator, which model and package version, which level of
theory. A student trained on SevenNet-0 labels is only as good as SevenNet-0, and the store says so.

Each kind is one `Teacher` class registered in `TEACHERS` (what it builds, what its provenance says,
which of `TeacherSpec`'s names it accepts); `make_teacher` looks the kind up. Shipped kinds:
- `sevennet` (default): SevenNet-0, a universal MLIP trained on PBE/PBE+U (MPtrj). Only models shipped
  inside the sevenn wheel are accepted; the others download at run time, which these machines cannot.
- `tblite`: GFN1-xTB (periodic, semi-empirical): cheap, for tests and pre-screening.
- `gpaw`: PBE plane-wave DFT; an optional install (`make dft`), imported only when used.

The calculator is built once, on the first label (loading a model costs seconds), and reused.
"""

from __future__ import annotations

import importlib.util
import math
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.singlepoint import SinglePointCalculator
from pydantic import Field, model_validator

from amala.core.plugins import Float, Int, Registry, Spec, Text

__all__ = ["SEVENNET_MODELS", "TBLITE_METHODS", "TEACHERS", "Teacher", "TeacherFailed", "TeacherSpec", "make_teacher"]

# Models inside the sevenn 0.13 wheel (name -> level of theory). Multi-fidelity 7net-mf-0 is used at its
# PBE fidelity, the one the other two were trained on, so all three label at the same level of theory.
SEVENNET_MODELS = {
    "7net-0": "SevenNet-0 universal MLIP (trained on PBE/PBE+U MPtrj)",
    "7net-l3i5": "SevenNet-l3i5 universal MLIP (trained on PBE/PBE+U MPtrj)",
    "7net-mf-0": "SevenNet-MF-0 universal MLIP, PBE fidelity (trained on PBE/PBE+U MPtrj and r2SCAN)",
}
_SEVENNET_MODAL = {"7net-mf-0": "PBE"}
TBLITE_METHODS = ("GFN1-xTB", "GFN2-xTB", "IPEA1-xTB")
DFT_INSTALL_HINT = ("gpaw is not installed: install the `dft` extra with `make dft` (as root), or by hand: "
                    "apt-get install libxc-dev libopenblas-dev libfftw3-dev g++, then pip install gpaw gpaw-data")
TEACHERS = Registry("teacher", "amala.teachers", {
    "sevennet": "amala.oracles.mlip.teachers:SevenNetTeacher",
    "gpaw": "amala.oracles.mlip.teachers:GPAWTeacher",
    "tblite": "amala.oracles.mlip.teachers:TBLiteTeacher",
})


class TeacherFailed(RuntimeError):
    """A teacher call that produced no usable label; the message is a one-line reason."""


class TeacherSpec(Spec):
    """Which teacher, flat: each kind reads only its own fields and ignores the others' (they keep their
    defaults), so switching `kind` in a config needs no other edit.

    - sevennet: `model` (one of SEVENNET_MODELS);
    - tblite: `method` (one of TBLITE_METHODS);
    - gpaw: `xc`, `ecut_eV` (plane-wave cutoff, eV) and `kpts` (Monkhorst-Pack grid).
    """

    kind: Literal["sevennet", "gpaw", "tblite"] = "sevennet"  # the kinds of TEACHERS
    model: Text = "7net-0"
    method: Text = "GFN1-xTB"
    ecut_eV: Annotated[Float, Field(ge=100, le=2000)] = 400.0
    kpts: Annotated[list[Annotated[Int, Field(ge=1, le=32)]], Field(min_length=3, max_length=3)] = [1, 1, 1]
    xc: Text = "PBE"

    @model_validator(mode="after")
    def _known_names(self) -> TeacherSpec:
        TEACHERS[self.kind].check(self)
        return self


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


class Teacher:
    """Labels frames with one ASE calculator, built lazily on the first call and reused. A kind (subclass)
    says what it builds (`_build`), what it is called (`detail`), and what its labels' level of theory is;
    `label` and the failure handling are the same for every kind."""

    Spec: ClassVar[type[TeacherSpec]]  # the flat `TeacherSpec` with `kind` this kind's literal
    package: ClassVar[str]  # the package whose version every label's provenance records

    def __init__(self, spec: TeacherSpec, device: Literal["cpu", "cuda"] = "cpu", log_path: Path | None = None):
        if device not in ("cpu", "cuda"):
            raise ValueError(f"teacher device {device!r}: expected 'cpu' or 'cuda'")
        self.spec, self.device = spec, device
        self.log_path = log_path  # gpaw's text log (None: quiet)
        self._calc = None

    @classmethod
    def check(cls, spec: TeacherSpec) -> None:
        """Refuse (ValueError, one line) settings of this kind that cannot work; the others' fields are ignored."""

    @classmethod
    def install_problem(cls) -> str | None:
        """Why this kind cannot run on this machine (an optional package missing), None when it can: the
        checks before a run ask it instead of waiting for the first label."""
        return None

    @property
    def detail(self) -> str:
        """The model or method: the name's second half and the provenance's `model`."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        return f"{self.spec.kind}:{self.detail}"

    def level_of_theory(self) -> str:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The settings a label depends on beyond the model."""
        raise NotImplementedError

    def provenance(self) -> dict[str, Any]:
        """What a label was computed with: stored next to every label (the level of theory of the data)."""
        return {"teacher": self.name, "model": self.detail, "version": _package_version(self.package),
                "level_of_theory": self.level_of_theory(), "settings": self.settings()}

    def calculator(self):
        """The ASE calculator, built on first use (model loading and imports are slow)."""
        if self._calc is None:
            self._calc = self._build()
        return self._calc

    def _build(self):
        raise NotImplementedError

    def label(self, atoms: Atoms) -> Atoms:
        """A copy of `atoms` holding the teacher's energy (eV), forces (eV/Å) and, for a periodic cell
        where the calculator has it, stress (eV/Å³, Voigt order) in a SinglePointCalculator.
        Raises TeacherFailed (one line) for any failure; ImportError only when the teacher is not installed."""
        try:
            calc = self.calculator()
        except ImportError:
            raise
        except Exception as exc:  # a model file or a device that cannot be loaded: this call failed, say why
            raise TeacherFailed(f"{self.name}: cannot build the calculator: {type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:300]}") from exc
        frame = atoms.copy()
        frame.calc = calc
        try:
            if not np.all(np.isfinite(frame.positions)):
                raise TeacherFailed(f"{self.name}: non-finite atomic positions")
            energy = float(frame.get_potential_energy())
            forces = np.array(frame.get_forces(), dtype=float)
            stress = self._stress(frame)
            if not math.isfinite(energy) or not np.all(np.isfinite(forces)):
                raise TeacherFailed(f"{self.name}: non-finite energy or forces")
            if stress is not None and not np.all(np.isfinite(stress)):
                raise TeacherFailed(f"{self.name}: non-finite stress")
        except TeacherFailed:
            self._reset()
            raise
        except Exception as exc:  # any calculator error (SCF not converged, ...) is a failed call, not a crash
            self._reset()
            reason = " ".join(str(exc).split())[:300] or "no message"
            raise TeacherFailed(f"{self.name}: {type(exc).__name__}: {reason}") from exc
        finally:
            frame.calc = None
        results = {"energy": energy, "forces": forces}
        if stress is not None:
            results["stress"] = stress
        frame.calc = SinglePointCalculator(frame, **results)
        return frame

    def _stress(self, frame: Atoms) -> np.ndarray | None:
        """Stress of a fully periodic cell; None where the calculator has none (not an error)."""
        if not frame.pbc.all() or "stress" not in getattr(frame.calc, "implemented_properties", ()):
            return None
        try:
            return np.array(frame.get_stress(voigt=True), dtype=float)
        except PropertyNotImplementedError:
            return None

    def _reset(self) -> None:
        """Forget the calculator's cached state after a failure, so the next frame starts clean."""
        try:
            self._calc.reset()
        except Exception:  # a calculator that cannot reset is rebuilt instead
            self._calc = None


class SevenNetTeacher(Teacher):
    """SevenNet: `model` (one of SEVENNET_MODELS), at its PBE fidelity."""

    class Spec(TeacherSpec):
        kind: Literal["sevennet"] = "sevennet"

    package = "sevenn"

    @classmethod
    def check(cls, spec: TeacherSpec) -> None:
        if spec.model not in SEVENNET_MODELS:
            raise ValueError(f"teacher model {spec.model!r}: only the models shipped inside the sevenn wheel work "
                             f"offline ({', '.join(SEVENNET_MODELS)}); others download at run time")

    @property
    def detail(self) -> str:
        return self.spec.model

    def level_of_theory(self) -> str:
        return SEVENNET_MODELS[self.spec.model]

    def settings(self) -> dict[str, Any]:
        return {"device": self.device, "modal": _SEVENNET_MODAL.get(self.spec.model, "")}

    def _build(self):
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(self.spec.model, device=self.device, modal=_SEVENNET_MODAL.get(self.spec.model))


class TBLiteTeacher(Teacher):
    """tblite's extended tight binding: `method` (one of TBLITE_METHODS)."""

    class Spec(TeacherSpec):
        kind: Literal["tblite"] = "tblite"

    package = "tblite"

    @classmethod
    def check(cls, spec: TeacherSpec) -> None:
        if spec.method not in TBLITE_METHODS:
            raise ValueError(f"teacher method {spec.method!r}: tblite knows {', '.join(TBLITE_METHODS)}")

    @property
    def detail(self) -> str:
        return self.spec.method

    def level_of_theory(self) -> str:
        return self.spec.method

    def settings(self) -> dict[str, Any]:
        return {"method": self.spec.method}

    def _build(self):
        from tblite.ase import TBLite

        return TBLite(method=self.spec.method, verbosity=0)


class GPAWTeacher(Teacher):
    """GPAW plane-wave DFT: `xc`, `ecut_eV` (plane-wave cutoff, eV) and `kpts` (Monkhorst-Pack grid)."""

    class Spec(TeacherSpec):
        kind: Literal["gpaw"] = "gpaw"

    package = "gpaw"

    @classmethod
    def install_problem(cls) -> str | None:
        return DFT_INSTALL_HINT if importlib.util.find_spec("gpaw") is None else None

    def __init__(self, spec: TeacherSpec, device: Literal["cpu", "cuda"] = "cpu", log_path: Path | None = None):
        super().__init__(spec, device, log_path)
        if importlib.util.find_spec("gpaw") is None:  # fail at setup, not at the first label
            raise ImportError(DFT_INSTALL_HINT)

    @property
    def detail(self) -> str:
        return self.spec.xc

    def level_of_theory(self) -> str:
        s = self.spec
        return f"{s.xc} plane waves, ecut {s.ecut_eV:g} eV, k-points {'x'.join(map(str, s.kpts))}"

    def settings(self) -> dict[str, Any]:
        return {"xc": self.spec.xc, "ecut_eV": self.spec.ecut_eV, "kpts": list(self.spec.kpts)}

    def _build(self):
        try:
            from gpaw import GPAW, PW
        except ImportError:
            raise ImportError(DFT_INSTALL_HINT) from None
        s = self.spec
        return GPAW(mode=PW(s.ecut_eV), xc=s.xc, kpts=tuple(s.kpts), txt=str(self.log_path) if self.log_path else None)


def make_teacher(spec: TeacherSpec, device: Literal["cpu", "cuda"] = "cpu", log_path: Path | None = None) -> Teacher:
    """The teacher `spec` describes (nothing is loaded until its first label)."""
    return TEACHERS[spec.kind](spec, device=device, log_path=log_path)
