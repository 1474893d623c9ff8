"""console: users' language, supervision audit

The console (issue 14) speaks each user's language (zh or en), and every listen, whisper or barge
a supervisor starts on an agent's call is written to an append-only audit table (UPDATE and
DELETE refused by triggers, as recording_audit's). Indexes for the screen pop (a unit's open
tickets) and an agent's figures (their day's ticket events and calls).

Revision ID: 0013
Revises: 0012 (the live helper's; the lead re-chains at merge)
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MESSAGE = "supervision_audit is append-only"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER supervision_audit_no_{verb.lower()} BEFORE {verb} ON supervision_audit
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGER = [
    f"""CREATE FUNCTION supervision_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$""",
    """CREATE TRIGGER supervision_audit_append_only BEFORE UPDATE OR DELETE ON supervision_audit
    FOR EACH ROW EXECUTE FUNCTION supervision_audit_append_only()""",
]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=5), server_default="zh", nullable=False)
        )
    op.create_table(
        "supervision_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("supervisor", sa.String(length=80), nullable=False),
        sa.Column("supervisor_extension", sa.String(length=20), nullable=False),
        sa.Column("agent", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supervision_audit_at", "supervision_audit", ["at"], unique=False)
    # The screen pop reads a unit's open tickets, an agent's figures their day's work.
    op.create_index("ix_tickets_unit_state", "tickets", ["unit_id", "state"], unique=False)
    op.create_index("ix_ticket_events_actor_at", "ticket_events", ["actor", "at"], unique=False)
    op.create_index(
        "ix_calls_agent_connected", "call_records", ["agent", "connected_at"], unique=False
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGER if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER supervision_audit_append_only ON supervision_audit")
        op.execute("DROP FUNCTION supervision_audit_append_only()")
    op.drop_index("ix_calls_agent_connected", table_name="call_records")
    op.drop_index("ix_ticket_events_actor_at", table_name="ticket_events")
    op.drop_index("ix_tickets_unit_state", table_name="tickets")
    op.drop_index("ix_supervision_audit_at", table_name="supervision_audit")
    op.drop_table("supervision_audit")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
