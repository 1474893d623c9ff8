"""Looking up stored call records (the demo's live view and result table)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import CallRecord


def inbound_calls(session: Session) -> list[CallRecord]:
    """The residents' calls to the hotline, oldest first."""
    query = select(CallRecord).where(CallRecord.direction == "in").order_by(CallRecord.id)
    return list(session.scalars(query))


def call_record_id(session: Session, key: str) -> int | None:
    """The id of the call record stored under `key` (its call's), if it is stored yet."""
    return session.scalar(select(CallRecord.id).where(CallRecord.key == key))
