"""Evaluations done outside amala (a wet lab, an HPC MD run), exchanged as files.

Requests go to `<workdir>/queue/outbox/` as one CSV and one JSON file per batch, a row per
candidate: its id, representation, and for every requested property an empty value, std and the
unit the value must be given in. Results come back as files of the same form dropped into
`queue/inbox/` (a copy of the outbox file, filled in, is enough; rows may arrive over several
files and days). A row sets `status` to `failed` with a `reason` when the lab could not measure it.

Each row is checked on its own: the id must have been requested, a given representation must be
the requested one, every value a finite number (positive where the property is; JSON `true` is not
1, and `1_0` is not 10), every unit the requested unit, and no column or key the request did not
have (a misspelt header would otherwise make every row look empty). A row that fails is never
half-ingested: it is listed in `queue/rejected.csv` with its reason, and the rest of the file is
used; a file that cannot be read at all (not UTF-8, not a JSON list, `;`-separated) is listed as a
whole. Nothing is skipped silently: an empty row, or a copied request row not filled in yet, is
listed too (its result is still awaited). CSV from Excel (UTF-8 with a byte-order mark) is fine.
Each read appends its new rejections to rejected.csv in one write and leaves one note per file (the
count and the first reasons), so a huge file of bad rows costs seconds, not an event per row.

Reading is incremental, so a run polling a big inbox neither parses it again nor holds it in memory:
`queue/inbox-read.json` keeps, per inbox file, its identity (device, inode, size, mtime), how many
bytes of whole rows were read and their SHA-1, and the results taken so far (at most one per
requested id, so it stays small however big the inbox). An unchanged file is not opened; a CSV that
grew is parsed, a row at a time, from where the last read stopped; one changed otherwise (edited,
cut, replaced: the part read no longer hashes the same) is read again from its start, as is a
changed JSON file. A last line without its line end is left for a later read while its file changed
in the last few seconds (a writer may be in the middle of it: "1.5" of "1.5e-4" would be stored as a
result), then read as it is, and read again if the file grows. A rejection is known by a 64-bit
digest of (file, row, reason), so a row read again is never listed twice. Inbox files are never
moved or changed, the state is saved (atomically) only after rejected.csv, and every result taken is
handed back on every read, not only the first: a crash between reading and storing loses nothing,
and the store's one-evaluation-per-(candidate, oracle, fidelity) rule makes taking a result again
harmless. Without inbox-read.json, or with rejected.csv shorter than when it was saved, the next
read starts over.

`evaluate` waits up to `wait_seconds` for the batch's results, polling the inbox, and returns
those that arrived; the campaign keeps them and the batch waits for the rest (the next run,
e.g. tonight's scheduled one, reads the inbox again). With `give_up_seconds`, a result missing
that long after its request is recorded as a failed evaluation, so the campaign moves on.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import os
import re
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import numpy as np
from pydantic import Field

from amala.core.candidate import Candidate
from amala.core.evaluation import Evaluation, Measurement
from amala.core.log_scale import is_log_scale
from amala.core.plugins import Float, Text
from amala.oracles.protocol import Oracle
from amala.oracles.registry import OracleSpec, Properties

# a plain ASCII decimal: no "_" separators (float("1_0") is 10), no other scripts' digits
NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
FIRST_REASONS = 3  # reasons quoted in a file's summary note
LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # the end of a line ended by \r alone
STATE_VERSION = 1  # of queue/inbox-read.json; another version is not trusted: the inbox is read again
# a file modified this recently could change again, size and all, within one tick of its mtime: it is
# not taken as unchanged next time, but checked (its read part hashed again)
RECENT_NS = 2_000_000_000


class RowError(ValueError):
    """One inbox row that cannot be used; the message says why."""


class QueueSpec(OracleSpec):
    kind: Literal["queue"] = "queue"
    properties: Properties = Field(None, description="what to ask for (default: the objective)")
    units: dict[Text, Text] | None = Field(None, description="property -> unit the results must be given in "
                                           "(default: the dataset's or the MD oracle's units)")
    wait_seconds: Float = Field(0.0, ge=0, le=7 * 86400, description="how long a run waits for a batch's results "
                                "before it pauses (results that arrived are kept; the next run waits for the rest); "
                                "at most a week: the scheduled runs are what wait longer")
    poll_seconds: Float = Field(30.0, gt=0, le=86400, description="how often the inbox is read while waiting")
    give_up_hours: Float | None = Field(None, gt=0, le=24 * 366, description="a result missing this long after its "
                                        "request is stored as failed and the campaign moves on (default: wait; at "
                                        "most a year)")


class QueueOracle(Oracle):
    Spec = QueueSpec
    representations = ("smiles", "composition")  # a lab or HPC queue can be asked about anything
    needs_dataset = False

    @classmethod
    def from_spec(cls, spec: QueueSpec, table=None, workdir=None, seed: int = 0) -> QueueOracle:
        """Units: the config's, else the dataset's, else the MD oracle's (what a lab would measure)."""
        units = spec.units
        if units is None:
            from amala.oracles.md.oracle import GlassMDOracle

            known = table.units if table is not None else GlassMDOracle.units
            units = {p: known[p] for p in (spec.properties or known) if p in known}
            missing = sorted(set(spec.properties or ()) - set(units))
            if missing:
                raise ValueError(f"oracle.units: give the units of {missing} (not known from the dataset)")
        give_up = None if spec.give_up_hours is None else spec.give_up_hours * 3600
        return cls(workdir, units, name=spec.name or "queue", wait_seconds=spec.wait_seconds,
                   poll_seconds=spec.poll_seconds, give_up_seconds=give_up)

    fidelity = "external"
    asks_for_objective_only = True  # a lab measures what it is asked for
    mode = "per_batch"  # one request file and one wait per batch, in the flow's own process

    def __init__(self, workdir: str | Path, units: dict[str, str], name: str = "queue", wait_seconds: float = 0.0,
                 poll_seconds: float = 30.0, give_up_seconds: float | None = None):
        """`give_up_seconds`: a result still missing this long after its request becomes a failed
        evaluation ("no external result"), so the campaign can move on; None waits for ever."""
        if not units:
            raise ValueError("oracle.units: a queue oracle needs the properties it requests, with their units")
        self.folder = Path(workdir) / "queue"
        self.outbox, self.inbox = self.folder / "outbox", self.folder / "inbox"
        self.state_path = self.folder / "inbox-read.json"  # what reading the inbox took so far
        for path in (self.outbox, self.inbox):
            path.mkdir(parents=True, exist_ok=True)
        self.units, self.name = dict(units), name
        self.wait_seconds, self.poll_seconds, self.give_up_seconds = wait_seconds, poll_seconds, give_up_seconds
        self._notes: list[tuple[str, str]] = []  # (level, message) for the campaign's event log

    # requests ------------------------------------------------------------------------------
    def request(self, candidates: Sequence[Candidate]) -> Path | None:
        """Write request files for the candidates not requested before (a resumed batch whose
        results are partly in is never asked for twice); None if there were none."""
        known = self.requested()
        new = [c for c in candidates if c.key not in known]
        if not new:
            return None
        digest = hashlib.sha1(",".join(sorted(c.key for c in new)).encode()).hexdigest()[:10]
        stem = self.outbox / f"request-{digest}"
        if not stem.with_suffix(".json").exists():
            rows = [self._blank_row(c) for c in new]
            _write_csv(stem.with_suffix(".csv"), rows, self._columns())
            at = time.time()
            stem.with_suffix(".json").write_text(json.dumps([self._json_row(r, at) for r in rows], indent=1))
            self._notes.append(("info", f"{len(rows)} requests written to {stem}.csv/.json; "
                                        f"results go to {self.inbox}"))
        return stem.with_suffix(".csv")

    def drain_notes(self) -> list[tuple[str, str]]:
        notes, self._notes = self._notes, []
        return notes

    def requested(self) -> dict[str, str]:
        """id -> representation of every candidate ever requested through this outbox."""
        return {key: rep for key, (rep, _) in self._requests().items()}

    def _requests(self) -> dict[str, tuple[str, float]]:
        out: dict[str, tuple[str, float]] = {}
        for path in sorted(self.outbox.glob("request-*.json")):
            for row in json.loads(path.read_text()):
                out.setdefault(row["id"], (row["representation"], float(row.get("requested_at", path.stat().st_mtime))))
        return out

    # results -------------------------------------------------------------------------------
    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        self.request(candidates)
        wanted = {c.key for c in candidates}
        deadline = time.monotonic() + self.wait_seconds
        while True:
            found = {e.candidate_key: e for e in self.collect() if e.candidate_key in wanted}
            if len(found) == len(wanted) or time.monotonic() >= deadline:
                break
            time.sleep(min(self.poll_seconds, max(deadline - time.monotonic(), 0.01)))
        if self.give_up_seconds is not None:
            requests = self._requests()
            for key in wanted - set(found):
                age = time.time() - requests[key][1]
                if age >= self.give_up_seconds:
                    found[key] = Evaluation.failed(key, self.name, self.fidelity, f"no external result within "
                                                   f"{self.give_up_seconds / 3600:g} h of the request")
        if len(found) < len(wanted):
            self._notes.append(("warning", f"{len(wanted) - len(found)} of {len(wanted)} requested results not in "
                                          f"{self.inbox} yet; the batch waits for them"))
        return list(found.values())

    def collect(self) -> list[Evaluation]:
        """Every valid result row in the inbox; every row or file that cannot be used goes to
        queue/rejected.csv with its reason (one write per read, one summary note per file).

        Only what was not read before is parsed (see the module docstring): files unchanged since
        the last read are not opened, a grown CSV is read from where the last read stopped. The
        state is saved after rejected.csv is written, so a crash in between re-reads, never loses."""
        requested, state = self.requested(), self._load_state()
        paths = {p.name: p for p in sorted(self.inbox.iterdir()) if p.suffix.lower() in (".csv", ".json")}
        taken_back = self._read_inbox(paths, requested, state)
        if taken_back - set(state["results"]):
            # a result whose file no longer gives it (edited, taken out) may be in another file, listed
            # there as a second result: every file is read again from its start (rare, and cheap beside
            # a result lost)
            self._read_inbox(paths, requested, state, again=True)
        return self._results(state)

    def _read_inbox(self, paths: dict[str, Path], requested: dict[str, str], state: dict,
                    again: bool = False) -> set[str]:
        """Read what is new in the inbox files (all of them, with `again`) into `state` and save it;
        returns the ids whose results were taken back to be read again, or for good."""
        taken_back: set[str] = set()
        gone = [name for name in state["files"] if name not in paths]
        for name in gone:  # a file taken out of the inbox takes its results with it, as before
            del state["files"][name]
            taken_back |= _drop_results(state, name, 0)
        reads = {name: read for name, path in paths.items()
                 if (read := _plan(path, None if again else state["files"].get(name))) is not None}
        if not reads and not gone:
            return taken_back
        rejected = self.folder / "rejected.csv"
        relisting = {name for name, read in reads.items()  # files that may list some rejections again
                     if (read.offset == 0 and state["listed"].get(name)) or read.relisting}
        out = _Rejections(rejected, _listed(rejected, relisting, state), state["listed"])
        try:
            for name, read in reads.items():
                taken_back |= _drop_results(state, name, read.rows)  # what the part read again gave last time
                state["files"][name] = self._read(paths[name], read, requested, state, out)
        finally:
            state["rejected_bytes"] = out.close()
        self._save_state(state)
        self._notes += out.notes(rejected)
        return taken_back

    def _read(self, path: Path, read: _Read, requested: dict[str, str], state: dict, out: _Rejections) -> dict:
        """Take a file's rows from `read.offset` on: good ones into the state's results, bad ones
        to `out`; return the file's new state entry. A file that cannot be read (as a whole, or
        from where this read began) is listed as a whole and nothing of this read is used."""
        name, results = path.name, state["results"]
        if time.time_ns() - read.stat[3] < RECENT_NS:
            read.stat = [*read.stat[:3], -1]
        before = {"stat": read.stat, "offset": read.offset, "rows": read.rows, "sha1": read.sha1,
                  "header": read.header}
        new: dict[str, dict] = {}
        try:
            for number, row in _inbox_rows(path, read, self._columns()):
                self._take(name, number, row, requested, results, new, out)
        except UnicodeDecodeError as exc:
            out.add(name, "", "", f"unreadable file: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV or JSON")
            entry = before
        except (ValueError, OSError, csv.Error, RecursionError) as exc:
            out.add(name, "", "", f"unreadable file: {_one_line(exc)}")
            entry = before
        else:
            results.update(new)
            entry = {"stat": read.stat, "offset": read.offset, "rows": read.rows, "sha1": read.digest.hexdigest(),
                     "header": read.header if read.offset else None}
        # rejections listed past the part kept (a last line without its end, a file unreadable from
        # some byte on) come again when the file is next read: that read looks them up first
        entry["relisting"] = out.last_row.get(name, 0) > entry["rows"]
        return entry

    def _take(self, name: str, number: int, row, requested: dict[str, str], results: dict, new: dict,
              out: _Rejections) -> None:
        """One inbox row: its result into `new`, or its reason to `out`."""
        try:
            evaluation = self._parse(row, requested)
            key = evaluation.candidate_key
            if key in results or key in new:
                raise RowError(f"a second result for id {key} (the first one is kept)")
        except RowError as exc:
            shown = str(row.get("id", "")) if isinstance(row, dict) else ""
            out.add(name, number, shown[:40], str(exc))
            return
        values = {p: [m.value, m.unit, m.std] for p, m in evaluation.values.items()}
        new[key] = {"file": name, "row": number, "status": evaluation.status, "reason": evaluation.reason,
                    "values": values}

    def _results(self, state: dict) -> list[Evaluation]:
        """The evaluations of the results taken so far, in inbox file and row order."""
        out = []
        for key, r in sorted(state["results"].items(), key=lambda item: (item[1]["file"], item[1]["row"])):
            if r["status"] == "failed":
                evaluation = Evaluation.failed(key, self.name, self.fidelity, r["reason"])
            else:
                evaluation = Evaluation(key, self.name, self.fidelity, "ok",
                                        values={p: Measurement(*m) for p, m in r["values"].items()})
            evaluation.provenance = {"file": str(self.inbox / r["file"]), "row": r["row"]}
            out.append(evaluation)
        return out

    def _load_state(self) -> dict:
        """What earlier reads took (see the module docstring); a fresh state - every file read
        again from its start - when there is none, it is unreadable or of other units, or
        rejected.csv is shorter than when it was saved (removed or cut: what it lacks is listed again)."""
        fresh = {"version": STATE_VERSION, "columns": self._columns(), "rejected_bytes": 0, "listed": {}, "files": {},
                 "results": {}}
        try:
            state = json.loads(self.state_path.read_text())
            rejected = self.folder / "rejected.csv"
            size = rejected.stat().st_size if rejected.exists() else 0
            if state["version"] != STATE_VERSION or state["columns"] != self._columns():
                return fresh
            return state if size >= state["rejected_bytes"] else fresh
        except FileNotFoundError:
            return fresh
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._notes.append(("warning", f"{self.state_path} unreadable ({_one_line(exc)}); the inbox is read "
                                          "again from the start"))
            return fresh

    def _save_state(self, state: dict) -> None:
        from amala.core.atomic_files import write_text  # imports ASE: only once there is something to keep

        write_text(self.state_path, json.dumps(state, separators=(",", ":")))

    def _parse(self, row, requested: dict[str, str]) -> Evaluation:
        if not isinstance(row, dict):
            raise RowError(f"not a JSON object but {type(row).__name__} {_short(row)}")
        if "__surplus__" in row:
            raise RowError(f"more cells than columns ({_short(row['__surplus__'])} left over)")
        if "values" in row:
            raise RowError(f"values must map each property to {{value, std, unit}}, got {_short(row['values'])}")
        unknown = sorted(set(row) - set(self._columns()) - {"requested_at"})
        if unknown:
            raise RowError(f"unknown field(s) {_short(unknown)} (expected {self._columns()})")
        key = _text(row.get("id"), "id")
        if not key:
            raise RowError("an empty row (no id, nothing filled in)" if _blank(row, self.units) else "no id")
        if key not in requested:
            raise RowError(f"unknown id {key!r}: not requested through {self.outbox}")
        given = _text(row.get("representation"), f"id {key}: representation")
        if given and given != requested[key]:
            raise RowError(f"id {key}: representation {given!r} is not the requested {requested[key]!r}")
        if _blank(row, self.units):  # e.g. a copied request row not filled in: the result is still to come
            raise RowError(f"id {key}: nothing filled in (no status, value or reason); the result is still awaited")
        status = (_text(row.get("status"), f"id {key}: status") or "ok").lower()
        if status == "failed":
            reason = _text(row.get("reason"), f"id {key}: reason")
            if not reason:
                raise RowError(f"id {key}: status failed needs a reason")
            return Evaluation.failed(key, self.name, self.fidelity, f"external: {reason}")
        if status != "ok":
            raise RowError(f"id {key}: status {_short(status)} (expected ok or failed)")
        values = {}
        for prop, unit in self.units.items():
            value = _number(row.get(prop), f"id {key}: {prop}")
            if value is None:
                raise RowError(f"id {key}: no value for {prop}")
            if is_log_scale(prop) and value <= 0:
                raise RowError(f"id {key}: {prop} = {value} must be positive")
            got_unit = _text(row.get(f"{prop}_unit"), f"id {key}: {prop}_unit")
            if got_unit != unit:
                raise RowError(f"id {key}: {prop} in {got_unit or 'no unit'!r}, expected {unit!r}")
            std = _number(row.get(f"{prop}_std"), f"id {key}: {prop}_std")
            if std is not None and std < 0:
                raise RowError(f"id {key}: {prop}_std = {std} must not be negative")
            values[prop] = Measurement(value, unit, std)
        return Evaluation(key, self.name, self.fidelity, "ok", values=values)

    # file form -----------------------------------------------------------------------------
    def _columns(self) -> list[str]:
        columns = ["id", "kind", "representation", "status", "reason"]
        for prop in self.units:
            columns += [prop, f"{prop}_std", f"{prop}_unit"]
        return columns

    def _blank_row(self, c: Candidate) -> dict:
        row = {"id": c.key, "kind": c.kind, "representation": c.representation, "status": "", "reason": ""}
        for prop, unit in self.units.items():
            row.update({prop: "", f"{prop}_std": "", f"{prop}_unit": unit})
        return row

    def _json_row(self, row: dict, requested_at: float) -> dict:
        values = {p: {"value": None, "std": None, "unit": u} for p, u in self.units.items()}
        return {"id": row["id"], "kind": row["kind"], "representation": row["representation"], "status": None,
                "reason": None, "values": values, "requested_at": requested_at}


