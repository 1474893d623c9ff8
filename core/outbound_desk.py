"""What an outbound call flow asks of the centre's records: the lead it is calling about, and
where the resident's answers go. Blocking (database) work, run off the reactor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .db import Database
from .flow_answers import (
    appointment_answer,
    arrears_answer,
    followup_answers,
    notice_heard,
    visitor_answer,
)
from .models import Campaign, Lead, Resident
from .rules import Rules
from .vocabulary import DomainError


@dataclass(frozen=True)
class LeadBrief:
    lead_id: int
    campaign_id: int
    kind: str
    lang: str
    resident: str | None
    payload: dict[str, Any]

    @property
    def amount(self) -> Decimal:
        return Decimal(self.payload["amount"])


class OutboundDesk:
    def __init__(self, db: Database, rules: Rules) -> None:
        self.db, self.rules = db, rules

    def lead(self, lead_id: int) -> LeadBrief:
        with self.db.session() as s:
            lead = s.get(Lead, lead_id)
            if lead is None:
                raise DomainError(f"no lead {lead_id}")
            campaign = s.get(Campaign, lead.campaign_id)
            resident = s.get(Resident, lead.resident_id) if lead.resident_id else None
            assert campaign is not None  # a foreign key
            return LeadBrief(
                lead.id,
                campaign.id,
                campaign.kind,
                resident.lang if resident else "zh",
                resident.name if resident else None,
                dict(lead.payload or {}),
            )

    def followup(
        self,
        lead_id: int,
        satisfaction: int,
        quality: int | None,
        comment: str | None,
        at: datetime,
    ) -> int | None:
        with self.db.session() as s:
            return followup_answers(s, self.rules, lead_id, satisfaction, quality, comment, at)

    def arrears(self, lead_id: int, choice: int, at: datetime) -> None:
        with self.db.session() as s:
            arrears_answer(s, self.rules, lead_id, choice, at)

    def notice(self, lead_id: int, repeats: int, at: datetime) -> None:
        with self.db.session() as s:
            notice_heard(s, lead_id, at, repeats)

    def visitor(self, lead_id: int, admit: bool, at: datetime) -> None:
        with self.db.session() as s:
            visitor_answer(s, lead_id, admit, at)

    def appointment(self, lead_id: int, slot: int, at: datetime) -> datetime:
        with self.db.session() as s:
            return appointment_answer(s, lead_id, slot, at)

    def call_path(self, lead_id: int, path: list[str], keypad: dict[str, str]) -> None:
        """Keep the flow's path and keys on the lead; the dialer copies them to the call record
        when the call's outcome is recorded."""
        with self.db.session() as s:
            lead = s.get(Lead, lead_id)
            if lead is not None:
                lead.result = {**(lead.result or {}), "path": path, "keypad": keypad}
