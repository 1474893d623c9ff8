"""dropped follow-ups

A follow-up not yet made when its ticket is reopened is no longer owed (the matter is followed up
after its new resolution, by a new follow-up): `followups.dropped_at` says when it was dropped.
The report's covering index gains the column, so the report still reads a period from the index
alone.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("followups", sa.Column("dropped_at", sa.DateTime(), nullable=True))
    op.drop_index("ix_followups_due_report", table_name="followups")
    op.create_index(
        "ix_followups_due_report",
        "followups",
        ["due_at", "kind", "done_at", "satisfaction", "dropped_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_followups_due_report", table_name="followups")
    op.create_index(
        "ix_followups_due_report",
        "followups",
        ["due_at", "kind", "done_at", "satisfaction"],
        unique=False,
    )
    with op.batch_alter_table("followups") as batch:
        batch.drop_column("dropped_at")
