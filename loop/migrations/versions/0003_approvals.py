"""Human-in-the-loop approval (commit c88f5f3): a batch's approval state and waiting flow run, the
decisions people made, and each candidate's provenance from its agent.

Revision ID: 0003_approvals
Revises: 0002_evaluation_provenance
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_approvals"
down_revision = "0002_evaluation_provenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("candidate", sa.Column("provenance", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column("iteration", sa.Column("approval", sa.String(), nullable=False, server_default="auto"))
    op.add_column("iteration", sa.Column("flow_run_id", sa.String(), nullable=True))
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("iteration_id", sa.Integer(), sa.ForeignKey("iteration.id"), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("via", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("rejected", sa.JSON(), nullable=False),
        sa.Column("added", sa.JSON(), nullable=False),
        sa.Column("refused", sa.JSON(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(), nullable=False),
    )
    op.create_index("ix_decision_campaign_id", "decision", ["campaign_id"])
    op.create_index("ix_decision_iteration_id", "decision", ["iteration_id"])


def downgrade() -> None:
    op.drop_table("decision")
    with op.batch_alter_table("iteration") as batch:
        batch.drop_column("flow_run_id")
        batch.drop_column("approval")
    with op.batch_alter_table("candidate") as batch:
        batch.drop_column("provenance")
