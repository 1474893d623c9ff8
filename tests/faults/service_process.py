"""`hotline serve` as a real subprocess for the fault tests: start, wait, kill, look inside.

Test bodies run on a private reactor (``reactor_run.run_on_reactor``) that also carries the PBX
simulators; every wait on the subprocess is a bounded poll (``until``) that keeps that reactor
turning, so simulated calls go on while the test waits.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from sqlalchemy import func, select
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThreadPool

from hotline.app import App
from hotline.core.models import CallRecord, Ticket
from hotline.core.residents import import_residents
from hotline.settings import load

T = TypeVar("T")

# Every day is office hours and inside the calling window, whatever hour the suite runs at.
BASE_ENV = {
    "HOTLINE_SITE_OFFICE_START": "00:00",
    "HOTLINE_SITE_OFFICE_END": "23:59",
    "HOTLINE_DIALER_WINDOW_START": "00:00",
    "HOTLINE_DIALER_WINDOW_END": "23:59",
    "HOTLINE_RECORDINGS_ARCHIVE_FORMAT": "mp3",
}
METRIC_LINE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def sleep(reactor: Any, seconds: float) -> None:
    await deferLater(reactor, seconds, lambda: None)


@overload
async def until(
    reactor: Any,
    check: Callable[[], Awaitable[T]],
    what: str,
    timeout: float = ...,
    interval: float = ...,
    describe: Callable[[], object] = ...,
) -> T: ...
@overload
async def until(
    reactor: Any,
    check: Callable[[], T],
    what: str,
    timeout: float = ...,
    interval: float = ...,
    describe: Callable[[], object] = ...,
) -> T: ...
async def until(
    reactor: Any,
    check: Callable[[], Any],
    what: str,
    timeout: float = 20.0,
    interval: float = 0.05,
    describe: Callable[[], object] = lambda: "",
) -> Any:
    """Poll `check` (plain or async) until it returns something true; fail after `timeout` s,
    saying what `describe` says of the state then."""
    deadline = reactor.seconds() + timeout
    while True:
        value = check()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if reactor.seconds() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s. {describe()}")
        await sleep(reactor, interval)


def in_thread(reactor: Any, fn: Callable[..., T], *args: Any) -> Any:
    """Blocking work (HTTP, waiting on a process) off the reactor that carries the simulators."""
    return deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)


def parse_metrics(text: str) -> dict[str, float]:
    """`name{labels}` -> value, from the Prometheus text format."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        m = METRIC_LINE.match(line)
        if m and not line.startswith("#"):
            values[m[1] + (m[2] or "")] = float(m[3])
    return values


@dataclass
class ServiceProcess:
    """One hotline home and the `hotline serve` processes run on it, one at a time."""

    home: Path
    db_url: str
    env: dict[str, str] = field(default_factory=dict)
    fastagi_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    output: list[str] = field(default_factory=list)  # every serve's stdout and stderr lines
    _reader: threading.Thread | None = None

    @property
    def full_env(self) -> dict[str, str]:
        return {
            **BASE_ENV,
            "HOTLINE_HOME": str(self.home),
            "HOTLINE_DB_URL": self.db_url,
            "HOTLINE_FASTAGI_LISTEN": f"127.0.0.1:{self.fastagi_port}",
            "HOTLINE_METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
            "HOTLINE_WEB_LISTEN": "",  # the API is not what these faults are about
            **self.env,
        }

    @property
    def app(self) -> App:
        return App(load(self.home, env=self.full_env))

    @property
    def spool(self) -> Path:
        return self.app.settings.spool_path

    def init(self, residents_csv: str | None = None) -> App:
        """`hotline init`, in-process, and the residents of `residents_csv`."""
        app = self.app
        app.init()
        if residents_csv is not None:
            csv = self.home / "residents.csv"
            csv.write_text(residents_csv, encoding="utf-8")
            with app.db.session() as s:
                import_residents(s, csv)
        app.db.dispose()
        return app

    # the process --------------------------------------------------------------------------------
    def start(self, file_size_limit: int | None = None) -> None:
        """Start `hotline serve`; `file_size_limit` (bytes) is its RLIMIT_FSIZE (a full disk)."""
        assert self.proc is None or self.proc.poll() is not None, "serve is already running"

        def limits() -> None:
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, resource.RLIM_INFINITY))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "serve"],
            env={**os.environ, **self.full_env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=limits,
        )
        # A pipe, not a file: RLIMIT_FSIZE must not silence the log that tells what happened.
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.output.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def scrape_blocking(self) -> str | None:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text: str = response.read().decode()
                return text
        except OSError:
            return None

    async def metrics(self, reactor: Any) -> dict[str, float]:
        text = await in_thread(reactor, self.scrape_blocking)
        assert text is not None, "metrics endpoint does not answer:\n" + self.log_tail()
        return parse_metrics(text)

    async def ready(self, reactor: Any, timeout: float = 30.0) -> None:
        """Serving: its metrics endpoint answers (it opens after the FastAGI port)."""

        async def up() -> bool:
            if not self.running():
                raise AssertionError("hotline serve exited:\n" + self.log_tail())
            return await in_thread(reactor, self.scrape_blocking) is not None

        await until(reactor, up, "hotline serve ready", timeout, interval=0.1)

    async def start_ready(self, reactor: Any, **kwargs: Any) -> None:
        self.start(**kwargs)
        await self.ready(reactor)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 15 s); the exit code, None if never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        return self.proc.returncode

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        return code

    def set_file_size_limit(self, limit: int) -> None:
        """Change the running service's RLIMIT_FSIZE (the soft one: raising it back needs no
        privilege): the disk fills, or is freed, under it."""
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.output[-lines:])

    def log_count(self, needle: str) -> int:
        """Log lines that hold `needle` (in any case)."""
        return sum(needle.lower() in line.lower() for line in self.output)


ServiceFactory = Callable[..., ServiceProcess]  # (db_url, name="home", **env) -> a home


# what the database holds ------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredTicket:
    id: int
    intake_key: str | None
    incomplete: bool
    kind: str
    caller_number: str | None


@dataclass(frozen=True)
class StoredCall:
    key: str | None
    direction: str
    disposition: str | None
    ended_at: Any
    rings_before_answer: int | None
    next_step_at: Any


class Records:
    """Reads the service's database from the test (a short-lived engine per look)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def tickets(self) -> list[StoredTicket]:
        with self.app.db.session() as s:
            rows = s.execute(
                select(
                    Ticket.id,
                    Ticket.intake_key,
                    Ticket.incomplete,
                    Ticket.kind,
                    Ticket.caller_number,
                )
            ).all()
        return [StoredTicket(*row) for row in rows]

    def calls(self) -> dict[str | None, StoredCall]:
        with self.app.db.session() as s:
            rows = s.execute(
                select(
                    CallRecord.key,
                    CallRecord.direction,
                    CallRecord.disposition,
                    CallRecord.ended_at,
                    CallRecord.rings_before_answer,
                    CallRecord.next_step_at,
                )
            ).all()
        return {row[0]: StoredCall(*row) for row in rows}

    def count_calls(self) -> int:
        with self.app.db.session() as s:
            return s.scalar(select(func.count()).select_from(CallRecord)) or 0

    def dispose(self) -> None:
        self.app.db.dispose()