@dataclass
class _Read:
    """Where a read of one inbox file begins (and, as it goes, how far its complete rows reach)."""
    stat: list[int]  # device, inode, size, modification time (ns) when the read began
    offset: int = 0  # bytes of whole rows (and the header) taken
    rows: int = 0  # rows taken (the row number of the last of them)
    header: list[str] | None = None
    digest: Any = field(default_factory=hashlib.sha1)  # of the file's first `offset` bytes
    sha1: str = hashlib.sha1().hexdigest()  # the digest's value when the read began
    relisting: bool = False  # the last read listed rejections past `rows`, which this one meets again


def _plan(path: Path, entry: dict | None) -> _Read | None:
    """None if the file is as it was last read; else where to read it from: where the last read
    stopped if it is the same CSV file grown by appending (the part read is unchanged, byte for
    byte), else its start."""
    try:
        st = path.stat()
    except OSError:  # gone since the folder was listed: reading it says why
        return _Read([0, 0, -1, 0])
    stat = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]
    if entry is not None and entry["stat"] == stat:
        return None
    if (entry is not None and entry["header"] and path.suffix.lower() == ".csv" and entry["stat"][:2] == stat[:2]
            and entry["offset"] <= st.st_size):
        try:
            digest = _prefix_digest(path, entry["offset"])
        except OSError:
            return _Read(stat)
        if digest.hexdigest() == entry["sha1"]:
            return _Read(stat, entry["offset"], entry["rows"], entry["header"], digest, entry["sha1"],
                         entry["relisting"])
    return _Read(stat)


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


