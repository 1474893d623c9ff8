"""One delivery's POST with treq: JSON body, signed headers, a timeout, no redirects followed
(a 3xx is a failed try: a subscriber's URL is never followed elsewhere, to another scheme or
host). The response body is not read: the status is the answer."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any, cast

from treq.client import HTTPClient
from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.internet.task import Cooperator
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer, IResponse

from hotline.core.webhook_desk import Send

from .signing import signature

USER_AGENT = b"hotline-webhooks"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None  # None: no answer (refused, reset, timed out)
    error: str | None  # None: delivered (2xx)

    @property
    def delivered(self) -> bool:
        return self.error is None


class _DropBody(Protocol):
    """Closes the connection instead of reading a body nobody needs (it may be large)."""

    def connectionMade(self) -> None:
        cast(IPushProducer, self.transport).stopProducing()


class Sender:
    def __init__(self, reactor: Any, timeout: float) -> None:
        self.reactor, self.timeout = reactor, timeout
        # Bodies written on this reactor (treq's default producer cooperates on the global one).
        cooperator = Cooperator(scheduler=lambda work: reactor.callLater(0, work))

        def producer(data: Any) -> IBodyProducer:
            return FileBodyProducer(BytesIO(data), cooperator=cooperator)

        pool = HTTPConnectionPool(reactor, persistent=False)
        agent = Agent(reactor, connectTimeout=timeout, pool=pool)
        self._client = HTTPClient(agent, data_to_body_producer=producer)

    async def send(self, job: Send, timestamp: int) -> Outcome:
        headers = Headers(
            {
                b"Content-Type": [b"application/json"],
                b"User-Agent": [USER_AGENT],
                b"Hotline-Event": [job.event_type.encode()],
                b"Hotline-Delivery": [job.key.encode()],
                b"Idempotency-Key": [job.key.encode()],
                b"Hotline-Timestamp": [str(timestamp).encode()],
                b"Hotline-Signature": [signature(job.secret, timestamp, job.body).encode()],
            }
        )
        try:
            response: IResponse = await self._client.post(
                job.url,
                data=job.body,
                headers=headers,
                allow_redirects=False,
                unbuffered=True,
                timeout=self.timeout,
                reactor=self.reactor,
            )
        except Exception as exc:  # refused, reset, DNS, the timeout: each a failed try, retried
            if _cancelled(exc):
                return Outcome(None, f"no answer within {self.timeout:g} s")
            return Outcome(None, _describe(exc))
        response.deliverBody(_DropBody())
        code = response.code
        if 200 <= code < 300:
            return Outcome(code, None)
        if 300 <= code < 400:
            return Outcome(code, f"HTTP {code}: redirects are not followed")
        return Outcome(code, f"HTTP {code}")


def _cancelled(exc: Exception) -> bool:
    """treq's timeout cancels the request: twisted.web reports it inside a ResponseNeverReceived
    (or alone, before the connection was made)."""
    reasons = getattr(exc, "reasons", None) or []
    return isinstance(exc, CancelledError) or any(r.check(CancelledError) for r in reasons)


def _describe(exc: Exception) -> str:
    reasons = getattr(exc, "reasons", None)  # twisted.web's ResponseFailed and kin
    if reasons:
        return "; ".join(r.getErrorMessage() for r in reasons)
    return f"{type(exc).__name__}: {exc}"
