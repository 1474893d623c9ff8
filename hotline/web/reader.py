"""The heavy reads (ticket, resident and call lists and pages: routes declared ``apart``) served
by reader processes the service spawns, so their Python work runs beside the calls' rather than
under the same GIL. A reader is a child of `hotline serve`, at a lower priority (nice), with its
own database connections; it runs the very handler the service would (`WebApi._read`: who is
asking, the role, the parameters, the page, its JSON) and sends back the JSON bytes, which the
service writes out as they are. Writes, the live stream, the PBX's actions and the event bus stay
in the service process.

The wire: frames of a 4-byte big-endian length and a pickle (Twisted's Int32StringReceiver on
the service's side), on the child's stdin and stdout; the first frame is the settings. Pickle is
safe here: both ends are this code, over a pipe only the two processes hold.

A reader that dies is started again; the requests it held are answered 503 ``unavailable``
(never left hanging), and so are requests that come while no reader is up."""

from __future__ import annotations

import gc
import logging
import os
import pickle
import signal
import struct
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.error import ProcessDone
from twisted.internet.process import reapAllProcesses
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import LoopingCall
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure

from hotline.app import App
from hotline.settings import Settings

from .bounded import busy
from .declare import API, Route
from .errors import ApiError, as_api_error
from .server import Encoded, ReadRequest, WebApi
from .site import ROUTE_MODULES

log = logging.getLogger("hotline.web")

MAX_FRAME = 64 << 20  # a report or a whole list is megabytes at most; a longer frame is a fault
NICE = 19  # under contention the service (the calls) gets the CPU: a reader has 1.5 % of its weight
RESTART_SECONDS = (0.0, 0.5, 1.0, 2.0, 5.0)  # the waits before each restart in a quick series
STEADY_SECONDS = 10.0  # a reader that ran this long before it died starts the series again
STOP_SECONDS = 5.0  # a reader not ended this long after its stdin closed is killed
REAP_SECONDS = 0.01
RETRY_AFTER = {"Retry-After": "1"}
_LENGTH = struct.Struct("!I")  # Int32StringReceiver's prefix


class _Frames(Int32StringReceiver):
    MAX_LENGTH = MAX_FRAME

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader

    def stringReceived(self, string: bytes) -> None:
        self.reader.answered(string)


class _Reader(ProcessProtocol):
    """One reader process: its requests in flight, by number."""

    def __init__(self, pool: ReaderPool) -> None:
        self.pool = pool
        self.frames = _Frames(self)
        self.waiting: dict[int, Deferred[bytes]] = {}
        self.started_at = pool.reactor.seconds()
        self.ended: Deferred[None] = Deferred()  # its answers' pipe closed: it answers no more
        self.reaped: Deferred[None] = Deferred()  # its exit collected (no zombie left)

    def connectionMade(self) -> None:
        self.frames.makeConnection(self.transport)  # its writes go to the child's stdin
        self.frames.sendString(pickle.dumps(self.pool.settings))

    def send(self, number: int, request: ReadRequest) -> Deferred[bytes]:
        done: Deferred[bytes] = Deferred()
        self.waiting[number] = done
        self.frames.sendString(pickle.dumps((number, request)))
        return done

    def kill(self) -> None:
        if self.transport is not None:
            self.transport.signalProcess("KILL")

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.frames.dataReceived(data)

    def answered(self, frame: bytes) -> None:
        number, ok, payload = pickle.loads(frame)
        done = self.waiting.pop(number, None)
        if done is None:
            return  # not ours (cannot happen short of a bug): nobody waits for it
        if ok:
            done.callback(payload)
        else:
            code, message, headers = payload
            done.errback(ApiError(code, message, headers))

    def childConnectionLost(self, childFD: int) -> None:
        """Its stdout closed: it has exited or is exiting. Its exit status comes later, and
        only on SIGCHLD (`processEnded`): its requests are not kept waiting for that."""
        if childFD != 1:
            return
        waiting, self.waiting = self.waiting, {}
        for done in waiting.values():
            done.errback(
                ApiError("unavailable", "the reader process ended; try again", RETRY_AFTER)
            )
        self.pool.ended(self)
        self.ended.callback(None)

    def processEnded(self, reason: Failure) -> None:
        if not isinstance(reason.value, ProcessDone):
            log.warning("API reader process: %s", reason.value)
        self.reaped.callback(None)


