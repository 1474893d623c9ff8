"""recording audit

Who listened to a restricted recording, exported or purged one, when and why (issue 9). The
database itself keeps the table append-only: UPDATE and DELETE are refused by triggers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MESSAGE = "recording_audit is append-only"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER recording_audit_no_{verb.lower()} BEFORE {verb} ON recording_audit
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGER = [
    f"""CREATE FUNCTION recording_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$""",
    """CREATE TRIGGER recording_audit_append_only BEFORE UPDATE OR DELETE ON recording_audit
    FOR EACH ROW EXECUTE FUNCTION recording_audit_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "recording_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=255), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_recording_audit_recording", "recording_audit", ["recording_id"], unique=False
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGER if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER recording_audit_append_only ON recording_audit")
        op.execute("DROP FUNCTION recording_audit_append_only()")
    op.drop_index("ix_recording_audit_recording", table_name="recording_audit")
    op.drop_table("recording_audit")
