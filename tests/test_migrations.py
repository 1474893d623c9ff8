from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hotline.core.db import Database
from hotline.core.models import Base


def test_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrade_is_idempotent(db: Database) -> None:
    db.upgrade()
    assert db.is_current()
