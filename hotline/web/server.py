"""The API's request cycle on Klein: read the request on the reactor, then make one hop to a
database thread for everything else (who is asking, the role, the parameters and body, the
handler, in one transaction), and write JSON back on the reactor.

Reads (GET) hop to the API's own threads, so a page never waits behind a call flow's write;
writes hop to the flows' threads, where every write of the service goes (see `WebApi`). The
heavy reads (routes declared ``apart``) go to a reader process instead when the service runs
one (hotline.web.reader): the same handler, run beside the calls rather than under their GIL."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from klein import Klein
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site
from twisted.web.static import File
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute

from hotline.agi.flows.context import Runner
from hotline.app import App
from hotline.core.db import Session  # what Database.session() hands out
from hotline.core.event_bus import EventBus
from hotline.core.users import Principal
from hotline.core.vocabulary import DomainError
from hotline.dialer.agent_actions import AgentActions
from hotline.live_stream import LiveStream
from hotline.net.tcp import address_text
from hotline.serialise import check_past

from .auth import COOKIE, CSRF_HEADER, Credentials, LoginThrottle, identify
from .declare import Route
from .errors import ApiError, as_api_error, log

PREFIX = "/api/v1"
# The console's pages (/console/) read the session too: they are served only to who may see them.
COOKIE_PATH = "/"
MAX_BODY = 1 << 20
NO_CONTENT = 204


@dataclass
class Call:
    """What a handler is given, in a database thread, inside one transaction."""

    session: Session
    app: App
    principal: Principal | None
    now: datetime
    params: dict[str, Any]
    body: dict[str, Any]
    address: str
    throttle: LoginThrottle
    session_secret: str | None = None
    pbx_ready: bool = False  # the AMI link is up: a PbxReply's action can be sent
    live: LiveStream | None = None  # the live state and stream, when the service runs one

    def require_pbx(self) -> None:
        """Before writing what a PBX action would follow (an audit row): refuse while it is off."""
        if not self.pbx_ready:
            raise ApiError("unavailable", "the PBX (AMI) link is down; try again shortly")

    @property
    def tz(self) -> tzinfo:
        return self.app.rules.tz

    @property
    def who(self) -> Principal:
        """The signed-in principal (routes with a role always have one)."""
        assert self.principal is not None
        return self.principal

    def happened(self) -> datetime:
        """The body's `at`, when what is recorded happened (default now): never in the future,
        the CLI's rule for --at."""
        at = self.body.get("at")
        return self.now if at is None else check_past(at, self.tz, self.now)

    def extension(self) -> str:
        """The signed-in user's phone (a preview call rings it first)."""
        if self.who.extension is None:
            raise DomainError(f"{self.who.name} has no extension: name the agent's phone")
        return self.who.extension


@dataclass
class Reply:
    """A response with more than a JSON body: a status, a session cookie to set or clear."""

    data: Any
    status: int | None = None
    cookie: tuple[str, datetime] | None = None  # (secret, expires_at)
    clear_cookie: bool = False


@dataclass
class PbxReply:
    """An answer that needs the PBX: ``act`` is sent on the reactor once the handler's
    transaction has committed; the answer is ``data`` when the PBX accepts it."""

    data: Any
    act: Callable[[AgentActions], Deferred[None]]


@dataclass
class OnReactor:
    """An answer only the reactor may build (it reads the live state, which the reactor
    changes): built there once the checks in the database thread have passed."""

    build: Callable[[], Any]


@dataclass(frozen=True)
class ReadRequest:
    """A read for a reader process (hotline.web.reader): what `WebApi._read` is given, read from
    the HTTP request on the reactor. The reader checks the credentials as the service would."""

    operation_id: str
    creds: Credentials
    path: dict[str, Any]
    args: dict[bytes, list[bytes]]
    address: str
    pbx_ready: bool
    now: datetime


@dataclass(frozen=True)
class Encoded:
    """A read's JSON answer, encoded in its thread (`WebApi._read`)."""

    body: bytes


@dataclass
class StreamReply:
    """A response that stays open (the live stream): ``open(request)`` serves it."""

    open: Callable[[Request], object]


@dataclass
class FileReply:
    """A file to stream (a recording), checked and audited in the handler's transaction."""

    path: Path
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


