"""One run at a time per campaign: a lease with a heartbeat, kept in the campaign's own row.

Two runs of one campaign on the same database would select and evaluate the same candidates twice.
A run therefore takes the campaign's lease before it does anything: one conditional UPDATE that
succeeds only when nobody holds the lease or its holder's heartbeat is older than `ttl` seconds.
The UPDATE is atomic on every SQL database (SQLite, PostgreSQL, ...), so no file locks or
advisory locks are needed. A background thread renews the heartbeat every `beat` seconds; a run
killed with SIGKILL simply stops beating, and `amala status` can then say it was interrupted, when
(the last heartbeat) and on which host. The next run takes the lease over and resumes.

A run that was only stalled (a suspended machine, `kill -STOP`) past the ttl may wake up after
another run took over: every write of the holder's store renews the lease in its own transaction
and refuses once the lease is gone (`Store.hold`, `LeaseLost`), so the stalled run stops storing
at once and ends with one line.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from amala.core.settings import settings
from amala.loop.states import LIVE_STATUSES, CampaignStatus
from amala.loop.tables import CampaignRow


def ttl_seconds() -> float:
    """A heartbeat older than this (AMALA_LEASE_TTL, default 60 s): the run is gone."""
    return settings().lease_ttl


class CampaignBusy(RuntimeError):
    """Another live run holds the campaign; the message is one line naming it."""


@dataclass
class Holder:
    owner: str | None
    heartbeat: float | None

    def alive(self, now: float | None = None, ttl: float | None = None) -> bool:
        ttl = ttl_seconds() if ttl is None else ttl
        return bool(self.owner) and self.heartbeat is not None and (now or time.time()) - self.heartbeat < ttl


def holder(row: CampaignRow) -> Holder:
    return Holder(row.run_owner, row.heartbeat)


def run_state(row: CampaignRow, now: float | None = None, ttl: float | None = None) -> str:
    """What a person should read for a campaign's status: the stored status, unless it claims a run
    that is no longer there (killed, machine rebooted), which reads `interrupted`."""
    if row.status in LIVE_STATUSES and not holder(row).alive(now, ttl):
        return CampaignStatus.INTERRUPTED
    return row.status


class RunLease:
    """The right to run one campaign; use as a context manager around the whole run."""

    def __init__(self, store, campaign_id: int, name: str, ttl: float | None = None, beat: float | None = None):
        self.store, self.campaign_id, self.name = store, campaign_id, name
        ttl = ttl_seconds() if ttl is None else ttl
        self.ttl, self.beat = ttl, beat if beat is not None else ttl / 6
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.previous: Holder | None = None  # the stale holder this run took over from, if any
        self.lost = threading.Event()  # set if another run took the lease (this one stalled past ttl)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _update(self, *where, **values) -> int:
        with self.store.engine.begin() as connection:
            query = update(CampaignRow).where(CampaignRow.id == self.campaign_id, *where).values(**values)
            return connection.execute(query).rowcount

    def acquire(self) -> "RunLease":
        with self.store.session() as s:
            before = holder(s.get(CampaignRow, self.campaign_id))
        now = time.time()
        free = (CampaignRow.run_owner.is_(None)) | (CampaignRow.heartbeat.is_(None)) | \
               (CampaignRow.heartbeat < now - self.ttl)
        try:
            taken = self._update(free, run_owner=self.owner, heartbeat=now)
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            raise CampaignBusy(f"campaign {self.name}: its database has been locked by another process for "
                               "30 s (a run stopped or stalled in the middle of a write?); let that process go on "
                               "or end it, then run again") from None
        if taken != 1:
            with self.store.session() as s:
                current = holder(s.get(CampaignRow, self.campaign_id))
            age = now - (current.heartbeat or now)
            raise CampaignBusy(f"campaign {self.name} is already being run by {current.owner} (heartbeat "
                               f"{age:.0f} s ago); wait for that run to end or stop it, then run again")
        self.previous = before if before.owner else None
        self.store.hold(self.campaign_id, self.owner)  # every write from now on checks the lease
        self._thread = threading.Thread(target=self._beat, name=f"amala-lease-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.beat):
            try:
                if self._update(CampaignRow.run_owner == self.owner, heartbeat=time.time()) != 1:
                    self.lost.set()
                    return
            except Exception:  # a busy database: the next beat tries again; ttl >> beat
                continue

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.hold(self.campaign_id, None)
        self._update(CampaignRow.run_owner == self.owner, run_owner=None)

    def __enter__(self) -> "RunLease":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
