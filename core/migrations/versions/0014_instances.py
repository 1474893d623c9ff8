"""instances

Each `hotline serve` registers itself with a heartbeat; call records name the instance that
wrote them, so a start settles only what a dead instance left (not a live neighbour's calls).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("instance_id", sa.String(length=36), nullable=True))
    op.create_index(
        "ix_calls_open_by_instance",
        "call_records",
        ["instance_id"],
        unique=False,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_calls_open_by_instance", table_name="call_records")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("instance_id")
    op.drop_table("instances")
