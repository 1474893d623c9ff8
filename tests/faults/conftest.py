"""Fixtures of the fault suite: a `hotline serve` subprocess on SQLite and on PostgreSQL (the shared
server, a database of its own), and a PostgreSQL cluster of the suite's own that tests stop."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

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


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for the service (PostgreSQL: on the shared server)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'hotline.db'}"
        return
    name = f"hotline_faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
        service.stop()


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
