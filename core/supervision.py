"""The supervision audit: each listen, whisper or barge on an agent's call, written before the
PBX is asked (so a use the PBX then refuses is still on record), never changed afterwards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import SupervisionAudit

MODES = ("listen", "whisper", "barge")


def record_supervision(
    session: Session, supervisor: str, phone: str, agent: str, mode: str, at: datetime
) -> SupervisionAudit:
    if mode not in MODES:
        raise ValueError(f"bad supervision mode {mode!r}")
    row = SupervisionAudit(
        at=at, supervisor=supervisor, supervisor_extension=phone, agent=agent, mode=mode
    )
    session.add(row)
    session.flush()
    return row


def supervision_log(session: Session, limit: int = 100) -> list[SupervisionAudit]:
    """The latest uses, newest first."""
    query = select(SupervisionAudit).order_by(SupervisionAudit.id.desc()).limit(limit)
    return list(session.scalars(query))
