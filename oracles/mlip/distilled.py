"""The distilled student: trained once on the distillation's frames, measured on held-out glasses (what
`shipped` then packages with its card).

`amala potential distill` makes the frames (`distill`); this module turns them into a student and says
what it is worth. The training set is every `thin`-th step of each glass's teacher MD (consecutive steps
of one trajectory are nearly the same frame: thinning costs little information and much training time)
plus all synthetic and hot-burst frames; the validation set is the `validation` generator's frames (other
cells, never trained on); the held-out glasses are only measured, for the card.

The recipe differs from a campaign's on-the-fly student where the data differ: per-element energy shifts
by least squares (the frames span 13 compositions, one mean shift would leave eV per frame to the
network), nequip's ZBL prior for close contacts, and loss weights that keep the energy term near a
tenth of the loss and let stress count (at the errors such a student reaches, the old weights gave the
energy ~5e-4 and the stress ~1e-5 of it). A killed training resumes from its last epoch.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

from ase import Atoms

from amala.oracles.mlip.distill import DistillSpec, Job
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.nequip_student import NequIPStudent, StudentSpec, held_out_errors, train_student

__all__ = ["DISTILLED_STUDENT", "SIZES", "generator_frames", "heldout_errors", "student_folder", "training_sets",
           "train_distilled"]

DISTILLED_STUDENT = StudentSpec(l_max=1, num_features=32, num_layers=2, radial_mlp_width=32, epochs=200, patience=25,
                                batch_size=8, learning_rate=0.005, energy_shifts="least_squares", zbl=True,
                                energy_weight=100.0, force_weight=10.0, stress_weight=1000.0)

# the same recipe at other sizes: the accuracy/speed trade-off (small for CPU MD at the lowest cost, gpu
# for a GPU, where l_max 2 and 64 features cost little per step)
SIZES = {"small": DISTILLED_STUDENT.model_copy(update={"num_features": 16, "radial_mlp_width": 16}),
         "medium": DISTILLED_STUDENT,
         "gpu": DISTILLED_STUDENT.model_copy(update={"l_max": 2, "num_features": 64, "num_layers": 3,
                                                     "radial_mlp_width": 64})}


def generator_frames(spec: DistillSpec, workdir: Path, generator: str, heldout: bool) -> dict[int, list[Atoms]]:
    """Each glass's frames from one generator (held-out glasses or training glasses), where it ran."""
    folders = {i: Job(i, generator).folder(workdir, spec) for i, glass in enumerate(spec.compositions)
               if glass.heldout == heldout}
    return {i: _unique(FrameStore(folder).frames()) for i, folder in folders.items() if folder.exists()}


def _unique(frames: list[Atoms]) -> list[Atoms]:
    """One frame per frame id (a store two writers appended to may hold a frame twice)."""
    seen: set[str] = set()
    return [f for f in frames if not (f.info["frame_id"] in seen or seen.add(f.info["frame_id"]))]


def training_sets(spec: DistillSpec, workdir: str | Path, thin: int = 5) -> tuple[list[Atoms], list[Atoms]]:
    """(training frames, validation frames) from the distillation's stores; held-out glasses in neither."""
    workdir = Path(workdir)
    train = [f for frames in generator_frames(spec, workdir, "md", False).values() for f in frames[::thin]]
    for generator in ("synthetic", "hot"):
        train += [f for frames in generator_frames(spec, workdir, generator, False).values() for f in frames]
    val = [f for frames in generator_frames(spec, workdir, "validation", False).values() for f in frames]
    return train, val


def student_folder(workdir: str | Path, student: StudentSpec = DISTILLED_STUDENT) -> Path:
    """Where a student of this size trains: one folder per architecture, so sizes can be compared."""
    return Path(workdir) / f"student-l{student.l_max}-f{student.num_features}-n{student.num_layers}"


def train_distilled(spec: DistillSpec, workdir: str | Path, student: StudentSpec = DISTILLED_STUDENT, seed: int = 0,
                    thin: int = 5, device: str = "cpu") -> NequIPStudent:
    """Train (or resume, or return the finished) student of a distillation in `student_folder`."""
    workdir = Path(workdir)
    train, val = training_sets(spec, workdir, thin)
    if len(val) < 8:
        raise ValueError(f"{workdir}: {len(val)} validation frames (need >= 8): run `amala potential distill` "
                         "to the end first")
    types = sorted({s for frames in (train, val) for a in frames for s in a.get_chemical_symbols()})
    started = time.time()
    folder = student_folder(workdir, student)
    trained = train_student(train, val, student, seed, folder, device=device, type_names=types)
    (folder / "training.json").write_text(json.dumps(
        {"train_frames": len(train), "validation_frames": len(val), "thin": thin, "seconds_this_call": time.time()
         - started}, indent=1))
    return trained


def heldout_errors(calculator, spec: DistillSpec, workdir: str | Path) -> list[dict]:
    """Force (meV/Å, per component) and energy (meV/atom) MAE of `calculator` on each held-out glass, per
    temperature of its teacher MD (`md:<T>K`), the melt included and marked."""
    rows = []
    for index, frames in generator_frames(spec, Path(workdir), "md", True).items():
        glass = spec.compositions[index]
        by_temperature = defaultdict(list)  # source `md:<T>K`
        for frame in frames:
            by_temperature[float(frame.info["source"].split(":")[1].rstrip("K"))].append(frame)
        for temperature, group in sorted(by_temperature.items(), reverse=True):  # the MD's order: melt first
            energy_mae, force_mae = held_out_errors(calculator, group)
            rows.append({"composition": glass.composition, "family": glass.family, "T_K": temperature,
                         "melt": temperature == glass.melt_K, "frames": len(group),
                         "force_mae_meV_A": force_mae, "energy_mae_meV_atom": energy_mae})
    return rows
