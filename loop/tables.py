"""SQLModel tables of the campaign store. Only `amala.loop.store` writes them.

Values that travel with their units (property measurements, model hyperparameters) are JSON
columns; everything that is queried or joined on is a typed column.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CampaignRow(SQLModel, table=True):
    __tablename__ = "campaign"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    config: dict = Field(sa_column=Column(JSON, nullable=False))
    status: str = "running"  # a loop.states.CampaignStatus value
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    run_owner: Optional[str] = None  # host:pid:token of the run holding the lease (amala.loop.lease)
    heartbeat: Optional[float] = None  # UNIX time of that run's last sign of life


class CandidateRow(SQLModel, table=True):
    __tablename__ = "candidate"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str = Field(index=True)  # hash of the canonical representation
    kind: str  # smiles | composition | structure
    representation: str
    agent: str  # who proposed it
    provenance: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # agent's own record
    created_at: datetime = Field(default_factory=utcnow)


class ModelVersionRow(SQLModel, table=True):
    __tablename__ = "model_version"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    iteration: int
    kind: str
    n_train: int
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class IterationRow(SQLModel, table=True):
    """One batch: selected (waiting for evaluation) -> evaluated."""

    __tablename__ = "iteration"
    __table_args__ = (UniqueConstraint("campaign_id", "index"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    index: int
    strategy: str
    status: str = "selected"  # a loop.states.IterationStatus value
    approval: str = "auto"  # a loop.states.Approval value: auto (none asked), pending, approved, edited, rejected
    flow_run_id: Optional[str] = None  # the Prefect flow run waiting for the approval, if any
    model_version_id: Optional[int] = Field(default=None, foreign_key="model_version.id")
    n_scored: int = 0
    fit_seconds: float = 0.0
    score_seconds: float = 0.0
    select_seconds: float = 0.0
    evaluate_seconds: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: Optional[datetime] = None


class SelectionRow(SQLModel, table=True):
    """A candidate's membership in a batch, with the model's view of it when it was chosen."""

    __tablename__ = "selection"
    __table_args__ = (UniqueConstraint("iteration_id", "candidate_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    iteration_id: int = Field(foreign_key="iteration.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    rank: int
    predicted_mean: Optional[float] = None  # transformed objective, natural direction
    predicted_std: Optional[float] = None
    acquisition_value: Optional[float] = None
    approval: str = "auto"  # a loop.states.Approval value: auto, approved, rejected, added


class EvaluationRow(SQLModel, table=True):
    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("candidate_id", "oracle", "fidelity"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    iteration_id: Optional[int] = Field(default=None, foreign_key="iteration.id", index=True)
    oracle: str
    fidelity: str
    status: str  # ok | failed
    reason: Optional[str] = None
    values: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # name -> {value, unit, std}
    objective: Optional[float] = None  # transformed objective (natural direction), for fast queries
    cost_seconds: float = 0.0
    artefacts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    provenance: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class DecisionRow(SQLModel, table=True):
    """A person's (or the timeout policy's) answer to a batch waiting for approval."""

    __tablename__ = "decision"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    iteration_id: int = Field(foreign_key="iteration.id", index=True)
    time: datetime = Field(default_factory=utcnow)
    by: str  # user name, or "timeout policy"
    via: str  # cli | ui | timeout | store (answered while no run was waiting)
    action: str  # a loop.states.Approval value: approved, edited, rejected
    rejected: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # candidate keys
    added: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # candidate keys
    refused: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # text -> reason
    batch_size: Optional[int] = None
    comment: str = ""


class EventRow(SQLModel, table=True):
    __tablename__ = "event"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    time: datetime = Field(default_factory=utcnow)
    level: str = "info"
    kind: str
    message: str
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
