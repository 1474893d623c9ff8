"""The API's errors: ``{"error": {"code": …, "message": …}}`` with a stable code, the CLI's
one-line reason as the message, and a 4xx status for the caller's mistakes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hotline.core.db import DatabaseUnavailable
from hotline.core.users import LoginFailed
from hotline.core.vocabulary import DomainError, NotFound
from hotline.dialer.ami_client import AMIActionError, AMIError
from hotline.recordings.index import RecordingRestricted

log = logging.getLogger("hotline.web")

# The codes a client may rely on; docs/api.md lists them.
CODES = {
    "bad_request": 400,
    "unauthenticated": 401,
    "login_failed": 401,
    "forbidden": 403,
    "csrf": 403,
    "restricted": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "rejected": 422,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
    "busy": 503,
}


@dataclass
class ApiError(Exception):
    code: str
    message: str
    headers: dict[str, str] | None = None

    @property
    def status(self) -> int:
        return CODES[self.code]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls("bad_request", message)


def as_api_error(exc: BaseException) -> ApiError:
    """What the caller is told. Only the service's own failures (5xx) are logged, with the
    traceback; a caller's mistake is theirs to read in the response."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NotFound):
        return ApiError("not_found", str(exc))
    if isinstance(exc, RecordingRestricted):
        return ApiError("restricted", str(exc))
    if isinstance(exc, LoginFailed):
        return ApiError("login_failed", str(exc))
    if isinstance(exc, DomainError):
        return ApiError("rejected", str(exc))
    if isinstance(exc, AMIActionError):  # the PBX said no: e.g. the agent is in no queue
        return ApiError("rejected", f"the PBX refused: {exc}")
    if isinstance(exc, AMIError):
        log.warning("API: %s", exc)
        return ApiError("unavailable", "the PBX (AMI) cannot be reached; try again shortly")
    if isinstance(exc, DatabaseUnavailable):
        log.error("API: %s", exc)
        return ApiError("unavailable", "the database is unavailable; try again shortly")
    log.error("API: unexpected error", exc_info=exc)
    return ApiError("internal", "internal error (logged by the service)")
