"""Who may do what over the API, and every refusal: 401 without (valid) credentials, 403 for a
role too low or a browser write without its CSRF token, 429 for sign-ins guessed too often."""

from __future__ import annotations

import re
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from hotline.core import users
from hotline.core.db import Database
from hotline.core.users import UserRole
from hotline.web import auth
from hotline.web.declare import API, Route
from hotline.web.site import web_api

from api_support import NOW, PASSWORD, ApiClient, Clock, inline, make_app

ROLE_OF = {"li": UserRole.AGENT, "wang": UserRole.SUPERVISOR, "zhao": UserRole.ADMIN}


def concrete(route: Route) -> str:
    """A path the route serves: ids 1, names and actions from their declarations."""
    values = {p.name: (p.enum[0] if p.enum else "1") for p in route.path_params}
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], route.path)


GUARDED = [r for r in API.all if r.role is not None]
ids = [f"{r.method} {r.path}" for r in GUARDED]


@pytest.mark.parametrize("route", GUARDED, ids=ids)
def test_every_guarded_route_wants_credentials(api: ApiClient, route: Route) -> None:
    reply = api.call(route.method, concrete(route), body={} if route.body else None)
    assert (reply.status, reply.code) == (401, "unauthenticated")


@pytest.mark.parametrize(
    "route",
    [r for r in GUARDED if r.role is not UserRole.AGENT],
    ids=lambda r: f"{r.method} {r.path}",
)
def test_a_role_too_low_is_forbidden(api: ApiClient, route: Route) -> None:
    assert route.role is not None  # the public routes are not among these
    for name, role in ROLE_OF.items():
        if role is not route.role and not users.RANK[role] > users.RANK[route.role]:
            reply = api.call(
                route.method, concrete(route), as_=name, body={} if route.body else None
            )
            assert (reply.status, reply.code) == (403, "forbidden"), (name, reply.body)
            assert f"needs the {route.role} role" in reply.json["error"]["message"]


def test_roles_grant_what_the_roles_below_may(api: ApiClient) -> None:
    assert api.get("/tickets", as_="zhao").status == 200
    assert api.get("/users", as_="zhao").status == 200
    made = api.post("/campaigns", {"kind": "arrears"}, as_="wang")
    assert made.status == 201
    assert api.post(f"/campaigns/{made.json['id']}/start", as_="wang").status == 200
    assert api.get("/campaigns", as_="li").status == 200  # agents read campaigns


def test_public_routes(api: ApiClient) -> None:
    assert api.get("/openapi.json").status == 200


def test_a_malformed_authorization_header_is_refused(api: ApiClient) -> None:
    bad = api.call("GET", "/tickets", token="")
    assert (bad.status, bad.code) == (401, "unauthenticated")
    assert "Bearer TOKEN" in bad.json["error"]["message"]


def test_signing_in_with_a_stale_cookie_works(api: ApiClient, clock: Clock) -> None:
    cookie, _ = api.sign_in("li")
    clock.advance(hours=13)
    reply = api.call("POST", "/session", cookie=cookie, body={"name": "li", "password": PASSWORD})
    assert reply.status == 201


def test_unknown_and_revoked_tokens(api: ApiClient) -> None:
    assert api.get("/tickets", token="hl_not-a-token").code == "unauthenticated"
    made = api.post("/tokens", {"name": "erp", "role": "agent"}, as_="zhao")
    assert made.status == 201
    erp = made.json["token"]
    assert api.get("/tickets", token=erp).status == 200
    assert api.post("/tickets", {"kind": "repair"}, token=erp).status == 400  # writes: no CSRF
    listed = api.get("/tokens", as_="zhao").json["items"]
    assert all("token" not in t for t in listed)  # the secret is shown once, never again
    assert api.call("DELETE", "/tokens/erp", as_="zhao").json["revoked_at"] is not None
    reply = api.get("/tickets", token=erp)
    assert (reply.status, reply.code) == (401, "unauthenticated")


def test_a_disabled_user_loses_tokens_and_sessions(api: ApiClient) -> None:
    cookie, _ = api.sign_in("li")
    assert api.post("/users/li/disable", as_="zhao").json["disabled"] is True
    assert api.get("/tickets", as_="li").code == "unauthenticated"
    assert api.get("/tickets", cookie=cookie).code == "unauthenticated"
    reply = api.post("/session", {"name": "li", "password": PASSWORD})
    assert (reply.status, reply.code) == (401, "login_failed")
    assert reply.json["error"]["message"] == "user li is disabled"


def test_a_session_cookie_is_httponly_strict_and_scoped(api: ApiClient) -> None:
    reply = api.post("/session", {"name": "wang", "password": PASSWORD})
    assert reply.status == 201
    raw = reply.header("set-cookie") or ""
    assert "HttpOnly" in raw and "SameSite=strict" in raw
    assert "Path=/;" in f"{raw};"  # the console's pages (/console/) are served by the session
    assert "Secure" not in raw  # plain HTTP on 127.0.0.1, and web.behind_tls is off
    assert reply.json["role"] == "supervisor" and reply.json["csrf_token"]
    cookie = SimpleCookie(raw)["hotline_session"].value
    me = api.get("/session", cookie=cookie).json
    assert me["csrf_token"] == reply.json["csrf_token"] and me["name"] == "wang"
    assert api.get("/session", as_="wang").json["csrf_token"] is None