class ReaderPool:
    """``size`` reader processes; `read` sends a request to the one with the fewest in flight,
    at most ``settings.web.queue`` in flight in all: its answer's JSON bytes, or an ApiError."""

    def __init__(self, reactor: Any, settings: Settings, size: int) -> None:
        self.reactor, self.settings, self.size = reactor, settings, size
        self.limit = settings.web.queue
        self.readers: list[_Reader] = []
        self.restarts = 0  # readers started again after one ended (the log says why)
        self._quick_deaths = 0
        self._numbers = 0
        self._stopping = False
        self._restarts: list[Any] = []  # the restarts waiting (IDelayedCall), cancelled on stop

    def start(self) -> None:
        for _ in range(self.size):
            self._spawn()

    def _spawn(self) -> None:
        if self._stopping:
            return
        reader = _Reader(self)
        # The same interpreter and environment (HOTLINE_* included: the settings come framed).
        self.reactor.spawnProcess(
            reader,
            sys.executable,
            [sys.executable, "-m", "hotline.web.reader"],
            env=dict(os.environ),
            childFDs={0: "w", 1: "r", 2: 2},
        )
        self.readers.append(reader)

    def read(self, request: ReadRequest) -> Deferred[bytes]:
        if not self.readers:
            return fail(ApiError("unavailable", "the reader is starting again", RETRY_AFTER))
        if self.in_flight() >= self.limit:
            return fail(busy(self.limit))  # as the read threads' bound (Bounded)
        reader = min(self.readers, key=lambda r: len(r.waiting))
        self._numbers += 1
        return reader.send(self._numbers, request)

    def ended(self, reader: _Reader) -> None:
        self.readers.remove(reader)
        if self._stopping:
            return
        ran = self.reactor.seconds() - reader.started_at
        self._quick_deaths = 0 if ran >= STEADY_SECONDS else self._quick_deaths + 1
        wait = RESTART_SECONDS[min(self._quick_deaths, len(RESTART_SECONDS) - 1)]
        log.error("API reader process ended after %.1f s; started again in %g s", ran, wait)
        self.restarts += 1
        self._restarts = [c for c in self._restarts if c.active()]
        self._restarts.append(self.reactor.callLater(wait, self._spawn))

    def in_flight(self) -> int:
        return sum(len(r.waiting) for r in self.readers)

    def pids(self) -> list[int]:
        return [r.transport.pid for r in self.readers if r.transport is not None]

    async def stop(self) -> None:
        """Close each reader's stdin (it ends once its requests are answered); wait for them,
        killing one that has not ended in STOP_SECONDS (a read stuck on a lock)."""
        self._stopping = True
        for waiting in self._restarts:
            if waiting.active():
                waiting.cancel()
        readers = list(self.readers)
        for reader in readers:
            if reader.transport is not None:
                reader.transport.closeStdin()
        for reader in readers:
            kill = self.reactor.callLater(STOP_SECONDS, reader.kill)
            await reader.ended
            # Collected as SIGCHLD's handler would (a reactor run without signal handlers, as in
            # tests, has none), so the service leaves no zombie behind.
            reaping = LoopingCall(reapAllProcesses)
            reaping.clock = self.reactor
            reaping.start(REAP_SECONDS)
            await reader.reaped
            reaping.stop()
            if kill.active():
                kill.cancel()


class _Answers:
    """The reader's stdout, frames written whole by one thread at a time."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.lock = threading.Lock()

    def send(self, data: object) -> None:
        frame = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            self.out.write(_LENGTH.pack(len(frame)) + frame)
            self.out.flush()


def _frames(source: IO[bytes]) -> Iterator[Any]:
    """The frames on ``source`` until it closes (the service closed it, or ended)."""
    while True:
        head = source.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (length,) = _LENGTH.unpack(head)
        body = source.read(length)
        if len(body) < length:
            return
        yield pickle.loads(body)


@dataclass
class _Served:
    """The reader's side: the routes it may answer, and the WebApi that answers them."""

    api: WebApi
    routes: dict[str, Route] = field(default_factory=dict)

    def answer(self, answers: _Answers, number: int, request: ReadRequest) -> None:
        try:
            route = self.routes.get(request.operation_id)
            if route is None:
                raise RuntimeError(f"{request.operation_id} is not a route readers answer")
            result = self.api._read(
                route,
                request.creds,
                request.path,
                request.args,
                b"",
                request.address,
                request.pbx_ready,
                request.now,
            )
            if not isinstance(result, Encoded):  # the route needs the service after all
                raise RuntimeError(f"{request.operation_id} answered {type(result).__name__}")
            answers.send((number, True, result.body))
        except Exception as exc:
            error = as_api_error(exc)
            answers.send((number, False, (error.code, error.message, error.headers)))


def _no_writes(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("a reader process does not write")


def main() -> None:
    """The reader process: settings, then requests, each answered in one of its threads."""
    # Its stdout is the channel: anything else printed goes to stderr, the service's log.
    answers = _Answers(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C at the terminal is the service's
    os.nice(NICE)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s reader {os.getpid()} %(levelname)s %(name)s: %(message)s",
    )
    assert ROUTE_MODULES  # imported, so every route is declared on API
    incoming = _frames(sys.stdin.buffer)
    settings = next(incoming)
    app = App(settings)
    served = _Served(
        WebApi(app, API.all, _no_writes, app.now),
        {r.operation_id: r for r in API.all if r.apart},
    )
    # What is loaded by now lives as long as the process: frozen, the collector's full passes
    # skip it (as `hotline serve` does; a page's rows would otherwise set off walks of it all).
    gc.freeze()
    with ThreadPoolExecutor(settings.web.read_threads(), "hotline-reader") as threads:
        for number, request in incoming:
            threads.submit(served.answer, answers, number, request)
    app.close()


if __name__ == "__main__":
    main()
