"""The console's pages under /console/: sign-in, the agent's screen, the supervisor's wallboard.

Each page is a Jinja2 template (autoescaped) filled with who is signed in, the user's message
catalog and the vocabularies the forms offer; everything live comes afterwards from the API and
its event stream. A page is served only to whom may use it: no session, the sign-in page; an
agent asking for the wallboard, a 403 page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from klein import Klein
from twisted.web.resource import IResource, NoResource
from twisted.web.server import Request
from twisted.web.static import File

from hotline.agi.flows.context import Runner
from hotline.app import App
from hotline.core.users import Principal, UserRole
from hotline.core.vocabulary import CATEGORIES, Disposition, Language, Severity
from hotline.core.web_sessions import session_principal
from hotline.live_stream import LiveStream
from hotline.web.auth import COOKIE
from hotline.web.server import header

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
BASE = "/console"
# Pages and scripts come from this site alone; the JSON data blocks are not scripts.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def load_messages() -> dict[str, dict[str, str]]:
    """Each language's catalog (messages/<lang>.json); every catalog has the same keys."""
    catalogs = {
        lang.value: json.loads((HERE / "messages" / f"{lang.value}.json").read_text("utf-8"))
        for lang in Language
    }
    keys = {lang: set(c) for lang, c in catalogs.items()}
    if len({frozenset(k) for k in keys.values()}) != 1:
        raise ValueError(f"message catalogs differ: {keys}")
    return catalogs


@dataclass(frozen=True)
class Visitor:
    principal: Principal | None
    csrf: str | None


class StaticFiles(File):
    """The static folder without directory listings."""

    def directoryListing(self) -> IResource:
        return NoResource()


class ConsolePages:
    def __init__(
        self,
        app: App,
        run: Runner,
        clock: Callable[[], datetime],
        live: LiveStream | None = None,
    ) -> None:
        self.app, self.run, self.clock, self.live = app, run, clock, live
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"], default=True),
        )
        self.messages = load_messages()

    def mount(self, klein: Klein) -> None:
        klein.route("/", methods=["GET"], endpoint="console_root")(self.root)
        klein.route(f"{BASE}/", methods=["GET"], endpoint="console_home")(self.home)
        klein.route(f"{BASE}/login", methods=["GET"], endpoint="console_login")(self.login)
        klein.route(f"{BASE}/agent", methods=["GET"], endpoint="console_agent")(self.agent)
        klein.route(f"{BASE}/supervisor", methods=["GET"], endpoint="console_supervisor")(
            self.supervisor
        )
        klein.route(f"{BASE}/static/", branch=True, endpoint="console_static")(self.static)

    # -- who is asking ----------------------------------------------------------------
    def _visitor_blocking(self, secret: str | None) -> Visitor:
        if not secret:
            return Visitor(None, None)
        with self.app.db.session() as session:
            held = session_principal(session, secret, self.clock())
        return Visitor(None, None) if held is None else Visitor(*held)

    async def _visitor(self, request: Request) -> Visitor:
        cookie = request.getCookie(COOKIE.encode())
        secret = cookie.decode("latin-1") if cookie else None
        return await self.run(self._visitor_blocking, secret)

    # -- pages ------------------------------------------------------------------------
    def _language(self, request: Request, visitor: Visitor) -> str:
        if visitor.principal is not None:
            return visitor.principal.language
        asked: bytes = (request.args or {}).get(b"lang", [b""])[-1]
        if asked.decode("ascii", "replace") in self.messages:
            return asked.decode("ascii")
        accept = header(request, "Accept-Language") or ""
        return "en" if accept.lower().startswith("en") else "zh"

    def _page(
        self,
        request: Request,
        template: str,
        visitor: Visitor,
        status: int = 200,
        live: dict[str, Any] | None = None,
        **extra: Any,
    ) -> bytes:
        lang = self._language(request, visitor)
        who = visitor.principal
        data = {
            "page": template,
            "language": lang,
            "user": None
            if who is None
            else {
                "name": who.name,
                "role": who.role.value,
                "extension": who.extension,
                "supervisor": who.may(UserRole.SUPERVISOR),
            },
            "csrf": visitor.csrf,
            "categories": {kind.value: list(c) for kind, c in CATEGORIES.items()},
            "severities": [s.value for s in Severity],
            "dispositions": [d.value for d in Disposition],
            "abandon_limit": self.app.settings.dialer.abandon_limit,
            "max_rings": self.app.rules.policy.answer.max_rings,
            "messages": self.messages[lang],
            "live": live,
        }
        catalog = self.messages[lang]
        html = self.env.get_template(f"{template}.html").render(
            t=lambda key: catalog.get(key, key), data=data, lang=lang, user=data["user"], **extra
        )
        request.setResponseCode(status)
        request.setHeader("Content-Type", "text/html; charset=utf-8")
        for name, value in SECURITY_HEADERS.items():
            request.setHeader(name, value)
        return html.encode()

    def _redirect(self, request: Request, where: str) -> bytes:
        request.setResponseCode(303)
        request.setHeader("Location", where)
        request.setHeader("Cache-Control", "no-store")
        return b""

    def root(self, request: Request) -> bytes:
        return self._redirect(request, f"{BASE}/")

    async def home(self, request: Request) -> bytes:
        visitor = await self._visitor(request)
        if visitor.principal is None:
            return self._redirect(request, f"{BASE}/login")
        wall = visitor.principal.may(UserRole.SUPERVISOR) and not visitor.principal.extension
        return self._redirect(request, f"{BASE}/{'supervisor' if wall else 'agent'}")

    async def login(self, request: Request) -> bytes:
        return self._page(request, "login", await self._visitor(request))

    async def agent(self, request: Request) -> bytes:
        visitor = await self._visitor(request)
        if visitor.principal is None:
            return self._redirect(request, f"{BASE}/login?next=agent")
        return self._page(request, "agent", visitor, live=self._live_now(visitor.principal))

    def _live_now(self, who: Principal) -> dict[str, Any] | None:
        """The live snapshots the page would ask for first, and the stream's id at this moment
        (read together on the reactor: no event falls between), so the page starts from them
        and its stream from that id, three round trips fewer on every load."""
        if self.live is None:
            return None
        state = self.live.state
        return {
            "last_id": str(self.live.seq),
            "agents": state.agents(),
            "calls": state.call_rows(who.extension or ""),
            "queues": state.queue_rows(),
        }

    async def supervisor(self, request: Request) -> bytes:
        visitor = await self._visitor(request)
        if visitor.principal is None:
            return self._redirect(request, f"{BASE}/login?next=supervisor")
        if not visitor.principal.may(UserRole.SUPERVISOR):
            return self._page(request, "refused", visitor, status=403)
        return self._page(request, "supervisor", visitor)

    def static(self, request: Request) -> IResource:
        request.setHeader("X-Content-Type-Options", "nosniff")
        request.setHeader("Cache-Control", "no-cache")
        files = StaticFiles(str(STATIC))
        files.contentTypes = {**files.contentTypes, ".js": "text/javascript; charset=utf-8"}
        return files
