"""dial requests

Agent-first click-to-dial for preview leads: `hotline campaign dial` stores the request, the
running service claims it and rings the agent, then the resident.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dial_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=60), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dial_requests_state", "dial_requests", ["state"], unique=False)
    op.create_index(op.f("ix_dial_requests_lead_id"), "dial_requests", ["lead_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dial_requests_lead_id"), table_name="dial_requests")
    op.drop_index("ix_dial_requests_state", table_name="dial_requests")
    op.drop_table("dial_requests")
