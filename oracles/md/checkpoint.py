"""Where an interrupted glass simulation picks up: after the quench, or after a finished temperature.

A standard-profile glass is ~20 min of MD and a long one over an hour; a run killed in the middle
(Ctrl-C, a reboot, a lost cluster node) would otherwise start the candidate from zero. The MD
protocol saves the cell (positions, velocities, image flags: LAMMPS `write_data`) together with the
results of every temperature already done, at the two kinds of boundaries where no thermostat or
barostat state carries over (each temperature starts its own fixes). A resumed candidate reads that
state back and simulates only what is missing.

The checkpoint is keyed by the starting cell, the profile and the seed, so a changed profile or a
different cell never resumes from a stale state; it is removed once the candidate has its result.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from amala.core.atomic_files import write_text

STATE = "checkpoint.lammps-data"
INDEX = "checkpoint.json"


def fingerprint(atoms, profile, seed: int) -> str:
    """What must not have changed for a saved state to be resumed."""
    digest = hashlib.sha256(repr((sorted(asdict(profile).items()), seed)).encode())
    digest.update(np.ascontiguousarray(atoms.get_positions(), dtype=np.float64).tobytes())
    digest.update(" ".join(atoms.get_chemical_symbols()).encode())
    return digest.hexdigest()[:16]


class Checkpoint:
    def __init__(self, folder: Path, key: str):
        self.folder, self.key = Path(folder), key
        self.state = self.folder / STATE

    def load(self) -> dict | None:
        """The saved results per temperature ({} after the quench alone), or None to start afresh."""
        try:
            index = json.loads((self.folder / INDEX).read_text())
        except (OSError, ValueError):
            return None
        if index.get("key") != self.key or not self.state.is_file():
            return None
        return {float(T): done for T, done in index.get("done", {}).items()}

    def save(self, lmp, done: dict[float, dict]) -> None:
        """Write the cell and the finished temperatures; both replace the old ones atomically, the
        index last, so a kill during the save leaves the previous checkpoint valid."""
        partial = self.folder / f"{STATE}.partial"
        lmp.command(f"write_data {partial} nocoeff")
        os.replace(partial, self.state)
        write_text(self.folder / INDEX, json.dumps({"key": self.key, "done": {f"{T:g}": v for T, v in done.items()}}))

    def clear(self) -> None:
        for name in (INDEX, STATE):
            (self.folder / name).unlink(missing_ok=True)