class WebApi:
    """The Klein application for ``routes``. ``run`` is where writes run: the flows' database
    threads (``Service.run_blocking``), because SQLite takes one writer at a time, so a writer
    of its own would only wait on the lock (busy_timeout) while holding a thread, and because
    the flows' threads are the ones sized to the connections the writes need. ``read`` is where
    reads run (the API's own threads, bounded: ``Bounded``); by default ``run``. ``apart``, when
    given, answers the routes declared ``apart`` (a `ReadRequest`) with their JSON bytes: the
    reader processes (hotline.web.reader), bounded too."""

    def __init__(
        self,
        app: App,
        routes: list[Route],
        run: Runner,
        clock: Callable[[], datetime],
        actions: Callable[[], AgentActions | None] = lambda: None,
        live: LiveStream | None = None,
        bus: EventBus | None = None,
        read: Runner | None = None,
        apart: Callable[[ReadRequest], Deferred[bytes]] | None = None,
    ) -> None:
        self.app, self.routes, self.run, self.clock = app, routes, run, clock
        self.read, self.apart = read or run, apart
        self.actions = actions  # the PBX actions while the AMI link is up, else None
        self.live, self.bus = live, bus
        web = app.settings.web
        self.throttle = LoginThrottle(
            web.login_attempts, timedelta(minutes=web.login_window_minutes)
        )
        self.klein = Klein()
        for route in routes:
            self._mount(route)
        self.klein.handle_errors(NoRoute)(
            lambda request, failure: self._error(request, ApiError("not_found", "no such path"))
        )
        self.klein.handle_errors(MethodNotAllowed)(
            lambda request, failure: self._error(
                request, ApiError("method_not_allowed", "method not allowed on this path")
            )
        )

    def resource(self) -> IResource:
        return self.klein.resource()

    def _mount(self, route: Route) -> None:
        async def endpoint(request: Request, **path: Any) -> bytes | IResource:
            try:
                return await self._serve(route, request, path)
            except Exception as exc:
                return self._error(request, as_api_error(exc))

        endpoint.__name__ = route.operation_id
        self.klein.route(
            route.klein_path(PREFIX), methods=[route.method], endpoint=route.operation_id
        )(endpoint)

    def _parse(
        self, route: Route, args: dict[bytes, list[bytes]], path: dict[str, Any]
    ) -> dict[str, Any]:
        tz = self.app.rules.tz
        # Werkzeug has converted the integers; the other path parameters are checked here.
        params = {
            p.name: path[p.name] if p.type == "integer" else p.parse(path[p.name], tz)
            for p in route.path_params
        }
        known = {p.name for p in route.query}
        unknown = sorted(k.decode(errors="replace") for k in args if k.decode() not in known)
        if unknown:
            raise ApiError.bad_request(f"unknown query parameter(s): {', '.join(unknown)}")
        for p in route.query:
            values = args.get(p.name.encode())
            if not values:
                if p.required:
                    raise ApiError.bad_request(f"{p.name} is required")
                params[p.name] = None
                continue
            params[p.name] = p.parse(values[-1].decode(errors="replace"), tz)
        return params

    def _body(self, route: Route, raw: bytes) -> dict[str, Any]:
        if route.body is None:
            return {}
        if len(raw) > MAX_BODY:
            raise ApiError.bad_request("the request body is larger than 1 MiB")
        try:
            data = json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError.bad_request("the request body is not JSON") from None
        return route.body.parse(data, self.app.rules.tz)

    async def _serve(
        self, route: Route, request: Request, path: dict[str, Any]
    ) -> bytes | IResource:
        creds = Credentials.from_headers(
            header(request, "Authorization"),
            _cookie(request),
            header(request, CSRF_HEADER),
            route.method,
        )
        raw = request.content.read(MAX_BODY + 1) if request.content and route.body else b""
        address = getattr(request.getClientAddress(), "host", "") or ""
        args = dict(request.args or {})
        ready = self.actions() is not None
        now = self.clock()
        result: Any
        if route.apart and self.apart is not None:
            read = ReadRequest(route.operation_id, creds, path, args, address, ready, now)
            result = Encoded(await self.apart(read))
        elif route.reads_only:
            result = await self.read(self._read, route, creds, path, args, raw, address, ready, now)
        else:
            result = await self.run(
                self._blocking, route, creds, path, args, raw, address, ready, now
            )
        if isinstance(result, PbxReply):
            actions = self.actions()
            if actions is None:
                raise ApiError("unavailable", "the PBX (AMI) link went down; try again")
            await result.act(actions)
            result = result.data
        if route.event is not None and self.bus is not None:
            event = route.event(result, self.clock())
            if event is not None:
                self.bus.publish(event)
        return self._write(route, request, result)

    def _blocking(
        self,
        route: Route,
        creds: Credentials,
        path: dict[str, Any],
        args: dict[bytes, list[bytes]],
        raw: bytes,
        address: str,
        pbx_ready: bool,
        now: datetime,
    ) -> Any:
        """Who is asking first (a stranger learns nothing, not even a parameter's name), then
        the parameters, then the handler, in one transaction."""
        with self.app.db.session() as session:
            # A public route (signing in) ignores credentials: a stale cookie must not stop it.
            principal = None if route.role is None else identify(session, creds, now)
            if route.role is not None:
                if principal is None:
                    raise ApiError("unauthenticated", "sign in, or give a bearer token")
                if not principal.may(route.role):
                    raise ApiError(
                        "forbidden",
                        f"{route.method} {PREFIX}{route.path} needs the {route.role} role",
                    )
            call = Call(
                session,
                self.app,
                principal,
                now,
                self._parse(route, args, path),
                self._body(route, raw),
                address,
                self.throttle,
                creds.session if creds.bearer is None else None,
                pbx_ready,
                self.live,
            )
            return route.handler(call)

    def _read(self, route: Route, *args: Any) -> Any:
        """`_blocking` for a read, its plain answer encoded here in the read's thread: a page's
        JSON is about a third of its handler's CPU, and on the reactor it would hold up the
        calls' replies (a thread gives the GIL back to the reactor within the switch interval)."""
        result = self._blocking(route, *args)
        return Encoded(encode(result)) if isinstance(result, dict | list) else result

    def _write(self, route: Route, request: Request, result: Any) -> bytes | IResource:
        if isinstance(result, StreamReply):
            return _Streamed(result)
        if isinstance(result, OnReactor):
            result = result.build()
        if isinstance(result, FileReply):
            for name, value in result.headers.items():
                request.setHeader(name, value)
            streamed = File(str(result.path), defaultType=result.media_type)
            # The type the index knows, not the system's guess from the file name.
            streamed.contentTypes = {result.path.suffix.lower(): result.media_type}
            return streamed
        status = route.status
        if isinstance(result, Reply):
            status = result.status or status
            secure = request.isSecure() or self.app.settings.web.behind_tls
            if result.cookie is not None:
                secret, expires = result.cookie
                request.addCookie(
                    COOKIE,
                    secret,
                    path=COOKIE_PATH,
                    max_age=str(max(0, int((expires - self.clock()).total_seconds()))),
                    secure=secure,
                    httpOnly=True,
                    sameSite="strict",
                )
            if result.clear_cookie:
                request.addCookie(
                    COOKIE,
                    "",
                    path=COOKIE_PATH,
                    max_age="0",
                    secure=secure,
                    httpOnly=True,
                    sameSite="strict",
                )
            result = result.data
        request.setResponseCode(status)
        if status == NO_CONTENT:
            return b""
        _json_headers(request)
        return result.body if isinstance(result, Encoded) else encode(result)

    def _error(self, request: Request, error: ApiError) -> bytes:
        request.setResponseCode(error.status)
        for name, value in (error.headers or {}).items():
            request.setHeader(name, value)
        _json_headers(request)
        return encode(error.body())


