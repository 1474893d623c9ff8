"""undispatched repairs

An index on the repairs still without a technician, by when they were received: `hotline overdue`
counts them and reads its page of them from the index instead of visiting every repair.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_tickets_undispatched", "tickets", ["kind", "dispatched_at", "received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_undispatched", table_name="tickets")
