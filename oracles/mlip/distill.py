"""Frames for a student that ships with amala: a teacher's labels over the glasses campaigns use, made once.

A student trained from scratch inside a campaign sees a few dozen frames of one cell and generalises
badly to the next cell (docs/benchmarks/mlip-li3ps4.md: 180-250 meV/Å on another seed's cell). Distillation pays the
teacher once, over many compositions, and ships the result; each campaign then pays only for what is
new. The frames come from four generators, all labelled by the teacher (SevenNet-0 by default):

- `md`: the teacher's own melt-quench MD of each composition (Langevin NVT at the melt temperature,
  then at each quench temperature), every step kept: a step of the teacher's MD is a label already
  paid for (`FrameStore.keep`);
- `synthetic`: rattled, strained and compressed copies of MD snapshots, labelled one by one (the
  rattle/strain recipe of Gardner et al.'s synthetic pre-training data), so the student has seen
  displaced atoms and other densities than the MD's;
- `hot`: a short burst at `hot_K` from the last MD frame, for close contacts;
- `validation`: a short teacher MD of each training glass from another starting cell, every
  `validation_every`-th step kept: the fixed validation set that early stopping and the learning-rate
  schedule watch, from a separate run and never trained on;
- held-out (`heldout: true` compositions, larger cells): the same `md` generator, never trained on and
  never used for validation: the test set of the shipped student's card.

Everything is deterministic by `seed` and resumable: a job's MD writes a checkpoint (positions,
momenta, step) every `chunk` steps and each frame is appended to its `FrameStore` as it is made, so a
kill, a session's end or a move to another machine loses at most one chunk. The thermostat's random
numbers are seeded per (seed, composition, segment, chunk), so a resumed job is the job that was
never interrupted. Jobs are independent (one per composition and generator, `synthetic` and `hot`
after `md` of the same composition): `jobs` lists them for any executor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from ase import units
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from pydantic import Field

from amala.core.atomic_files import write_arrays, write_text
from amala.core.composition import canonical_composition, parse_composition
from amala.core.plugins import Float, Int, Spec, Text
from amala.oracles.md.cells import build
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.teachers import TeacherSpec, make_teacher

__all__ = ["DEFAULT_COMPOSITIONS", "DistillComposition", "DistillSpec", "Job", "jobs", "run_job", "summary",
           "evenly", "teacher_md"]

GENERATORS = ("md", "synthetic", "hot", "validation")


class DistillComposition(Spec):
    """One glass of the distillation set: its composition, the density of its starting cell, the
    temperatures of its MD (melt first), and whether it is held out (never trained on)."""

    composition: Text
    family: Text
    density_g_cm3: Annotated[Float, Field(ge=0.5, le=10)]
    melt_K: Annotated[Float, Field(gt=0, le=5000)] = 1200.0
    quench_K: Annotated[list[Annotated[Float, Field(gt=0, le=5000)]], Field(min_length=1)] = [900.0, 600.0, 300.0]
    atoms: Annotated[Int, Field(ge=8, le=2000)] = 64
    heldout: bool = False

    @property
    def slug(self) -> str:
        """A folder name: the canonical composition, filesystem-safe."""
        return re.sub(r"[^A-Za-z0-9.]+", "_", canonical_composition(parse_composition(self.composition)))


def _glass(composition: str, family: str, density: float, **kw) -> DistillComposition:
    return DistillComposition(composition=composition, family=family, density_g_cm3=density, **kw)


# The glasses campaigns use (Li2S-P2S5 at 67/70/75/80% Li2S; 75:25 with LiI; one with LiCl; Li borates as
# in Wang 2023's coating; LiPON near Li2.94PO3.5N0.31 as Li2O-Li3N-P2O5; Li silicate and phosphate
# oxides), and two held-out 128-atom glasses at compositions outside the set. Densities: measured or
# typical values of these glasses (g/cm3); the teacher's MD runs at fixed volume.
OXIDE_MELT_K = 2000.0
DEFAULT_COMPOSITIONS = [
    _glass("Li2S:0.67;P2S5:0.33", "thiophosphate", 1.85),
    _glass("Li2S:0.7;P2S5:0.3", "thiophosphate", 1.87),
    _glass("Li2S:0.75;P2S5:0.25", "thiophosphate", 1.88),
    _glass("Li2S:0.8;P2S5:0.2", "thiophosphate", 1.9),
    _glass("LiI:0.1;Li2S:0.675;P2S5:0.225", "thiophosphate", 2.0),
    _glass("LiI:0.2;Li2S:0.6;P2S5:0.2", "thiophosphate", 2.1),
    _glass("LiI:0.3;Li2S:0.525;P2S5:0.175", "thiophosphate", 2.2),
    _glass("LiCl:0.2;Li2S:0.6;P2S5:0.2", "thiophosphate", 1.9),
    _glass("B2O3:0.25;Li2O:0.75", "borate", 2.1, melt_K=OXIDE_MELT_K),
    _glass("B2O3:0.785714;Li2O:0.214286", "borate", 2.2, melt_K=OXIDE_MELT_K),
    _glass("Li2O:0.5537;Li3N:0.1708;P2O5:0.2755", "lipon", 2.5, melt_K=OXIDE_MELT_K),
    _glass("Li2O:0.333333;SiO2:0.666667", "oxide", 2.3, melt_K=OXIDE_MELT_K),
    _glass("Li2O:0.5;P2O5:0.5", "oxide", 2.3, melt_K=OXIDE_MELT_K),
    _glass("LiI:0.15;Li2S:0.61625;P2S5:0.23375", "thiophosphate", 2.05, atoms=128, heldout=True,
           quench_K=[900.0, 700.0, 500.0]),
    _glass("Li2O:0.4;SiO2:0.6", "oxide", 2.35, atoms=128, heldout=True, melt_K=OXIDE_MELT_K,
           quench_K=[900.0, 700.0, 500.0]),
]


class DistillSpec(Spec):
    """A distillation run: the teacher, the glasses, and how many frames each generator makes."""

    name: Text = "glass-student"
    teacher: TeacherSpec = TeacherSpec()
    compositions: Annotated[list[DistillComposition], Field(min_length=1)] = DEFAULT_COMPOSITIONS
    dt_fs: Annotated[Float, Field(gt=0, le=5)] = 2.0
    melt_ps: Annotated[Float, Field(gt=0, le=100)] = 0.4
    segment_ps: Annotated[list[Annotated[Float, Field(gt=0, le=100)]], Field(min_length=1)] = [0.4, 0.2, 0.2]
    chunk: Annotated[Int, Field(ge=1, le=100000)] = 50
    snapshots: Annotated[Int, Field(ge=0, le=1000)] = 10
    rattle_A: Annotated[list[Annotated[Float, Field(gt=0, le=1)]], Field(max_length=10)] = [0.05, 0.1, 0.15]
    strain: Annotated[Float, Field(ge=0, le=0.2)] = 0.03
    strained_copies: Annotated[Int, Field(ge=0, le=10)] = 2
    compress: Annotated[Float, Field(gt=0.5, le=1)] = 0.95
    hot_K: Annotated[Float, Field(gt=0, le=5000)] = 1800.0
    hot_steps: Annotated[Int, Field(ge=0, le=100000)] = 50
    validation_steps: Annotated[Int, Field(ge=0, le=100000)] = 100
    validation_every: Annotated[Int, Field(ge=1, le=10000)] = 10
    seed: Int = 0

    def segments(self, glass: DistillComposition) -> list[tuple[float, int]]:
        """(temperature K, steps) of the glass's MD: the melt, then each quench temperature (the last
        segment length repeats when there are more temperatures than lengths)."""
        steps = [round(self.melt_ps * 1000 / self.dt_fs)]
        for k, _ in enumerate(glass.quench_K):
            steps.append(round(self.segment_ps[min(k, len(self.segment_ps) - 1)] * 1000 / self.dt_fs))
        return list(zip([glass.melt_K, *glass.quench_K], steps))


@dataclass(frozen=True)
class Job:
    """One unit of work: a generator over one glass (`index` into `spec.compositions`)."""

    index: int
    generator: str

    def folder(self, workdir: Path, spec: DistillSpec) -> Path:
        glass = spec.compositions[self.index]
        return Path(workdir) / ("heldout" if glass.heldout else "train") / glass.slug / self.generator


def jobs(spec: DistillSpec) -> list[list[Job]]:
    """The jobs in waves: the training glasses' `md` and `validation` (independent cells), then
    `synthetic` and `hot`, which start from the md frames, then the held-out glasses' `md`. Jobs of one
    wave may run in parallel. The order is what a first training needs soonest: its frames and its
    validation set; the held-out glasses are needed only to measure the trained student, so they can be
    labelled while it trains."""
    training = [i for i, glass in enumerate(spec.compositions) if not glass.heldout]
    heldout = [i for i, glass in enumerate(spec.compositions) if glass.heldout]
    first = [Job(i, "md") for i in training] + [Job(i, "validation") for i in training]
    later = [Job(i, g) for i in training for g in ("synthetic", "hot")]
    return [first, later, [Job(i, "md") for i in heldout]]


def run_job(spec: DistillSpec, job: Job, workdir: str | Path, threads: int = 1) -> dict:
    """Run (or resume) one job; returns its counts. Teacher failures are recorded in the job's store
    and the job goes on. `threads`: torch threads of the teacher (one per job: jobs run side by side)."""
    import torch

    torch.set_num_threads(threads)
    folder = job.folder(Path(workdir), spec)
    teacher = make_teacher(spec.teacher)
    store = FrameStore(folder)
    glass = spec.compositions[job.index]
    if job.generator == "md":
        teacher_md(spec, job, glass, teacher, store, folder, spec.seed * 1000 + job.index, spec.segments(glass))
    elif job.generator == "validation":
        half = spec.validation_steps // 2
        teacher_md(spec, job, glass, teacher, store, folder, spec.seed * 1000 + job.index + 500,
                    [(glass.melt_K, half), (glass.quench_K[0], spec.validation_steps - half)],
                    every=spec.validation_every, stream=100)
    elif job.generator == "synthetic":
        _synthetic(spec, job, teacher, store, FrameStore(job.folder(Path(workdir), spec).with_name("md")))
    elif job.generator == "hot":
        _hot(spec, job, glass, teacher, store, FrameStore(job.folder(Path(workdir), spec).with_name("md")))
    else:
        raise ValueError(f"distillation job: unknown generator {job.generator!r} (known: {', '.join(GENERATORS)})")
    done = {"composition": glass.composition, "generator": job.generator, "frames": len(store),
            "failures": len(store.failures()), "heldout": glass.heldout}
    write_text(folder / "done.json", json.dumps(done))
    return done


def teacher_md(spec: DistillSpec, job: Job, glass: DistillComposition, teacher, store: FrameStore,
               folder: Path, cell_seed: int, plan: list[tuple[float, int]], every: int = 1, stream: int = 0,
               prefix: str = "md") -> None:
    """Teacher MD of a new cell (`cell_seed`) through the (temperature K, steps) segments of `plan`, every
    `every`-th step kept (source `<prefix>:<T>K`); `stream` keeps the thermostat's random numbers apart
    from another job's. Resumes from `folder/md_state.npz`."""
    atoms = build(parse_composition(glass.composition), glass.density_g_cm3, glass.atoms, seed=cell_seed).atoms
    state_file = folder / "md_state.npz"
    if state_file.exists():
        state = np.load(state_file)
        atoms.positions = state["positions"]
        atoms.set_momenta(state["momenta"])
        segment, step = int(state["segment"]), int(state["step"])
    else:
        MaxwellBoltzmannDistribution(atoms, temperature_K=glass.melt_K,
                                     rng=np.random.default_rng([spec.seed, job.index] + ([stream] if stream else [])))
        Stationary(atoms)
        segment, step = 0, 0
    atoms.calc = teacher.calculator()
    while segment < len(plan):
        temperature, total = plan[segment]
        while step < total:
            n = min(spec.chunk, total - step)
            rng = np.random.default_rng([spec.seed, job.index, stream + segment, step // spec.chunk])
            dyn = Langevin(atoms, spec.dt_fs * units.fs, temperature_K=temperature, friction=0.02 / units.fs,
                           rng=rng, fixcm=False)
            source = f"{prefix}:{temperature:.0f}K"
            dyn.attach(lambda source=source: store.keep(teacher, atoms, source), interval=every)
            dyn.run(n)
            step += n
            write_arrays(state_file, positions=atoms.get_positions(), momenta=atoms.get_momenta(),
                        segment=segment, step=step)
        segment, step = segment + 1, 0
        write_arrays(state_file, positions=atoms.get_positions(), momenta=atoms.get_momenta(),
                    segment=segment, step=step)


def evenly(items: list, n: int) -> list:
    """`n` items spread evenly over `items` (first and last included), all of them when there are fewer."""
    if n <= 0 or not items:
        return []
    return [items[i] for i in np.linspace(0, len(items) - 1, min(n, len(items))).round().astype(int)]


def _quench_frames(glass: DistillComposition, md: FrameStore) -> list:
    """The MD frames after the melt: the snapshots the synthetic copies start from."""
    melt = f"md:{glass.melt_K:.0f}K"
    return [f for f in md.frames() if f.info["source"] != melt]


def _synthetic(spec: DistillSpec, job: Job, teacher, store: FrameStore, md: FrameStore) -> None:
    glass = spec.compositions[job.index]
    frames = _quench_frames(glass, md)
    if not frames or spec.snapshots == 0:
        return
    for k, picked in enumerate(evenly(frames, spec.snapshots)):
        base = picked.copy()
        base.calc = None
        rng = np.random.default_rng([spec.seed, job.index, 7, k])
        for sigma in spec.rattle_A:
            copy = base.copy()
            copy.positions = copy.positions + rng.normal(0.0, sigma, copy.positions.shape)
            store.label(teacher, copy, f"rattle:{sigma:g}A")
        for _ in range(spec.strained_copies):
            eps = rng.uniform(-spec.strain, spec.strain, (3, 3))
            copy = base.copy()
            copy.set_cell(copy.cell.array @ (np.eye(3) + (eps + eps.T) / 2), scale_atoms=True)
            store.label(teacher, copy, f"strain:{spec.strain:g}")
        copy = base.copy()
        copy.set_cell(copy.cell.array * spec.compress, scale_atoms=True)
        store.label(teacher, copy, f"compress:{spec.compress:g}")


def _hot(spec: DistillSpec, job: Job, glass: DistillComposition, teacher, store: FrameStore,
         md: FrameStore) -> None:
    if spec.hot_steps == 0 or len(store) >= spec.hot_steps:
        return  # a finished burst; an unfinished one (killed) is run again: it is short
    frames = md.frames()
    if not frames:
        return
    atoms = frames[-1].copy()
    atoms.calc = teacher.calculator()
    rng = np.random.default_rng([spec.seed, job.index, 9])
    MaxwellBoltzmannDistribution(atoms, temperature_K=spec.hot_K, rng=rng)
    Stationary(atoms)
    dyn = Langevin(atoms, spec.dt_fs * units.fs, temperature_K=spec.hot_K, friction=0.02 / units.fs, rng=rng,
                   fixcm=False)
    source = f"hot:{spec.hot_K:.0f}K"
    dyn.attach(lambda: store.keep(teacher, atoms, source), interval=1)
    dyn.run(spec.hot_steps)


def summary(spec: DistillSpec, workdir: str | Path) -> list[dict]:
    """Frames and failures per glass and generator, from the stores on disk (done or not)."""
    rows = []
    for wave in jobs(spec):
        for job in wave:
            folder = job.folder(Path(workdir), spec)
            glass = spec.compositions[job.index]
            store = FrameStore(folder) if folder.exists() else None
            rows.append({"composition": glass.composition, "family": glass.family, "heldout": glass.heldout,
                         "generator": job.generator, "frames": len(store) if store else 0,
                         "failures": len(store.failures()) if store else 0,
                         "done": (folder / "done.json").exists()})
    return rows