def _drop_results(state: dict, name: str, after_row: int) -> set[str]:
    """Take back the results of a file's rows after `after_row`; returns their ids."""
    results = state["results"]
    keys = {k for k, r in results.items() if r["file"] == name and r["row"] > after_row}
    for key in keys:
        del results[key]
    return keys


def _inbox_rows(path: Path, read: _Read, columns: list[str]) -> Iterator[tuple[int, Any]]:
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
        yield from enumerate((_flat(item) for item in data), start=1)
        return
    with path.open("rb") as f:
        f.seek(read.offset)
        lines = _Lines(f, read.offset, read.digest)
        reader = csv.DictReader(lines, fieldnames=read.header)
        if read.header is None:
            _check_header(reader.fieldnames, columns)
            read.header = list(reader.fieldnames)
            if lines.ended:
                read.offset = lines.commit()
        number = read.rows
        for row in reader:
            number += 1
            if not lines.ended and _written_lately(path):
                return  # maybe still being written ("1.5" of "1.5e-4" would be a wrong result): next read
            yield number, _csv_row(row)
            if lines.ended:
                read.offset, read.rows = lines.commit(), number


class _Lines:
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


def _digest(file: str, row, reason: str) -> int:
    """64 bits naming one rejection: 8 bytes a row in memory, where the strings took hundreds."""
    text = f"{file}\x1f{row}\x1f{reason}".encode("utf-8", "replace")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _listed(path: Path, files: set[str], state: dict) -> np.ndarray:
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
        lines = _Lines(f, start, errors="replace")
        begins = start
        for record in csv.reader(lines):
            if len(record) == 4 and (begins, record) != (0, ["file", "row", "id", "reason"]):
                if begins >= tail:
                    state["listed"][record[0]] = state["listed"].get(record[0], 0) + 1
                if begins >= tail or record[0] in files:
                    digests.append(_digest(record[0], record[1], record[3]))
            begins = lines.offset
    return np.unique(np.frombuffer(digests, dtype=np.uint64))


