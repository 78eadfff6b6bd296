"""NequIP students: the `nequip` kind of `student.Student`, potentials trained on teacher-labelled frames,
alone (`train_student`) or as a trained ensemble (`train_ensemble`, a `student.StudentEnsemble`).

Why NequIP: an E(3)-equivariant network learns a glass's forces from a few hundred frames (Seth et al.
2025 reached 13.6 meV/Å on amorphous LiPON), and it runs MD far faster than the teacher it learned from.
Why an ensemble: the members' disagreement on a frame (`committee.force_deviation`) is the uncertainty
that tells the on-the-fly loop which frames the teacher should label.

Training runs `nequip-train` in a subprocess on a config generated here from `StudentSpec` (no
hand-edited YAML), so a crash in training is a failed run with a log, not a dead campaign process.
The held-out errors are then measured through the student's own ASE calculator, the way MD will use
it, not parsed from nequip's logs. A folder that holds a finished student (its `student.json`, written
last) is returned as is: resuming a campaign never trains a finished student twice.

Units: energies eV, forces eV/Å, stress eV/Å³ (ASE's), lengths Å; errors in meV/atom and meV/Å.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import yaml
from ase import Atoms
from ase.io import read, write
from pydantic import Field, field_validator, model_validator

from amala.core.plugins import Float, Int, PluginSpec, Text
from amala.oracles.mlip.student import StudentEnsemble, StudentTrainingFailed

MONITOR = "val0_epoch/weighted_sum"  # nequip's name for the validation loss (weighted sum of the val metrics)


class StudentSpec(PluginSpec):
    """The student's architecture and training; defaults are a small, fast model for on-the-fly MD."""

    # left out of dumps: nequip is the default kind (`student.DEFAULT_KIND`), so records and configs keep the form
    # they had before there were kinds and still read back as nequip's
    kind: Literal["nequip"] = Field("nequip", exclude=True)
    init: Text = Field("scratch", description="where the campaign's student starts: a shipped student's name "
                       "(`amala potential list`), fine-tuned where the teacher's spot checks find it wrong "
                       "(`audit`), or scratch: a committee trained on the fly from the campaign's own labels")
    r_max: Float = Field(5.0, ge=2.0, le=12.0, description="cutoff radius in Å (5 Å holds the Li-S and P-S "
                         "first shells and most of the second)")
    l_max: Int = Field(1, ge=0, le=3, description="highest rotation order of the features (1 is the usual "
                       "speed/accuracy compromise; 2-3 are several times slower)")
    num_features: Int = Field(16, ge=4, le=256, description="features per irrep channel")
    num_layers: Int = Field(2, ge=1, le=8, description="interaction layers (receptive field = layers x r_max)")
    radial_mlp_width: Int = Field(32, ge=4, le=256, description="width of the radial network")
    radial_mlp_depth: Int = Field(1, ge=1, le=4, description="hidden layers of the radial network")
    epochs: Int = Field(200, ge=1, le=10_000, description="maximum training epochs (early stopping may end "
                        "sooner); at most 10,000")
    patience: Int | None = Field(30, ge=1, le=10_000, description="epochs without a better validation loss "
                                 "before training stops; null runs every epoch")
    max_minutes: Float | None = Field(None, gt=0, le=7 * 24 * 60, description="wall-time limit of the training "
                                      "in minutes (Lightning's max_time, counted across resumes: a checkpoint "
                                      "carries its elapsed time); the best epoch so far is kept; null: no limit")
    batch_size: Int = Field(4, ge=1, le=256, description="frames per training batch")
    learning_rate: Float = Field(0.005, gt=0, le=0.1, description="Adam's learning rate, reduced on plateaus")
    model_dtype: Literal["float32", "float64"] = Field("float32", description="float32 is ~2x faster and its "
                                                       "force error is far below a teacher's")
    energy_weight: Float = Field(1.0, ge=0, le=10_000, description="loss weight of the per-atom energy MSE (eV²)")
    force_weight: Float = Field(10.0, ge=0, le=1000, description="loss weight of the force MSE ((eV/Å)²): "
                                "forces drive MD and give 3N numbers per frame against one energy, so they "
                                "weigh most")
    stress_weight: Float = Field(1.0, ge=0, le=100_000, description="loss weight of the stress MSE ((eV/Å³)²), "
                                 "used only when every frame has a stress; it keeps NPT densities right")
    energy_shifts: Literal["mean", "least_squares"] = Field(
        "mean", description="per-element energy shifts: one shift, the mean energy per atom, for every element "
        "(mean), or one per element fitted by least squares to the frames' energies (least_squares: right when "
        "the frames span compositions, where one shift leaves errors of eV per frame to the network)")
    zbl: bool = Field(False, description="add nequip's ZBL pair repulsion as a prior, so atoms pushed closer than "
                      "any frame showed are repelled instead of collapsing")

    @field_validator("init")
    @classmethod
    def _known_init(cls, value: str) -> str:
        from amala.oracles.mlip import shipped

        if value != "scratch" and value not in shipped.names():
            raise ValueError(f"init: no shipped student {value!r} (shipped: {', '.join(shipped.names()) or 'none'}; "
                             "or scratch)")
        return value

    @model_validator(mode="after")
    def _something_to_learn(self):
        if self.energy_weight == 0 and self.force_weight == 0:
            raise ValueError("energy_weight and force_weight are both 0: the student would learn nothing")
        return self


