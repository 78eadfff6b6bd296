"""The stored state vocabularies: a campaign's status, an iteration's status, an approval state.

Each is a `StrEnum`, so code names a state instead of retyping a string (a typo is an
AttributeError, not a comparison that is silently never true), while the database keeps the very
same strings: a member compares equal to, and is stored as, its value, and databases written
before these enums read back unchanged.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # Python 3.10 (pyproject allows it): the same behaviour, spelled out
    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


class CampaignStatus(StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting approval"  # a batch waits for a person (what `amala status` shows)
    FINISHED = "finished"  # a stopping rule that ends the campaign (budget, patience)
    STOPPED = "stopped"  # stopped before its end (e.g. an iteration limit of this run); can resume
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, or a run that vanished without saying so


LIVE_STATUSES = (CampaignStatus.RUNNING, CampaignStatus.AWAITING_APPROVAL)  # claim a run holds the campaign


class IterationStatus(StrEnum):
    SELECTED = "selected"  # chosen, not yet (fully) evaluated
    EVALUATED = "evaluated"
    REJECTED = "rejected"  # the whole batch was rejected at approval


class Approval(StrEnum):
    """An iteration's approval state (auto, pending, then a decision's action: approved, edited,
    rejected) and a selected candidate's (auto, approved, rejected, or added by a person)."""

    AUTO = "auto"  # no approval asked
    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"
    ADDED = "added"


UNDECIDED = (Approval.AUTO, Approval.PENDING)  # an iteration that a decision may still answer
