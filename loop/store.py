"""The campaign store: the only code that writes the tables in `amala.loop.tables`.

Each public write is one transaction. A batch is written when it is selected (status
`selected`); each of its evaluations is written the moment it finishes, in its own transaction,
and the batch becomes `evaluated` once every candidate has one. A crash or kill therefore loses at
most the evaluations still running: resuming re-evaluates only the candidates of the waiting batch
that have no evaluation, and never one that has.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from sqlalchemy import event, func, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine, select

from amala.core.candidate import Candidate
from amala.core.evaluation import Evaluation
from amala.core.redaction import redact, redact_data
from amala.loop.approval import BatchDecision
from amala.loop.schema import upgrade as upgrade_schema
from amala.loop.states import UNDECIDED, Approval, CampaignStatus, IterationStatus
from amala.loop.tables import (
    CampaignRow,
    CandidateRow,
    DecisionRow,
    EvaluationRow,
    EventRow,
    IterationRow,
    ModelVersionRow,
    SelectionRow,
    utcnow,
)


@dataclass
class SelectedCandidate:
    candidate: Candidate
    predicted_mean: float | None = None
    predicted_std: float | None = None
    acquisition_value: float | None = None
    approval: Approval = Approval.AUTO  # auto, approved (by a person), or added (by a person)


@dataclass
class Batch:
    """A selected batch as the oracle sees it: the iteration and its candidates in rank order."""

    iteration_id: int
    index: int
    candidates: list[Candidate]


class LeaseLost(RuntimeError):
    """This run's lease on the campaign was taken by another run; nothing more may be stored."""


class DatabaseDamaged(RuntimeError):
    """A SQLite file failed its integrity check; the message is one line naming it and how to recover."""


SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26  # SQLite's result codes for a damaged file and a file that is none


def check_integrity(path: Path) -> None:
    """`PRAGMA quick_check` of an existing SQLite file (O(size), ~1 s per 100 MB). A damaged file
    that is written to spreads the damage (a batch stored into a file whose integrity
    check fails, noticed only by `status`), so a store refuses to open one: nothing is written,
    and the person is told how to get back what it holds."""
    import sqlite3

    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:  # reads a WAL left by a kill too
            rows = connection.execute("PRAGMA quick_check").fetchall()
        problem = None if rows == [("ok",)] else "; ".join(" ".join(str(r[0]).split()) for r in rows[:2])
    except sqlite3.DatabaseError as exc:
        if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in (SQLITE_CORRUPT, SQLITE_NOTADB):
            raise  # locked, unreadable, a folder without write access: not damage, and said as it is
        problem = " ".join(str(exc).split())  # not a database at all, or a header too damaged to read
    if problem:
        raise DatabaseDamaged(
            f"the database {path} is damaged (integrity check: {problem[:160]}); nothing was written to it. "
            f"Move it aside and recover what it holds with `sqlite3 {path} .recover | sqlite3 NEW.db` (then point "
            "`database:` or --db at NEW.db), or restore a backup")