def _frames(frames: list[Atoms] | Path | str, what: str) -> list[Atoms]:
    """Frames from a list or an extxyz file; each must carry a teacher's energy and forces."""
    if isinstance(frames, (str, Path)):
        if not Path(frames).is_file():
            raise StudentTrainingFailed(f"{what} frames: no file {frames}")
        frames = read(frames, ":")
    frames = list(frames)
    if not frames:
        raise StudentTrainingFailed(f"{what} frames: none given")
    for i, atoms in enumerate(frames):
        results = getattr(atoms.calc, "results", {})
        if "energy" not in results or "forces" not in results:
            raise StudentTrainingFailed(f"{what} frame {i}: no teacher energy and forces")
    return frames


def _check_elements(frames: list[Atoms], types: list[str], what: str) -> None:
    """Fail before training (not minutes into it) on an element the model has no type for."""
    for i, atoms in enumerate(frames):
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(types))
        if unknown:
            raise StudentTrainingFailed(f"{what} frame {i}: element(s) {', '.join(unknown)} not among the "
                                        f"model's types {', '.join(types)}")


def energy_shifts(frames: list[Atoms], types: list[str]) -> list[float]:
    """Per-element energy shifts (eV/atom, in `types` order) that best explain the frames' energies as a
    sum over atoms, by least squares: E_frame ≈ Σ_e n_e(frame) · shift_e. Frames of one composition pin
    only one combination of the shifts; the minimum-norm solution is taken (any other gives the same
    energies to those frames)."""
    counts = np.array([[a.get_chemical_symbols().count(t) for t in types] for a in frames], dtype=float)
    energies = np.array([a.calc.results["energy"] for a in frames], dtype=float)
    shifts, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    return [float(s) for s in shifts]


def _has_stress(frames: list[Atoms]) -> bool:
    return all("stress" in getattr(a.calc, "results", {}) and a.pbc.all() for a in frames)


