"""What every command and the service share: settings, the database, the rules, the clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from hotline.core.db import Database, head_revision
from hotline.core.rules import Rules
from hotline.core.vocabulary import DomainError
from hotline.settings import Settings, default_file_text, load

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def from_env(cls) -> App:
        return cls(load())

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.db_url, self.settings.web.read_threads())

    @cached_property
    def rules(self) -> Rules:
        return Rules(self.settings.policy)

    def close(self) -> None:
        """Close the database's connections, if any were opened: a command closes them as it
        ends rather than leaving them to the interpreter's exit."""
        if "db" in vars(self):  # the cached property, made on first use
            self.db.dispose()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def init(self) -> list[str]:
        """Create home, settings file and database; safe to run again. Returns what it did.

        The settings hold the AMI secret and the database the residents: both are the service
        user's alone (0600), in a home only it can enter (0700). SQLite gives its -wal and -shm
        files the database file's mode."""
        done = []
        home = self.settings.home
        if not home.exists():
            home.mkdir(parents=True, mode=PRIVATE_DIR)
            home.chmod(PRIVATE_DIR)  # mkdir's mode is masked by the umask
            done.append(f"created {home}")
        elif home.stat().st_mode & 0o077:
            # Not tightened here: a recordings folder inside it may be Asterisk's to write.
            done.append(f"warning: {home} is open to others (chmod 700 it)")
        name = self.db.engine.url.database if self.db.url.startswith("sqlite") else None
        database = Path(name) if name and name != ":memory:" else None
        for path in (self.settings.file, database):
            if path is None:
                continue
            if not path.exists():
                # Created private, never readable for a moment (an empty file is a new SQLite db).
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(default_file_text() if path == self.settings.file else "")
                if path == self.settings.file:
                    done.append(f"wrote {path}")
            elif path.stat().st_mode & 0o077:
                path.chmod(PRIVATE_FILE)
                done.append(f"made {path} private (0600)")
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
