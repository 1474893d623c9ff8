"""A service restart in the middle of a call: the agent's screen keeps the call and its pop,
reconnects to the event stream by itself, learns from the PBX (QueueStatus, CoreShowChannels,
Status) that the call is still up, shows the pop again after a reload, and a later hang-up
ends it."""

from __future__ import annotations

from playwright.sync_api import expect

from console_world import LEAK, Console, SignIn, wait_until

# Simulated: the call outlasts the restart (50 s of real time), then the agent hangs up.
TALK_SECONDS = 200.0
POP_TIMEOUT_MS = 30_000
END_TIMEOUT_MS = 90_000


def test_a_service_restart_mid_call_leaves_the_call_live_until_it_ends(
    console: Console, sign_in: SignIn
) -> None:
    page = sign_in("li")
    expect(page.locator("#link")).to_have_attribute("data-state", "live")
    console.call("13700002222", LEAK, "王芳")
    card = page.locator("#call-card")
    expect(card).to_have_attribute("data-state", "connected", timeout=POP_TIMEOUT_MS)
    expect(page.get_by_test_id("pop-resident")).to_have_text("王芳")

    console.service.stop()
    expect(page.locator("#link")).to_have_attribute("data-state", "reconnecting")
    expect(page.get_by_test_id("pop-resident")).to_have_text("王芳")  # still on screen
    console.service.start()
    wait_until(console.api_up, "the restarted service answers", console.service)
    expect(page.locator("#link")).to_have_attribute("data-state", "live", timeout=POP_TIMEOUT_MS)
    # The restarted service asked the PBX: the call is live, not ended.
    expect(card).to_have_attribute("data-state", "connected", timeout=POP_TIMEOUT_MS)
    expect(page.get_by_test_id("pop-resident")).to_have_text("王芳")
    expect(page.get_by_test_id("ticket-id")).to_have_text("#1")

    page.reload()  # the call is kept in the tab's sessionStorage, its pop read anew
    expect(page.get_by_test_id("pop-resident")).to_have_text("王芳")
    expect(page.get_by_test_id("pop-unit")).to_have_text("3-2-301")
    expect(card).to_have_attribute("data-state", "connected", timeout=POP_TIMEOUT_MS)

    # The agent hangs up (the simulated talk is over): the restarted service ends the call.
    expect(card).to_have_attribute("data-state", "ended", timeout=END_TIMEOUT_MS)