class Store:
    def __init__(self, url: str):
        parsed = make_url(url)
        connect_args = {}
        if parsed.get_backend_name() == "sqlite":
            connect_args = {"check_same_thread": False, "timeout": 30}
            if parsed.database and parsed.database != ":memory:":
                check_integrity(Path(parsed.database))
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self._holder: tuple[int, str] | None = None  # (campaign id, lease owner) every write checks
        self.engine = create_engine(url, connect_args=connect_args)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        upgrade_schema(self.engine)  # new: created at head; older (even pre-Alembic): migrated, nothing lost

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # the run's lease -----------------------------------------------------------------------
    def hold(self, campaign_id: int, owner: str) -> None:
        """From now on every write of this store is made only while `owner` still holds the
        campaign's lease (`amala.loop.lease`); `hold(None, None)`: no condition (read-only commands,
        `amala approve`, which write on a person's behalf and hold no lease)."""
        self._holder = (campaign_id, owner) if owner else None

    def check_lease(self) -> None:
        """Renew the lease now, or raise `LeaseLost` (before a batch's work, not only at its writes)."""
        if self._holder is None:
            return
        with self._writing() as s:
            s.commit()  # the commit renews or refuses (`_renew_or_refuse`)

    @contextlib.contextmanager
    def _writing(self):
        """A session whose commit first renews the lease, and raises `LeaseLost` (writing nothing:
        the transaction is rolled back) if another run took it. The check is a conditional UPDATE in
        the same transaction as the writes, so between the check and the commit no other run can take
        the lease (SQLite, PostgreSQL, ... alike). It is made last, at the commit, so the transaction
        holds SQLite's write lock no longer than before: a run stopped while it holds that lock
        blocks every other writer. A run that stalled past the lease's ttl (a suspended laptop,
        `kill -STOP`) and woke up after another run resumed the campaign stores nothing more,
        whatever step it was in."""
        with self.session() as s:
            if self._holder is not None:
                event.listen(s, "before_commit", self._renew_or_refuse)
            yield s

    def _renew_or_refuse(self, s: Session) -> None:
        campaign_id, owner = self._holder
        taken = s.execute(update(CampaignRow).where(CampaignRow.id == campaign_id, CampaignRow.run_owner == owner)
                          .values(heartbeat=time.time())).rowcount
        if taken != 1:
            with self.session() as other:  # what the campaign's row says now (the other run's owner)
                now = other.get(CampaignRow, campaign_id)
            raise LeaseLost(f"campaign {now.name}: this run lost its lease to "
                            f"{now.run_owner or 'another run, which has ended'} (it was stalled longer than "
                            "AMALA_LEASE_TTL); it stored nothing more and stops; `amala status` shows the "
                            "campaign as the other run left it")

    # campaigns -----------------------------------------------------------------------------
    def open_campaign(self, name: str, config: dict, normalize=None) -> CampaignRow:
        """The campaign of this name, created if new; a changed config is recorded as an event.
        `normalize` maps the stored config to the current form before comparing (a config stored by
        an older amala carries every kind's keys; that alone is not a change). Two runs creating the
        same new campaign at the same moment: the later insert breaks the name's uniqueness, and it
        reads the campaign the other made (its lease then says that one is being run)."""
        try:
            return self._open_campaign(name, config, normalize)
        except IntegrityError:
            return self._open_campaign(name, config, normalize)

    def _open_campaign(self, name: str, config: dict, normalize) -> CampaignRow:
        with self.session() as s:
            row = s.exec(select(CampaignRow).where(CampaignRow.name == name)).first()
            if row is None:
                row = CampaignRow(name=name, config=config)
                s.add(row)
                s.flush()
                s.add(EventRow(campaign_id=row.id, kind="campaign", message=f"campaign {name} created"))
            else:
                before = _normalized(row.config, normalize)
                if before != config:
                    changed = sorted(k for k in set(config) | set(before) if config.get(k) != before.get(k))
                    s.add(EventRow(campaign_id=row.id, kind="config", level="warning",
                                   message=f"resumed with changed config keys {changed}",
                                   data={"previous": row.config}))
                    row.config = config
                    row.updated_at = utcnow()
                    s.add(row)
            s.commit()
            return row

    def campaign(self, name: str) -> CampaignRow | None:
        with self.session() as s:
            return s.exec(select(CampaignRow).where(CampaignRow.name == name)).first()

    def campaigns(self) -> list[CampaignRow]:
        with self.session() as s:
            return list(s.exec(select(CampaignRow).order_by(CampaignRow.id)))

    def set_status(self, campaign_id: int, status: str, message: str) -> None:
        with self._writing() as s:
            row = s.get(CampaignRow, campaign_id)
            row.status, row.updated_at = status, utcnow()
            s.add(row)
            s.add(EventRow(campaign_id=campaign_id, kind="status", message=message, data={"status": status}))
            s.commit()

    def log(self, campaign_id: int, kind: str, message: str, level: str = "info", data: dict | None = None):
        with self._writing() as s:
            s.add(EventRow(campaign_id=campaign_id, kind=kind, message=redact(message), level=level,
                           data=redact_data(data or {})))
            s.commit()

    def events(self, campaign_id: int) -> list[EventRow]:
        with self.session() as s:
            return list(s.exec(select(EventRow).where(EventRow.campaign_id == campaign_id).order_by(EventRow.id)))

    # reading -------------------------------------------------------------------------------
    def known_keys(self, campaign_id: int) -> set[str]:
        """Keys of every candidate already selected or evaluated in this campaign."""
        with self.session() as s:
            return set(s.exec(select(CandidateRow.key).where(CandidateRow.campaign_id == campaign_id)))

    def evaluations(self, campaign_id: int) -> list[tuple[CandidateRow, EvaluationRow]]:
        """All evaluations in the order they were stored."""
        with self.session() as s:
            query = (select(CandidateRow, EvaluationRow)
                     .join(EvaluationRow, EvaluationRow.candidate_id == CandidateRow.id)
                     .where(CandidateRow.campaign_id == campaign_id).order_by(EvaluationRow.id))
            return list(s.exec(query))

    def count_evaluations(self, campaign_id: int) -> int:
        with self.session() as s:
            query = (select(func.count(EvaluationRow.id))
                     .join(CandidateRow, EvaluationRow.candidate_id == CandidateRow.id)
                     .where(CandidateRow.campaign_id == campaign_id))
            return int(s.exec(query).one())

    def iterations(self, campaign_id: int) -> list[IterationRow]:
        with self.session() as s:
            query = select(IterationRow).where(IterationRow.campaign_id == campaign_id).order_by(IterationRow.index)
            return list(s.exec(query))

    def selections(self, campaign_id: int) -> list[tuple[IterationRow, SelectionRow, CandidateRow]]:
        with self.session() as s:
            query = (select(IterationRow, SelectionRow, CandidateRow)
                     .join(SelectionRow, SelectionRow.iteration_id == IterationRow.id)
                     .join(CandidateRow, SelectionRow.candidate_id == CandidateRow.id)
                     .where(IterationRow.campaign_id == campaign_id)
                     .order_by(IterationRow.index, SelectionRow.rank))
            return list(s.exec(query))

    def model_versions(self, campaign_id: int) -> list[ModelVersionRow]:
        with self.session() as s:
            query = (select(ModelVersionRow).where(ModelVersionRow.campaign_id == campaign_id)
                     .order_by(ModelVersionRow.id))
            return list(s.exec(query))

    def pending_batch(self, campaign_id: int) -> Batch | None:
        """The batch that was selected but not yet (fully) evaluated, e.g. after a crash."""
        with self.session() as s:
            iteration = s.exec(select(IterationRow).where(IterationRow.campaign_id == campaign_id,
                                                          IterationRow.status == IterationStatus.SELECTED)
                               .order_by(IterationRow.index)).first()
            if iteration is None:
                return None
            rows = s.exec(select(CandidateRow).join(SelectionRow, SelectionRow.candidate_id == CandidateRow.id)
                          .where(SelectionRow.iteration_id == iteration.id,
                                 SelectionRow.approval != Approval.REJECTED).order_by(SelectionRow.rank))
            candidates = [Candidate(r.representation, kind=r.kind, agent=r.agent) for r in rows]
            return Batch(iteration.id, iteration.index, candidates)

    def next_iteration_index(self, campaign_id: int) -> int:
        with self.session() as s:
            return _next_index(s, campaign_id)

    # writing -------------------------------------------------------------------------------
    def record_selection(self, campaign_id: int, strategy: str, picks: Sequence[SelectedCandidate],
                         model: dict | None = None, timings: dict | None = None, n_scored: int = 0) -> Batch:
        """Store a newly selected batch (candidates, model version, scores) in one transaction."""
        timings = timings or {}
        with self._writing() as s:
            index = _next_index(s, campaign_id)
            model_row = None
            if model is not None:
                model_row = ModelVersionRow(campaign_id=campaign_id, iteration=index, kind=model.get("kind", "?"),
                                            n_train=int(model.get("n_train", 0)), details=model)
                s.add(model_row)
                s.flush()
            iteration = IterationRow(campaign_id=campaign_id, index=index, strategy=strategy,
                                     model_version_id=model_row.id if model_row else None, n_scored=n_scored,
                                     **{f"{k}_seconds": v for k, v in timings.items()})
            s.add(iteration)
            s.flush()
            _add_selections(s, campaign_id, iteration.id, picks, first_rank=0)
            s.add(EventRow(campaign_id=campaign_id, kind="selection",
                           message=f"iteration {index}: {len(picks)} candidates selected by {strategy}"))
            s.commit()
            return Batch(iteration.id, index, [p.candidate for p in picks])

    def record_model_version(self, campaign_id: int, iteration: int, details: dict) -> None:
        """A model that is not the surrogate (a generator's fine-tuned weights)."""
        with self._writing() as s:
            s.add(ModelVersionRow(campaign_id=campaign_id, iteration=iteration, kind=details.get("kind", "?"),
                                  n_train=int(details.get("n_train", 0)), details=details))
            s.commit()

    # approvals -----------------------------------------------------------------------------
    def request_approval(self, campaign_id: int, batch: Batch, flow_run_id: str | None) -> None:
        with self._writing() as s:
            iteration = s.get(IterationRow, batch.iteration_id)
            iteration.approval, iteration.flow_run_id = Approval.PENDING, flow_run_id
            s.add(iteration)
            campaign = s.get(CampaignRow, campaign_id)
            # what `amala status` shows
            campaign.status, campaign.updated_at = CampaignStatus.AWAITING_APPROVAL, utcnow()
            s.add(campaign)
            s.add(EventRow(campaign_id=campaign_id, kind="approval",
                           message=f"iteration {batch.index}: {len(batch.candidates)} candidates wait for approval",
                           data={"flow_run_id": flow_run_id}))
            s.commit()

    def iteration(self, iteration_id: int) -> IterationRow:
        with self.session() as s:
            return s.get(IterationRow, iteration_id)

    def awaiting_approval(self, campaign_id: int) -> IterationRow | None:
        with self.session() as s:
            return s.exec(select(IterationRow).where(IterationRow.campaign_id == campaign_id,
                                                     IterationRow.status == IterationStatus.SELECTED,
                                                     IterationRow.approval == Approval.PENDING)).first()

    def decisions(self, campaign_id: int) -> list[tuple[DecisionRow, IterationRow]]:
        with self.session() as s:
            query = (select(DecisionRow, IterationRow).join(IterationRow, DecisionRow.iteration_id == IterationRow.id)
                     .where(DecisionRow.campaign_id == campaign_id).order_by(DecisionRow.id))
            return list(s.exec(query))

    def record_decision(self, campaign_id: int, batch: Batch, decision: BatchDecision, rejected: Sequence[str],
                        added: Sequence[SelectedCandidate], refused: dict[str, str]) -> Batch | None:
        """Store a decision on a waiting batch and apply it, in one transaction: rejected
        candidates are marked (never evaluated), added ones join the batch after the model's picks.
        Returns the batch to evaluate, or None when the whole batch was rejected."""
        with self._writing() as s:
            iteration = s.get(IterationRow, batch.iteration_id)
            if iteration.status != IterationStatus.SELECTED or iteration.approval not in UNDECIDED:
                raise ValueError(f"iteration {iteration.index} was already decided ({iteration.approval}); "
                                 "only a waiting batch can be decided")
            action = decision.action
            selections = s.exec(select(SelectionRow, CandidateRow).join(CandidateRow)
                                .where(SelectionRow.iteration_id == iteration.id)).all()
            out = set(rejected) if action != Approval.REJECTED else {c.key for _, c in selections}
            for sel, cand in selections:
                if sel.approval in (Approval.AUTO, Approval.APPROVED):
                    sel.approval = Approval.REJECTED if cand.key in out else Approval.APPROVED
                    s.add(sel)
            _add_selections(s, campaign_id, iteration.id, added, first_rank=len(selections))
            iteration.approval = action
            campaign = s.get(CampaignRow, campaign_id)
            if campaign.status == CampaignStatus.AWAITING_APPROVAL:
                campaign.status, campaign.updated_at = CampaignStatus.RUNNING, utcnow()
                s.add(campaign)
            if action == Approval.REJECTED:
                iteration.status, iteration.finished_at = IterationStatus.REJECTED, utcnow()
            s.add(iteration)
            s.add(DecisionRow(campaign_id=campaign_id, iteration_id=iteration.id, by=decision.by or "unknown",
                              via=decision.via, action=action, rejected=sorted(out),
                              added=[p.candidate.key for p in added], refused=redact_data(refused),
                              batch_size=decision.batch_size, comment=redact(decision.comment)))
            summary = (f"iteration {iteration.index} {action} by {decision.by or 'unknown'} via {decision.via}: "
                       f"{len(out)} rejected, {len(added)} added" + (f", {len(refused)} refused" if refused else "")
                       + (f"; {decision.comment}" if decision.comment else ""))
            s.add(EventRow(campaign_id=campaign_id, kind="approval", message=redact(summary),
                           level="warning" if refused else "info", data=redact_data({"refused": refused})))
            s.commit()
        return None if action == Approval.REJECTED else self.pending_batch(campaign_id)

    def unevaluated(self, batch: Batch, oracle: str, fidelity: str) -> list[Candidate]:
        """The batch's candidates that have no evaluation by this oracle at this fidelity yet."""
        with self.session() as s:
            done = set(s.exec(select(CandidateRow.key)
                              .join(EvaluationRow, EvaluationRow.candidate_id == CandidateRow.id)
                              .join(IterationRow, IterationRow.campaign_id == CandidateRow.campaign_id)
                              .where(IterationRow.id == batch.iteration_id, EvaluationRow.oracle == oracle,
                                     EvaluationRow.fidelity == fidelity)))
        return [c for c in batch.candidates if c.key not in done]

    def record_evaluations(self, campaign_id: int, batch: Batch, evaluations: Sequence[Evaluation],
                           objective: Callable[[Evaluation], float | None], evaluate_seconds: float = 0.0,
                           complete: bool = True) -> int:
        """Store a batch's evaluations and, if `complete`, mark it evaluated, in one transaction.

        Idempotent: an evaluation that already exists for (candidate, oracle, fidelity) is skipped,
        so storing the same batch twice never evaluates or counts a candidate twice.
        """
        with self._writing() as s:
            rows = {r.key: r for r in s.exec(select(CandidateRow).where(
                CandidateRow.campaign_id == campaign_id, CandidateRow.key.in_([e.candidate_key for e in evaluations])))}
            written = 0
            for ev in evaluations:
                cand = rows.get(ev.candidate_key)
                if cand is None:
                    raise KeyError(f"evaluation for unknown candidate {ev.candidate_key} in campaign {campaign_id}")
                exists = s.exec(select(EvaluationRow.id).where(EvaluationRow.candidate_id == cand.id,
                                                               EvaluationRow.oracle == ev.oracle,
                                                               EvaluationRow.fidelity == ev.fidelity)).first()
                if exists is not None:
                    continue
                reason = None if ev.reason is None else redact(ev.reason)  # an echoed API key never reaches disk
                s.add(EvaluationRow(candidate_id=cand.id, iteration_id=batch.iteration_id, oracle=ev.oracle,
                                    fidelity=ev.fidelity, status=ev.status, reason=reason,
                                    values=ev.values_json(), objective=objective(ev), cost_seconds=ev.cost_seconds,
                                    artefacts=ev.artefacts, provenance=redact_data(ev.provenance)))
                for potential in ev.potentials:  # stored with its evaluation: both or neither
                    s.add(ModelVersionRow(campaign_id=campaign_id, iteration=batch.index,
                                          kind=potential.get("kind", "potential"),
                                          n_train=int(potential.get("n_train", 0)), details=redact_data(potential)))
                if not ev.ok:
                    s.add(EventRow(campaign_id=campaign_id, kind="evaluation_failed", level="warning",
                                   message=f"{cand.representation}: {reason}", data={"key": ev.candidate_key}))
                written += 1
            iteration = s.get(IterationRow, batch.iteration_id)
            if complete:
                iteration.status, iteration.finished_at = IterationStatus.EVALUATED, utcnow()
            iteration.evaluate_seconds += evaluate_seconds
            s.add(iteration)
            s.commit()
            return written

    def record_evaluation(self, campaign_id: int, batch: Batch, evaluation: Evaluation,
                          objective: Callable[[Evaluation], float | None]) -> bool:
        """Store one finished evaluation at once (its own transaction), leaving the batch open: a
        glass that took an hour of MD is safe the moment it ends, whatever happens to the others."""
        return self.record_evaluations(campaign_id, batch, [evaluation], objective, complete=False) == 1


