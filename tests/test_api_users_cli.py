"""`hotline users` and `hotline tokens`: what an admin does at the server's console."""

from __future__ import annotations

import io

import pytest

from hotline.core import api_tokens
from hotline.core.db import Database

from cli_support import Run, jrun


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords come from stdin (--password-stdin)."""
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n" * 4))


@pytest.mark.usefixtures("typed", "cheap_password_hashes")
def test_users_add_list_disable_passwd(cli: Run, db: Database) -> None:
    made = jrun(
        cli, "users", "add", "li", "--role", "agent", "--extension", "101", "--password-stdin"
    )
    assert (made["name"], made["role"], made["extension"]) == ("li", "agent", "101")
    code, _, err = cli("users", "add", "li", "--role", "agent", "--password-stdin")
    assert (code, err.strip()) == (1, "hotline: error: user li already exists")
    code, _, err = cli("users", "add", "x", "--role", "boss", "--password-stdin")
    assert code == 2 and "invalid choice: 'boss'" in err  # argparse names the roles
    assert cli("users", "passwd", "li", "--password-stdin")[0] == 0
    assert jrun(cli, "users", "disable", "li")["disabled"] is True
    assert [(u["name"], u["disabled"]) for u in jrun(cli, "users", "list")] == [("li", True)]
    assert cli("users", "disable", "nobody")[2].strip() == "hotline: error: no user nobody"


@pytest.mark.usefixtures("typed", "cheap_password_hashes")
@pytest.mark.parametrize(
    "extension", ["agent-101", "10_1", "101\n", "PJSIP/x&PJSIP/y", "", "1" * 21]
)
def test_an_extension_is_letters_and_digits(cli: Run, db: Database, extension: str) -> None:
    """It names the agent's phone in channel names: nothing that ends, splits or widens one."""
    code, _, err = cli(
        "users", "add", "li", "--role", "agent", "--extension", extension, "--password-stdin"
    )
    assert code == 1 and "bad extension" in err
    assert jrun(cli, "users", "list") == []


@pytest.mark.usefixtures("typed", "cheap_password_hashes")
def test_tokens_are_shown_once_and_kept_hashed(cli: Run, db: Database) -> None:
    cli("users", "add", "wang", "--role", "supervisor", "--password-stdin")
    code, out, _ = cli("tokens", "add", "erp", "--role", "agent")
    assert code == 0
    secret = out.split(": ", 1)[1].splitlines()[0]
    assert secret.startswith("hl_") and len(secret) > 40
    mine = jrun(cli, "tokens", "add", "wang-phone", "--user", "wang")
    assert (mine["user"], mine["role"]) == ("wang", "supervisor")
    listed = jrun(cli, "tokens", "list")
    assert [(t["name"], t["role"]) for t in listed] == [
        ("erp", "agent"),
        ("wang-phone", "supervisor"),
    ]
    assert secret not in cli("tokens", "list")[1]
    with db.session() as s:
        stored = {t.name: t.token_hash for t in api_tokens.list_tokens(s)}
        assert stored["erp"] == api_tokens.digest(secret) and secret not in stored.values()
        assert api_tokens.principal_for_token(s, secret) is not None
    assert jrun(cli, "tokens", "revoke", "erp")["revoked_at"] is not None
    with db.session() as s:
        assert api_tokens.principal_for_token(s, secret) is None
    code, _, err = cli("tokens", "add", "both", "--role", "agent", "--user", "wang")
    assert code == 2 and "not allowed with argument" in err  # one or the other
