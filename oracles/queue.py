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
whole. Nothing is skipped silently. CSV from Excel (UTF-8 with a byte-order mark) is fine. Each
read appends its new rejections to rejected.csv in one write and leaves one note per file (the
count and the first reasons), so a huge file of bad rows costs seconds, not an event per row. Inbox files are
never moved or
changed, so a crash between reading and storing loses nothing: the store's one-evaluation-per-
(candidate, oracle, fidelity) rule makes reading them again harmless.

`evaluate` waits up to `wait_seconds` for the batch's results, polling the inbox, and returns
those that arrived; the campaign keeps them and the batch waits for the rest (the next run,
e.g. tonight's scheduled one, reads the inbox again). With `give_up_seconds`, a result missing
that long after its request is recorded as a failed evaluation, so the campaign moves on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import time
from pathlib import Path
from typing import Literal, Sequence

from pydantic import Field

from amala.agents.candidate import Candidate
from amala.agents.spec import Float, Text
from amala.oracles.evaluation import Evaluation, Measurement
from amala.oracles.interface import Oracle
from amala.oracles.log_scale import is_log_scale
from amala.oracles.registry import OracleSpec, Properties

# a plain ASCII decimal: no "_" separators (float("1_0") is 10), no other scripts' digits
NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
FIRST_REASONS = 3  # reasons quoted in a file's summary note


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
            from amala.oracles.glass_md_oracle import GlassMDOracle

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
        queue/rejected.csv with its reason (one write per read, one summary note per file)."""
        requested = self.requested()
        results: dict[str, Evaluation] = {}
        rejected: list[dict] = []
        for path in sorted(p for p in self.inbox.iterdir() if p.suffix.lower() in (".csv", ".json")):
            rejected += self._collect_file(path, requested, results)
        self._report_rejections(rejected)
        return list(results.values())

    def _collect_file(self, path: Path, requested: dict[str, str], results: dict[str, Evaluation]) -> list[dict]:
        """Add a file's good rows to `results`; return its rejections (the whole file, or row by row)."""
        try:
            rows = _read_rows(path, self._columns())
        except UnicodeDecodeError as exc:
            return [{"file": path.name, "row": "", "id": "", "reason": f"unreadable file: not UTF-8 text (byte "
                                                                     f"{exc.start}); save it as UTF-8 CSV or JSON"}]
        except (ValueError, OSError, csv.Error, RecursionError) as exc:
            return [{"file": path.name, "row": "", "id": "", "reason": f"unreadable file: {_one_line(exc)}"}]
        rejected, known = [], {*self._columns(), "requested_at"}
        for number, row in enumerate(rows, start=1):
            if isinstance(row, dict) and set(row) <= known and _blank(row, self.units):
                continue  # a copied request row not filled in yet: still to come
            try:
                evaluation = self._parse(row, requested)
                if evaluation.candidate_key in results:
                    raise RowError(f"a second result for id {evaluation.candidate_key} (the first one is kept)")
            except RowError as exc:
                shown = str(row.get("id", "")) if isinstance(row, dict) else ""
                rejected.append({"file": path.name, "row": number, "id": shown[:40], "reason": str(exc)})
                continue
            evaluation.provenance = {"file": str(path), "row": number}
            results[evaluation.candidate_key] = evaluation
        return rejected

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
        if key not in requested:
            raise RowError(f"unknown id {key!r}: not requested through {self.outbox}")
        given = _text(row.get("representation"), f"id {key}: representation")
        if given and given != requested[key]:
            raise RowError(f"id {key}: representation {given!r} is not the requested {requested[key]!r}")
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

    def _report_rejections(self, rejected: list[dict]) -> None:
        """Append the rejections not listed before to rejected.csv in one write, and leave one
        warning per file (how many, the first few reasons) - a 50 MB file of bad rows is one line
        in the event log, not a million."""
        path = self.folder / "rejected.csv"
        seen = _listed(path)
        new = [r for r in rejected if (r["file"], str(r["row"]), r["reason"]) not in seen]
        if not new:
            return
        with path.open("a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, ["file", "row", "id", "reason"])
            if not seen and f.tell() == 0:
                writer.writeheader()
            writer.writerows(new)
        by_file: dict[str, list[dict]] = {}
        for r in new:
            by_file.setdefault(r["file"], []).append(r)
        for name, rows in by_file.items():
            first = "; ".join(f"row {r['row']}: {r['reason']}" if r["row"] != "" else r["reason"]
                              for r in rows[:FIRST_REASONS])
            more = f"; {len(rows) - FIRST_REASONS} more" if len(rows) > FIRST_REASONS else ""
            self._notes.append(("warning", f"inbox {name}: {len(rows)} row(s) rejected (listed in {path}): "
                                          f"{first}{more}"))

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


def _read_rows(path: Path, columns: list[str]) -> list:
    """Rows of an inbox file: flat dicts from a CSV (a UTF-8 byte-order mark, as Excel writes, is
    fine), or the items of a JSON list (objects with their nested values flattened; anything else is
    kept as it is, so the row is rejected with its reason rather than skipped). ValueError names a
    file that cannot be read as a whole."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            _check_header(reader.fieldnames, columns)
            return [_csv_row(row) for row in reader]
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of result objects, got {type(data).__name__}")
    return [_flat(item) for item in data]


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


def _listed(path: Path) -> set[tuple[str, str, str]]:
    """(file, row, reason) of every rejection already in rejected.csv (a damaged file counts as empty)."""
    if not path.exists():
        return set()
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            return {(r.get("file") or "", str(r.get("row") or ""), r.get("reason") or "") for r in csv.DictReader(f)}
    except (OSError, csv.Error):
        return set()


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
