"""abandoned calls index

The dialer leaves a resident whose call it abandoned alone for a while (`claim_leads`): it reads
the recent abandoned calls on every claim, through this index.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_calls_disposition_ended", "call_records", ["disposition", "ended_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_calls_disposition_ended", table_name="call_records")
