"""Fixtures of the fault suite: a `hotline serve` subprocess on SQLite and on PostgreSQL (the shared
server, a database of its own), and a PostgreSQL cluster of the suite's own that tests stop."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hotline.core.db import Database
from hotline.core.models import Base

from pg_cluster import PgCluster, why_no_cluster
from service_process import ServiceFactory, ServiceProcess

PG_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pg_cluster: starts and stops a PostgreSQL cluster of its own"
    )
    config.addinivalue_line("markers", "slow: a fault test of several seconds (kept inside budget)")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def shared_pg_url() -> Iterator[str]:
    """One database of the suite's on the shared server, emptied for each test: a DROP DATABASE
    per test costs a checkpoint of the shared server, seconds when others load it."""
    name = f"hotline_faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    Database(url).upgrade()
    yield url
    admin.dispose()
    # Dropped by a process of its own: the shared server's checkpoint takes seconds under load,
    # and the suite need not wait for it.
    drop = (
        "import sqlalchemy as sa, sys; e = sa.create_engine(sys.argv[1], isolation_level="
        "'AUTOCOMMIT'); e.connect().execute(sa.text(sys.argv[2]))"
    )
    subprocess.Popen(
        [
            sys.executable,
            "-c",
            drop,
            PG_ADMIN_URL,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database for the service (PostgreSQL: on the shared server)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'hotline.db'}"
    url = request.getfixturevalue("shared_pg_url")
    database = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    database.dispose()
    return url


@pytest.fixture
def services(tmp_path: Path) -> Iterator[ServiceFactory]:
    """Make service homes; every serve still running at the end is stopped."""
    made: list[ServiceProcess] = []

    def make(db_url: str, name: str = "home", **env: str) -> ServiceProcess:
        service = ServiceProcess(tmp_path / name, db_url, env)
        made.append(service)
        return service

    yield make
    for service in made:
        if service.running():
            service.kill9()  # quick: a graceful stop is not what these tests are about


@pytest.fixture
def service(services: ServiceFactory, db_url: str) -> ServiceProcess:
    return services(db_url)


@pytest.fixture(scope="session")
def pg_cluster_session() -> Iterator[PgCluster]:
    reason = why_no_cluster()
    if reason is not None:
        pytest.skip(reason)
    cluster = PgCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_cluster(pg_cluster_session: PgCluster) -> Iterator[PgCluster]:
    """The suite's own cluster, running when the test starts, whatever the last test left."""
    if not pg_cluster_session.running():
        pg_cluster_session.start()
    yield pg_cluster_session
    if not pg_cluster_session.running():
        pg_cluster_session.start()
