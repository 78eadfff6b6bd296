"""Reading the file queue's inbox incrementally: what changed since the last read, and its new rows.

A run polling a big inbox neither parses it again nor holds it in memory: `queue/inbox-read.json`
keeps, per inbox file, its identity (device, inode, size, mtime), how many bytes of whole rows were
read and their SHA-1, and the results taken so far (at most one per requested id, so it stays small
however big the inbox). An unchanged file is not opened; a CSV that grew is parsed, a row at a time,
from where the last read stopped; one changed otherwise (edited, cut, replaced: the part read no
longer hashes the same) is read again from its start, as is a changed JSON file. A last line without
its line end is left for a later read while its file changed in the last few seconds (a writer may
be in the middle of it: "1.5" of "1.5e-4" would be stored as a result), then read as it is, and read
again if the file grows. A rejection is known by a 64-bit digest of (file, row, reason), so a row
read again is never listed twice. Inbox files are never moved or changed, the state is saved
(atomically) only after rejected.csv, and every result taken is handed back on every read, not only
the first: a crash between reading and storing loses nothing, and the store's
one-evaluation-per-(candidate, oracle, fidelity) rule makes taking a result again harmless. Without
inbox-read.json, or with rejected.csv shorter than when it was saved, the next read starts over.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from amala.oracles.tables.queue_rows import check_header, csv_row, flat

LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # the end of a line ended by \r alone
# a file modified this recently could change again, size and all, within one tick of its mtime: it is
# not taken as unchanged next time, but checked (its read part hashed again)
RECENT_NS = 2_000_000_000

QUIET_SECONDS = 5.0  # a last line without its line end counts as finished once its file is this old


@dataclass
class Read:
    """Where a read of one inbox file begins (and, as it goes, how far its complete rows reach)."""
    stat: list[int]  # device, inode, size, modification time (ns) when the read began
    offset: int = 0  # bytes of whole rows (and the header) taken
    rows: int = 0  # rows taken (the row number of the last of them)
    header: list[str] | None = None
    digest: Any = field(default_factory=hashlib.sha1)  # of the file's first `offset` bytes
    sha1: str = hashlib.sha1().hexdigest()  # the digest's value when the read began
    relisting: bool = False  # the last read listed rejections past `rows`, which this one meets again


def plan(path: Path, entry: dict | None) -> Read | None:
    """None if the file is as it was last read; else where to read it from: where the last read
    stopped if it is the same CSV file grown by appending (the part read is unchanged, byte for
    byte), else its start."""
    try:
        st = path.stat()
    except OSError:  # gone since the folder was listed: reading it says why
        return Read([0, 0, -1, 0])
    stat = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]
    if entry is not None and entry["stat"] == stat:
        return None
    if (entry is not None and entry["header"] and path.suffix.lower() == ".csv" and entry["stat"][:2] == stat[:2]
            and entry["offset"] <= st.st_size):
        try:
            digest = _prefix_digest(path, entry["offset"])
        except OSError:
            return Read(stat)
        if digest.hexdigest() == entry["sha1"]:
            return Read(stat, entry["offset"], entry["rows"], entry["header"], digest, entry["sha1"],
                         entry["relisting"])
    return Read(stat)


def _prefix_digest(path: Path, size: int):
    digest = hashlib.sha1()
    with path.open("rb") as f:
        while size > 0:
            chunk = f.read(min(size, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            size -= len(chunk)
    return digest


def drop_results(state: dict, name: str, after_row: int) -> set[str]:
    """Take back the results of a file's rows after `after_row`; returns their ids."""
    results = state["results"]
    keys = {k for k, r in results.items() if r["file"] == name and r["row"] > after_row}
    for key in keys:
        del results[key]
    return keys


