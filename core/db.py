"""Engines, sessions and migrations: SQLite (WAL) by default, PostgreSQL for shared deployments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; callers spool what must not be lost."""


@contextmanager
def _reachable() -> Iterator[None]:
    """A database that cannot be reached is a DatabaseUnavailable, which callers spool for."""
    try:
        yield
    except OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc.orig}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the service write while the CLI reads; busy_timeout rides out short write locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with _reachable(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for the hot paths the ORM would slow down."""
        with _reachable(), self.engine.begin() as connection:
            yield connection

    def upgrade(self) -> None:
        upgrade(self.url, self.engine)

    def is_current(self) -> bool:
        with _reachable():
            return "alembic_version" in inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, engine: Engine | None = None) -> None:
    """Bring the schema to the newest migration (`hotline db upgrade`)."""
    config = alembic_config(url)
    engine = engine or make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
