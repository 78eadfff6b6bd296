"""queue/rejected.csv: every inbox row or file that cannot be used, listed once with its reason.

A read appends its new rejections in one write and leaves one note per file (the count and the first
reasons). A rejection is known by a 64-bit digest of (file, row, reason), so a row read again is never
listed twice: the digests a read could meet again are looked up in rejected.csv before it starts.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from array import array
from pathlib import Path

import numpy as np

from amala.oracles.tables.queue_inbox import Lines

FIRST_REASONS = 3  # reasons quoted in a file's summary note


def _digest(file: str, row, reason: str) -> int:
    """64 bits naming one rejection: 8 bytes a row in memory, where the strings took hundreds."""
    text = f"{file}\x1f{row}\x1f{reason}".encode("utf-8", "replace")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def listed_digests(path: Path, files: set[str], state: dict) -> np.ndarray:
    """Sorted digests of the rejections in rejected.csv that a read could list again: those of
    `files` (read again from their start, or past the part kept), and any written after the state
    was last saved (a crash between the two), whose files are counted in `state["listed"]`. A
    damaged line is skipped; nothing is read when neither is wanted."""
    tail = state["rejected_bytes"]
    size = path.stat().st_size if path.exists() else 0
    start = 0 if files else tail
    if start >= size:
        return np.zeros(0, np.uint64)
    digests = array("Q")
    with path.open("rb") as f:
        f.seek(start)
        lines = Lines(f, start, errors="replace")
        begins = start
        for record in csv.reader(lines):
            if len(record) == 4 and (begins, record) != (0, ["file", "row", "id", "reason"]):
                if begins >= tail:
                    state["listed"][record[0]] = state["listed"].get(record[0], 0) + 1
                if begins >= tail or record[0] in files:
                    digests.append(_digest(record[0], record[1], record[3]))
            begins = lines.offset
    return np.unique(np.frombuffer(digests, dtype=np.uint64))


class Rejections:
    """One read's rejections: each appended to rejected.csv (opened once, on the first) unless
    its digest is in `listed`, counted per file in `counts` and for the notes."""

    def __init__(self, path: Path, listed: np.ndarray, counts: dict[str, int]):
        self.path, self.listed, self.counts = path, listed, counts
        self.by_file: dict[str, tuple[int, list[str]]] = {}  # file -> (rows listed now, the first reasons)
        self.last_row: dict[str, float] = {}  # file -> its last row rejected in this read (inf: the whole file)
        self._file = self._writer = None

    def add(self, file: str, row, shown: str, reason: str) -> None:
        self.last_row[file] = max(self.last_row.get(file, 0), math.inf if row == "" else row)
        if len(self.listed):
            digest = np.uint64(_digest(file, row, reason))
            i = int(np.searchsorted(self.listed, digest))
            if i < len(self.listed) and self.listed[i] == digest:
                return
        if self._writer is None:
            self._file = self.path.open("a", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, ["file", "row", "id", "reason"])
            if self._file.tell() == 0:
                self._writer.writeheader()
            elif not _ends_with_newline(self.path):
                self._file.write("\r\n")  # a line cut short by a crash stays a line of its own
        self._writer.writerow({"file": file, "row": row, "id": shown, "reason": reason})
        self.counts[file] = self.counts.get(file, 0) + 1
        count, first = self.by_file.get(file, (0, []))
        if len(first) < FIRST_REASONS:
            first.append(f"row {row}: {reason}" if row != "" else reason)
        self.by_file[file] = (count + 1, first)

    def close(self) -> int:
        """Flush what was written to disk; returns rejected.csv's size."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        return self.path.stat().st_size if self.path.exists() else 0

    def notes(self, path: Path) -> list[tuple[str, str]]:
        """One warning per file (how many, the first few reasons): a 50 MB file of bad rows is one
        line in the event log, not a million."""
        notes = []
        for name, (count, first) in self.by_file.items():
            more = f"; {count - FIRST_REASONS} more" if count > FIRST_REASONS else ""
            notes.append(("warning", f"inbox {name}: {count} row(s) rejected (listed in {path}): "
                                     f"{'; '.join(first)}{more}"))
        return notes


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
