"""Each evaluation records its provenance (profile, seed, engine version; commit 2b51ec2).

Revision ID: 0002_evaluation_provenance
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_evaluation_provenance"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # server_default: rows written before this revision get an empty record, not NULL
    op.add_column("evaluation", sa.Column("provenance", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("evaluation") as batch:
        batch.drop_column("provenance")
