"""The HTTP API in tests: Klein's resource driven in memory by treq's StubTreq, database work run
in line, and every response checked against the OpenAPI document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.cookiejar import DefaultCookiePolicy
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pytest
from argon2 import PasswordHasher
from jsonschema import Draft202012Validator
from treq.client import HTTPClient
from treq.cookies import IndexableCookieJar
from treq.testing import RequestTraversalAgent, _SynchronousProducer
from twisted.internet.defer import Deferred, maybeDeferred

from hotline.app import App
from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.settings import DbSettings, Settings, WebSettings
from hotline.web.declare import API, Route
from hotline.web.openapi import document
from hotline.web.server import PREFIX, WebApi
from hotline.web.site import web_api

from factories import seed_residents
from reactor_run import result_of

P = ParamSpec("P")
T = TypeVar("T")

PASSWORD = "correct horse battery"
DOC = document(API.all)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 site time, a Wednesday


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str:
        code: str = self.json["error"]["code"]
        return code

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None


def _template(route: Route) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", route.path) + "$")


ROUTE_PATTERNS = [(r, _template(r)) for r in API.all]


def find_route(method: str, path: str) -> Route:
    """The declaration serving ``path`` (without /api/v1): a literal path beats a template."""
    found = [r for r, pattern in ROUTE_PATTERNS if r.method == method and pattern.match(path)]
    found.sort(key=lambda r: r.path.count("{"))
    assert found, f"no route for {method} {path}"
    return found[0]


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def check_against_document(method: str, path: str, reply: Reply) -> None:
    """The response is what the document says this operation answers (errors included)."""
    route = find_route(method, path)
    status = str(reply.status) if reply.status < 400 else "default"
    responses = DOC["paths"][route.path][method.lower()]["responses"]
    assert status in responses, f"{method} {path}: {reply.status} is not documented"
    if reply.status == 204:
        assert reply.body == b""
        return
    media = next(iter(responses[status]["content"]))
    if not media.startswith("application/json"):
        return
    pointer = _pointer("paths", route.path, method.lower(), "responses", status, "content")
    schema = {**DOC, "$ref": pointer + "/" + media.replace("/", "~1") + "/schema"}
    Draft202012Validator(schema).validate(reply.json)


def inline(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
    return maybeDeferred(fn, *args, **kwargs)


class ApiClient:
    def __init__(self, api: WebApi) -> None:
        self.api = api
        # treq's StubTreq, but keeping no cookies: each test says which session it uses.
        self.agent = RequestTraversalAgent(api.resource())
        self.http = HTTPClient(
            self.agent,
            cookiejar=IndexableCookieJar(DefaultCookiePolicy(allowed_domains=[])),
            data_to_body_producer=_SynchronousProducer,
        )
        self.tokens: dict[str, str] = {}

    def call(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = None,
        token: str | None = None,
        cookie: str | None = None,
        csrf: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        check: bool = True,
    ) -> Reply:
        """``as_``: with that user's bearer token; or ``token``, or a session ``cookie``."""
        headers: dict[bytes | str, list[bytes | str]] = {}
        secret = self.tokens[as_] if as_ else token
        if secret is not None:
            headers[b"Authorization"] = [f"Bearer {secret}".encode()]
        if cookie is not None:
            headers[b"Cookie"] = [f"hotline_session={cookie}".encode()]
        if csrf is not None:
            headers[b"X-CSRF-Token"] = [csrf.encode()]
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        if data is not None:
            headers[b"Content-Type"] = [b"application/json"]
        url = f"http://hotline.test{PREFIX}{path}"
        d = self.http.request(method, url, headers=headers, data=data)
        self.agent.flush()
        response = result_of(d)
        content = result_of(response.content())
        reply = Reply(
            response.code,
            {
                k.decode().lower(): [v.decode() for v in vs]
                for k, vs in response.headers.getAllRawHeaders()
            },
            content,
        )
        if check:
            check_against_document(method, path.split("?")[0], reply)
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body=body if body is not None else {}, **kw)

    def sign_in(self, name: str, password: str = PASSWORD) -> tuple[str, str]:
        """A browser session: (cookie secret, CSRF token)."""
        reply = self.post("/session", {"name": name, "password": password})
        assert reply.status == 201, reply.body
        cookie = SimpleCookie(reply.header("set-cookie"))
        return cookie["hotline_session"].value, reply.json["csrf_token"]


@pytest.fixture
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's defaults cost ~50 ms a hash by design; the tests check behaviour, not cost."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=64))


def make_app(db: Database, home: Path, **web: Any) -> App:
    settings = replace(
        Settings(home=home), db=DbSettings(db.url), web=replace(WebSettings(), **web)
    )
    return App(settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def people() -> dict[str, tuple[str, str]]:
    """One user of each role, with a token each: name → (role, extension)."""
    return {"li": ("agent", "101"), "wang": ("supervisor", "201"), "zhao": ("admin", "301")}


@pytest.fixture
def api(
    db: Database,
    tmp_path: Path,
    clock: Clock,
    people: dict[str, tuple[str, str]],
    cheap_password_hashes: None,
) -> Iterator[ApiClient]:
    seed_residents(db, tmp_path)
    app = make_app(db, tmp_path / "home")
    client = ApiClient(web_api(app, inline, clock))
    with db.session() as s:
        for name, (role, extension) in people.items():
            users.add_user(s, name, role, PASSWORD, clock.now, extension)
            client.tokens[name] = api_tokens.add_token(s, f"{name}-token", clock.now, user=name)[1]
    yield client
    app.db.dispose()