def training_config(spec: StudentSpec, type_names: list[str], train_file: Path, val_file: Path, seed: int,
                    device: str = "cpu", stress: bool = True, shifts: list[float] | None = None,
                    init_from: Path | None = None) -> dict:
    """The hydra config of `nequip-train` as a dict. `stress`: whether all frames carry a stress (the
    stress loss is left out otherwise). The model's energy shift, force scale and neighbour count are
    taken from the training data's statistics, as nequip recommends, unless `shifts` gives the
    per-element shifts (`energy_shifts`). `init_from`: a checkpoint or a `.nequip.zip` package whose
    model (architecture and weights) training starts from, instead of a new model: a fine-tune.
    `spec.max_minutes` bounds the wall time (the best epoch so far is kept)."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    types = list(type_names)
    files = {f"{split}_file_path": str(Path(path).resolve())
             for split, path in (("train", train_file), ("val", val_file), ("test", val_file))}
    loader = {"_target_": "torch.utils.data.DataLoader", "batch_size": spec.batch_size}
    coeffs = {"total_energy": spec.energy_weight, "forces": spec.force_weight}
    if stress and spec.stress_weight > 0:
        coeffs["stress"] = spec.stress_weight
    metrics = {"_target_": "nequip.train.EnergyForceStressMetrics",
               "coeffs": {"per_atom_energy_mae": 1.0, "forces_mae": 1.0}}
    callbacks = [{"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "dirpath": "${hydra:runtime.output_dir}",
                  "filename": "best", "monitor": MONITOR, "mode": "min", "save_top_k": 1, "save_last": True}]
    if spec.patience is not None:
        callbacks.append({"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": MONITOR,
                          "mode": "min", "patience": spec.patience})
    return {
        "run": ["train"],
        "seed": seed,
        "cutoff_radius": spec.r_max,
        "model_type_names": types,
        "chemical_species": types,
        "data": {
            "_target_": "nequip.data.datamodule.ASEDataModule", "seed": seed, **files,
            "transforms": [
                {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper", "model_type_names": types,
                 "chemical_species_to_atom_type_map": {t: t for t in types}},
                {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": spec.r_max}],
            "train_dataloader": {**loader, "shuffle": True},
            "val_dataloader": loader,
            "test_dataloader": loader,
            "stats_manager": {"_target_": "nequip.data.CommonDataStatisticsManager", "type_names": types}},
        "trainer": {
            "_target_": "lightning.Trainer", "max_epochs": spec.epochs, **_time_limit(spec),
            "accelerator": "gpu" if device == "cuda" else "cpu", "devices": 1,
            "enable_progress_bar": False, "enable_model_summary": False, "logger": False,
            "log_every_n_steps": 1, "callbacks": callbacks},
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "loss": {"_target_": "nequip.train.EnergyForceStressLoss", "per_atom_energy": True, "coeffs": coeffs},
            "val_metrics": metrics, "test_metrics": metrics,
            "optimizer": {"_target_": "torch.optim.Adam", "lr": spec.learning_rate},
            "lr_scheduler": {
                "scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "factor": 0.5,
                              "patience": max(1, (spec.patience or 20) // 3), "min_lr": 1e-6},
                "monitor": MONITOR, "interval": "epoch", "frequency": 1},
            "model": _model(spec, types, seed, shifts, init_from)},
        "global_options": {"allow_tf32": False},
    }


def _time_limit(spec: StudentSpec) -> dict:
    if spec.max_minutes is None:
        return {}
    seconds = max(60, round(spec.max_minutes * 60))
    return {"max_time": f"{seconds // 86400:02d}:{seconds % 86400 // 3600:02d}:{seconds % 3600 // 60:02d}:"
                        f"{seconds % 60:02d}"}


def _model(spec: StudentSpec, types: list[str], seed: int, shifts: list[float] | None, init_from: Path | None) -> dict:
    if init_from is not None:  # a fine-tune: from a training checkpoint, or from a packaged (shipped) model
        path = str(Path(init_from).resolve())
        if path.endswith(".nequip.zip"):
            return {"_target_": "nequip.model.ModelFromPackage", "package_path": path}
        return {"_target_": "nequip.model.ModelFromCheckpoint", "checkpoint_path": path}
    model = {"_target_": "nequip.model.NequIPGNNModel", "seed": seed, "model_dtype": spec.model_dtype,
             "type_names": types, "r_max": spec.r_max, "l_max": spec.l_max, "parity": True,
             "num_layers": spec.num_layers, "num_features": spec.num_features,
             "radial_mlp_depth": spec.radial_mlp_depth, "radial_mlp_width": spec.radial_mlp_width,
             "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
             "per_type_energy_shifts": dict(zip(types, shifts)) if shifts is not None
             else "${training_data_stats:per_atom_energy_mean}",
             "per_type_energy_scales": "${training_data_stats:forces_rms}"}
    if spec.zbl:
        model["pair_potential"] = {"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal",
                                   "chemical_species": types}
    return model


def held_out_errors(calculator, frames: list[Atoms]) -> tuple[float, float]:
    """(energy MAE in meV/atom, force MAE in meV/Å, per component) of `calculator` against the frames'
    stored labels, evaluated through the calculator as MD would."""
    frames = _frames(frames, "held-out")
    energy_errors, force_errors = [], []
    for atoms in frames:
        reference = atoms.calc.results
        probe = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        probe.calc = calculator
        energy_errors.append(abs(probe.get_potential_energy() - reference["energy"]) / len(atoms))
        force_errors.append(np.abs(probe.get_forces() - reference["forces"]).ravel())
    return 1000 * float(np.mean(energy_errors)), 1000 * float(np.mean(np.concatenate(force_errors)))


def load_calculator(path: Path | str, device: str = "cpu"):
    """The ASE calculator of a nequip model file: compiled (`.nequip.pt2`) or saved (checkpoint or
    `.nequip.zip` package)."""
    import torch
    from nequip.integrations.ase import NequIPCalculator

    # loading sets torch's process-wide default dtype to float64 (nequip's global state); put it back,
    # or every later float32 model in the process breaks (SevenNet's teacher, amala's GNN surrogates)
    default = torch.get_default_dtype()
    try:
        if str(path).endswith(".nequip.pt2"):
            return NequIPCalculator.from_compiled_model(str(path), device=device,
                                                        chemical_species_to_atom_type_map=True)
        return NequIPCalculator._from_saved_model(str(path), device=device, chemical_species_to_atom_type_map=True)
    finally:
        torch.set_default_dtype(default)


def aot_compile(source: Path, output: Path, log: Path, device: str = "cpu", timeout_s: float = 1800) -> str | None:
    """`nequip-compile` (AOTInductor, for ASE) of a checkpoint or package into `output`: None when it
    worked, else why not (its log is `log`)."""
    try:
        command = [_tool("nequip-compile"), str(source), str(output), "--mode", "aotinductor", "--device", device,
                   "--target", "ase"]
        with open(log, "w") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s)
        if done.returncode != 0 or not Path(output).is_file():
            return f"nequip-compile failed: {_last_error(log)}"
    except subprocess.TimeoutExpired:
        return f"nequip-compile timed out after {timeout_s:g} s"
    except (OSError, StudentTrainingFailed) as error:
        return f"nequip-compile could not run: {error}"
    return None


def _last_error(log: Path) -> str:
    """The line of a log that says what went wrong: the last `SomethingError: ...`, else the last line."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception)\b", line):
            return line[:300]
    return lines[-1][:300] if lines else "(empty log)"


