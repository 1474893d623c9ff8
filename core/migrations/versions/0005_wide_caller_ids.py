"""wide caller ids, conversion attempts

Asterisk passes caller IDs of up to 80 characters (AST_MAX_EXTENSION); a long one failed the call
on PostgreSQL (StringDataRightTruncation) after the resident had spoken. The desk cuts anything
longer than these columns (hotline.core.intake.bounded). A failed recording conversion is tried
again later; `recordings.attempts` counts the tries, so one broken for good is not tried forever.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, column, old width, new width)
WIDENED = (
    ("call_records", "caller", 40, 80),
    ("call_records", "callee", 40, 80),
    ("tickets", "caller_number", 20, 80),
)


def _resize(backwards: bool) -> None:
    # On SQLite each table is copied (batch mode); hotline.core.db.upgrade turns foreign keys off
    # for the copy and checks them all afterwards.
    for table, column, old, new in WIDENED:
        before, after = (new, old) if backwards else (old, new)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, type_=sa.String(length=after), existing_type=sa.String(length=before)
            )


def upgrade() -> None:
    _resize(backwards=False)
    op.add_column(
        "recordings", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("attempts")
    _resize(backwards=True)
