"""`hotline`: the operator's command line.

The arguments are parsed before anything heavy is imported; then only the command's own module
is loaded (see parser.py), so `--help` and `--version` never load SQLAlchemy or Twisted.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import parser as grammar


class OneLineParser(argparse.ArgumentParser):
    """A mistyped argument is one line on stderr (and exit 2), like every other mistake."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    return grammar.build_parser(OneLineParser)


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _quiet_stdout() -> None:
    """The reader of our output went away (`| head`): send what is left nowhere, so the
    interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # a mistyped argument: its exit status (--help and --version exit)
        if not exc.code:
            raise
        return int(exc.code)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # `init` reports the migration itself
    # Loading a command's modules makes some 110,000 tracked objects and no garbage; the
    # collector's passes over them cost a read command a tenth of its CPU (a third on a loaded
    # machine). Paused while loading; then what is loaded is frozen, out of every later pass (as
    # `serve` does once started), and collection resumes. Simply resuming would not do: the
    # first passes would sweep all of it anyway.
    gc.disable()
    module, function = args.handler.split(":")
    handler = getattr(importlib.import_module(f"{__name__}.{module}"), function)

    from hotline.app import App
    from hotline.core.db import DatabaseUnavailable
    from hotline.core.vocabulary import DomainError
    from hotline.settings import SettingsError

    gc.freeze()
    gc.enable()
    app: App | None = None
    try:
        app = App.from_env()
        handler(app, args)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        print("hotline: error: output closed before the end (broken pipe)", file=sys.stderr)
        return 1
    except (DomainError, SettingsError, DatabaseUnavailable, OSError) as exc:
        print(f"hotline: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        if app is not None:
            app.close()
        gc.unfreeze()  # a caller that goes on (the tests) collects it all again
    return 0


def run() -> int:
    """The `hotline` script: main, then the process ends. Frozen again, what the command made
    is left to the process's end: the collection the interpreter runs on exit would sweep every
    object for nothing (a third of a read command's CPU). The database was closed by main."""
    code = main()
    gc.freeze()
    return code
