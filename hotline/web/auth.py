"""Who is asking: a bearer token or a browser session (with its CSRF header on writes), and the
sign-in throttle."""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from hotline.core.api_tokens import principal_for_token
from hotline.core.db import Session  # what Database.session() hands out
from hotline.core.users import Principal
from hotline.core.web_sessions import session_principal

from .errors import ApiError

COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_KEYS = 10_000  # names and addresses with recent failures kept before a sweep


@dataclass(frozen=True)
class Credentials:
    """What the request carried, read on the reactor; checked against the database later."""

    bearer: str | None = None
    session: str | None = None
    csrf: str | None = None
    safe: bool = True

    @classmethod
    def from_headers(
        cls, authorization: str | None, cookie: str | None, csrf: str | None, method: str
    ) -> Credentials:
        bearer = None
        if authorization is not None:
            scheme, _, bearer = authorization.partition(" ")
            if scheme.lower() != "bearer" or not bearer.strip():
                raise ApiError("unauthenticated", "the Authorization header must be Bearer TOKEN")
            bearer = bearer.strip()
        return cls(bearer, cookie or None, csrf, method in SAFE_METHODS)


def identify(session: Session, creds: Credentials, now: datetime) -> Principal | None:
    """The principal, or None when the request carried nothing; 401 for credentials that do not
    (or no longer) hold, 403 for a cookie-authenticated write without its CSRF token."""
    if creds.bearer is not None:
        found = principal_for_token(session, creds.bearer)
        if found is None:
            raise ApiError("unauthenticated", "unknown or revoked token (or its user is disabled)")
        return found
    if creds.session is not None:
        held = session_principal(session, creds.session, now)
        if held is None:
            raise ApiError("unauthenticated", "the session has ended or expired; sign in again")
        who, csrf = held
        if not creds.safe and not secrets.compare_digest(creds.csrf or "", csrf):
            raise ApiError("csrf", f"a write from a browser session needs the {CSRF_HEADER} header")
        return who
    return None


class LoginThrottle:
    """At most ``attempts`` failed sign-ins per name and per address within ``window``; a
    success clears the name's count (not the address's: one good account must not unlock
    guessing at the others). Thread-safe: sign-ins are checked in the database threads."""

    def __init__(self, attempts: int, window: timedelta) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]  # the table holds only keys with recent failures
            return deque()
        return times

    def check(self, name: str, address: str, now: datetime) -> None:
        with self._lock:
            for key in (f"name:{name}", f"address:{address}"):
                times = self._recent(key, now)
                if len(times) >= self.attempts:
                    wait = int((times[0] + self.window - now).total_seconds()) + 1
                    raise ApiError(
                        "rate_limited",
                        f"too many failed sign-ins; try again in {wait} s",
                        {"Retry-After": str(wait)},
                    )

    def failed(self, name: str, address: str, now: datetime) -> None:
        with self._lock:
            if len(self._failures) > MAX_KEYS:  # many names or addresses: forget the stale
                for key in list(self._failures):
                    self._recent(key, now)
            for key in (f"name:{name}", f"address:{address}"):
                self._failures[key].append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(f"name:{name}", None)
