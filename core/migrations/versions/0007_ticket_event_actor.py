"""ticket event actor

Who made each state change (the technician, the resident who signed, the supervisor), so a
ticket's history says who did what.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ticket_events", sa.Column("actor", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("ticket_events", "actor")
