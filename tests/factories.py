"""Small builders for test data."""

from __future__ import annotations

from pathlib import Path

from hotline.core.db import Database
from hotline.core.residents import import_residents

RESIDENTS_CSV = (
    "unit,name,phone,phone2,lang,do_not_call\n"
    "3-1-201,张伟,13800138000,,zh,no\n"
    "3-1-202,Li Na,5551234,,en,no\n"
    "5-2-1101,张伟,13800138000,,zh,no\n"
    "7-1-101,赵敏,13600000000,,zh,yes\n"
)


def seed_residents(db: Database, tmp_path: Path, text: str = RESIDENTS_CSV) -> None:
    path = tmp_path / "seed-residents.csv"
    path.write_text(text, encoding="utf-8")
    with db.session() as s:
        report = import_residents(s, path)
    assert not report.bad, report.bad
