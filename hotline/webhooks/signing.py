"""The `Hotline-Signature` header: HMAC-SHA256 of "<timestamp>.<body>" with the subscription's
secret, so a receiver can tell the body is ours and fresh (it checks the timestamp's age)."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
