"""Evaluations done outside amala (a wet lab, an HPC MD run), exchanged as files.

Requests go to `<workdir>/queue/outbox/` as one CSV and one JSON file per batch, a row per
candidate: its id, representation, and for every requested property an empty value, std and the
unit the value must be given in. Results come back as files of the same form dropped into
`queue/inbox/` (a copy of the outbox file, filled in, is enough; rows may arrive over several
files and days). A row sets `status` to `failed` with a `reason` when the lab could not measure it.

Each row is checked on its own: the id must have been requested, a given representation must be
the requested one, every value finite (positive where the property is), every unit the requested
unit. A row that fails is never half-ingested: it is listed in `queue/rejected.csv` with its
reason (and reported as a note), and the rest of the file is used. Inbox files are never moved or
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
import time
from pathlib import Path
from typing import Sequence

from amala.agents.candidate import Candidate
from amala.oracles.evaluation import Evaluation, Measurement

POSITIVE = ("conductivity", "diffusivity")  # a property whose name holds one of these cannot be <= 0


class RowError(ValueError):
    """One inbox row that cannot be used; the message says why."""


class QueueOracle:
    fidelity = "external"
    per_batch = True  # one request file and one wait per batch, in the flow's own process

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
        self.notes: list[tuple[str, str]] = []  # (level, message) for the campaign's event log

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
            self.notes.append(("info", f"{len(rows)} requests written to {stem}.csv/.json; results go to {self.inbox}"))
        return stem.with_suffix(".csv")

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
            self.notes.append(("warning", f"{len(wanted) - len(found)} of {len(wanted)} requested results not in "
                                          f"{self.inbox} yet; the batch waits for them"))
        return list(found.values())

    def collect(self) -> list[Evaluation]:
        """Every valid result row in the inbox; invalid rows go to queue/rejected.csv with reasons."""
        requested = self.requested()
        results: dict[str, Evaluation] = {}
        rejected: list[dict] = []
        for path in sorted(p for p in self.inbox.iterdir() if p.suffix.lower() in (".csv", ".json")):
            try:
                rows = _read_rows(path)
            except (ValueError, OSError, csv.Error) as exc:
                rejected.append({"file": path.name, "row": "", "id": "", "reason": f"unreadable file: {exc}"})
                continue
            for number, row in enumerate(rows, start=1):
                if _blank(row, self.units):  # a copied request row not filled in yet: still to come
                    continue
                try:
                    evaluation = self._parse(row, requested)
                    if evaluation.candidate_key in results:
                        raise RowError(f"a second result for id {evaluation.candidate_key} (the first one is kept)")
                except RowError as exc:
                    rejected.append({"file": path.name, "row": number, "id": str(row.get("id", "")),
                                     "reason": str(exc)})
                    continue
                evaluation.provenance = {"file": str(path), "row": number}
                results[evaluation.candidate_key] = evaluation
        self._report_rejections(rejected)
        return list(results.values())

    def _parse(self, row: dict, requested: dict[str, str]) -> Evaluation:
        key = str(row.get("id") or "").strip()
        if key not in requested:
            raise RowError(f"unknown id {key!r}: not requested through {self.outbox}")
        given = str(row.get("representation") or "").strip()
        if given and given != requested[key]:
            raise RowError(f"id {key}: representation {given!r} is not the requested {requested[key]!r}")
        status = str(row.get("status") or "ok").strip().lower()
        if status == "failed":
            reason = str(row.get("reason") or "").strip()
            if not reason:
                raise RowError(f"id {key}: status failed needs a reason")
            return Evaluation.failed(key, self.name, self.fidelity, f"external: {reason}")
        if status != "ok":
            raise RowError(f"id {key}: status {status!r} (expected ok or failed)")
        values = {}
        for prop, unit in self.units.items():
            value = _number(row.get(prop), f"id {key}: {prop}")
            if value is None:
                raise RowError(f"id {key}: no value for {prop}")
            if any(word in prop for word in POSITIVE) and value <= 0:
                raise RowError(f"id {key}: {prop} = {value} must be positive")
            got_unit = str(row.get(f"{prop}_unit") or "").strip()
            if got_unit != unit:
                raise RowError(f"id {key}: {prop} in {got_unit or 'no unit'!r}, expected {unit!r}")
            std = _number(row.get(f"{prop}_std"), f"id {key}: {prop}_std")
            if std is not None and std < 0:
                raise RowError(f"id {key}: {prop}_std = {std} must not be negative")
            values[prop] = Measurement(value, unit, std)
        return Evaluation(key, self.name, self.fidelity, "ok", values=values)

    def _report_rejections(self, rejected: list[dict]) -> None:
        path = self.folder / "rejected.csv"
        seen = set()
        if path.exists():
            with path.open(newline="") as f:
                seen = {(r["file"], str(r["row"]), r["reason"]) for r in csv.DictReader(f)}
        new = [r for r in rejected if (r["file"], str(r["row"]), r["reason"]) not in seen]
        if not new:
            return
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, ["file", "row", "id", "reason"])
            if not seen:
                writer.writeheader()
            writer.writerows(new)
        for r in new:
            self.notes.append(("warning", f"inbox {r['file']} row {r['row']} rejected: {r['reason']}"))

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


def _read_rows(path: Path) -> list[dict]:
    """Rows of an inbox file as flat dicts (the JSON form's nested values are flattened)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of result objects")
    rows = []
    for item in data:
        if not isinstance(item, dict):
            rows.append({})
            continue
        row = {k: v for k, v in item.items() if k != "values"}
        for prop, m in (item.get("values") or {}).items():
            if isinstance(m, dict):
                row.update({prop: m.get("value"), f"{prop}_std": m.get("std"), f"{prop}_unit": m.get("unit")})
        rows.append(row)
    return rows


def _blank(row: dict, units: dict[str, str]) -> bool:
    fields = ["status", "reason", *units, *(f"{p}_std" for p in units)]
    return all(row.get(f) is None or (isinstance(row.get(f), str) and not row.get(f).strip()) for f in fields)


def _number(raw, where: str) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise RowError(f"{where}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise RowError(f"{where}: {raw!r} is not a finite number")
    return value


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
