"""preview leads

Leads a person calls (a preview campaign's, and a major complaint's follow-up, which the manager
makes himself) are marked, so the dialer never places them by itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "leads", sa.Column("preview", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("preview")
