"""The command line as a new operator meets it: first mistakes, history, figures, help."""

from __future__ import annotations

import gc
import io
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.cli import main
from hotline.cli.output import print_table
from hotline.cli.parser import CAMPAIGN_ACTIONS
from hotline.core.campaigns import ACTIONS
from hotline.core.db import Database, head_revision
from hotline.core.models import CallRecord, Recording

from cli_support import Run, jrun
from factories import RESIDENTS_CSV

ROOT = Path(__file__).resolve().parent.parent


def one_line_error(result: tuple[int, str, str], code: int = 1) -> str:
    got, out, err = result
    assert got == code and out == ""
    assert err.startswith("hotline") and "Traceback" not in err and err.count("\n") == 1, err
    return err


def in_a_fresh_home(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    monkeypatch.setenv("HOTLINE_HOME", str(home))
    monkeypatch.delenv("HOTLINE_DB_URL", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.parametrize("made", [False, True])
@pytest.mark.parametrize(
    "argv", [["tickets", "list"], ["report"], ["arrears", "paid", "1", "--amount", "1"]]
)
def test_before_init_every_command_says_so_and_creates_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    made: bool,
    argv: list[str],
) -> None:
    home = tmp_path / "home"
    if made:
        home.mkdir()
    run = in_a_fresh_home(home, monkeypatch, capsys)
    assert "run `hotline init`" in one_line_error(run(*argv))
    assert (list(home.iterdir()) if made else home.exists()) in ([], False)


def test_a_command_leaves_the_collector_as_it_found_it(cli: Run) -> None:
    """main pauses the collector and freezes what it loads (start-up CPU); a caller that goes on
    must get both back, or every object alive then would never be collected."""
    for argv in (["tickets", "list"], ["tickets", "show", "999999"]):  # done, and refused
        cli(*argv)
        assert gc.isenabled() and gc.get_freeze_count() == 0, argv


def test_a_command_closes_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Closed as the command ends, not left to the interpreter's exit (which `hotline` skips
    sweeping): SQLite checkpoints its write-ahead log and removes it."""
    run = in_a_fresh_home(tmp_path, monkeypatch, capsys)
    for argv in (["init"], ["tickets", "list"]):
        assert run(*argv)[0] == 0
        assert sorted(p.name for p in tmp_path.glob("hotline.db*")) == ["hotline.db"], argv


def test_an_unreachable_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_a_fresh_home(tmp_path, monkeypatch, capsys)
    monkeypatch.setenv("HOTLINE_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert "database unavailable" in one_line_error(run("tickets", "list"))


def test_an_older_schema_asks_for_db_upgrade(cli: Run, db: Database) -> None:
    def set_version(revision: str) -> None:
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{revision}'")

    set_version("0001")
    try:
        assert "run `hotline db upgrade`" in one_line_error(cli("tickets", "list"))
    finally:  # the PostgreSQL database is shared by the whole run
        set_version(head_revision())


def test_importing_a_folder_is_one_line(cli: Run, tmp_path: Path) -> None:
    assert "a folder, not a CSV file" in one_line_error(cli("residents", "import", str(tmp_path)))


@pytest.mark.parametrize(
    "argv",
    [
        ["tickets", "list", "--state", "bogus"],
        ["tickets", "list", "--kind", "bogus"],
        ["tickets", "move", "1", "bogus"],
        ["tickets", "new", "--kind", "repair", "--category", "bogus", "--unit", "3-1-201"],
        ["campaign", "leads", "1", "--state", "bogus"],
        ["recordings", "list", "--state", "bogus"],
    ],
)
def test_unknown_values_are_refused(cli: Run, argv: list[str]) -> None:
    assert "invalid choice: 'bogus'" in one_line_error(cli(*argv), code=2)


def _ticket(cli: Run, tmp_path: Path, *extra: str) -> int:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    jrun(cli, "residents", "import", str(tmp_path / "r.csv"))
    made = jrun(
        cli, "tickets", "new", "--kind", "repair", "--category", "leak", "--unit", "3-1-201", *extra
    )
    return int(made["id"])


def test_a_report_received_in_the_future_is_refused(cli: Run, tmp_path: Path) -> None:
    _ticket(cli, tmp_path)  # now: accepted
    ahead = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    err = one_line_error(
        cli(
            "tickets",
            "new",
            "--kind",
            "repair",
            "--category",
            "leak",
            "--unit",
            "3-1-201",
            "--at",
            ahead,
        )
    )
    assert "is in the future" in err and "+08:00" in err and "." not in err.split("future")[0]
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()  # a clock a little ahead
    assert jrun(cli, "tickets", "move", "1", "dispatched", "--at", soon)["state"] == "dispatched"
    assert jrun(cli, "followups", "due", "--at", ahead) == []  # asking about the future is fine


def test_times_in_messages_are_iso_in_the_site_offset(cli: Run, tmp_path: Path) -> None:
    tid = str(_ticket(cli, tmp_path, "--at", "2026-11-23T09:00:00+08:00"))
    for state in ("dispatched", "in_progress", "done"):
        jrun(cli, "tickets", "move", tid, state, "--at", "2026-11-23T02:00:00.5+00:00")
    jrun(cli, "followups", "record", "1", "--satisfaction", "5", "--at", "2026-11-24T01:39:26Z")
    err = one_line_error(cli("followups", "record", "1", "--satisfaction", "4"))
    assert "already recorded at 2026-11-24T09:39:26+08:00" in err
    err = one_line_error(
        cli("tickets", "move", tid, "accepted", "--at", "2026-11-23T01:30Z", "--by", "张伟")
    )
    assert "2026-11-23T09:30:00+08:00 is before its last change (2026-11-23T10:00:00+08:00)" in err


def test_an_overpayment_is_refused_with_what_is_owed(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    jrun(cli, "residents", "import", str(tmp_path / "r.csv"))
    (tmp_path / "a.csv").write_text("unit,amount,months\n3-1-201,1280.50,3\n", encoding="utf-8")
    jrun(cli, "arrears", "import", str(tmp_path / "a.csv"))
    err = one_line_error(cli("arrears", "paid", "1", "--amount", "99999"))
    assert "owes 1280.50" in err
    assert jrun(cli, "report")["collection"]["collected"] in ("0", "0.00")


def test_tickets_show_tells_who_did_what_when(cli: Run, tmp_path: Path, db: Database) -> None:
    tid = _ticket(cli, tmp_path, "--at", "2026-11-23T09:00:00+08:00")
    for state, at, by in (
        ("dispatched", "09:03", "王师傅"),
        ("in_progress", "09:30", "王师傅"),
        ("done", "11:00", "王师傅"),
        ("accepted", "11:10", "张伟"),
    ):
        jrun(
            cli,
            "tickets",
            "move",
            str(tid),
            state,
            "--at",
            f"2026-11-23T{at}+08:00",
            "--by",
            by,
            "--note",
            f"{state} note",
        )
    jrun(cli, "followups", "record", "1", "--satisfaction", "5", "--comment", "好")
    arrived = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    with db.session() as s:
        call = CallRecord(direction="in", caller="13800138000", arrived_at=arrived, ticket_id=tid)
        s.add(call)
        s.flush()
        s.add_all(
            Recording(
                call_id=call.id if i else None,
                ticket_id=tid if not i else None,
                kind=kind,
                path=f"/rec/{kind}.wav",
                format="wav",
                restricted=bool(i),
                retain_until=arrived.date(),
                created_at=arrived,
            )
            for i, kind in enumerate(("description", "call"))
        )
    shown = jrun(cli, "tickets", "show", str(tid))
    assert [(e["to"], e["by"], e["note"]) for e in shown["events"][1:]] == [
        ("dispatched", "王师傅", "dispatched note"),
        ("in_progress", "王师傅", "in_progress note"),
        ("done", "王师傅", "done note"),
        ("accepted", "张伟", "accepted note"),
    ]
    assert shown["events"][1]["at"] == "2026-11-23T09:03:00+08:00"
    (order,) = shown["work_orders"]
    assert (order["technician"], order["accepted_by"]) == ("王师傅", "张伟")
    assert order["accepted_at"] == "2026-11-23T11:10:00+08:00"
    (followup,) = shown["followups"]
    assert (followup["satisfaction"], followup["comment"]) == (5, "好")
    assert [c["number"] for c in shown["calls"]] == ["13800138000"]
    assert [(r["kind"], r["path"], r["restricted"]) for r in shown["recordings"]] == [
        ("description", "/rec/description.wav", False),
        ("call", None, True),  # restricted: named by `recordings show --allow-restricted` only
    ]
    code, table, _ = cli("tickets", "show", str(tid))
    assert code == 0
    for text in ("王师傅", "张伟", "accepted note", "work orders:", "recordings:", "/rec/descr"):
        assert text in table


def test_human_output_says_yes_or_no_never_true(cli: Run, tmp_path: Path) -> None:
    """A boolean reads yes or no in tables and in `tickets show`'s header; --json keeps JSON's."""
    tid = _ticket(cli, tmp_path)  # a leak: an emergency repair
    assert jrun(cli, "tickets", "show", str(tid))["emergency"] is True
    _, shown, _ = cli("tickets", "show", str(tid))
    header = dict(line.split(maxsplit=1) for line in shown.split("\n\n")[0].splitlines())
    assert (header["emergency"], header["about_staff"], header["incomplete"]) == ("yes", "no", "no")
    out = io.StringIO()
    print_table(["on", "off", "none"], [(True, False, None)], out)
    assert out.getvalue().splitlines()[2] == "yes  no"
    assert "True" not in shown and "False" not in shown


def test_the_default_report_covers_today_and_says_so(cli: Run, tmp_path: Path) -> None:
    tid = str(_ticket(cli, tmp_path))
    for state in ("dispatched", "in_progress", "done"):
        jrun(cli, "tickets", "move", tid, state)
    jrun(cli, "followups", "record", "1", "--satisfaction", "5")
    report = jrun(cli, "report")
    assert (report["satisfaction"]["part"], report["satisfaction"]["whole"]) == (1, 1)
    assert report["followup_rate"]["repair"]["whole"] == 1
    assert report["end"] > datetime.now(UTC).isoformat()[:10]
    _, out, _ = cli("report")
    assert out.startswith(f"report from {report['start']} up to {report['end']}, as of ")


def test_a_fresh_complaint_is_pending_in_the_report_not_missed(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    jrun(cli, "residents", "import", str(tmp_path / "r.csv"))
    jrun(cli, "tickets", "new", "--kind", "complaint", "--category", "noise", "--unit", "3-1-201")
    _, out, _ = cli("report")
    assert "complaints escalated within 1 h  -, 1 pending" in out


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    for group, subcommands in (
        ("residents", ["import", "list"]),
        ("tickets", ["new", "list", "show", "move"]),
    ):
        with pytest.raises(SystemExit):
            main([group, "--help"])
        lines = capsys.readouterr().out.splitlines()
        listed = [line.split()[0] for line in lines if line.startswith("    ") and line.strip()]
        assert listed == subcommands
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--from FROM " in capsys.readouterr().out


def test_the_parser_knows_every_campaign_action() -> None:
    assert tuple(ACTIONS) == CAMPAIGN_ACTIONS


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["tickets", "list", "--state", "x"]])
def test_answering_from_the_arguments_loads_no_database_code(argv: list[str]) -> None:
    code = (
        "import sys\nfrom hotline.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = ('sqlalchemy', 'alembic', 'twisted', 'hotline.service', 'hotline.app')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.splitlines()[-1] == "[]"


def test_a_read_command_on_sqlite_loads_no_migrations_reactor_or_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a read command does not need costs start-up time: Alembic 0.2 s, the PostgreSQL
    dialect 45 ms (which a `postgresql_where` in the models would load)."""
    in_a_fresh_home(tmp_path, monkeypatch, capsys)("init")
    code = (
        "import sys\nfrom hotline.cli import main\nmain(['tickets', 'list'])\n"
        "heavy = ('alembic', 'twisted', 'hotline.service', 'sqlalchemy.dialects.postgresql')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    env = dict(os.environ, HOTLINE_HOME=str(tmp_path))
    env.pop("HOTLINE_DB_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.splitlines()[-1] == "[]"


def test_output_cut_short_by_head_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_a_fresh_home(tmp_path / "home", monkeypatch, capsys)
    run("init")
    rows = "".join(f"1-1-{n},住户{n},138{n:08d}\n" for n in range(1, 3000))
    (tmp_path / "many.csv").write_text("unit,name,phone\n" + rows, encoding="utf-8")
    assert run("residents", "import", str(tmp_path / "many.csv"))[0] == 0
    env = dict(os.environ, HOTLINE_HOME=str(tmp_path / "home"))
    for argv, first in ((["--json"], b"["), ([], b"id")):  # JSON, then the table
        with subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "residents", "list", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            assert process.stdout.readline().startswith(first)
            process.stdout.close()  # what `head -1` does
            err = process.stderr.read().decode()
            assert process.wait() != 0, argv
        assert "Traceback" not in err and err.count("\n") == 1 and "broken pipe" in err


def test_tables_pad_chinese_by_display_width() -> None:
    out = io.StringIO()
    print_table(["who", "unit"], [("王师傅", "3-1-201"), ("Li Na", "5-2-1101")], out)
    lines = out.getvalue().splitlines()
    # Each CJK character takes two columns: "王师傅" is 6 wide, like "who" padded to it.
    assert lines[0] == "who     unit"
    assert lines[2] == "王师傅  3-1-201"
    assert lines[3] == "Li Na   5-2-1101"


def test_pyproject_license_is_an_spdx_string() -> None:
    """setuptools deprecates the table form and warns on every install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "AGPL-3.0-or-later"


def test_the_package_builds_without_a_setuptools_warning(tmp_path: Path) -> None:
    """The console's data folders were importable namespace packages missing from `packages`:
    setuptools warned (a SetuptoolsDeprecationWarning) on every build and install."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    source = tmp_path / "src"  # a copy: a build writes build/ and *.egg-info beside the sources
    for folder in config["tool"]["setuptools"]["package-dir"].values():
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*pip, "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = (done.stdout + done.stderr).splitlines()  # the backend's warnings go to stderr
    assert [line for line in said if "setuptools" in line and "Warning" in line] == []
    (wheel,) = (tmp_path / "dist").glob("hotline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("templates/", "static/", "messages/"):
        assert any(n.startswith(f"hotline/console/{data}") for n in names), data
