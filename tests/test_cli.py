from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline import __version__
from hotline.app import App
from hotline.cli import main

from cli_support import Run, jrun
from factories import RESIDENTS_CSV


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"hotline {__version__}"


def test_init_is_idempotent_and_writes_every_rule_figure(cli: Run, tmp_path: Path) -> None:
    code, out, _ = cli("init")
    assert code == 0 and "wrote" not in out
    settings = (tmp_path / "home" / "hotline.toml").read_text(encoding="utf-8")
    for line in ("escalation_hours = 1.0", "leak_days = 3.0", "first_day = 20", "max_rings = 3"):
        assert line in settings


def test_a_walk_in_repair_through_its_life(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    assert jrun(cli, "residents", "import", str(tmp_path / "r.csv"))["imported"] == 4
    residents = jrun(cli, "residents", "list", "--unit", "3-1-201")
    assert [(r["name"], r["phones"]) for r in residents] == [("张伟", ["13800138000"])]
    ticket = jrun(
        cli,
        "tickets",
        "new",
        "--kind",
        "repair",
        "--category",
        "leak",
        "--unit",
        "3-1-201",
        "--channel",
        "wechat",
        "--text",
        "卫生间漏水",
        "--at",
        "2026-11-23T09:00:00+08:00",
    )
    assert {k: ticket[k] for k in ("kind", "category", "state", "unit", "channel")} == {
        "kind": "repair",
        "category": "leak",
        "state": "new",
        "unit": "3-1-201",
        "channel": "wechat",
    }
    assert ticket["received_at"] == "2026-11-23T09:00:00+08:00"
    tid = str(ticket["id"])
    for state, at in (("dispatched", "09:03"), ("in_progress", "09:30"), ("done", "11:00")):
        jrun(
            cli,
            "tickets",
            "move",
            tid,
            state,
            "--at",
            f"2026-11-23T{at}:00+08:00",
            "--by",
            "王师傅",
        )
    shown = jrun(cli, "tickets", "show", tid)
    assert [e["to"] for e in shown["events"]] == ["new", "dispatched", "in_progress", "done"]
    due = jrun(cli, "followups", "due", "--at", "2026-11-27T00:00:00+08:00")
    assert due == [
        {
            "id": 1,
            "ticket_id": int(tid),
            "kind": "repair",
            "category": "leak",
            "unit": "3-1-201",
            "assignee_role": "cs_staff",
            "due_at": "2026-11-26T11:00:00+08:00",
            "overdue": True,
        }
    ]
    recorded = jrun(cli, "followups", "record", "1", "--satisfaction", "2")
    assert recorded["complaint"]["kind"] == "complaint"
    assert recorded["complaint"]["parent_id"] == int(tid)
    assert [t["kind"] for t in jrun(cli, "tickets", "list", "--kind", "complaint")] == ["complaint"]
    report = jrun(
        cli, "report", "--from", "2026-11-01T00:00:00+08:00", "--to", "2026-12-01T00:00:00+08:00"
    )
    assert report["repair_dispatch_in_time"]["rate"] == 1.0
    code, out, _ = cli("report", "--from", "2026-11-01T00:00:00+08:00")
    assert code == 0 and "answered within three rings" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tickets", "move", "99", "done"], "no ticket 99"),
        (
            [
                "tickets",
                "new",
                "--kind",
                "repair",
                "--category",
                "leak",
                "--unit",
                "1-1-1",
                "--at",
                "yesterday",
            ],
            "bad timestamp 'yesterday'",
        ),
        (
            ["tickets", "new", "--kind", "repair", "--category", "noise", "--unit", "1-1-1"],
            "unknown repair category 'noise'",
        ),
        (["followups", "record", "7", "--satisfaction", "3"], "no follow-up 7"),
        (["residents", "import", "/nonexistent.csv"], "no such file"),
        (["report", "--from", "2026-12-01", "--to", "2026-11-01"], "is not before"),
    ],
)
def test_user_mistakes_get_one_line_and_exit_1(cli: Run, argv: list[str], message: str) -> None:
    code, out, err = cli(*argv)
    assert code == 1 and out == ""
    assert err.startswith("hotline: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_bad_csv_lists_every_row_and_imports_nothing(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "unit,name,phone\n3-1-201,A,13800000000\nx,B,1\n3-1-202,C,?\n", encoding="utf-8"
    )
    code, _, err = cli("residents", "import", str(path))
    assert code == 1
    assert "line 3: bad unit 'x'" in err and "line 4: unparseable phone number '?'" in err
    assert jrun(cli, "residents", "list") == []
    code, out, _ = cli("residents", "import", str(path), "--skip-invalid")
    assert code == 0 and "imported 1 resident(s), 2 row(s) skipped" in out


