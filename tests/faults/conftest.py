"""Fixtures of the fault suite: a `hotline serve` subprocess on SQLite and on PostgreSQL (the shared
server), and a PostgreSQL cluster of the suite's own that tests stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline.core.db import Database
from hotline.core.models import Base

from pg_cluster import PgCluster, why_no_cluster
from service_process import ServiceFactory, ServiceProcess


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pg_cluster: starts and stops a PostgreSQL cluster of its own"
    )
    config.addinivalue_line("markers", "slow: a fault test of several seconds (kept inside budget)")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database for the service. PostgreSQL: the test run's database on the shared
    server (tests/conftest.py), emptied; a database per test would cost a DROP DATABASE each,
    a checkpoint of the shared server that takes seconds when others load it."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'hotline.db'}"
    url: str = request.getfixturevalue("pg_url")
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
