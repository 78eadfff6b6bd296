"""The store as first released (commit 5bb635d): campaigns, candidates, model versions,
iterations, selections, evaluations and events. Times are `DateTime(timezone=True)`, as sqlmodel's
UTCDateTime creates them (timestamptz on PostgreSQL).

Revision ID: 0001_initial
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaign_name", "campaign", ["name"], unique=True)
    op.create_table(
        "candidate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("representation", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("campaign_id", "key"),
    )
    op.create_index("ix_candidate_campaign_id", "candidate", ["campaign_id"])
    op.create_index("ix_candidate_key", "candidate", ["key"])
    op.create_table(
        "model_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_version_campaign_id", "model_version", ["campaign_id"])
    op.create_table(
        "iteration",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), sa.ForeignKey("model_version.id"), nullable=True),
        sa.Column("n_scored", sa.Integer(), nullable=False),
        sa.Column("fit_seconds", sa.Float(), nullable=False),
        sa.Column("score_seconds", sa.Float(), nullable=False),
        sa.Column("select_seconds", sa.Float(), nullable=False),
        sa.Column("evaluate_seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("campaign_id", "index"),
    )
    op.create_index("ix_iteration_campaign_id", "iteration", ["campaign_id"])
    op.create_table(
        "selection",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("iteration_id", sa.Integer(), sa.ForeignKey("iteration.id"), nullable=False),
        sa.Column("candidate_id", sa.Integer(), sa.ForeignKey("candidate.id"), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("predicted_mean", sa.Float(), nullable=True),
        sa.Column("predicted_std", sa.Float(), nullable=True),
        sa.Column("acquisition_value", sa.Float(), nullable=True),
        sa.Column("approval", sa.String(), nullable=False),
        sa.UniqueConstraint("iteration_id", "candidate_id"),
    )
    op.create_index("ix_selection_iteration_id", "selection", ["iteration_id"])
    op.create_index("ix_selection_candidate_id", "selection", ["candidate_id"])
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("candidate_id", sa.Integer(), sa.ForeignKey("candidate.id"), nullable=False),
        sa.Column("iteration_id", sa.Integer(), sa.ForeignKey("iteration.id"), nullable=True),
        sa.Column("oracle", sa.String(), nullable=False),
        sa.Column("fidelity", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("objective", sa.Float(), nullable=True),
        sa.Column("cost_seconds", sa.Float(), nullable=False),
        sa.Column("artefacts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("candidate_id", "oracle", "fidelity"),
    )
    op.create_index("ix_evaluation_candidate_id", "evaluation", ["candidate_id"])
    op.create_index("ix_evaluation_iteration_id", "evaluation", ["iteration_id"])
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_event_campaign_id", "event", ["campaign_id"])


def downgrade() -> None:
    for table in ("event", "evaluation", "selection", "iteration", "model_version", "candidate", "campaign"):
        op.drop_table(table)
