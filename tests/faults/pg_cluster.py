"""A PostgreSQL cluster of the test's own, on its own port, that a test may stop and start.

Never the shared server on 5432: initdb and pg_ctl from /usr/lib/postgresql/*/bin run as the
postgres user (we run as root), with the data directory in a folder of its own under /tmp.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from service_process import free_port


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def why_no_cluster() -> str | None:
    """Why this machine cannot run a cluster of its own, or None when it can."""
    if postgres_bin() is None:
        return "no initdb under /usr/lib/postgresql/*/bin: PostgreSQL cluster faults not run"
    if shutil.which("runuser") is None or os.geteuid() != 0:
        return "the own PostgreSQL cluster needs root and runuser (to run it as postgres)"
    return None


class PgCluster:
    def __init__(self) -> None:
        bin_dir = postgres_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="hotline-faults-pg-"))
        self.data = self.base / "data"
        shutil.chown(self.base, "postgres", "postgres")
        self._as_postgres(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _as_postgres(self, tool: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base} "
            # fsync off is safe here: a stop loses no commit the OS has; synchronous_commit
            # stays on, or an immediate stop would lose commits the service was told of.
            "-c fsync=off -c full_page_writes=off"
        )
        self._as_postgres(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.base / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Stop at once (connections cut, as when the database host goes away)."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def new_database(self) -> str:
        """A fresh database in the cluster (which must be running); its SQLAlchemy URL."""
        name = f"hotline_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
