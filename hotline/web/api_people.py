"""Signing in and out (browser sessions), and the users and tokens an admin manages."""

from __future__ import annotations

from typing import Any

from hotline import serialise
from hotline.core import api_tokens, users, web_sessions
from hotline.core.users import LoginFailed, UserRole
from hotline.core.vocabulary import Language

from .declare import API, Body, Param
from .schemas import items, ref
from .server import Call, Reply

AGENT, ADMIN = UserRole.AGENT, UserRole.ADMIN
NAME = Param("name", required=True)


def _session_view(call: Call, csrf: str | None, expires: Any) -> dict[str, Any]:
    who = call.who
    return {
        "name": who.name,
        "role": who.role.value,
        "user": who.user_id is not None,
        "extension": who.extension,
        "language": who.language,
        "csrf_token": csrf,
        "expires_at": serialise.iso(expires, call.tz),
    }


@API.route(
    "POST",
    "/session",
    "Sign in: sets the session cookie; the answer carries the CSRF token for writes",
    role=None,
    body=Body((NAME, Param("password", required=True))),
    response=ref("Session"),
    status=201,
    tag="session",
)
def sign_in(call: Call) -> Reply:
    name, password = call.body["name"], call.body["password"]
    call.throttle.check(name, call.address, call.now)
    try:
        user = users.authenticate(call.session, name, password)
    except LoginFailed:
        call.throttle.failed(name, call.address, call.now)
        raise
    call.throttle.succeeded(name)
    grant = web_sessions.open_session(
        call.session, user, call.now, call.app.settings.web.session_hours
    )
    call.principal = users.principal(user)
    view = _session_view(call, grant.csrf_token, grant.expires_at)
    return Reply(view, cookie=(grant.secret, grant.expires_at))


@API.route(
    "GET",
    "/session",
    "Who is signed in (a session's CSRF token and end; a token's role)",
    role=AGENT,
    response=ref("Session"),
    tag="session",
)
def whoami(call: Call) -> dict[str, Any]:
    if call.session_secret is None:  # a bearer token: no session, no CSRF
        return _session_view(call, None, None)
    live = web_sessions.find_session(call.session, call.session_secret, call.now)
    assert live is not None  # identified by it a moment ago, in this transaction
    return _session_view(call, live.csrf_token, live.expires_at)


@API.route(
    "DELETE",
    "/session",
    "Sign out: ends the session and clears its cookie",
    role=AGENT,
    status=204,
    tag="session",
)
def sign_out(call: Call) -> Reply:
    if call.session_secret is not None:
        web_sessions.close_session(call.session, call.session_secret)
    return Reply(None, clear_cookie=True)


@API.route("GET", "/users", "Users", role=ADMIN, response=items("User"), tag="users")
def list_users(call: Call) -> dict[str, Any]:
    return {"items": [serialise.user(u, call.tz) for u in users.list_users(call.session)]}


@API.route(
    "POST",
    "/users",
    "Add a user",
    role=ADMIN,
    body=Body(
        (
            NAME,
            Param("role", required=True, enum=tuple(UserRole)),
            Param("password", required=True),
            Param("extension"),
            Param("language", enum=tuple(Language)),
        )
    ),
    response=ref("User"),
    status=201,
    tag="users",
)
def add_user(call: Call) -> dict[str, Any]:
    b = call.body
    user = users.add_user(
        call.session,
        b["name"],
        b["role"],
        b["password"],
        call.now,
        b["extension"],
        b["language"] or Language.ZH.value,
    )
    return serialise.user(user, call.tz)


@API.route(
    "POST",
    "/users/{name}/disable",
    "Disable a user: their sessions and tokens stop working",
    role=ADMIN,
    path_params=(NAME,),
    response=ref("User"),
    tag="users",
)
def disable_user(call: Call) -> dict[str, Any]:
    return serialise.user(users.disable_user(call.session, call.params["name"]), call.tz)


@API.route("GET", "/tokens", "API tokens", role=ADMIN, response=items("Token"), tag="users")
def list_tokens(call: Call) -> dict[str, Any]:
    return {"items": [serialise.token(t, call.tz) for t in api_tokens.list_tokens(call.session)]}


@API.route(
    "POST",
    "/tokens",
    "Add a token: an integration's (role) or a user's (user); its secret is shown this once",
    role=ADMIN,
    body=Body(
        (NAME, Param("role", enum=tuple(UserRole)), Param("user", description="a user's name"))
    ),
    response=ref("NewToken"),
    status=201,
    tag="users",
)
def add_token(call: Call) -> dict[str, Any]:
    b = call.body
    token, secret = api_tokens.add_token(
        call.session, b["name"], call.now, role=b["role"], user=b["user"]
    )
    return serialise.token(token, call.tz) | {"token": secret}


@API.route(
    "DELETE",
    "/tokens/{name}",
    "Revoke a token",
    role=ADMIN,
    path_params=(NAME,),
    response=ref("Token"),
    tag="users",
)
def revoke_token(call: Call) -> dict[str, Any]:
    return serialise.token(
        api_tokens.revoke_token(call.session, call.params["name"], call.now), call.tz
    )