class _Rejections:
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


QUIET_SECONDS = 5.0  # a last line without its line end counts as finished once its file is this old


def _written_lately(path: Path) -> bool:
    """Whether the file changed in the last QUIET_SECONDS (a writer may still be at its last line;
    many programs end a file without a line end, so an older one's last line is read as it is)."""
    try:
        return time.time() - path.stat().st_mtime < QUIET_SECONDS
    except OSError:
        return False


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _check_header(fields: list[str] | None, columns: list[str]) -> None:
    """A CSV must have an id column and no column this oracle does not know: a misspelt or
    differently delimited header would otherwise make every row look empty and be skipped."""
    if not fields:
        raise ValueError("empty file (no header row)")
    if len(fields) == 1 and fields[0] != "id":
        delimiter = next((d for d in ";\t|" if d in fields[0]), None)
        if delimiter:
            raise ValueError(f"columns are separated by {delimiter!r}; expected ',' (columns: {', '.join(columns)})")
    if "id" not in fields:
        raise ValueError(f"no 'id' column (columns: {_short(fields)})")
    unknown = [f for f in fields if f not in columns and f != "requested_at"]
    if unknown:
        raise ValueError(f"unknown column(s) {_short(unknown)} (expected {', '.join(columns)})")


def _csv_row(row: dict) -> dict:
    """csv.DictReader puts surplus cells of a row under the key None: that row is malformed."""
    if None in row:
        return {"__surplus__": row[None]}
    return row