class _Streamed(Resource):
    isLeaf = True

    def __init__(self, reply: StreamReply) -> None:
        super().__init__()
        self.reply = reply

    def render(self, request: Request) -> object:
        return self.reply.open(request)


def header(request: Request, name: str) -> str | None:
    value = request.getHeader(name)
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _cookie(request: Request) -> str | None:
    value = request.getCookie(COOKIE.encode())
    return value.decode("latin-1") if value else None


def _json_headers(request: Request) -> None:
    request.setHeader("Content-Type", "application/json; charset=utf-8")
    request.setHeader("Cache-Control", "no-store")
    request.setHeader("X-Content-Type-Options", "nosniff")


def encode(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def listen_web(reactor: Any, listen: str, resource: IResource) -> Deferred[IListeningPort]:
    """Serve the API on ``listen`` (``"host:port"``; port 0: any free one)."""
    host, _, port = listen.rpartition(":")
    endpoint = TCP4ServerEndpoint(reactor, int(port), interface=host or "127.0.0.1")
    site = Site(resource, reactor=reactor)
    site.noisy = False
    listening: Deferred[IListeningPort] = endpoint.listen(site)
    return listening


def log_started(port: IListeningPort) -> None:
    log.info("HTTP API on http://%s%s/", address_text(port.getHost()), PREFIX)
