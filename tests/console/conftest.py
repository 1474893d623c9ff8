"""Fixtures of the console's browser tests: one Chromium per module, one service (with its
simulated PBX) per module and database, a signed-in page per user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline.core.db import Database
from hotline.core.models import Base

from console_world import CHROMIUM, PASSWORD, Console, SignIn, start_console, why_no_browser

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # the dev dependencies are not installed
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = why_no_browser() or (
        "playwright is not installed" if sync_playwright is None else None
    )
    if reason:
        print(f"\nconsole browser tests skipped: {reason}")
        pytest.skip(reason)
    with sync_playwright() as pw:
        # --no-sandbox: the suite may run as root (CI), where Chromium's sandbox will not start.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('console') / 'hotline.db'}"
    url: str = request.getfixturevalue("pg_url")
    database = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    database.dispose()
    return url


TALK_SECONDS = 40.0  # simulated: 10 s of real time at the harness's speed


@pytest.fixture(scope="module")
def console(
    browser: Browser,
    db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Console]:
    """A module may say how long its simulated agents talk (TALK_SECONDS)."""
    talk = getattr(request.module, "TALK_SECONDS", TALK_SECONDS)
    yield from start_console(tmp_path_factory.mktemp("home"), db_url, talk)


@pytest.fixture
def sign_in(browser: Browser, console: Console) -> Iterator[SignIn]:
    """A fresh browser context per user (its own cookies and sessionStorage), at 1366×768."""
    contexts = []

    def open_as(name: str) -> Page:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{console.url}/console/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/agent")
        return page

    yield open_as
    for context in contexts:
        context.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "console":
            item.add_marker(pytest.mark.timeout(300))
