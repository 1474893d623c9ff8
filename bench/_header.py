"""What a benchmark's figures were measured with: date, commit, versions, machine load.

Every benchmark prints this header first, so a figure copied into docs/benchmarks.md carries the
conditions it was measured in (a figure measured on a loaded machine, or with other versions,
says so). `./run bench` prints it once before all of them.

    python bench/_header.py                                        # the header alone
    python bench/_header.py --docs docs/benchmarks.md --log FILE   # ./run lock: record the run
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-dev.lock"
KEY_PACKAGES = ("SQLAlchemy", "Twisted", "psycopg", "alembic", "prometheus-client")
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.MULTILINE)
DOCS_BEGIN = "<!-- versions: written by ./run lock (bench/_header.py --docs); do not edit -->"
DOCS_END = "<!-- /versions -->"


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def commit() -> str:
    """The checked-out commit, marked when tracked files differ from it."""
    head = _git("rev-parse", "--short=10", "HEAD") or "unknown"
    return head + (" + changes" if _git("status", "--porcelain", "--untracked-files=no") else "")


def lock_state() -> str:
    """The lock's digest, and whether the running environment is what it pins."""
    if not LOCK.exists():
        return "no lock file"
    text = LOCK.read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    off = [
        f"{name} {have} (locked {pinned})"
        for name, pinned in _PIN.findall(text)
        if (have := _installed(name)) is not None and have != pinned
    ]
    return f"{LOCK.name} {digest}, " + (
        f"NOT installed as locked: {', '.join(off)}" if off else "installed as locked"
    )


def run_info() -> dict[str, str]:
    one, five, fifteen = os.getloadavg()
    versions = {"Python": platform.python_version(), "SQLite": sqlite3.sqlite_version}
    versions |= {name: _installed(name) or "not installed" for name in KEY_PACKAGES}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "lock": lock_state(),
        "versions": ", ".join(f"{name} {v}" for name, v in versions.items()),
        "machine": f"{os.cpu_count()} cores, load average {one:.2f} {five:.2f} {fifteen:.2f}",
    }


def header_lines(info: dict[str, str] | None = None) -> list[str]:
    info = info or run_info()
    return [f"# {key:8} {value}" for key, value in info.items()]


def print_header() -> None:
    print("\n".join(header_lines()), flush=True)


def print_load_at_end() -> None:
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def record_in_docs(docs: Path, log: Path) -> None:
    """Replace the versions block of docs/benchmarks.md with this environment's."""
    text = docs.read_text(encoding="utf-8")
    begin, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if begin < 0 or end < begin:
        raise SystemExit(f"{docs}: no versions block ({DOCS_BEGIN!r} … {DOCS_END!r})")
    block = "\n".join(
        [
            DOCS_BEGIN,
            "The lock was last refreshed by `./run lock`; the benchmarks it re-ran printed",
            f"`{log.relative_to(ROOT)}` (which begins with their header). As the run ended:",
            "",
            "```",
            *header_lines(),
            "```",
            "",
            "",
        ]
    )
    docs.write_text(text[:begin] + block + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, help="record the versions in this benchmarks doc")
    parser.add_argument("--log", type=Path, help="with --docs: the benchmark run's output file")
    args = parser.parse_args()
    if args.docs:
        if not args.log:
            parser.error("--docs needs --log")
        record_in_docs(args.docs.resolve(), args.log.resolve())
    else:
        print_header()


if __name__ == "__main__":
    main()
