"""live event payloads

A live event larger than a PostgreSQL NOTIFY payload travels by reference to a row here.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_event_payloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_live_event_payloads_created_at", "live_event_payloads", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_live_event_payloads_created_at", table_name="live_event_payloads")
    op.drop_table("live_event_payloads")
