"""Classic AGI: the same flows over stdin/stdout, with pyst2's ``asterisk.agi.AGI`` doing the I/O.

pyst2 reads the environment and writes commands. Its ``get_result`` is not used for reading:
it raises on every ``result=-1`` before parsing ``endpos`` (a partial RECORD FILE would be lost),
drops the ``(timeout)`` data of GET DATA, and turns 511 into a bare ``AGIUnknownError``. So the
response lines are read from the same stdin and parsed by ``AGIStreamParser``; the hang-up signal
(SIGHUP, recorded by pyst2) decides whether a ``result=-1`` is a hang-up.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from asterisk.agi import AGI

from hotline.agi.channel import Channel
from hotline.agi.errors import AGIError, ChannelHungUp
from hotline.agi.protocol import AGIEnvironment, AGIResponse, AGIStreamParser, HangupNotice
from hotline.agi.routes import RouteTable
from hotline.core import dialplan

log = logging.getLogger(__name__)


class ClassicChannel(Channel):
    def __init__(self, agi: AGI, env: AGIEnvironment) -> None:
        super().__init__(env)
        self._agi = agi
        self._parser = AGIStreamParser()
        self._parser.feed("")  # pyst2 has consumed the environment block

    async def _command(self, line: str, wait_s: float) -> AGIResponse:
        # Asterisk kills a classic script when the channel goes: no response timeout needed.
        self._agi.send_command(line)
        while True:
            text = self._agi.stdin.readline()
            if not text:
                raise ChannelHungUp("Asterisk closed stdin")
            event = self._parser.feed(text.rstrip("\r\n"))
            if isinstance(event, AGIResponse):
                return event
            if isinstance(event, HangupNotice):
                self._agi._got_sighup = True

    async def _hangup_follows(self) -> bool:
        return bool(self._agi._got_sighup)


def _drive(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never really suspends: classic AGI commands answer synchronously."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("a classic AGI flow awaited something that does not complete synchronously")


def run_classic(
    route: str,
    routes: RouteTable,
    make_context: Callable[[AGIEnvironment], Any],
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> int:
    """Run the flow for ``route`` (``name?key=value``) as a classic AGI script; the exit status."""
    agi = AGI(stdin=stdin, stdout=stdout, stderr=io.StringIO())  # pyst2 chatters on stderr
    env = AGIEnvironment.from_mapping(agi.env, script=route)
    flow = routes.get(env.route)
    channel = ClassicChannel(agi, env)

    async def call() -> int:
        try:
            await flow(channel, make_context(env))
        except ChannelHungUp:
            return 0
        except Exception:
            log.exception("classic AGI flow %r failed", env.route)
            if not agi._got_sighup:
                try:
                    await channel.set_variable(dialplan.STATUS, dialplan.STATUS_FAILED)
                except AGIError as e:
                    log.warning("could not set %s: %s", dialplan.STATUS, e)
            return 1
        return 0

    outcome: list[int] = []

    async def main() -> None:
        outcome.append(await call())

    _drive(main())
    return outcome[0]
