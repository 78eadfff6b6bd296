"""The store of teacher-labelled frames of one on-the-fly run: every teacher call is paid for once.

A teacher call costs seconds (SevenNet-0) to hours (DFT), so the store is written as the calls happen
and never loses one: `labels.extxyz` holds one frame per successful label (energy eV, forces eV/Å,
stress eV/Å³, its `frame_id`, where it came from and the teacher's provenance), `failures.jsonl` one
line per failed call (frame_id, source, reason, teacher). `FrameStore.label` is the way in (`keep`
for frames the teacher computed in its own MD): a frame already labelled is returned from the file,
a frame that already failed is not retried.

Crash safety: each record is rendered in memory and appended in one write followed by fsync, so a kill
leaves at most one truncated record at the end of a file. Opening the store cuts such a tail off (the
next append would otherwise glue onto half a line), and reading skips it. extxyz is plain ASE: any
tool reads the labels with `ase.io.read(path, ":")`. One writer per store (one run, one process).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from amala.oracles.mlip.teachers import Teacher, TeacherFailed

__all__ = ["FrameStore", "frame_id"]

POSITION_QUANTUM = 1e-5  # Å: positions (and cell) closer than this are the same frame


def frame_id(atoms: Atoms) -> str:
    """16 hex digits of sha256 over atomic numbers, positions and cell (both rounded to 1e-5 Å) and pbc:
    the same structure gets the same id in every process, so it is never labelled twice."""
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    for values in (atoms.positions, atoms.cell.array):
        quanta = np.rint(np.asarray(values, dtype=float) / POSITION_QUANTUM).astype(np.int64)
        h.update(quanta.tobytes())
    h.update(np.asarray(atoms.pbc, dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class _Record:
    """Where one complete frame lies in labels.extxyz (bytes start:end) and its id and source, read
    from the raw comment line (ASE would turn an all-digit id into an int)."""

    start: int
    end: int
    frame_id: str
    source: str


_ID = re.compile(r'(?:^|\s)frame_id="?([0-9a-f]{16})"?(?:\s|$)')
_SOURCE = re.compile(r'(?:^|\s)source=(?:"((?:[^"\\]|\\.)*)"|(\S+))')


def _scan_extxyz(data: bytes, path: Path) -> tuple[list[_Record], int]:
    """The complete frames of an extxyz file and the byte offset where they end. A frame is complete when
    its count line, comment line and all its atom lines end in a newline; anything after the last
    complete frame is a truncated append."""
    records, pos = [], 0
    while pos < len(data):
        start = pos
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        try:
            natoms = int(data[pos:nl])
        except ValueError:
            if start == 0 or data[pos:nl].strip():
                raise ValueError(f"{path}: byte {pos}: expected an atom count, got {data[pos:nl][:40]!r}") from None
            break
        comment_end = data.find(b"\n", nl + 1)
        if comment_end < 0:
            break
        comment = data[nl + 1:comment_end].decode()
        end = comment_end
        for _ in range(natoms):
            end = data.find(b"\n", end + 1)
            if end < 0:
                break
        if end < 0:
            break
        match = _ID.search(comment)
        if match is None:
            raise ValueError(f"{path}: frame at byte {start} has no frame_id: not written by FrameStore")
        source = _SOURCE.search(comment)
        text = "" if source is None else (source.group(1) if source.group(1) is not None else source.group(2))
        records.append(_Record(start, end + 1, match.group(1), text.replace('\\"', '"')))
        pos = end + 1
    return records, pos


def _append(path: Path, text: str) -> None:
    """Append one record in one write, then fsync: after a crash it is either all there or a cut tail."""
    data = text.encode()
    with open(path, "ab") as fh:
        size = fh.tell()
        try:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        except BaseException:
            fh.truncate(size)  # a failed write (disk full) leaves no half record behind
            raise


class FrameStore:
    """Teacher labels of one run, in `folder`: `labels.extxyz` and `failures.jsonl` (`labels_path`,
    `failures_path`, for the database to reference)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.labels_path = self.folder / "labels.extxyz"
        self.failures_path = self.folder / "failures.jsonl"
        self._records = self._repair_labels()
        self._index = {r.frame_id: i for i, r in enumerate(self._records)}
        self._failures = self._repair_failures()
        self._failed = {f["frame_id"] for f in self._failures}

    # -- opening: cut off what a kill left half-written --------------------------------------------
    def _repair_labels(self) -> list[_Record]:
        if not self.labels_path.exists():
            return []
        data = self.labels_path.read_bytes()
        records, end = _scan_extxyz(data, self.labels_path)
        if end < len(data):
            warnings.warn(f"{self.labels_path}: dropped a truncated last frame ({len(data) - end} bytes)",
                          stacklevel=3)
            os.truncate(self.labels_path, end)
        return records

    def _repair_failures(self) -> list[dict]:
        if not self.failures_path.exists():
            return []
        data = self.failures_path.read_bytes()
        end = data.rfind(b"\n") + 1  # a line without its newline is a cut append
        if end < len(data):
            warnings.warn(f"{self.failures_path}: dropped a truncated last line", stacklevel=3)
            os.truncate(self.failures_path, end)
        return _read_jsonl(data[:end], self.failures_path)

    # -- the entry point -----------------------------------------------------------------------------
    def label(self, teacher: Teacher, atoms: Atoms, source: str) -> Atoms | None:
        """The labelled frame of `atoms`: from the file when already labelled, None when the teacher
        already failed on it, else from one teacher call, stored before it is returned. A failed call
        (TeacherFailed) is recorded and returns None; other errors (teacher not installed) propagate."""
        fid = frame_id(atoms)
        if fid in self._index:
            return self._read(self._records[self._index[fid]])
        if fid in self._failed:
            return None
        try:
            labelled = teacher.label(atoms)
        except TeacherFailed as exc:
            self._record_failure(fid, source, str(exc), teacher.name)
            return None
        return self._store(fid, source, labelled, teacher.provenance())

    def keep(self, teacher: Teacher, labelled: Atoms, source: str) -> Atoms | None:
        """Store a frame the teacher has already computed (a step of its own MD, whose energy, forces and
        stress are in `labelled.calc.results`): no second call for what was paid for once. Non-finite
        results are recorded as a failure, as `label` records them, and give None."""
        fid = frame_id(labelled)
        if fid in self._index:
            return self._read(self._records[self._index[fid]])
        results = labelled.calc.results
        if not all(np.all(np.isfinite(results[k])) for k in ("energy", "forces", "stress") if k in results):
            self._record_failure(fid, source, f"{teacher.name}: non-finite energy, forces or stress", teacher.name)
            return None
        return self._store(fid, source, labelled, teacher.provenance())

    def _store(self, fid: str, source: str, labelled: Atoms, provenance: dict) -> Atoms:
        frame = Atoms(numbers=labelled.numbers, positions=labelled.positions, cell=labelled.cell, pbc=labelled.pbc)
        frame.info.update(frame_id=fid, source=source, **_flat_provenance(provenance))
        results = {k: v for k, v in labelled.calc.results.items() if k in ("energy", "forces", "stress")}
        frame.calc = SinglePointCalculator(frame, **results)
        buffer = io.StringIO()
        ase.io.write(buffer, frame, format="extxyz")
        text = buffer.getvalue()
        start = self.labels_path.stat().st_size if self.labels_path.exists() else 0
        _append(self.labels_path, text)
        record = _Record(start, start + len(text.encode()), fid, source)
        self._index[fid] = len(self._records)
        self._records.append(record)
        return self._read(record)

    def _record_failure(self, fid: str, source: str, reason: str, teacher: str) -> None:
        entry = {"frame_id": fid, "source": source, "reason": reason, "teacher": teacher,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        _append(self.failures_path, json.dumps(entry) + "\n")
        self._failures.append(entry)
        self._failed.add(fid)

    # -- reading -------------------------------------------------------------------------------------
    def _read(self, record: _Record) -> Atoms:
        with open(self.labels_path, "rb") as fh:
            fh.seek(record.start)
            text = fh.read(record.end - record.start).decode()
        return _with_raw_fields(ase.io.read(io.StringIO(text), format="extxyz"), record)

    def frames(self) -> list[Atoms]:
        """Every labelled frame, in labelling order, each with energy/forces/stress in a SinglePointCalculator.
        Reads the file again (skipping a truncated tail), so it also sees what another reader would."""
        if not self.labels_path.exists():
            return []
        data = self.labels_path.read_bytes()
        records, end = _scan_extxyz(data, self.labels_path)
        if not records:
            return []
        frames = ase.io.read(io.StringIO(data[:end].decode()), index=":", format="extxyz")
        return [_with_raw_fields(f, r) for f, r in zip(frames, records)]

    def failures(self) -> list[dict]:
        """The failed teacher calls (frame_id, source, reason, teacher, time), in order."""
        return [dict(f) for f in self._failures]

    @property
    def calls(self) -> int:
        """Teacher calls ever made for this store: labelled plus failed."""
        return len(self._records) + len(self._failures)

    def calls_from(self, prefix: str) -> int:
        """Teacher calls made for frames whose source starts with `prefix`: one run's share of a store
        that several runs (the candidates of a campaign growing one potential) append to."""
        return (sum(r.source.startswith(prefix) for r in self._records)
                + sum(str(f.get("source", "")).startswith(prefix) for f in self._failures))

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, atoms: Atoms) -> bool:
        """True when `atoms` is labelled (a failed frame is not)."""
        return frame_id(atoms) in self._index

    def split(self, holdout_fraction: float = 0.1, min_holdout: int = 1) -> tuple[list[Atoms], list[Atoms]]:
        """(train, held out), decided by each frame's id: a frame is held out when int(id, 16) % 1000 falls
        below holdout_fraction * 1000, so it stays on its side across retrains as frames are added, and the
        held-out error is always measured on frames no student trained on. With at least 2 frames, at least
        `min_holdout` are held out and at least one is kept for training (the frames with the lowest keys
        fill in; a small store's split can move until enough frames fall on the held-out side by id)."""
        if not 0 <= holdout_fraction < 1:
            raise ValueError(f"holdout_fraction {holdout_fraction}: expected 0 <= fraction < 1")
        frames = self.frames()
        keys = [(int(f.info["frame_id"], 16) % 1000, f.info["frame_id"]) for f in frames]
        order = sorted(range(len(frames)), key=keys.__getitem__)
        held = {i for i in order if keys[i][0] < holdout_fraction * 1000}
        if len(frames) >= 2:
            n_held = min(max(len(held), min_holdout), len(frames) - 1)
            held = set(order[:n_held])
        else:
            held = set()
        train = [f for i, f in enumerate(frames) if i not in held]
        return train, [f for i, f in enumerate(frames) if i in held]


def _with_raw_fields(frame: Atoms, record: _Record) -> Atoms:
    """The id and source exactly as written (ASE's type guessing would read '0123456789012345' as an int)."""
    frame.info["frame_id"], frame.info["source"] = record.frame_id, record.source
    return frame


def _flat_provenance(provenance: dict) -> dict:
    """Provenance as extxyz info values (scalars and strings only): teacher, teacher_model, teacher_version,
    level_of_theory, teacher_<setting>; list settings are joined with 'x' (k-points 2x2x2); empty ones dropped."""
    flat = {"teacher": provenance["teacher"], "teacher_model": provenance["model"],
            "teacher_version": str(provenance["version"]), "level_of_theory": provenance["level_of_theory"]}
    for key, value in provenance.get("settings", {}).items():
        if isinstance(value, (list, tuple)):
            value = "x".join(map(str, value))
        if value not in ("", None):
            flat[f"teacher_{key}"] = value
    return flat


def _read_jsonl(data: bytes, path: Path) -> list[dict]:
    entries = []
    for number, line in enumerate(data.decode().splitlines(), 1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number} is not JSON ({exc.msg})") from None
    return entries