@pytest.mark.usefixtures("cheap_password_hashes")
def test_behind_tls_cookies_are_secure(db: Database, tmp_path: Path, clock: Clock) -> None:
    app = make_app(db, tmp_path / "home", behind_tls=True)
    client = ApiClient(web_api(app, inline, clock))
    with db.session() as s:
        users.add_user(s, "wang", "supervisor", PASSWORD, clock.now)
    reply = client.post("/session", {"name": "wang", "password": PASSWORD})
    assert "Secure" in (reply.header("set-cookie") or "")
    app.db.dispose()


def test_cookie_writes_need_the_csrf_token(api: ApiClient) -> None:
    cookie, csrf = api.sign_in("li")
    ticket = {"kind": "repair", "category": "leak", "unit": "3-1-201"}
    missing = api.post("/tickets", ticket, cookie=cookie)
    assert (missing.status, missing.code) == (403, "csrf")
    wrong = api.post("/tickets", ticket, cookie=cookie, csrf="x" + csrf)
    assert (wrong.status, wrong.code) == (403, "csrf")
    assert api.get("/tickets", cookie=cookie).json["items"] == []  # nothing was written
    assert api.post("/tickets", ticket, cookie=cookie, csrf=csrf).status == 201
    assert api.get("/tickets", cookie=cookie).status == 200  # reads need no CSRF token


def test_sessions_expire_and_end(api: ApiClient, clock: Clock) -> None:
    cookie, _ = api.sign_in("li")
    clock.advance(hours=11, minutes=59)
    assert api.get("/tickets", cookie=cookie).status == 200
    clock.advance(minutes=1)  # web.session_hours = 12
    reply = api.get("/tickets", cookie=cookie)
    assert (reply.status, reply.code) == (401, "unauthenticated")
    cookie, csrf = api.sign_in("li")
    assert api.call("DELETE", "/session", cookie=cookie, csrf=csrf).status == 204
    assert api.get("/tickets", cookie=cookie).code == "unauthenticated"


def test_a_wrong_password_and_an_unknown_name_read_the_same(api: ApiClient) -> None:
    wrong = api.post("/session", {"name": "li", "password": "not the password"})
    nobody = api.post("/session", {"name": "nobody", "password": "not the password"})
    assert wrong.status == nobody.status == 401
    assert (
        wrong.json
        == nobody.json
        == {"error": {"code": "login_failed", "message": "wrong name or password"}}
    )


def test_sign_ins_are_rate_limited_per_name(api: ApiClient, clock: Clock) -> None:
    for _ in range(5):  # web.login_attempts
        assert api.post("/session", {"name": "li", "password": "guess"}).code == "login_failed"
    limited = api.post("/session", {"name": "li", "password": PASSWORD})
    assert (limited.status, limited.code) == (429, "rate_limited")
    assert int(limited.header("retry-after") or 0) == 15 * 60 + 1
    clock.advance(minutes=15)  # web.login_window_minutes
    assert api.post("/session", {"name": "li", "password": PASSWORD}).status == 201


def test_sign_ins_are_rate_limited_per_address(api: ApiClient) -> None:
    """Guessing across names from one address is stopped too, and one good account's sign-in
    does not reset the address's count."""
    for n in range(4):
        api.post("/session", {"name": f"guess{n}", "password": "guess"})
    assert api.post("/session", {"name": "wang", "password": PASSWORD}).status == 201
    api.post("/session", {"name": "guess9", "password": "guess"})
    reply = api.post("/session", {"name": "li", "password": PASSWORD})
    assert (reply.status, reply.code) == (429, "rate_limited")


def test_the_admin_manages_users(api: ApiClient) -> None:
    made = api.post(
        "/users",
        {"name": "chen", "role": "agent", "password": "a long password", "extension": "102"},
        as_="zhao",
    )
    assert made.status == 201 and made.json["extension"] == "102"
    again = api.post(
        "/users", {"name": "chen", "role": "agent", "password": "a long password"}, as_="zhao"
    )
    assert (again.status, again.json["error"]["message"]) == (422, "user chen already exists")
    short = api.post("/users", {"name": "x", "role": "agent", "password": "short"}, as_="zhao")
    assert short.json["error"]["message"] == "the password needs at least 10 characters"
    names = [u["name"] for u in api.get("/users", as_="zhao").json["items"]]
    assert names == ["chen", "li", "wang", "zhao"]
    assert api.post("/users/nobody/disable", as_="zhao").code == "not_found"


def test_the_throttle_forgets_stale_failures_when_many_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth, "MAX_KEYS", 4)
    throttle = auth.LoginThrottle(5, timedelta(minutes=15))
    for n in range(3):  # six keys: three names, three addresses
        throttle.failed(f"old{n}", f"10.0.0.{n}", NOW)
    throttle.failed("new", "10.0.0.9", NOW + timedelta(minutes=16))
    assert set(throttle._failures) == {"name:new", "address:10.0.0.9"}
