"""The supervisor's wallboard and listen-in, a preview dial, CSRF and session expiry, in a real
browser against `hotline serve` and the simulated PBX."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select, update

from hotline.core import dialplan
from hotline.core.arrears import import_arrears
from hotline.core.campaigns import create_campaign
from hotline.core.leads import act_on_campaign
from hotline.core.models import DialRequest, SupervisionAudit, User, WebSession

from console_world import LEAK, Console, SignIn

POP_TIMEOUT_MS = 30_000


def test_the_wallboard_moves_when_a_call_arrives_and_a_supervisor_listens_in(
    console: Console, sign_in: SignIn
) -> None:
    wall = sign_in("wang")
    wall.goto(f"{console.url}/console/supervisor")
    expect(wall.locator("#link")).to_have_attribute("data-state", "live")
    answered = int(wall.get_by_test_id("kpi-answered").inner_text())
    console.call("13700002222", LEAK, "王芳")
    row = wall.locator('#agents tr[data-agent="101"]')
    expect(row).to_have_attribute("data-state", "on_call", timeout=POP_TIMEOUT_MS)
    expect(wall.get_by_test_id("kpi-answered")).to_have_text(str(answered + 1))
    expect(wall.locator('#queues tr[data-queue="repairs"]')).to_be_visible()

    row.locator('button[data-spy="listen"]').click()
    expect(wall.locator("#notice")).to_have_attribute("data-kind", "ok")
    with console.service.app.db.session() as s:
        audit = s.scalars(select(SupervisionAudit)).one()
        assert (audit.supervisor, audit.supervisor_extension, audit.agent, audit.mode) == (
            "wang",
            "201",
            "101",
            "listen",
        )
    # The PBX rang the supervisor's phone into ChanSpy on agent 101's call.
    spying = console.loop.call(
        lambda: [
            c.name
            for c in console.pbx.ami.channels.values()
            if c.context == dialplan.SUPERVISE_CONTEXT
        ]
    )
    assert spying and spying[0].startswith("PJSIP/agent201-")


def test_an_agent_dials_a_preview_lead(console: Console, sign_in: SignIn, tmp_path: Path) -> None:
    app = console.service.app
    arrears = tmp_path / "arrears.csv"
    arrears.write_text("unit,amount,months\n8-3-502,455.00,4\n", encoding="utf-8")
    with app.db.session() as s:
        now = app.now()
        import_arrears(s, app.rules, arrears, now)
        campaign = create_campaign(s, "arrears", "preview", name="催缴", at=now)
        s.flush()
        act_on_campaign(s, app.rules, campaign.id, "start", now)
    page = sign_in("li")
    expect(page.locator("#preview-resident")).to_have_text("陈杰")
    page.click("#preview-dial")
    expect(page.locator("#notice")).to_have_attribute("data-kind", "ok")
    with app.db.session() as s:
        request = s.scalars(select(DialRequest)).one()
        assert request.agent == "101"


def test_a_write_without_the_csrf_token_is_refused_and_an_expired_session_signs_out(
    console: Console, sign_in: SignIn
) -> None:
    page = sign_in("zhao")
    reply = page.evaluate(
        """async () => {
            const r = await fetch('/api/v1/tickets', {method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({kind: 'enquiry', category: 'information', unit: '3-1-202'})});
            return [r.status, (await r.json()).error.code];
        }"""
    )
    assert reply == [403, "csrf"]
    app = console.service.app
    with app.db.session() as s:
        zhao = s.scalars(select(User.id).where(User.name == "zhao")).one()
        expired = app.now() - timedelta(seconds=1)
        s.execute(update(WebSession).where(WebSession.user_id == zhao).values(expires_at=expired))
    # The next request finds the session over: this click, or the page's own polling first.
    page.evaluate("() => document.getElementById('pause-button')?.click()")
    page.wait_for_url("**/console/login?why=session*")
    expect(page.locator("#login-error")).to_be_visible()
