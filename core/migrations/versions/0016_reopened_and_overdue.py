"""dropped follow-ups; the indexes of overdue complaints and of a ticket's calls

A follow-up not yet made when its ticket is reopened is no longer owed (the matter is followed up
after its new resolution, by a new follow-up): `followups.dropped_at` says when it was dropped.
The report's covering index gains the column, so the report still reads a period from the index
alone.

`hotline overdue` pages the complaints past their escalation or resolution deadline from an index
of each clock by kind and state (it sorted every complaint), and a ticket's history (`tickets
show`, the API's ticket) finds its calls by `ix_calls_ticket` (it read every call record).

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
    for clock in ("escalation", "resolution"):
        op.create_index(f"ix_tickets_{clock}", "tickets", ["kind", "state", f"{clock}_due_at"])
    op.create_index("ix_calls_ticket", "call_records", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_calls_ticket", table_name="call_records")
    for clock in ("escalation", "resolution"):
        op.drop_index(f"ix_tickets_{clock}", table_name="tickets")
    op.drop_index("ix_followups_due_report", table_name="followups")
    op.create_index(
        "ix_followups_due_report",
        "followups",
        ["due_at", "kind", "done_at", "satisfaction"],
        unique=False,
    )
    with op.batch_alter_table("followups") as batch:
        batch.drop_column("dropped_at")