def _next_index(s: Session, campaign_id: int) -> int:
    last = s.exec(select(func.max(IterationRow.index)).where(IterationRow.campaign_id == campaign_id)).one()
    return 0 if last is None else int(last) + 1


def _add_selections(s: Session, campaign_id: int, iteration_id: int, picks: Sequence[SelectedCandidate],
                    first_rank: int) -> None:
    keys = [p.candidate.key for p in picks]
    existing = {r.key: r for r in s.exec(select(CandidateRow).where(CandidateRow.campaign_id == campaign_id,
                                                                   CandidateRow.key.in_(keys)))}
    for rank, pick in enumerate(picks, start=first_rank):
        c = pick.candidate
        row = existing.get(c.key)
        if row is None:
            row = CandidateRow(campaign_id=campaign_id, key=c.key, kind=c.kind, representation=c.representation,
                               agent=c.agent, provenance=redact_data(dict(c.metadata)))
            s.add(row)
            s.flush()
        s.add(SelectionRow(iteration_id=iteration_id, candidate_id=row.id, rank=rank,
                           predicted_mean=pick.predicted_mean, predicted_std=pick.predicted_std,
                           acquisition_value=pick.acquisition_value, approval=pick.approval))


def _sqlite_pragmas(connection, _record):
    import sqlite3

    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: readers (amala status) never block the running campaign. Switching a new file to WAL
    # answers "database is locked" at once, without waiting, while another process holds its lock
    # (two runs creating one new database together): wait for it as any other lock (30 s).
    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    cursor.close()


def _normalized(stored: dict, normalize) -> dict:
    """The stored config in the current form, or as stored when it no longer validates."""
    if normalize is None:
        return stored
    try:
        return normalize(stored)
    except ValueError:  # pydantic's ValidationError is one: a config this amala cannot read
        return stored