def _tool(name: str) -> str:
    """A console script of this environment (next to sys.executable), else from PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.is_file() else shutil.which(name)
    if found is None:
        raise StudentTrainingFailed(f"{name}: not found next to {sys.executable} nor on PATH (pip install nequip)")
    return found


@dataclass
class NequIPStudent:
    """A trained NequIP potential and what it was measured to be worth (a `student.Student`)."""

    Spec: ClassVar[type[StudentSpec]] = StudentSpec
    kind: ClassVar[str] = "nequip"
    title: ClassVar[str] = "NequIP"

    folder: Path
    checkpoint: Path
    seed: int
    n_train: int
    n_val: int
    energy_mae_meV_atom: float
    force_mae_meV_A: float
    spec: StudentSpec = field(default_factory=StudentSpec)
    compiled: Path | None = None
    compile_error: str | None = None

    def calculator(self, device: str = "cpu"):
        """An ASE calculator: the compiled model when there is one, else the checkpoint (slower)."""
        return load_calculator(self.compiled if self.compiled is not None else self.checkpoint, device)

    def record(self) -> dict:
        """JSON-able description for the store and for `student.json`."""
        return {"kind": "nequip", "seed": self.seed, "n_train": self.n_train, "n_val": self.n_val,
                "energy_mae_meV_atom": self.energy_mae_meV_atom, "force_mae_meV_A": self.force_mae_meV_A,
                "files": {"folder": str(self.folder), "checkpoint": str(self.checkpoint),
                          "compiled": None if self.compiled is None else str(self.compiled)},
                "compile_error": self.compile_error, "spec": self.spec.model_dump(),
                "nequip_version": version("nequip")}

    def save(self) -> None:
        """Write `student.json` (atomically: a half-written file must not pass for a finished student)."""
        path = self.folder / "student.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.record(), indent=1))
        temporary.replace(path)

    def compile(self, device: str = "cpu") -> NequIPStudent:
        return compile_student(self, device)

    @classmethod
    def train(cls, train_frames: list[Atoms] | Path, val_frames: list[Atoms] | Path, spec: StudentSpec, seed: int,
              folder: Path, device: str = "cpu", timeout_s: float = 6 * 3600) -> NequIPStudent:
        return train_student(train_frames, val_frames, spec, seed, folder, device, timeout_s)

    @classmethod
    def train_ensemble(cls, train_frames: list[Atoms] | Path, val_frames: list[Atoms] | Path, spec: StudentSpec,
                       **settings) -> StudentEnsemble:
        return train_ensemble(train_frames, val_frames, spec, **settings)

    @classmethod
    def load(cls, folder: Path) -> NequIPStudent:
        record = json.loads((Path(folder) / "student.json").read_text())
        files = record["files"]
        return cls(folder=Path(folder), checkpoint=Path(files["checkpoint"]), seed=record["seed"],
                   n_train=record["n_train"], n_val=record["n_val"],
                   energy_mae_meV_atom=record["energy_mae_meV_atom"], force_mae_meV_A=record["force_mae_meV_A"],
                   spec=StudentSpec(**record["spec"]),
                   compiled=None if files["compiled"] is None else Path(files["compiled"]),
                   compile_error=record.get("compile_error"))


def train_student(train_frames: list[Atoms] | Path, val_frames: list[Atoms] | Path, spec: StudentSpec, seed: int,
                  folder: Path, device: str = "cpu", timeout_s: float = 6 * 3600,
                  type_names: list[str] | None = None, init_from: Path | None = None) -> NequIPStudent:
    """Train one student in `folder` (train.extxyz, val.extxyz, config.yaml, train.log, run/) and measure
    its held-out errors on `val_frames`. `type_names`: the elements the model knows (default: those of
    the training frames). `init_from`: a checkpoint to start from (a fine-tune of that model: its
    architecture and elements are kept). A folder that already holds a finished student returns it
    untrained (asked with a larger `epochs` or `max_minutes` only, it trains on from its last epoch); one
    whose training was killed resumes from its last epoch."""
    started = _start(train_frames, val_frames, spec, seed, folder, device, type_names, init_from=init_from)
    return started if isinstance(started, NequIPStudent) else started.finish(timeout_s)


@dataclass
class _Training:
    """A `nequip-train` process under way; `finish` waits for it and measures the student."""

    folder: Path
    process: subprocess.Popen
    train: list[Atoms]
    val: list[Atoms]
    spec: StudentSpec
    seed: int
    device: str
    started: float
    log_offset: int = 0  # where this run's part of train.log starts

    def finish(self, timeout_s: float) -> NequIPStudent:
        log = self.folder / "train.log"
        try:
            self.process.wait(timeout=max(1.0, timeout_s - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise StudentTrainingFailed(f"nequip-train timed out after {timeout_s:g} s (log: {log})") from None
        checkpoint = self.folder / "run" / "best.ckpt"
        if self.process.returncode != 0 or not checkpoint.is_file():
            raise StudentTrainingFailed(f"nequip-train failed ({log}): {_last_error(log)}")
        with open(log, "rb") as handle:  # Lightning stops on SIGTERM and exits 0: stopped is not finished
            handle.seek(self.log_offset)
            if b"Received SIGTERM" in handle.read():
                raise StudentTrainingFailed(f"nequip-train was stopped (SIGTERM) before it finished ({log}); the "
                                            "same call resumes it from its last epoch")
        student = NequIPStudent(folder=self.folder, checkpoint=checkpoint, seed=self.seed, n_train=len(self.train),
                          n_val=len(self.val), energy_mae_meV_atom=float("nan"), force_mae_meV_A=float("nan"),
                          spec=self.spec)
        student.energy_mae_meV_atom, student.force_mae_meV_A = held_out_errors(student.calculator(self.device),
                                                                               self.val)
        student.save()
        return student


def _start(train_frames, val_frames, spec: StudentSpec, seed: int, folder: Path, device: str,
           type_names: list[str] | None, threads: int | None = None,
           init_from: Path | None = None) -> NequIPStudent | _Training:
    """The finished student in `folder`, or a started `nequip-train` process for it: resumed from the last
    checkpoint of a training that was killed (its epochs are not repeated), else a new one."""
    folder = Path(folder)
    if (folder / "student.json").is_file():
        student = NequIPStudent.load(folder)
        if student.seed == seed and student.spec == spec:
            return student
        budget = {"epochs": spec.epochs, "max_minutes": spec.max_minutes}
        if not (student.seed == seed and student.spec.model_copy(update=budget) == spec
                and (folder / "run" / "last.ckpt").is_file()):
            raise ValueError(f"{folder}: holds a student trained with other settings (seed {student.seed}); "
                             "use another folder")
        (folder / "student.json").unlink()  # only a new epoch or time limit: the same training goes on
    train, val = _frames(train_frames, "training"), _frames(val_frames, "validation")
    types = sorted(set(type_names or {s for atoms in train for s in atoms.get_chemical_symbols()}))
    for what, frames in (("training", train), ("validation", val)):
        _check_elements(frames, types, what)
    folder.mkdir(parents=True, exist_ok=True)
    train_file, val_file = folder / "train.extxyz", folder / "val.extxyz"
    write(train_file, train, format="extxyz")
    write(val_file, val, format="extxyz")
    shifts = energy_shifts(train, types) if spec.energy_shifts == "least_squares" and init_from is None else None
    config = training_config(spec, types, train_file, val_file, seed, device, stress=_has_stress(train + val),
                             shifts=shifts, init_from=init_from)
    run = folder / "run"
    last = run / "last.ckpt"
    if last.is_file():  # a training killed part-way: go on from its last epoch, with the same data and settings
        config["ckpt_path"] = str(last.resolve())
    else:
        shutil.rmtree(run, ignore_errors=True)  # killed before its first checkpoint: nothing to keep
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = [_tool("nequip-train"), "-cp", str(folder.resolve()), "-cn", "config", f"hydra.run.dir={run.resolve()}"]
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    log = folder / "train.log"
    offset = log.stat().st_size if log.is_file() else 0
    with open(log, "a") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder, env=env)
    return _Training(folder, process, train, val, spec, seed, device, time.monotonic(), offset)


def compile_student(student: NequIPStudent, device: str = "cpu", timeout_s: float = 1800) -> NequIPStudent:
    """AOTInductor-compile the student for ASE (several times faster in MD; takes minutes and needs a C++
    compiler). On any failure the student stays uncompiled and `compile_error` says why."""
    if (student.compiled is not None and student.compiled.is_file()) or student.compile_error:
        return student  # compiled before, or failed before (a resume does not spend minutes failing again)
    output = student.folder / "student.nequip.pt2"
    reason = aot_compile(student.checkpoint, output, student.folder / "compile.log", device, timeout_s)
    if reason is None:
        reason = compiled_disagrees(output, student.checkpoint, _probe_frame(student), device)
    student.compiled, student.compile_error = (None, reason) if reason else (output, None)
    student.save()
    return student


def _probe_frame(student: NequIPStudent) -> Atoms | None:
    """A frame the student was validated on (the compiled model is checked on it), if its folder keeps one."""
    path = student.folder / "val.extxyz"
    return read(path, 0) if path.is_file() else None


def compiled_disagrees(compiled: Path, saved: Path, frame: Atoms | None, device: str = "cpu",
                       tolerance_eV_A: float = 1e-3) -> str | None:
    """Why a compiled model must not be used, None when its forces on `frame` match the saved model's
    (checkpoint or package) within `tolerance_eV_A`. Measured here: an AOTInductor compile of a student
    with nequip's ZBL prior (torch 2.13, nequip 0.19.1) returned NaN for every frame, while the same weights
    uncompiled were right; so a compiled model is used only after this check."""
    if frame is None:
        return None
    try:
        fast = load_calculator(compiled, device)
        slow = load_calculator(saved, device)
    except Exception as error:  # noqa: BLE001 - any load failure means: do not use it
        return f"the compiled model does not load: {type(error).__name__}: {' '.join(str(error).split())[:200]}"
    probe = Atoms(frame.numbers, positions=frame.positions, cell=frame.cell, pbc=frame.pbc)
    probe.calc = fast
    compiled_forces = probe.get_forces().copy()
    probe.calc = slow
    reference = probe.get_forces()
    if not np.all(np.isfinite(compiled_forces)):
        return "the compiled model gives non-finite forces where the uncompiled one does not: left uncompiled"
    difference = float(np.abs(compiled_forces - reference).max())
    if difference > tolerance_eV_A:
        return f"the compiled model's forces differ from the uncompiled one's by {difference:.3g} eV/Å: left uncompiled"
    return None


def train_ensemble(train_frames: list[Atoms] | Path, val_frames: list[Atoms] | Path, spec: StudentSpec,
                   size: int = 3, seed: int = 0, folder: Path = Path("committee"), device: str = "cpu",
                   bootstrap: bool = False, timeout_s: float = 6 * 3600) -> StudentEnsemble:
    """`size` students in folder/member_k, seeds seed+k; with `bootstrap`, member k trains on a resample
    (with replacement) of the training frames drawn with its own seed. Finished members are reused."""
    if not 2 <= size <= 16:
        raise ValueError(f"committee size: need 2 to 16 members (a deviation needs two), got {size}")
    train = _frames(train_frames, "training")
    types = sorted({s for atoms in train for s in atoms.get_chemical_symbols()})
    # the members train side by side, each on its share of the cores: most of a small student's time is
    # nequip-train starting up (~8 s of imports), which then overlaps instead of adding up
    threads = max(1, (os.cpu_count() or 1) // size) if device == "cpu" else None
    started = []
    try:
        for k in range(size):
            frames = train
            if bootstrap:
                picks = np.random.default_rng(seed + k).integers(0, len(train), len(train))
                frames = [train[i] for i in picks]
            started.append(_start(frames, val_frames, spec, seed + k, Path(folder) / f"member_{k}", device, types,
                                  threads))
        members = [job if isinstance(job, NequIPStudent) else job.finish(timeout_s) for job in started]
    finally:  # a failed member (or Ctrl-C) leaves no training process behind
        for job in started:
            if isinstance(job, _Training) and job.process.poll() is None:
                job.process.kill()
                job.process.wait()
    return StudentEnsemble(members, device)
