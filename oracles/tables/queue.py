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
Reading is incremental (`queue_inbox`): a run polling a big inbox neither parses it again nor holds
it in memory; rejections are listed once (`queue_rejections`); what a row may hold is `queue_rows`'.

`evaluate` waits up to `wait_seconds` for the batch's results, polling the inbox, and returns
those that arrived; the campaign keeps them and the batch waits for the rest (the next run,
e.g. tonight's scheduled one, reads the inbox again). With `give_up_seconds`, a result missing
that long after its request is recorded as a failed evaluation, so the campaign moves on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path
from typing import Literal, Sequence

from pydantic import Field

from amala.core.candidate import Candidate
from amala.core.evaluation import Evaluation, Measurement
from amala.core.log_scale import is_log_scale
from amala.core.plugins import Float, Text
from amala.core.representations import Representation
from amala.oracles.protocol import Oracle
from amala.oracles.registry import Properties, PropertiesSpec
from amala.oracles.tables.queue_inbox import RECENT_NS, Read, drop_results, inbox_rows, plan
from amala.oracles.tables.queue_rejections import Rejections, listed_digests
from amala.oracles.tables.queue_rows import RowError, is_blank, one_line, parse_number, parse_text, short

STATE_VERSION = 1  # of queue/inbox-read.json; another version is not trusted: the inbox is read again


class QueueSpec(PropertiesSpec):
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
    # a lab or HPC queue can be asked about anything
    representations = (Representation.SMILES, Representation.COMPOSITION)
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

        Only what was not read before is parsed (see `queue_inbox`): files unchanged since
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
            taken_back |= drop_results(state, name, 0)
        reads = {name: read for name, path in paths.items()
                 if (read := plan(path, None if again else state["files"].get(name))) is not None}
        if not reads and not gone:
            return taken_back
        rejected = self.folder / "rejected.csv"
        relisting = {name for name, read in reads.items()  # files that may list some rejections again
                     if (read.offset == 0 and state["listed"].get(name)) or read.relisting}
        out = Rejections(rejected, listed_digests(rejected, relisting, state), state["listed"])
        try:
            for name, read in reads.items():
                taken_back |= drop_results(state, name, read.rows)  # what the part read again gave last time
                state["files"][name] = self._read(paths[name], read, requested, state, out)
        finally:
            state["rejected_bytes"] = out.close()
        self._save_state(state)
        self._notes += out.notes(rejected)
        return taken_back

    def _read(self, path: Path, read: Read, requested: dict[str, str], state: dict, out: Rejections) -> dict:
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
            for number, row in inbox_rows(path, read, self._columns()):
                self._take(name, number, row, requested, results, new, out)
        except UnicodeDecodeError as exc:
            out.add(name, "", "", f"unreadable file: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV or JSON")
            entry = before
        except (ValueError, OSError, csv.Error, RecursionError) as exc:
            out.add(name, "", "", f"unreadable file: {one_line(exc)}")
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
              out: Rejections) -> None:
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
        """What earlier reads took (see `queue_inbox`); a fresh state - every file read
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
            self._notes.append(("warning", f"{self.state_path} unreadable ({one_line(exc)}); the inbox is read "
                                          "again from the start"))
            return fresh

    def _save_state(self, state: dict) -> None:
        from amala.core.atomic_files import write_text  # imports ASE: only once there is something to keep

        write_text(self.state_path, json.dumps(state, separators=(",", ":")))

    def _parse(self, row, requested: dict[str, str]) -> Evaluation:
        if not isinstance(row, dict):
            raise RowError(f"not a JSON object but {type(row).__name__} {short(row)}")
        if "__surplus__" in row:
            raise RowError(f"more cells than columns ({short(row['__surplus__'])} left over)")
        if "values" in row:
            raise RowError(f"values must map each property to {{value, std, unit}}, got {short(row['values'])}")
        unknown = sorted(set(row) - set(self._columns()) - {"requested_at"})
        if unknown:
            raise RowError(f"unknown field(s) {short(unknown)} (expected {self._columns()})")
        key = parse_text(row.get("id"), "id")
        if not key:
            raise RowError("an empty row (no id, nothing filled in)" if is_blank(row, self.units) else "no id")
        if key not in requested:
            raise RowError(f"unknown id {key!r}: not requested through {self.outbox}")
        given = parse_text(row.get("representation"), f"id {key}: representation")
        if given and given != requested[key]:
            raise RowError(f"id {key}: representation {given!r} is not the requested {requested[key]!r}")
        if is_blank(row, self.units):  # e.g. a copied request row not filled in: the result is still to come
            raise RowError(f"id {key}: nothing filled in (no status, value or reason); the result is still awaited")
        status = (parse_text(row.get("status"), f"id {key}: status") or "ok").lower()
        if status == "failed":
            reason = parse_text(row.get("reason"), f"id {key}: reason")
            if not reason:
                raise RowError(f"id {key}: status failed needs a reason")
            return Evaluation.failed(key, self.name, self.fidelity, f"external: {reason}")
        if status != "ok":
            raise RowError(f"id {key}: status {short(status)} (expected ok or failed)")
        values = {}
        for prop, unit in self.units.items():
            value = parse_number(row.get(prop), f"id {key}: {prop}")
            if value is None:
                raise RowError(f"id {key}: no value for {prop}")
            if is_log_scale(prop) and value <= 0:
                raise RowError(f"id {key}: {prop} = {value} must be positive")
            got_unit = parse_text(row.get(f"{prop}_unit"), f"id {key}: {prop}_unit")
            if got_unit != unit:
                raise RowError(f"id {key}: {prop} in {got_unit or 'no unit'!r}, expected {unit!r}")
            std = parse_number(row.get(f"{prop}_std"), f"id {key}: {prop}_std")
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


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
