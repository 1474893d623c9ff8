"""The agent's screen in a real browser against `hotline serve` and the simulated PBX: signing
in, the pop on the right screen alone, the ticket as the wrap-up form, pause, refusals."""

from __future__ import annotations

import os
import time
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from hotline.core.models import Ticket, TicketEvent

from console_world import LEAK, SETTLE_S, Console, SignIn

POP_TIMEOUT_MS = 30_000  # the flow and the queue at the harness's speed, on a loaded machine


def test_an_agent_signs_in_and_is_refused_the_wallboard_and_restricted_recordings(
    console: Console, sign_in: SignIn
) -> None:
    page = sign_in("li")
    expect(page.get_by_test_id("who")).to_contain_text("li")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # li's language
    # The page comes with the live snapshots and the stream's id: it asks for none of them.
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.reload()
    expect(page.locator("#link")).to_have_attribute("data-state", "live")
    assert [url for url in asked if "/api/v1/events/stream?last_event_id=" in url]
    assert not [url for url in asked if "/api/v1/live/" in url]
    reply = page.goto(f"{console.url}/console/supervisor")
    assert reply is not None and reply.status == 403
    expect(page.get_by_test_id("refused")).to_be_visible()
    restricted = "/api/v1/recordings?include_restricted=true&reason=review"
    status = page.evaluate("async (url) => (await fetch(url)).status", restricted)
    assert status == 403


def test_a_call_pops_on_the_right_agents_screen_and_the_ticket_is_completed(
    console: Console, sign_in: SignIn
) -> None:
    li, zhao = sign_in("li"), sign_in("zhao")
    for page in (li, zhao):
        expect(page.locator("#link")).to_have_attribute("data-state", "live")
    console.call("13700002222", LEAK, "王芳")
    # The repairs queue rings 101 (li): the pop shows the resident, unit and the filed ticket.
    expect(li.get_by_test_id("pop-resident")).to_have_text("王芳", timeout=POP_TIMEOUT_MS)
    expect(li.get_by_test_id("pop-unit")).to_have_text("3-2-301")
    expect(li.get_by_test_id("ticket-id")).to_have_text("#1")
    expect(li.locator("#ticket-category")).to_have_value("leak")
    # ... and nothing on 102's screen, now that the call is connected.
    expect(li.locator("#call-card")).to_have_attribute(
        "data-state", "connected", timeout=POP_TIMEOUT_MS
    )
    expect(zhao.locator("#call-card")).to_have_attribute("data-state", "idle")
    assert zhao.locator("#pop").is_hidden()

    # The wrap-up: the agent corrects and completes the ticket; the database has it.
    li.fill("#ticket-text", "卫生间天花板漏水，已关总阀")
    li.select_option("#ticket-severity", "major")
    li.get_by_test_id("ticket-save").click()
    expect(li.locator("#ticket-saved")).to_be_visible()
    with console.service.app.db.session() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (ticket.text, ticket.severity, ticket.incomplete) == (
            "卫生间天花板漏水，已关总阀",
            "major",
            False,
        )
        notes = s.scalars(
            select(TicketEvent.note).where(TicketEvent.actor == "li", TicketEvent.ticket_id == 1)
        ).all()
        assert len(notes) == 1 and "severity: general -> major" in (notes[0] or "")

    # Dispatch from the same form: a work order to the technician.
    li.fill("#technician", "王师傅")
    li.click("#ticket-dispatch")
    expect(li.locator("#ticket-state")).to_have_text("已派工")


def test_pause_and_unpause_reach_the_queue(console: Console, sign_in: SignIn) -> None:
    page: Page = sign_in("zhao")
    page.select_option("#pause-reason", "lunch")
    page.click("#pause-button")
    expect(page.locator("#my-state")).to_have_attribute("data-state", "paused")
    member = console.member("102")
    assert member.paused and member.paused_reason == "lunch"
    page.click("#pause-button")
    expect(page.locator("#my-state")).not_to_have_attribute("data-state", "paused")
    assert not console.member("102").paused


def _new_wav(folder: Path, before: set[Path]) -> Path:
    deadline = time.monotonic() + POP_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        new = set(folder.glob("*.wav")) - before
        if new:
            return new.pop()
        time.sleep(0.02)
    raise AssertionError(f"no voice description written in {folder}")


def test_a_voice_description_not_indexed_yet_shows_processing_then_its_player(
    console: Console, sign_in: SignIn
) -> None:
    # An earlier test's call may still be on 101's phone: the page would show that one first.
    deadline = time.monotonic() + POP_TIMEOUT_MS / 1000
    while console.member("101").ringing_or_up and time.monotonic() < deadline:
        time.sleep(0.2)
    li = sign_in("li")
    expect(li.locator("#link")).to_have_attribute("data-state", "live")
    folder = console.service.home / "recordings" / "descriptions"
    before = set(folder.glob("*.wav"))
    console.call("13700002222", LEAK, "王芳")
    # The indexer takes a WAV once it is SETTLE_S old: dated ahead, this one waits for the test.
    wav = _new_wav(folder, before)
    ahead = time.time() + 3600
    os.utime(wav, (ahead, ahead))
    pending = li.get_by_test_id("pop-recording-pending")
    expect(pending).to_be_visible(timeout=POP_TIMEOUT_MS)
    players = li.locator("#pop-recordings audio")
    expect(players).to_have_count(0)

    past = time.time() - 10 * SETTLE_S
    os.utime(wav, (past, past))  # indexed at the next tick: recording.indexed, then the player
    expect(players).to_have_count(1, timeout=POP_TIMEOUT_MS)
    expect(pending).to_be_hidden()
    li.reload()
    expect(li.locator("#pop-recordings audio")).to_have_count(1, timeout=POP_TIMEOUT_MS)