def inbox_rows(path: Path, read: Read, columns: list[str]) -> Iterator[tuple[int, Any]]:
    """(row number, row) of an inbox file from `read.offset` on, one at a time: flat dicts from a
    CSV (a UTF-8 byte-order mark, as Excel writes, is fine), or the items of a JSON list (objects
    with their nested values flattened; anything else is kept as it is, so the row is rejected with
    its reason rather than skipped). ValueError names a file that cannot be read as a whole.

    A CSV row that ends with a line end moves `read.offset`/`rows` past it; one that does not (the
    last line) is left alone while the file changed lately, else read, and read again if it grows."""
    if path.suffix.lower() != ".csv":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if not isinstance(data, list):
            raise ValueError(f"expected a JSON list of result objects, got {type(data).__name__}")
        yield from enumerate((flat(item) for item in data), start=1)
        return
    with path.open("rb") as f:
        f.seek(read.offset)
        lines = Lines(f, read.offset, read.digest)
        reader = csv.DictReader(lines, fieldnames=read.header)
        if read.header is None:
            check_header(reader.fieldnames, columns)
            read.header = list(reader.fieldnames)
            if lines.ended:
                read.offset = lines.commit()
        number = read.rows
        for row in reader:
            number += 1
            if not lines.ended and _written_lately(path):
                return  # maybe still being written ("1.5" of "1.5e-4" would be a wrong result): next read
            yield number, csv_row(row)
            if lines.ended:
                read.offset, read.rows = lines.commit(), number


def _written_lately(path: Path) -> bool:
    """Whether the file changed in the last QUIET_SECONDS (a writer may still be at its last line;
    many programs end a file without a line end, so an older one's last line is read as it is)."""
    try:
        return time.time() - path.stat().st_mtime < QUIET_SECONDS
    except OSError:
        return False


class Lines:
    """The text lines of a binary file from byte `offset` on, for csv.reader - which takes a line
    only when it needs one, so after each record `offset` is the byte where the record ended.
    `commit` adds the bytes up to there to `digest`. Lines end at \\n, \\r\\n or a lone \\r (old Mac
    files, which csv.reader must get line by line)."""

    def __init__(self, f, offset: int, digest=None, errors: str = "strict"):
        self.f, self.offset, self.digest, self.errors = f, offset, digest, errors
        self.ended = True  # the last line handed out had its line end
        self._pending = bytearray()  # bytes read and not yet added to the digest
        self._digested = self._next = offset  # bytes up to: added to the digest; read from f
        self._pieces: list[tuple[str, int]] = []  # (text, bytes) still to hand out, last first

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if not self._pieces:
            raw = self.f.readline()
            if not raw:
                raise StopIteration
            start, self._next = self._next, self._next + len(raw)
            bom = len(codecs.BOM_UTF8) if start == 0 and raw.startswith(codecs.BOM_UTF8) else 0
            try:
                text = raw[bom:].decode("utf-8", self.errors)
            except UnicodeDecodeError as exc:
                raise ValueError(f"not UTF-8 text (byte {start + bom + exc.start}); save it as UTF-8 CSV or "
                                 "JSON") from None
            if self.digest is not None:
                self._pending += raw
            cr = text.find("\r")
            if cr != -1 and (cr < len(text) - 2 or text[-1] == "\r") and LONE_CR.search(text):
                pieces = [p for p in LONE_CR.split(text) if p]
                sizes = [len(p.encode("utf-8", self.errors)) for p in pieces]
                sizes[0] += len(raw) - sum(sizes)  # the byte-order mark (and what errors="replace" changed)
                self._pieces = list(zip(pieces, sizes))[::-1]
            else:
                self._pieces = [(text, len(raw))]
        text, size = self._pieces.pop()
        self.offset += size
        self.ended = text.endswith(("\n", "\r"))
        return text

    def commit(self) -> int:
        """Add the bytes up to `offset` to the digest; returns `offset`."""
        if self.digest is not None:
            n = self.offset - self._digested
            if n == len(self._pending):  # the usual case: a record ends where the last line read does
                self.digest.update(self._pending)
                self._pending.clear()
            else:
                self.digest.update(self._pending[:n])
                del self._pending[:n]
        self._digested = self.offset
        return self.offset
