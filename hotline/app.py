"""What every command and the service share: settings, the database, the rules, the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from hotline.core.db import Database, head_revision
from hotline.core.rules import Rules
from hotline.core.vocabulary import DomainError
from hotline.settings import Settings, default_file_text, load


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def from_env(cls) -> App:
        return cls(load())

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.db_url)

    @cached_property
    def rules(self) -> Rules:
        return Rules(self.settings.policy)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def init(self) -> list[str]:
        """Create home, settings file and database; safe to run again. Returns what it did."""
        done = []
        home = self.settings.home
        if not home.exists():
            home.mkdir(parents=True)
            done.append(f"created {home}")
        if not self.settings.file.exists():
            self.settings.file.write_text(default_file_text(), encoding="utf-8")
            done.append(f"wrote {self.settings.file}")
        self.db.upgrade()
        done.append(f"database at head: {self.db.engine.url.render_as_string(hide_password=True)}")
        return done

    def require_db(self) -> Database:
        """The database, set up and migrated; checking it creates nothing (SQLite would make an
        empty file, and its folder must not be needed)."""
        url = self.db.engine.url
        missing = url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file()
        revision = None if missing else self.db.revision()
        if revision is None:
            raise DomainError(f"no hotline database at {url}: run `hotline init`")
        if revision != head_revision():
            raise DomainError(
                f"the database at {url} is at migration {revision}, this hotline needs "
                f"{head_revision()}: run `hotline db upgrade`"
            )
        return self.db
