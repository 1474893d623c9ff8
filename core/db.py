"""Engines, sessions and migrations: SQLite (WAL) by default, PostgreSQL for shared deployments."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Dialect, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*"?(\w+)"?', re.MULTILINE)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; callers spool what must not be lost."""


class _BatchBroken(Exception):
    """A call in a batch (`Database.together`) failed: the batch is undone and each call runs
    again alone. Not a database error, so the call's own handlers (spooling) let it through."""


# A call of a batch: its result, or the exception it raised when it ran alone.
Outcome = tuple[bool, object]


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


# Connections beyond the flows' and the API readers' threads: the recordings' conversion, the
# live relay's LISTEN, a command run beside the service.
SPARE_CONNECTIONS = 4


def flow_threads(url: str) -> int:
    """The call flows' database threads. SQLite takes one writer at a time: more threads only
    wait on its lock (busy_timeout sleeps) and on the GIL, which cost a third of the inbound
    calls/s under load (bench/inbound_load.py)."""
    return 1 if url.startswith("sqlite") else 8


def make_engine(url: str, readers: int = 0) -> Engine:
    """``readers``: threads that read beside the flows' (the API's), each holding a connection
    while it works, so the pool must hold them all without a wait."""
    size = flow_threads(url) + readers + SPARE_CONNECTIONS
    if url.startswith("sqlite"):
        # Every thread its own connection: in WAL mode readers never wait for the writer.
        engine = create_engine(url, pool_size=size)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=size)


class Database:
    def __init__(self, url: str, readers: int = 0) -> None:
        self.url = url
        self.engine = make_engine(url, readers)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._batch = threading.local()  # .connection: the transaction of a batch running here

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        with _reachable(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for the hot paths the ORM would slow down.
        Within `together`, the batch's transaction, committed with the batch."""
        joined: Connection | None = getattr(self._batch, "connection", None)
        if joined is None:
            with _reachable(), self.engine.begin() as connection:
                yield connection
            return
        try:
            yield joined
        except Exception as exc:
            raise _BatchBroken() from exc

    def together(self, calls: Sequence[Callable[[], object]]) -> list[Outcome]:
        """Run blocking calls in one transaction and one commit (a group commit): each call's
        `transaction()` joins it (the calls must not use `session()`). If any call fails, or the
        commit does, the whole batch is rolled back and each call runs again alone, so each one
        succeeds, or fails, as it would have alone. Returns (True, result) or (False, exception)
        per call, in order."""
        if len(calls) > 1:
            try:
                with _reachable(), self.engine.begin() as connection:
                    self._batch.connection = connection
                    try:
                        return [(True, call()) for call in calls]
                    finally:
                        self._batch.connection = None
            except Exception:
                pass  # the calls' own runs below meet the error again, and handle it as ever
        return [_alone(call) for call in calls]

    def upgrade(self) -> None:
        upgrade(self.url, self.engine)

    def is_current(self) -> bool:
        with _reachable():
            return "alembic_version" in inspect(self.engine).get_table_names()

    def revision(self) -> str | None:
        """The schema's migration, or None for a database `hotline init` never set up."""
        with _reachable(), self.engine.connect() as connection:
            if "alembic_version" not in inspect(connection).get_table_names():
                return None
            version: str | None = connection.scalar(text("SELECT version_num FROM alembic_version"))
            return version

    def dispose(self) -> None:
        self.engine.dispose()


# A statement's SQL and, in the order of its placeholders, each value's name and converter.
_Sent = tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]


class Prepared:
    """A statement of the calls' hot path, compiled once and, on SQLite, handed to the driver
    as is: SQLAlchemy's execution around each statement (cache lookup, execution context, result
    set-up, ~17 µs) cost the intake more than SQLite spent executing it. The values go through
    the columns' own converters (times to naive UTC, JSON, booleans), errors come out as
    SQLAlchemy's, so callers see no difference. Elsewhere (PostgreSQL: a lost server connection
    must be invalidated, which SQLAlchemy's execution does) it runs through SQLAlchemy.

    For statements whose every value is given (a column default left to fill in is refused)
    and whose result columns need no conversion. ``run`` returns the rows as tuples."""

    def __init__(self, statement: Select[*tuple[Any, ...]] | UpdateBase, dialect: Dialect) -> None:
        self.statement, self.dialect = statement, dialect
        self.direct = dialect.name == "sqlite"
        for column in getattr(statement, "exported_columns", ()):
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                raise ValueError(f"{column} needs its results converted")
        self._sent: dict[frozenset[str], _Sent] = {}  # by the names of the values given

    def run(self, connection: Connection, values: Mapping[str, Any]) -> Sequence[tuple[Any, ...]]:
        if not self.direct:
            result = connection.execute(self.statement, dict(values))
            return [tuple(row) for row in result] if result.returns_rows else []
        names = frozenset(values)
        sent = self._sent.get(names)
        if sent is None:
            sent = self._sent[names] = self._compile(names)
        sql, binds = sent
        params = tuple(v(values[n]) if v else values[n] for n, v in binds)
        dbapi = self.dialect.loaded_dbapi
        try:
            cursor = connection.connection.cursor()  # this transaction's driver connection
            cursor.execute(sql, params)
            return cursor.fetchall()
        except dbapi.Error as exc:
            raise DBAPIError.instance(sql, params, exc, dbapi.Error) from exc

    def _compile(self, names: frozenset[str]) -> _Sent:
        compiled = self.statement.compile(dialect=self.dialect, column_keys=sorted(names))
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(f"values missing for column defaults: {sorted(names)}")
        order = compiled.positiontup or []
        binds = [(n, self._converter(compiled.binds[n].type)) for n in order]
        return compiled.string, binds

    def _converter(self, type_: TypeEngine[Any]) -> Callable[[Any], Any] | None:
        # The dialect's own form of the type: SQLite's DateTime writes its string, for one.
        return type_.dialect_impl(self.dialect).bind_processor(self.dialect)


def _alone(call: Callable[[], object]) -> Outcome:
    try:
        return True, call()
    except Exception as exc:
        return False, exc


@cache
def head_revision() -> str:
    """The newest migration, read from the files: Alembic itself costs 0.2 s to import, and
    every command checks the schema before it runs."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[0-9]*.py"):
        text_ = path.read_text(encoding="utf-8")
        found = {m[1]: m[2] for m in _REVISION.finditer(text_)}
        revisions.add(found["revision"])
        parents.add(found.get("down_revision", "None"))
    (head,) = revisions - parents
    return head


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, engine: Engine | None = None) -> None:
    """Bring the schema to the newest migration (`hotline db upgrade`)."""
    from alembic import command

    config = alembic_config(url)
    engine = engine or make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a column by copying its table; dropping the old one must not trip
            # the rows that point at it. Off outside a transaction (SQLite ignores it inside),
            # and every key checked once the migrations are done.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("the migrations left rows pointing at nothing")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