def _flat(item):
    if not isinstance(item, dict):
        return item
    row = {k: v for k, v in item.items() if k != "values"}
    values = item.get("values")
    if values is None:
        return row
    if not isinstance(values, dict):
        return {**row, "values": values}  # rejected as an unknown field shape below
    for prop, m in values.items():
        if not isinstance(m, dict):
            return {**row, "values": values}
        row.update({prop: m.get("value"), f"{prop}_std": m.get("std"), f"{prop}_unit": m.get("unit")})
    return row


def _blank(row: dict, units: dict[str, str]) -> bool:
    fields = ["status", "reason", *units, *(f"{p}_std" for p in units)]
    return all(row.get(f) is None or (isinstance(row.get(f), str) and not row.get(f).strip()) for f in fields)


def _number(raw, where: str) -> float | None:
    """A finite number from a JSON number or a plain decimal string. Booleans are not numbers
    (JSON `true` is not 1 S/cm), and Python's lenient float() spellings - `1_0` (10), ` 0x..` -
    are refused: a value that reads oddly is a typo until a person says otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise RowError(f"{where}: {_short(raw)} is not a number")
    if isinstance(raw, str) and not NUMBER.fullmatch(raw.strip()):
        if raw.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise RowError(f"{where}: {_short(raw)} is not a finite number")
        raise RowError(f"{where}: {_short(raw)} is not a number")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise RowError(f"{where}: {_short(raw)} is not a finite number")
    return value


def _text(raw, where: str) -> str:
    """A text field (id, status, unit...): a string or nothing; a number or a list there is a mistake."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise RowError(f"{where}: {_short(raw)} is not text")
    return raw.strip()


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
