"""The agent's screen in a real browser against `hotline serve` and the simulated PBX: signing
in, the pop on the right screen alone, the ticket as the wrap-up form, pause, refusals."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from hotline.core.models import Ticket, TicketEvent

from console_world import LEAK, Console, SignIn

POP_TIMEOUT_MS = 30_000  # the flow and the queue at the harness's speed, on a loaded machine


def test_an_agent_signs_in_and_is_refused_the_wallboard_and_restricted_recordings(
    console: Console, sign_in: SignIn
) -> None:
    page = sign_in("li")
    expect(page.get_by_test_id("who")).to_contain_text("li")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # li's language
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
