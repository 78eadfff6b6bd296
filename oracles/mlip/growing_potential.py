"""One machine-learned potential per campaign and teacher, grown composition by composition.

Training a fresh committee for every glass would pay the teacher again for what the campaign has
already learned (Li–S and P–S bonding do not change between Li3PS4 and Li7P3S11). So the mlip
oracle keeps one labelled-frame store and one line of committees per teacher in `folder`
(`labels/`, `committee_*/`): a new composition starts from the committee trained on every label so
far, asks the teacher only where that committee is uncertain about the new glass, and retrains;
later candidates need fewer calls (the aim: the last three ≤ 30% of the first three).

Candidates of a batch may run side by side (processes, Dask): the learning of one candidate holds
an exclusive lock on the folder (`fcntl.flock`, released by the kernel if the process dies), so the
store has one writer at a time and a waiting candidate starts from what the other one just learned;
the production MD runs outside the lock. Each candidate's own loop state lies in its own folder, so
a killed candidate resumes its learning without repeating a teacher call.
"""

from __future__ import annotations

import fcntl
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from amala.core.atomic_files import write_text
from amala.core.plugins import PluginSpec
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.on_the_fly import OnTheFly, OnTheFlyResult, OnTheFlySpec
from amala.oracles.mlip.teachers import Teacher

log = logging.getLogger(__name__)

ORDER = "candidates.json"  # candidate keys in the order the potential first learned them


@dataclass
class Learned:
    """What one candidate's learning left: the loop's result (committee, rounds, log) and the
    per-evaluation record of the potential (`record`), stored in `Evaluation.provenance["potential"]`."""

    result: OnTheFlyResult
    record: dict


class GrowingPotential:
    def __init__(self, folder: Path, teacher: Teacher, student: PluginSpec, settings: OnTheFlySpec,
                 seed: int = 0, device: str = "cpu"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.teacher, self.student, self.settings, self.seed, self.device = teacher, student, settings, seed, device

    def learn(self, key: str, start: Atoms, run_folder: Path, compile: bool = False) -> Learned:
        """Extend the potential until it knows the glass of candidate `key` (its MD starts from `start`);
        `run_folder` holds this candidate's loop state. With `compile`, the final committee's members
        are compiled inside the lock too, so two candidates never compile the same member at once."""
        with folder_lock(self.folder, key):
            order = candidate_order(self.folder, key)
            store = FrameStore(self.folder / "labels")
            learned = OnTheFly(run_folder, self.teacher, self.student, self.settings, seed=self.seed,
                               device=self.device, store=store, committees=self.folder, tag=key).run(start)
            if compile:
                learned.committee = learned.committee.compiled()
        version = Path(learned.committee.members[0].folder).parent.name
        elements = sorted({s for frame in store.frames() for s in frame.get_chemical_symbols()})
        before = _state_field(run_folder, "labels_at_start")
        record = {"system": "-".join(elements), "version": version, "teacher": self.teacher.name,
                  "teacher_calls": learned.teacher_calls, "labels_before": before, "labels_after": len(store),
                  "uncertain_fraction": learned.uncertain_fraction, "order": order,
                  "converged": learned.converged, "folder": str(self.folder)}
        return Learned(learned, record)


@contextmanager
def folder_lock(folder: Path, who: str):
    """An exclusive lock on a potential's folder (released by the kernel if the process dies), saying in
    the log when `who` has to wait for another candidate."""
    with open(Path(folder) / "lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s waits for the potential in %s (another candidate is teaching it)", who, folder)
            waited = time.perf_counter()
            fcntl.flock(fh, fcntl.LOCK_EX)
            log.info("%s got the potential after %.0f s", who, time.perf_counter() - waited)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def candidate_order(folder: Path, key: str) -> int:
    """Candidate `key`'s place among those the potential in `folder` learned (kept on a resume); call it
    under `folder_lock`."""
    path = Path(folder) / ORDER
    keys = json.loads(path.read_text()) if path.is_file() else []
    if key not in keys:
        keys.append(key)
        write_text(path, json.dumps(keys, indent=1))
    return keys.index(key)


def _state_field(run_folder: Path, name: str):
    path = Path(run_folder) / "state.json"
    return json.loads(path.read_text()).get(name) if path.is_file() else None
