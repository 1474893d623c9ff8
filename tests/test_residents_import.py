from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.core.db import Database
from hotline.core.intake import IntakeDesk
from hotline.core.residents import import_residents, list_residents
from hotline.core.rules import Rules
from hotline.core.spool import Spool
from hotline.core.vocabulary import DomainError


def write(tmp_path: Path, text: str, bom: bool = False) -> Path:
    path = tmp_path / "residents.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


GOOD = (
    "unit,name,phone,phone2,lang,do_not_call\n"
    "3-1-201,张伟,13800138000,+86 139-0000-0001,zh,no\n"
    "3-1-202,Li Na,5551234,,en,yes\n"
    "03-01-0203,王芳,13700000000,,,\n"
)


@pytest.mark.parametrize("bom", [False, True])
def test_import_with_chinese_names_and_bom(db: Database, tmp_path: Path, bom: bool) -> None:
    with db.session() as s:
        report = import_residents(s, write(tmp_path, GOOD, bom))
    assert (report.imported, report.bad, report.created_units) == (3, [], 3)
    with db.session() as s:
        found = {(r.unit.code, r.name): r for r in list_residents(s)}
        assert set(found) == {("3-1-201", "张伟"), ("3-1-202", "Li Na"), ("3-1-203", "王芳")}
        zhang = found[("3-1-201", "张伟")]
        assert [p.number for p in zhang.phones] == ["13800138000", "13900000001"]
        assert found[("3-1-202", "Li Na")].lang == "en"
        assert found[("3-1-202", "Li Na")].do_not_call
        assert found[("3-1-203", "王芳")].lang == "zh"


def test_reimport_updates_instead_of_duplicating(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with db.session() as s:
        import_residents(s, path)
    path.write_text(GOOD.replace("5551234,,en,yes", "5551299,,zh,no"), encoding="utf-8")
    with db.session() as s:
        import_residents(s, path)
    with db.session() as s:
        residents = list_residents(s, "3-1-202")
        assert len(residents) == 1
        assert [p.number for p in residents[0].phones] == ["5551299"]
        assert not residents[0].do_not_call


def test_one_bad_row_imports_nothing_and_lists_every_bad_row(db: Database, tmp_path: Path) -> None:
    text = (
        "unit,name,phone,phone2\n"
        "3-1-201,张伟,13800138000,\n"
        "3-1-20x,A,13800000001,\n"
        "3-1-204,B,call me,\n"
        "3-1-205,C,13800000002,13800000002\n"
        "3-1-201,D,13800138000,\n"
        "3-1-206,,13800000003,\n"
        "3-1-207,E,13800000004,,extra\n"
    )
    with db.session() as s:
        report = import_residents(s, write(tmp_path, text))
    assert report.imported == 0
    assert [(b.line, b.reason.split(" ")[0]) for b in report.bad] == [
        (3, "bad"),
        (4, "unparseable"),
        (5, "duplicate"),
        (6, "duplicate"),
        (7, "empty"),
        (8, "5"),
    ]
    assert "line 6 (3-1-201 D) and line 2 (3-1-201 张伟)" in report.bad[3].reason
    with db.session() as s:
        assert list_residents(s) == []


def test_skip_invalid_imports_the_good_rows(db: Database, tmp_path: Path) -> None:
    text = "unit,name,phone\n3-1-201,张伟,13800138000\nbad,A,1\n"
    with db.session() as s:
        report = import_residents(s, write(tmp_path, text), skip_invalid=True)
    assert report.imported == 1 and [b.line for b in report.bad] == [3]
    with db.session() as s:
        assert [r.name for r in list_residents(s)] == ["张伟"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unit,name,phone,email\n", "unknown column(s) email"),
        ("unit,name\n", "missing column(s) phone"),
        ("", "empty file"),
    ],
)
def test_bad_header_is_a_clear_error(db: Database, tmp_path: Path, text: str, message: str) -> None:
    with db.session() as s, pytest.raises(DomainError, match=re.escape(message)):
        import_residents(s, write(tmp_path, text))


def test_not_utf8_is_a_clear_error(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("unit,name,phone\n3-1-201,张伟,13800138000\n".encode("gbk"))
    with db.session() as s, pytest.raises(DomainError, match="not UTF-8"):
        import_residents(s, path)


def test_caller_id_finds_every_unit_of_a_resident(db: Database, tmp_path: Path) -> None:
    text = "unit,name,phone\n3-1-201,张伟,13800138000\n5-2-1101,张伟,13800138000\n"
    with db.session() as s:
        import_residents(s, write(tmp_path, text))
    desk = IntakeDesk(db, Rules(), Spool(tmp_path / "spool.jsonl"))
    assert [c.unit for c in desk.identify("+8613800138000")] == ["3-1-201", "5-2-1101"]
    assert desk.identify("anonymous") == []
    assert desk.identify("13999999999") == []


def test_control_characters_in_any_field_are_bad_rows_with_their_line(
    db: Database, tmp_path: Path
) -> None:
    text = (
        "unit,name,phone\n"
        "3-1-201,张伟,13800138000\n"
        '3-1-202,"Li Na\nEXEC System touch /tmp/owned",5551234\n'
        "3-1-203,Wang\x1b[2J,13700000000\n"
        "3-1-204,Zhao\tMin,13700000001\n"
        "3-1-205,Sun,13700000002\r\n"
    )
    with db.session() as s:
        report = import_residents(s, write(tmp_path, text))
    assert report.imported == 0
    assert [(b.line, b.reason.split(" in ")[0]) for b in report.bad] == [
        (3, "control character"),
        (5, "control character"),
        (6, "control character"),
    ]
    assert "name 'Li Na\\nEXEC" in report.bad[0].reason


def test_a_phone_on_two_rows_is_flagged_with_both_lines_unless_one_owner_has_two_units(
    db: Database, tmp_path: Path
) -> None:
    text = (
        "unit,name,phone,phone2\n"
        "3-1-201,张伟,13800138000,\n"
        "5-2-1101,张伟,13800138000,\n"  # the same owner's other unit: kept
        "3-1-202,王芳,13700002222,\n"
        "8-3-502,陈杰,13500004444,13700002222\n"  # another person, another unit
    )
    with db.session() as s:
        report = import_residents(s, write(tmp_path, text))
    assert [(b.line, b.reason) for b in report.bad] == [
        (
            5,
            "duplicate phone 13700002222: line 5 (8-3-502 陈杰) and line 4 (3-1-202 王芳); "
            "a number repeats only for one resident's other units",
        )
    ]