def test_arrears_commands(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    jrun(cli, "residents", "import", str(tmp_path / "r.csv"))
    (tmp_path / "a.csv").write_text("unit,amount,months\n3-1-201,450.00,3\n", encoding="utf-8")
    assert jrun(cli, "arrears", "import", str(tmp_path / "a.csv"))["imported"] == 1
    due = jrun(cli, "arrears", "due")
    assert [(d["unit"], d["amount"], d["months"], d["next_stage"]) for d in due] == [
        ("3-1-201", "450.00", 3, "first")
    ]
    paid = jrun(cli, "arrears", "paid", str(due[0]["account_id"]), "--amount", "450")
    assert paid["paid_at"] is not None
    assert jrun(cli, "arrears", "due") == []


def test_arrears_due_prints_a_page_and_how_many_more(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    jrun(cli, "residents", "import", str(tmp_path / "r.csv"))
    text = "unit,amount,months\n3-1-201,450.00,3\n3-1-202,90.00,1\n5-2-1101,50.00,2\n"
    (tmp_path / "a.csv").write_text(text, encoding="utf-8")
    jrun(cli, "arrears", "import", str(tmp_path / "a.csv"))
    code, out, _ = cli("arrears", "due", "--limit", "1")
    lines = out.splitlines()
    assert code == 0 and lines[2].split()[1] == "3-1-201"  # three months behind: the oldest
    assert lines[3:] == ["2 more - --all lists every one"]
    code, out, _ = cli("arrears", "due", "--all")
    assert code == 0 and len(out.splitlines()) == 5 and "more" not in out
    assert len(jrun(cli, "arrears", "due", "--limit", "1")) == 3  # a program gets every one
    code, _, err = cli("arrears", "due", "--limit", "0")
    assert code == 2 and "at least 1" in err


def test_no_database_yet_says_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "fresh"))
    monkeypatch.delenv("HOTLINE_DB_URL", raising=False)
    (tmp_path / "fresh").mkdir()
    assert main(["tickets", "list"]) == 1
    assert "run `hotline init`" in capsys.readouterr().err


def test_init_makes_home_settings_and_database_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "private-home"
    monkeypatch.setenv("HOTLINE_HOME", str(home))
    monkeypatch.delenv("HOTLINE_DB_URL", raising=False)  # SQLite in the home
    old = os.umask(0o022)  # a usual login umask: files 0644, folders 0755
    try:
        assert main(["init"]) == 0
        app = App.from_env()
        with app.db.session() as s:  # a write makes SQLite create its -wal and -shm
            s.execute(text("CREATE TABLE touched (x INTEGER)"))
            s.commit()
            files = [home / "hotline.db-wal", home / "hotline.db-shm"]
            assert all(f.exists() for f in files)
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [home, *home.iterdir()]}
        app.db.dispose()
    finally:
        os.umask(old)
    assert modes == {
        "private-home": 0o700,
        "hotline.toml": 0o600,
        "hotline.db": 0o600,
        "hotline.db-wal": 0o600,
        "hotline.db-shm": 0o600,
    }
    # An existing settings file others can read (the AMI secret) is made private on the next run.
    (home / "hotline.toml").chmod(0o644)
    capsys.readouterr()
    assert main(["init"]) == 0
    assert "hotline.toml private (0600)" in capsys.readouterr().out
    assert stat.S_IMODE((home / "hotline.toml").stat().st_mode) == 0o600
