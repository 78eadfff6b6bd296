"""The machine-learned-potential oracle: composition -> on-the-fly NequIP committee -> MD on ASE -> Evaluation.

For the glasses no classical potential describes (thiophosphates, LiPON) and the ones Pedone's
gets wrong (its Ea of Li2O·2SiO2 is half the measured one), as Seth et al. 2025 (LiPON) and Wang
et al. 2023 (a-Li3PS4) did: a committee of NequIP students learns the teacher's (SevenNet-0 by
default, PBE DFT with GPAW when installed) energies and forces on the fly (`on_the_fly`), then the
committee runs the same melt-quench-diffuse protocol and transport analysis as the LAMMPS oracle
(`ase_md`, `md_analysis`), and reports the same quantities (`glass_md_oracle.transport_values`).

Level of theory and uncertainty, as stored: the numbers are the committee's, at the teacher's level
of theory at best; their error bars are the MD statistics (spread over independent Li groups,
Arrhenius covariance), not the potential's error, which is reported beside them instead (held-out
energy and force errors against the teacher, and how often the production MD left the committee's
trust window). Each trained committee is a model version of the campaign (`Evaluation.potentials`).

With `interface` set, an ok glass is also stacked against a coating glass (`interface_simulation`): the
potential learns the coating and the mixed stack too, and the evaluation adds the interface energy and
Li diffusivity at the interface against the bulk; a failure there leaves the bulk numbers standing.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from ase import Atoms
from ase.io import read, write
from pydantic import Field, field_validator

from amala.core.candidate import Candidate
from amala.core.composition import InvalidComposition, canonical_composition, parse_composition
from amala.core.evaluation import Evaluation, Measurement
from amala.core.plugins import Float, Int, Text
from amala.core.representations import Representation
from amala.oracles.generator.generator import GeneratedStarts, GenerationFailed
from amala.oracles.generator.spec import StructureSpec
from amala.oracles.md import ase_engine as ase_md
from amala.oracles.md.cells import CellError, build
from amala.oracles.md.oracle import transport_values
from amala.oracles.md.protocol import SimulationFailed
from amala.oracles.mlip.audit import AuditedStudent, AuditSpec
from amala.oracles.mlip.crystal_references import AmorphizationFailed, amorphization_energy, reference_for
from amala.oracles.mlip.growing_potential import GrowingPotential
from amala.oracles.mlip.interface_simulation import (
    INTERFACE_PROPERTIES,
    InterfaceSpec,
    component_problem,
    growing,
    interface_values,
    simulate_interface,
)
from amala.oracles.mlip.on_the_fly import OnTheFlyFailed, OnTheFlySpec
from amala.oracles.mlip.student import (
    StudentEnsemble,
    StudentTrainingFailed,
    default_settings,
    settings_type,
    starts_from,
    student_class,
)
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher
from amala.oracles.protocol import Oracle
from amala.oracles.registry import OracleSpec

AnyStudent = settings_type()  # the settings of any registered student kind, chosen by `kind` (nequip by default)


class MLIPSpec(OracleSpec):
    kind: Literal["mlip"] = "mlip"
    profile: Text = Field("quick", description="MD protocol of amala.oracles.md.ase_engine (test, quick, standard)")
    atoms: Int | None = Field(None, ge=8, le=100_000, description="atoms per glass cell (about: whole formula "
                              "units); default the profile's (quick 128, standard 200). Fewer atoms: faster steps "
                              "and noisier D_Li")
    density_g_cm3: Float = Field(1.9, gt=0, le=20, description="density of the starting cell (a-Li3PS4 ≈ 1.9; "
                                 "NPT then finds the glass's own)")
    teacher: TeacherSpec = Field(default_factory=TeacherSpec, description="who labels frames (sevennet, tblite, gpaw)")
    student: AnyStudent = Field(default_factory=default_settings, description="the students' kind (nequip, the "
                                "default) and each one's size and training")
    on_the_fly: OnTheFlySpec = Field(default_factory=OnTheFlySpec, description="committee, trust window (eV/Å), "
                                      "teacher budget and exploration of the on-the-fly learning")
    audit: AuditSpec = Field(default_factory=AuditSpec, description="with a shipped student (student.init): the "
                             "teacher's spot checks, the gate and the fine-tunes")
    potential_folder: Text | None = Field(None, description="where the campaign's growing potential lives (labels "
                                          "and committees, one per teacher); default <work dir>/mlip/potential. "
                                          "Point two campaigns at one folder to share what they learned")
    compile: bool = Field(True, description="AOTInductor-compile the final committee before the production MD "
                          "(minutes per student, several times faster steps); a failed compile runs uncompiled")
    device: Literal["cpu", "cuda"] = "cpu"
    structure: StructureSpec = Field(default_factory=StructureSpec, description="the glass from the melt-quench "
                                     "(default) or from a trained generator (source: generator, generator: NAME), "
                                     "relaxed and annealed by the potential")
    interface: InterfaceSpec | None = Field(None, description="after an ok glass, stack it against a coating "
                                            "glass (default Li3BO3) and report the interface energy (J/m²) and "
                                            "D_Li at the interface and in the bulk (cm²/s at temperature_K)")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in ase_md.PROFILES:
            raise ValueError(f"unknown MD profile {value!r} (known: {', '.join(ase_md.PROFILES)})")
        return value

    def produces(self) -> list[str]:
        """The properties an evaluation can hold (`MLIPOracle.units`), the interface's only with `interface`
        set: the campaign config refuses an objective outside them (`CampaignConfig`)."""
        return [p for p in MLIPOracle.units if self.interface is not None or p not in INTERFACE_PROPERTIES]

    @staticmethod
    def component_problem(name: str) -> str | None:
        """Why a campaign component cannot be simulated (its glass cell cannot be built), None when it can."""
        return component_problem(name)

    def describe(self) -> str:
        return (f"{self.profile} profile" + (f", {self.atoms} atoms" if self.atoms else "")
                + (f", glasses from generator {self.structure.generator}" if self.structure.generated else ""))


class MLIPOracle(Oracle):
    Spec = MLIPSpec
    representations = (Representation.COMPOSITION,)
    needs_dataset = False
    trains_potential = True  # its device, teacher and potential folder are checked before a run
    simulates = True  # its cost depends on how much the potential must still learn: no typical time
    thread_safe = False  # torch threads and one committee per process
    mode = "per_candidate"
    units = {"conductivity_300K": "S/cm", "log10_conductivity_300K": "log10(S/cm)", "ea": "eV",
             "log10_prefactor": "log10(S/cm)", "energy_per_atom": "eV/atom", "density": "g/cm^3", "n_atoms": "1",
             "amorphization_energy": "eV/atom", "interface_energy": "J/m^2", "d_li_interface": "cm^2/s",
             "d_li_bulk": "cm^2/s", "d_li_interface_ratio": "1"}

    @classmethod
    def from_spec(cls, spec: MLIPSpec, table=None, workdir=None, seed: int = 0) -> MLIPOracle:
        return cls(spec, workdir, seed=seed)

    def __init__(self, spec: MLIPSpec, workdir: Path, seed: int = 0):
        if spec.profile not in ase_md.PROFILES:
            raise ValueError(f"oracle.profile: unknown {spec.profile!r} (choose from {sorted(ase_md.PROFILES)})")
        self.spec, self.workdir, self.seed = spec, Path(workdir), seed
        self.profile = ase_md.PROFILES[spec.profile]
        if spec.atoms:
            self.profile = dataclasses.replace(self.profile, n_atoms=spec.atoms, caveat=(
                f"{self.profile.caveat} This campaign's cells have {spec.atoms} atoms, not the profile's "
                f"{self.profile.n_atoms}.").strip())
        self.teacher = make_teacher(spec.teacher, device=spec.device)
        self.name = spec.name or f"{spec.student.kind}-{self.teacher.name}"
        # the teacher is the level of theory the potential approximates: results of two teachers are two
        # fidelities; so are two cell sizes of one profile (finite-size effects on D_Li)
        self.fidelity = (f"mlip-{spec.profile}-{self.teacher.name}" + (f"-{spec.atoms}at" if spec.atoms else "")
                         + spec.structure.fidelity_suffix)
        self.starts = GeneratedStarts(spec.structure, self.workdir) if spec.structure.generated else None
        root = Path(spec.potential_folder) if spec.potential_folder else self.workdir / "mlip" / "potential"
        self.potential = GrowingPotential(root / self.teacher.name.replace(":", "_"), self.teacher, spec.student,
                                          self.settings(), seed=seed, device=spec.device)
        self.audited = None
        if (init := starts_from(spec.student)) is not None:
            from amala.oracles.mlip import shipped

            self.audited = AuditedStudent(shipped.load(init), self.teacher,
                                          root / self.teacher.name.replace(":", "_") / f"from_{init}",
                                          spec.audit, device=spec.device, compile=spec.compile)

    def settings(self) -> OnTheFlySpec:
        """Exploration covers what the production MD will see (the melt and each production temperature)
        unless the config names its own temperatures; the MD's time step is the exploration's."""
        spec = self.spec.on_the_fly
        temperatures = spec.explore_temperatures_K or sorted({*self.profile.temperatures_K, self.profile.melt_K})
        return spec.model_copy(update={"explore_temperatures_K": temperatures, "timestep_fs": self.profile.timestep_fs})

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        return [self._one(c) for c in candidates]

    def _one(self, candidate: Candidate) -> Evaluation:
        """Any error is this candidate's failed evaluation with its first line as the reason: a retry
        would meet it again (the labels and committees on disk are reused by the next attempt anyway)."""
        start = time.perf_counter()
        try:
            return self._simulate(candidate, start)
        except Exception as exc:
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            return Evaluation.failed(candidate.key, self.name, self.fidelity, f"{type(exc).__name__}: {reason}",
                                     cost_seconds=time.perf_counter() - start)

    def _simulate(self, candidate: Candidate, start: float) -> Evaluation:
        folder = self.workdir / "mlip" / self.spec.profile / candidate.key
        failed = lambda reason: Evaluation.failed(  # noqa: E731
            candidate.key, self.name, self.fidelity, reason, cost_seconds=time.perf_counter() - start,
            artefacts={"folder": str(folder)})
        generated = {}
        try:
            fractions = parse_composition(candidate.representation)
            cell = build(fractions, self.spec.density_g_cm3, self.profile.n_atoms, seed=self.seed)
            if self.starts is not None:
                generated = self.starts.apply(cell.atoms, candidate.representation, self.seed)
        except (InvalidComposition, CellError, GenerationFailed) as exc:
            return failed(str(exc))
        anneal = self.spec.structure.anneal_ps if generated else None
        folder.mkdir(parents=True, exist_ok=True)
        write(folder / "start.extxyz", cell.atoms, format="extxyz")
        if self.audited is not None:
            evaluation = self._simulate_audited(candidate, cell, folder, failed, start, anneal)
            evaluation.provenance = {**(evaluation.provenance or {}), **generated}
            return evaluation
        try:  # the production MD is ~50k steps: worth minutes of compilation per student
            grown = self.potential.learn(candidate.key, cell.atoms, folder / "on_the_fly", compile=self.spec.compile)
        except StudentTrainingFailed as exc:
            return failed(f"training the students failed: {exc}")
        except OnTheFlyFailed as exc:
            return failed(str(exc))
        learned = grown.result
        deviations: list[float] = []

        def watch(stage, step, atoms):  # how far production MD strays from what the committee knows
            if stage == "production":
                deviations.append(float(atoms.calc.results.get("force_deviation", np.nan)))

        size = self.spec.on_the_fly.committee_size
        title = student_class(self.spec.student).title
        engine = f"ase + {title} committee of {size} on {len(learned.store)} {self.teacher.name} labels"
        members = learned.committee.members
        # every committee of the loop is a model version, kept whatever the MD makes of the last one: their
        # teacher calls were paid for
        common = {"teacher": self.teacher.provenance(), "labels_file": str(learned.store.labels_path),
                  "candidate": candidate.key}
        earlier = [{**_summary(r), **common, "final": False} for r in learned.rounds[:-1]]
        committee = {**learned.committee.record(), **_summary(learned.rounds[-1]), **common, "final": True,
                     "compiled": [m.compiled is not None for m in members],
                     "compile_errors": sorted({m.compile_error for m in members if m.compile_error})}
        try:
            result = ase_md.run(cell.atoms, learned.committee.calculator(), self.profile, folder / "md", seed=self.seed,
                                observer=watch, engine=engine, generated_anneal_ps=anneal)
        except SimulationFailed as exc:
            evaluation = failed(str(exc))
            evaluation.potentials = [*earlier, committee]
            evaluation.provenance = {"on_the_fly": learned.record(), "potential": grown.record}
            return evaluation
        above = float(np.mean(np.asarray(deviations) >= self.spec.on_the_fly.trust_hi_eV_A)) if deviations else None
        values = transport_values(result, len(cell.atoms))
        amorphization = _amorphization(cell.atoms, result.files.get("glass"), learned.committee)
        if amorphization:
            values["amorphization_energy"] = Measurement(amorphization["value_eV_atom"], "eV/atom",
                                                         amorphization["std_eV_atom"])
        evaluation = Evaluation(
            candidate.key, self.name, self.fidelity, "ok", values=values,
            cost_seconds=time.perf_counter() - start,
            artefacts={"start_cell": str(folder / "start.extxyz"), "labels": str(learned.store.labels_path),
                       **{name: str(path) for name, path in result.files.items()}},
            potentials=[*earlier, committee],
            provenance={"profile": self.spec.profile, "seed": self.seed,
                        "level_of_theory": f"{title} committee of {size} trained on the fly on "
                                           f"{self.teacher.provenance()['level_of_theory']}",
                        "teacher": self.teacher.provenance(), "student": self.spec.student.model_dump(),
                        "on_the_fly": learned.record(), "potential": grown.record,
                        "production_frames_above_trust_hi": above, "amorphization": amorphization,
                        "production_max_force_deviation_eV_A": float(np.nanmax(deviations)) if deviations else None,
                        "uncertainty": "MD statistics only; the potential's own error is in on_the_fly.rounds "
                                       "(held-out MAE against the teacher)",
                        "simulated_composition": canonical_composition(cell.actual_fractions),
                        "temperatures_K": list(self.profile.temperatures_K), **generated,
                        "skipped_temperatures": {f"{T:g}": why for T, why in result.skipped_K.items()}})
        if self.spec.interface is not None:
            self._interface(candidate, cell.atoms, folder, evaluation, common)
            evaluation.cost_seconds = time.perf_counter() - start
        return evaluation

    def _simulate_audited(self, candidate: Candidate, cell, folder: Path, failed, start: float,
                          generated_anneal_ps: float | None = None) -> Evaluation:
        """The glass with the campaign's student grown from a shipped one, audited by teacher spot checks
        (`audit`): the measured spot-check error is the potential's error stored with the evaluation."""
        missing = self.audited.shipped.missing_elements(cell.atoms.get_chemical_symbols())
        if missing:
            return failed(f"the shipped student {self.audited.shipped.name} has no type for {', '.join(missing)} "
                          "(use student.init: scratch for this system)")
        family = glass_family(cell.atoms.get_chemical_symbols())
        engine = f"ase + shipped {self.audited.shipped.name}"
        try:
            result, record = self.audited.simulate(cell.atoms, candidate.representation, self.spec.density_g_cm3,
                                                   candidate.key, family, self.profile, folder, self.seed, engine,
                                                   generated_anneal_ps)
        except (SimulationFailed, StudentTrainingFailed) as exc:
            return failed(str(exc))
        teacher = self.teacher.provenance()
        provenance = {"profile": self.spec.profile, "seed": self.seed, "teacher": teacher,
                      "student": self.spec.student.model_dump(), "audit": record, "family": family,
                      "potential": self.audited.growth_record(record, candidate.key),
                      "level_of_theory": f"NequIP student {self.audited.shipped.name} (v{record['final_version']}) "
                                         f"distilled from {teacher['level_of_theory']}, audited by spot checks",
                      "potential_error": {"force_mae_eV_A": record["spot_check_force_mae_eV_A"],
                                          "interval_eV_A": record["spot_check_interval_eV_A"],
                                          "card_force_mae_eV_A": record["card_force_mae_eV_A"],
                                          "ratio_to_card": record["ratio_to_card"],
                                          "what": "student against teacher forces on production frames; the "
                                                  "card's held-out value at the same temperatures beside it"},
                      "simulated_composition": canonical_composition(cell.actual_fractions),
                      "temperatures_K": list(self.profile.temperatures_K)}
        if result is None:
            evaluation = failed(record["failure"])
            evaluation.provenance = provenance
            return evaluation
        values = transport_values(result, len(cell.atoms))
        provenance["skipped_temperatures"] = {f"{T:g}": why for T, why in result.skipped_K.items()}
        provenance["uncertainty"] = ("MD statistics; the potential's own error is potential_error (teacher spot "
                                     "checks of the production MD)")
        return Evaluation(candidate.key, self.name, self.fidelity, "ok", values=values,
                          cost_seconds=time.perf_counter() - start,
                          artefacts={"start_cell": str(folder / "start.extxyz"),
                                     "labels": str(self.audited.store.labels_path),
                                     **{name: str(path) for name, path in result.files.items()}},
                          potentials=[{"kind": "shipped", "name": self.audited.shipped.name,
                                       **a} for a in record["attempts"]],
                          provenance=provenance)

    def _interface(self, candidate: Candidate, start: Atoms, folder: Path, evaluation: Evaluation,
                   common: dict) -> None:
        """The interface of this glass with the coating (`interface_simulation`), into `evaluation`: its
        values, its whole record as provenance["interface"] and the committees its learning trained (a
        coating's committees only with the candidate that taught it: later ones resume its learning).
        Any failure goes to provenance["interface"]["error"]; the bulk evaluation stands."""
        spec = self.spec.interface
        try:
            record = simulate_interface(
                candidate.key, start, spec, self.profile, folder / "interface",
                growing(self.potential, compile=self.spec.compile), seed=self.seed,
                coating_folder=self.workdir / "mlip" / self.spec.profile / "coatings" / spec.coating_key())
            values = interface_values(record)
        except Exception as exc:
            reason = " ".join(str(exc).split())[:300]
            record, values = {"coating": spec.coating, "error": f"{type(exc).__name__}: {reason}"}, {}
        evaluation.provenance["interface"] = record
        evaluation.values.update(values)
        for stage, grown in (record.get("potential") or {}).items():
            if not grown.get("resumed"):
                evaluation.potentials += [{**_summary(r), **common, "final": False, "stage": f"interface {stage}",
                                           "key": grown["key"]} for r in grown.get("rounds", [])]


