"""The README's pictures of the console: docs/console-agent.png (an agent's screen with a call
popped, in Chinese) and docs/console-supervisor.png (the wallboard, in English), taken at
1366×768 from the same world the browser tests use.

    .venv/bin/python tests/console/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from hotline.core import followups, tickets
from hotline.core.arrears import import_arrears
from hotline.core.followups import Answers

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "console"), str(TESTS / "faults")]  # as pytest's pythonpath

from console_world import CHROMIUM, LEAK, PASSWORD, Console, start_console  # noqa: E402

DOCS = TESTS.parent / "docs"


def seed_history(console: Console, folder: Path) -> None:
    """The unit's past: an earlier repair, done and followed up, a complaint, arrears."""
    app = console.service.app
    now = app.now()
    (folder / "arrears.csv").write_text("unit,amount,months\n3-2-301,1280.50,3\n", "utf-8")
    with app.db.session() as s:
        import_arrears(s, app.rules, folder / "arrears.csv", now)
        old = tickets.Intake("repair", "door_lock", now - timedelta(days=9), unit="3-2-301")
        done = tickets.open_ticket(s, app.rules, old)
        for state, by in (("dispatched", "王师傅"), ("in_progress", None), ("done", None)):
            tickets.move_ticket(s, app.rules, done.id, state, now - timedelta(days=8), by=by)
        pending = followups.pending_followups(s)[0]
        followups.record_answers(
            s, app.rules, pending.id, Answers(5, 1, comment="师傅很专业"), now - timedelta(days=1)
        )
        noise = tickets.Intake("complaint", "noise", now - timedelta(minutes=48), unit="3-2-301")
        tickets.open_ticket(s, app.rules, noise)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        folder = Path(tmp)
        world = start_console(folder / "home", f"sqlite:///{folder / 'hotline.db'}", 400.0)
        console = next(world)
        try:
            seed_history(console, folder)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            pages = {}
            for name in ("li", "wang"):
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.goto(f"{console.url}/console/login")
                page.fill("input[name=name]", name)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/console/agent")
                pages[name] = page
            pages["wang"].goto(f"{console.url}/console/supervisor")
            console.call("13700002222", LEAK, "王芳")
            agent = pages["li"]
            expect(agent.locator("#call-card")).to_have_attribute(
                "data-state", "connected", timeout=60_000
            )
            agent.fill("#ticket-text", "卫生间天花板漏水，已关总阀，请尽快派工")
            agent.screenshot(path=str(DOCS / "console-agent.png"))
            wall = pages["wang"]
            expect(wall.locator('#agents tr[data-agent="101"]')).to_have_attribute(
                "data-state", "on_call"
            )
            wall.wait_for_timeout(1500)  # the clocks' list, read a second after the last event
            wall.screenshot(path=str(DOCS / "console-supervisor.png"))
            browser.close()
        finally:
            world.close()
    print(f"wrote {DOCS / 'console-agent.png'} and {DOCS / 'console-supervisor.png'}")


if __name__ == "__main__":
    main()
