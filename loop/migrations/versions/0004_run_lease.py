"""The campaign lease (commit 3859826): which run holds the campaign and its last heartbeat.

Revision ID: 0004_run_lease
Revises: 0003_approvals
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_run_lease"
down_revision = "0003_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaign", sa.Column("run_owner", sa.String(), nullable=True))
    op.add_column("campaign", sa.Column("heartbeat", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("heartbeat")
        batch.drop_column("run_owner")