def _amorphization(start: Atoms, glass_file: Path | None, committee: StudentEnsemble) -> dict | None:
    """E(glass) - E(crystal) per atom when the composition has a crystalline reference
    (`crystal_references`): each member relaxes both the quenched glass and the crystal, so the spread
    over members is the potential's uncertainty. None without a reference; a failure is said, not raised
    (the transport numbers stand without it)."""
    reference = reference_for(start)
    if reference is None or glass_file is None:
        return None
    glass = read(glass_file)
    try:
        members = [amorphization_energy(glass, reference, calc, crystal_min_atoms=len(glass) // 2)
                   for calc in committee.calculators]
    except (AmorphizationFailed, ValueError) as exc:
        return {"crystal": reference.name, "error": str(exc)}
    energies = [m["amorphization_energy_eV_atom"] for m in members]
    return {"value_eV_atom": float(np.mean(energies)), "std_eV_atom": float(np.std(energies, ddof=1)),
            "crystal": reference.name, "citation": members[0]["citation"],
            "converged": all(m["converged"] for m in members), "members": members,
            "uncertainty": "spread over the committee's members, each relaxing glass and crystal"}


def _summary(round_record: dict) -> dict:
    """One trained committee as a model version: its size, training set and validation errors per member."""
    members = round_record["members"]
    return {"kind": round_record["kind"], "round": round_record["round"], "labels": round_record["labels"],
            "size": len(members), "n_train": members[0]["n_train"], "n_val": members[0]["n_val"],
            "force_mae_meV_A": [m["force_mae_meV_A"] for m in members],
            "energy_mae_meV_atom": [m["energy_mae_meV_atom"] for m in members],
            "files": [m["files"]["folder"] for m in members]}


def glass_family(symbols) -> str:
    """The card's family of a glass from its elements: thiophosphate (S), lipon (N with O), borate (B), else
    oxide; the gate compares a glass's spot checks with the card's error for its family."""
    elements = set(symbols)
    if "S" in elements:
        return "thiophosphate"
    if "N" in elements:
        return "lipon"
    if "B" in elements:
        return "borate"
    return "oxide"
