"""A shipped student audited by the teacher: the MLIP oracle's path when `student: {init: NAME}` names a
shipped student (`shipped`) instead of `scratch`.

Why: a student distilled once from many glasses is already right on most glasses a campaign proposes;
what a campaign must pay for is only the evidence that it is right on *this* glass, and a correction
where it is not. So the teacher does not label frames the student chooses (the committee loop of
`on_the_fly`); it spot-checks the one student that drives the MD:

- **Gate** (melt and quench): every `gate_every` steps the teacher labels the MD's current frame and the
  student's force error on it is divided by the card's held-out error for the glass's family at that
  frame's temperature (`ShippedStudent.reference_force_mae`). The gate is a sequential test on these
  ratios: once `gate_min_checks` checks (two of them in the quench) put the 95% interval of their mean
  wholly below `gate_factor` (1.5), the glass passes and the rest of its quench is not checked; wholly
  above, it fails at once (no more MD on a wrong surface); undecided, the mean at the end of the quench
  decides. A glass that passes goes on with no other label. One that fails: the teacher runs a short MD
  of this composition (every step a label), the student is fine-tuned from the shipped weights on all
  the campaign's labels so far plus replayed distillation frames (against forgetting), and the glass
  starts again with the new version.
- **Production**: spot checks every `production_every` steps (≤ 0.5% of steps by default); their rolling
  force MAE with its 95% interval is the potential's measured error, stored with the evaluation beside
  the card's value at the same temperatures. Above `redo_factor` (2) times the card's value, the student
  is fine-tuned and the glass redone, once.

The thresholds are the card's *measured* held-out errors times a factor, not constants: a student whose
held-out error is 60 meV/Å is not failed for 70 meV/Å on a new glass. Every fine-tuned version is kept in
the potential folder (`versions/vN`), so the next glass starts from the campaign's latest student: the
campaign's potential grows from the shipped one. Spot-check frames go to the potential's label store
(`FrameStore`): a kill loses no paid teacher call, and a resume re-reads the checks instead of paying
them again.

Units: forces eV/Å, energies eV/atom.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read
from pydantic import Field

from amala.core.plugins import Float, Int, Spec
from amala.oracles.md.ase_engine import StopDynamics
from amala.oracles.md.protocol import SimulationFailed
from amala.oracles.mlip.distill import evenly
from amala.oracles.mlip.growing_potential import candidate_order, folder_lock
from amala.oracles.mlip.labelled_frames import FrameStore

__all__ = ["AuditSpec", "AuditedStudent", "GateFailed", "SpotChecks", "Version", "mean_interval", "ratio_summary",
           "rolling_error"]


class AuditSpec(Spec):
    """How the teacher audits a shipped student (the `audit` settings of the `mlip` oracle)."""

    gate_every: Int = Field(250, ge=1, le=1_000_000, description="MD steps between spot checks during the melt "
                            "and quench (the gate)")
    gate_factor: Float = Field(1.5, gt=0, le=100, description="the gate passes when the glass's spot-check force "
                               "MAE is at most this times the card's held-out value for its family at the "
                               "checks' temperatures")
    gate_min_checks: Int = Field(8, ge=2, le=100_000, description="checks (two of them in the quench) before the "
                                 "gate may decide early, when the 95% interval of the error ratio lies wholly on "
                                 "one side of gate_factor")
    production_every: Int = Field(1000, ge=1, le=1_000_000, description="MD steps between spot checks in "
                                  "production (1000: 0.1% of the steps labelled; keep it >= 200, 0.5%)")
    redo_factor: Float = Field(2.0, gt=0, le=100, description="above this times the card's value, the production "
                               "spot checks send the glass to a fine-tune and the glass is redone (once)")
    fine_tune_steps: Int = Field(150, ge=4, le=100_000, description="teacher MD steps (each one a label) of a "
                                 "glass that failed the gate: its melt, then each production temperature")
    replay: Int = Field(300, ge=0, le=100_000, description="distillation frames replayed in each fine-tune")
    fine_tune_epochs: Int = Field(40, ge=1, le=10_000, description="epochs of a fine-tune (early stopping may end "
                                  "sooner)")
    fine_tune_minutes: Float = Field(15.0, gt=0, le=24 * 60, description="wall-time limit of a fine-tune")
    max_fine_tunes: Int = Field(2, ge=0, le=10, description="fine-tunes per glass before its evaluation fails")


class GateFailed(StopDynamics):
    """Raised from the MD's observer when the quench's spot checks fail the gate: the glass is redone."""


def mean_interval(values: list[float]) -> tuple[int, float | None, list[float] | None]:
    """(count, mean, 95% interval) of the finite values: Student t over them; no interval below two."""
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return 0, None, None
    mean = float(finite.mean())
    if finite.size < 2:
        return 1, mean, None
    from scipy.stats import t

    half = float(t.ppf(0.975, finite.size - 1) * finite.std(ddof=1) / math.sqrt(finite.size))
    return int(finite.size), mean, [mean - half, mean + half]


def rolling_error(errors: list[float]) -> dict:
    """Mean of the spot checks' force MAEs (eV/Å) with a 95% interval (Student t over checks; with one
    check, no interval)."""
    checks, mean, interval = mean_interval(errors)
    return {"checks": checks, "force_mae_eV_A": mean, "interval_eV_A": interval}


def ratio_summary(checks: list[dict]) -> dict:
    """The checks' errors over the card's at their temperatures: mean and 95% interval, and the card's
    mean value at those temperatures (eV/Å)."""
    _, mean, interval = mean_interval([c.get("ratio") for c in checks])
    references = [c["reference_eV_A"] for c in checks if c.get("reference_eV_A") is not None]
    return {"ratio_to_card": mean, "ratio_interval": interval,
            "card_force_mae_eV_A": float(np.mean(references)) if references else None}


@dataclass
class SpotChecks:
    """Teacher spot checks along one MD: an `observer(stage, step, atoms)` for `ase_engine`. The student's
    forces are those of the step just taken (no extra student call); the teacher labels a copy.
    `reference(T)`: the card's force MAE at temperature T (eV/Å), each check's error is also kept as a
    ratio to it. `gate(checks, final)`: called after each melt or quench check (final False: True when the
    gate has passed early, None while undecided) and when the MD leaves the quench (final True: True or
    raise); raises `GateFailed` when it fails. After a pass, melt and quench steps are not checked."""

    teacher: object
    store: FrameStore
    source: str
    every: dict[str, int]  # steps between checks, per stage (a stage not named is not checked)
    log: Path  # one JSON line per check: a resume re-reads them instead of paying the teacher again
    gate: object = None
    reference: object = None
    checks: list[dict] = field(default_factory=list)
    steps: dict = field(default_factory=dict)  # MD steps seen per stage (this process: a resume starts again)
    _steps: dict = field(default_factory=dict)
    _gated: bool = False
    passed_early: bool = False  # the gate passed before the quench's end (its remaining steps went unchecked)

    def __post_init__(self):
        if self.log.is_file():
            self.checks = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def errors(self, stages: tuple[str, ...]) -> list[float]:
        return [c["force_mae_eV_A"] for c in self.checks if c["stage"] in stages]

    def of(self, stages: tuple[str, ...]) -> list[dict]:
        return [c for c in self.checks if c["stage"] in stages]

    def __call__(self, stage: str, step: int, atoms: Atoms) -> None:
        gating = stage in ("melt", "quench")
        if not gating and self.gate is not None and not self._gated:
            self._gated = True
            self.gate(self, True)  # may raise GateFailed
        last = self._steps.setdefault(stage, {"step": 0, "since": 0})
        moved = step - last["step"] if step >= last["step"] else step  # a stage's count restarts per temperature
        last["step"], last["since"] = step, last["since"] + moved
        self.steps[stage] = self.steps.get(stage, 0) + moved
        every = self.every.get(stage)
        if every is None or (gating and self._gated):
            return
        if last["since"] < every:
            return
        last["since"] = 0
        check = self.check(stage, step, atoms)
        if gating and check is not None and self.gate is not None and self.gate(self, False):
            self._gated = self.passed_early = True  # the rest of the quench goes unchecked

    def check(self, stage: str, step: int, atoms: Atoms) -> dict | None:
        student_forces = np.array(atoms.calc.results["forces"])
        student_energy = float(atoms.calc.results["energy"])
        plain = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        label = self.store.label(self.teacher, plain, f"{self.source}:{stage}")
        if label is None:  # the teacher failed on it: recorded in the store, the MD goes on
            return None
        reference = label.calc.results
        check = {"stage": stage, "step": int(step), "frame_id": label.info["frame_id"],
                 "T_K": float(atoms.get_temperature()),
                 "force_mae_eV_A": float(np.mean(np.abs(student_forces - reference["forces"]))),
                 "energy_error_eV_atom": float(abs(student_energy - reference["energy"]) / len(atoms))}
        if self.reference is not None:
            check["reference_eV_A"] = float(self.reference(check["T_K"]))
            check["ratio"] = check["force_mae_eV_A"] / check["reference_eV_A"]
        self.checks.append(check)
        with open(self.log, "a") as out:
            out.write(json.dumps(check) + "\n")
        return check


@dataclass(frozen=True)
class Version:
    """One student of the campaign: the shipped one (number 0) or a fine-tune of it."""

    number: int
    calculator_file: Path  # package (v0), compiled model or checkpoint
    record: dict


class AuditedStudent:
    """The campaign's student, grown from a shipped one by fine-tunes; one per potential folder."""

    def __init__(self, shipped, teacher, folder: Path, spec: AuditSpec, device: str = "cpu", compile: bool = True,
                 replay_frames: list[Atoms] | None = None):
        self.shipped, self.teacher, self.spec, self.device, self.compile = shipped, teacher, spec, device, compile
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.store = FrameStore(self.folder / "labels")
        self._replay = replay_frames

    def latest(self) -> Version:
        """The newest finished version (a fine-tune whose `version.json` was written), else the shipped one."""
        done = sorted(self.folder.glob("versions/v*/version.json"), key=lambda p: int(p.parent.name[1:]))
        if not done:
            return Version(0, self.shipped.package, {"version": 0, "shipped": self.shipped.name,
                                                     "sha256": self.shipped.card["sha256"]})
        record = json.loads(done[-1].read_text())
        return Version(record["version"], Path(record["calculator_file"]), record)

    def calculator(self, version: Version):
        if version.number == 0:
            return self.shipped.calculator(self.device, compiled=self.compile)
        from amala.oracles.mlip.nequip_student import NequIPStudent

        return NequIPStudent.load(version.calculator_file.parent).calculator(self.device)

    def reference(self, family: str | None):
        """The card's held-out force MAE (eV/Å) for the glass's family as a function of temperature: what
        each check is judged against."""
        return lambda temperature_K: self.shipped.reference_force_mae(family, temperature_K)

    def gate(self, version: Version):
        """The sequential gate (module docstring) of one attempt with `version`, for `SpotChecks.gate`."""
        spec = self.spec

        def decide(checks: SpotChecks, final: bool) -> bool | None:
            gated = checks.of(("melt", "quench"))
            summary = ratio_summary(gated)
            ratio, interval = summary["ratio_to_card"], summary["ratio_interval"]
            if ratio is None:  # the teacher failed on every check: the production checks judge the glass
                return True if final else None
            error = rolling_error([c["force_mae_eV_A"] for c in gated])["force_mae_eV_A"]
            why = (f"v{version.number}: spot-check force MAE {error:.3f} eV/Å is {ratio:.2f} x the card's at "
                   f"these temperatures (> {spec.gate_factor:g}, {len(gated)} checks)")
            if final:
                if ratio > spec.gate_factor:
                    raise GateFailed(why)
                return True
            decidable = (len(gated) >= spec.gate_min_checks and interval is not None
                         and len(checks.of(("quench",))) >= 2)
            if decidable and interval[0] > spec.gate_factor:
                raise GateFailed(why + ", decided early")
            return True if decidable and interval[1] < spec.gate_factor else None

        return decide

    def replay(self) -> list[Atoms]:
        """Distillation frames shipped with the student (`replay.extxyz.gz`), `spec.replay` of them, evenly."""
        if self._replay is None:
            path = self.shipped.folder / "replay.extxyz.gz"
            self._replay = read(path, ":") if path.is_file() else []
        return evenly(self._replay, self.spec.replay)

    def fine_tune(self, new_labels: list[Atoms], validation: list[Atoms], candidate: str, seed: int = 0) -> Version:
        """A new version: the shipped weights fine-tuned on every label the campaign's fine-tunes used so far,
        these new ones, and the replayed distillation frames; validated on `validation` (this glass's spot
        checks, never trained on). Under the folder's lock: two glasses never write one version."""
        from amala.oracles.mlip.distilled import DISTILLED_STUDENT
        from amala.oracles.mlip.nequip_student import compile_student, train_student

        with folder_lock(self.folder, candidate):
            before = self.latest()
            number = before.number + 1
            used = list(before.record.get("labels", []))
            ids = {f.info["frame_id"] for f in new_labels}
            frames = [f for f in self.store.frames() if f.info["frame_id"] in set(used) | ids]
            val_ids = {f.info["frame_id"] for f in validation}
            train = [f for f in frames if f.info["frame_id"] not in val_ids] + self.replay()
            if not validation:
                validation = train[-1:]
            spec = DISTILLED_STUDENT.model_copy(update={"epochs": self.spec.fine_tune_epochs, "patience": 10,
                                                        "learning_rate": 0.002,
                                                        "max_minutes": self.spec.fine_tune_minutes})
            folder = self.folder / "versions" / f"v{number}"
            student = train_student(train, validation, spec, seed, folder, device=self.device,
                                    type_names=self.shipped.elements, init_from=self.shipped.package)
            if self.compile:
                student = compile_student(student, self.device)
            record = {"version": number, "shipped": self.shipped.name, "candidate": candidate,
                      "labels": sorted(set(used) | ids), "replayed": len(self.replay()), "train_frames": len(train),
                      "validation_force_mae_meV_A": student.force_mae_meV_A,
                      "validation_energy_mae_meV_atom": student.energy_mae_meV_atom,
                      "calculator_file": str(folder / "student.json")}
            (folder / "version.json").write_text(json.dumps(record, indent=1))
            return Version(number, folder / "student.json", record)

    def teacher_labels(self, composition: str, density_g_cm3: float, n_atoms: int, candidate: str,
                       temperatures_K: list[float], melt_K: float, folder: Path, attempt: int,
                       dt_fs: float) -> list[Atoms]:
        """A short teacher MD of this composition from a new cell (`fine_tune_steps` steps: half at the melt,
        the rest over the production temperatures), every step a label in the potential's store."""
        from amala.oracles.mlip.distill import DistillComposition, DistillSpec, Job, teacher_md

        n = self.spec.fine_tune_steps
        plan = [(melt_K, n // 2)] + [(T, max(1, (n - n // 2) // len(temperatures_K))) for T in temperatures_K]
        glass = DistillComposition(composition=composition, family="campaign", atoms=n_atoms,
                                   density_g_cm3=density_g_cm3, melt_K=melt_K, quench_K=list(temperatures_K))
        spec = DistillSpec(compositions=[glass], dt_fs=dt_fs, seed=attempt)
        source = f"{candidate}:teacher-md:{attempt}"
        work = folder / f"teacher_md_{attempt}"
        work.mkdir(parents=True, exist_ok=True)
        teacher_md(spec, Job(0, "md"), glass, self.teacher, self.store, work, 7919 * attempt + 1, plan, prefix=source)
        return [f for f in self.store.frames() if f.info["source"].startswith(source)]

    def simulate(self, cell: Atoms, composition: str, density_g_cm3: float, candidate: str, family: str | None,
                 profile, folder: Path, seed: int, engine: str, generated_anneal_ps: float | None = None):
        """Melt-quench-diffuse `cell` with the campaign's latest student, gated and spot-checked by the
        teacher; fine-tunes and redoes the glass where the checks say so. Returns (GlassResult, record)."""
        from amala.oracles.md import ase_engine as ase_md

        reference = self.reference(family)
        history, attempt, redone = [], 0, False
        while True:
            version = self.latest()
            label = f"v{version.number}"
            checks = SpotChecks(self.teacher, self.store, f"{candidate}:{label}",
                                {"melt": self.spec.gate_every, "quench": self.spec.gate_every,
                                 "production": self.spec.production_every}, folder / f"spot_checks_{label}.jsonl",
                                gate=self.gate(version), reference=reference)
            outcome = {"version": version.number, "gate": None, "production": None}
            history.append(outcome)

            def gate_record(passed: bool, checks=checks) -> dict:
                gated = checks.of(("melt", "quench"))
                return {**rolling_error([c["force_mae_eV_A"] for c in gated]), **ratio_summary(gated),
                        "passed": passed, "early": checks.passed_early, "melt_quench_steps": checks.steps.get("melt", 0)
                        + checks.steps.get("quench", 0)}

            try:
                result = ase_md.run(cell, self.calculator(version), profile, folder / f"md_{label}", seed=seed,
                                    observer=checks, engine=f"{engine} {label}",
                                    generated_anneal_ps=generated_anneal_ps)
            except GateFailed as failed:
                outcome["gate"] = {**gate_record(False), "reason": str(failed)}
                outcome["spot_checks"] = len(checks.checks)
                if attempt >= self.spec.max_fine_tunes:
                    return None, self._record(history, family, candidate,
                                              f"gate failed after {attempt} fine-tunes: {failed}")
                attempt += 1
                self._fine_tune((composition, density_g_cm3, len(cell)), candidate, checks, profile, folder,
                                attempt, seed)
                continue
            except SimulationFailed as failed:  # the MD's own reason; the teacher calls it paid stay on record
                outcome["spot_checks"] = len(checks.checks)
                return None, self._record(history, family, candidate, str(failed))
            outcome["gate"] = gate_record(True)
            outcome["spot_checks"] = len(checks.checks)
            produced = checks.of(("production",))
            production = {**rolling_error([c["force_mae_eV_A"] for c in produced]), **ratio_summary(produced)}
            steps = checks.steps.get("production", 0)
            production.update(steps=steps, labelled_fraction=production["checks"] / steps if steps else None)
            outcome["production"] = production
            ratio = production["ratio_to_card"]
            if (ratio is not None and ratio > self.spec.redo_factor and not redone
                    and attempt < self.spec.max_fine_tunes):
                redone, attempt = True, attempt + 1
                self._fine_tune((composition, density_g_cm3, len(cell)), candidate, checks, profile, folder,
                                attempt, seed)
                continue
            return result, self._record(history, family, candidate, None)

    def _fine_tune(self, glass: tuple[str, float, int], candidate, checks: SpotChecks, profile, folder, attempt,
                   seed) -> Version:
        labels = self.teacher_labels(*glass, candidate, list(profile.temperatures_K), profile.melt_K, folder,
                                     attempt, profile.timestep_fs)
        checked = {c["frame_id"] for c in checks.checks}
        validation = [f for f in self.store.frames() if f.info["frame_id"] in checked]
        return self.fine_tune(labels, validation, candidate, seed)

    def order(self, key: str) -> int:
        """This candidate's place among those the campaign's student has evaluated (kept on a resume)."""
        with folder_lock(self.folder, key):
            return candidate_order(self.folder, key)

    def growth_record(self, record: dict, candidate: str) -> dict:
        """The evaluation's `provenance["potential"]`, in the form the report's growth section reads for
        every MLIP evaluation (system, version, teacher calls, order), with the measured spot-check error."""
        return {"system": f"{self.shipped.name} (shipped)", "version": f"v{record['final_version']}",
                "teacher": self.teacher.name, "teacher_calls": record["teacher_calls"], "labels_after": len(self.store),
                "uncertain_fraction": None, "order": self.order(candidate), "folder": str(self.folder),
                "spot_check_force_mae_eV_A": record["spot_check_force_mae_eV_A"],
                "spot_check_interval_eV_A": record["spot_check_interval_eV_A"],
                "card_force_mae_eV_A": record["card_force_mae_eV_A"]}

    def _record(self, history: list[dict], family: str | None, candidate: str, failure: str | None) -> dict:
        """What the evaluation stores about its potential: the versions tried, each gate and production
        check, the final rolling error against the card's at the same temperatures (without production
        checks, the card's family value), and the teacher calls this glass paid."""
        final = history[-1]["production"] or {}
        card = final.get("card_force_mae_eV_A") or self.shipped.family_force_mae(family)
        return {"shipped": self.shipped.name, "sha256": self.shipped.card["sha256"],
                "card_force_mae_eV_A": card, "attempts": history, "failure": failure,
                "final_version": history[-1]["version"],
                "spot_check_force_mae_eV_A": final.get("force_mae_eV_A"),
                "spot_check_interval_eV_A": final.get("interval_eV_A"),
                "ratio_to_card": final.get("ratio_to_card"), "ratio_interval": final.get("ratio_interval"),
                "teacher_calls": self.store.calls_from(f"{candidate}:")}

