from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from hotline.core.db import Database, alembic_config
from hotline.core.models import Base


def test_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_upgrade_is_idempotent(db: Database) -> None:
    db.upgrade()
    assert db.is_current()


def test_a_sqlite_database_with_rows_is_upgraded_through_copied_tables(tmp_path: Path) -> None:
    """0005 widens columns, which SQLite does by copying the table: the rows pointing at it
    (a recording at its call, an event at its ticket) must survive the copy."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    db = Database(url)
    config = alembic_config(url)
    with db.engine.begin() as c:
        config.attributes["connection"] = c
        command.upgrade(config, "0003")
    at = {"at": datetime(2026, 12, 1, 9, 0)}
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO units (id, code) VALUES (1, '1-1-101')"))
        c.execute(
            text(
                "INSERT INTO tickets (id, kind, category, severity, channel, state, unit_id,"
                " about_staff, emergency, incomplete, received_at, updated_at) VALUES"
                " (1, 'repair', 'plumbing', 'general', 'phone', 'new', 1, 0, 0, 0, :at, :at)"
            ),
            at,
        )
        c.execute(
            text("INSERT INTO ticket_events (ticket_id, to_state, at) VALUES (1, 'new', :at)"), at
        )
        c.execute(
            text(
                "INSERT INTO call_records (id, key, direction, arrived_at, ticket_id)"
                " VALUES (1, 'in:1', 'in', :at, 1)"
            ),
            at,
        )
        c.execute(
            text(
                "INSERT INTO recordings (call_id, ticket_id, kind, path, format, state, restricted,"
                " retain_until, created_at) VALUES"
                " (1, 1, 'call', '/x.wav', 'wav', 'pending', 0, '2030-01-01', :at)"
            ),
            at,
        )
    db.upgrade()
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM ticket_events")).scalar() == 1
        assert c.execute(text("SELECT call_id, attempts FROM recordings")).one() == (1, 0)
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_the_open_calls_index_is_partial(db: Database) -> None:
    """core/models.py declares ix_calls_open_by_instance without its condition (a
    `postgresql_where` there costs every command the PostgreSQL dialect's import): the database
    has it from migration 0014."""
    indexes = inspect(db.engine).get_indexes("call_records")
    (index,) = [i for i in indexes if i["name"] == "ix_calls_open_by_instance"]
    where = index.get("dialect_options", {})[f"{db.engine.dialect.name}_where"]
    assert str(where).replace("(", "").replace(")", "") == "ended_at IS NULL"
