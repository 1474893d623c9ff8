"""The API's reads apart from the flows' writes: GETs go to their own runner, bounded (503 +
Retry-After past the bound), writes to the flows' runner. Driven in memory: each read waits
until the test lets it run, so what is waiting is known, never timed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred

from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.web.bounded import Bounded
from hotline.web.server import PREFIX
from hotline.web.site import web_api

from api_support import PASSWORD, ApiClient, Clock, inline, make_app
from factories import seed_residents
from reactor_run import result_of

REPAIR = {"kind": "repair", "category": "leak", "unit": "3-1-201"}


class HeldReads:
    """A read runner whose calls wait until ``release`` runs them (in the test's thread)."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Deferred[Any], Callable[[], Any]]] = []

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.waiting.append((done, lambda: fn(*args, **kwargs)))
        return done

    def release(self) -> None:
        done, work = self.waiting.pop(0)
        done.callback(work())


def _client(db: Database, tmp_path: Path, reads: Bounded) -> ApiClient:
    seed_residents(db, tmp_path)
    clock = Clock()
    app = make_app(db, tmp_path / "home")
    client = ApiClient(web_api(app, inline, clock, read=reads))
    with db.session() as s:
        users.add_user(s, "li", "agent", PASSWORD, clock.now, "101")
        client.tokens["li"] = api_tokens.add_token(s, "li-token", clock.now, user="li")[1]
    return client


def _start_get(client: ApiClient, path: str) -> Deferred[Any]:
    """A GET sent, not awaited: it waits in the read runner."""
    headers: dict[bytes | str, list[bytes | str]] = {
        b"Authorization": [f"Bearer {client.tokens['li']}".encode()]
    }
    sent: Deferred[Any] = client.http.request(
        "GET", f"http://hotline.test{PREFIX}{path}", headers=headers
    )
    client.agent.flush()
    return sent


def _answered(sent: Deferred[Any]) -> bool:
    seen: list[Any] = []

    def note(result: Any) -> Any:
        seen.append(result)
        return result

    sent.addBoth(note)
    return bool(seen)


def test_reads_past_the_bound_are_turned_away_with_503_and_retry_after(
    db: Database, tmp_path: Path, cheap_password_hashes: None
) -> None:
    held = HeldReads()
    reads = Bounded(held, 2)
    client = _client(db, tmp_path, reads)
    first, second = _start_get(client, "/tickets"), _start_get(client, "/tickets")
    assert (_answered(first), _answered(second), reads.taken) == (False, False, 2)

    turned_away = client.get("/tickets", as_="li")
    assert (turned_away.status, turned_away.code) == (503, "busy")
    assert turned_away.header("Retry-After") == "1"
    assert len(held.waiting) == 2  # the third never reached the runner

    # Writes do not go through the reads' bound: the flows' runner takes them.
    made = client.post("/tickets", REPAIR, as_="li")
    assert made.status == 201

    held.release()
    client.agent.flush()
    assert result_of(first).code == 200 and reads.taken == 1
    third = _start_get(client, "/tickets")  # a place is free again
    assert (_answered(third), reads.taken) == (False, 2)
    held.release()
    held.release()
    client.agent.flush()
    assert [result_of(d).code for d in (second, third)] == [200, 200]
    assert reads.taken == 0


def test_a_failed_read_frees_its_place(db: Database, tmp_path: Path) -> None:
    failing: list[Deferred[Any]] = []

    def run(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred[Any]:
        failing.append(Deferred())
        return failing[-1]

    reads = Bounded(run, 1)
    done = reads(print)
    with_error: list[Any] = []
    done.addErrback(with_error.append)
    assert reads.taken == 1
    failing[0].errback(RuntimeError("the database went away"))
    assert reads.taken == 0 and len(with_error) == 1


def test_an_audited_read_goes_where_the_writes_go() -> None:
    """A restricted recording heard writes its audit row: it must not run among the reads."""
    from hotline.web.declare import API

    routes = {(r.method, r.path): r for r in API.all}
    assert not routes[("GET", "/recordings/{id}/audio")].reads_only
    assert routes[("GET", "/tickets")].reads_only
    assert not routes[("POST", "/tickets")].reads_only
