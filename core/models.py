"""The centre's records as SQLAlchemy 2 typed declarative models.

Times are stored as naive UTC (the same on SQLite and PostgreSQL) and come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} would be ambiguous; give a timezone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        Decimal: Numeric(12, 2),
    }


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # building-entrance-room
    residents: Mapped[list[Resident]] = relationship(back_populates="unit")


class Resident(Base):
    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    lang: Mapped[str] = mapped_column(String(5), default="zh")
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    unit: Mapped[Unit] = relationship(back_populates="residents")
    phones: Mapped[list[Phone]] = relationship(
        back_populates="resident", order_by="Phone.position", cascade="all, delete-orphan"
    )


class Phone(Base):
    __tablename__ = "phones"
    __table_args__ = (UniqueConstraint("resident_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    number: Mapped[str] = mapped_column(String(20), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Set when a call found the number unallocated or invalid: the dialer stops using it.
    invalid_reason: Mapped[str | None] = mapped_column(String(100))
    resident: Mapped[Resident] = relationship(back_populates="phones")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_kind_received", "kind", "received_at"),
        Index("ix_tickets_repeats", "kind", "unit_id", "category", "received_at"),
        Index("ix_tickets_state", "state"),
        Index("ix_tickets_unit_state", "unit_id", "state"),  # a unit's open tickets (the pop)
        # Repairs still without a technician, oldest first: `overdue` counts and pages them from
        # the index instead of visiting every repair.
        Index("ix_tickets_undispatched", "kind", "dispatched_at", "received_at"),
        # A complaint's two clocks by the states that still owe them: `overdue` pages the open
        # complaints past each deadline from these instead of sorting every complaint.
        Index("ix_tickets_escalation", "kind", "state", "escalation_due_at"),
        Index("ix_tickets_resolution", "kind", "state", "resolution_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    category: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(10), default="general")
    channel: Mapped[str] = mapped_column(String(10), default="phone")
    state: Mapped[str] = mapped_column(String(12), default="new")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    caller_number: Mapped[str | None] = mapped_column(String(80))  # caller ID, as Asterisk's
    text: Mapped[str | None] = mapped_column(Text)
    recording: Mapped[str | None] = mapped_column(String(255))  # voice description
    about_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    # The caller hung up before the report was complete: kept with whatever was captured.
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # Idempotency key of a phone intake, so a spooled intake is replayed exactly once.
    intake_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime]
    # First time each milestone was reached, kept on the row so the report aggregates in SQL.
    dispatched_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    escalation_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    unit: Mapped[Unit | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )


class TicketEvent(Base):
    """Every state change with its moment (§2: record intake and completion times)."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_actor_at", "actor", "at"),)  # an agent's day

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(100))  # who made the change (--by)
    ticket: Mapped[Ticket] = relationship(back_populates="events")


class WorkOrder(Base):
    """维修工作单: the repair as sent to the engineering team, signed off by the resident."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    technician: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(String(100))  # 验收签字
    accepted_at: Mapped[datetime | None]


class FollowUp(Base):
    """回访: due by the rules, made by the role they name, answered by the resident."""

    __tablename__ = "followups"
    # Covers the report's aggregate, so a period is read from the index alone.
    __table_args__ = (
        Index("ix_followups_due_report", "due_at", "kind", "done_at", "satisfaction", "dropped_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    due_at: Mapped[datetime]
    assignee_role: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(12))  # the followed-up ticket's kind, for the report
    done_at: Mapped[datetime | None]
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[int | None] = mapped_column(Integer)  # 1 done properly, 2 not
    effect: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    comment_recording: Mapped[str | None] = mapped_column(String(255))
    # Not made before its ticket was reopened: no longer owed (the new resolution owes a new one).
    dropped_at: Mapped[datetime | None]
    ticket: Mapped[Ticket] = relationship()


# A follow-up still owed: neither made nor dropped. Of the table's columns, so that it serves in
# statements compiled without the ORM as well (`overdue`'s).
FOLLOWUP_OWED = and_(
    FollowUp.__table__.c.done_at.is_(None), FollowUp.__table__.c.dropped_at.is_(None)
)


class ArrearsAccount(Base):
    __tablename__ = "arrears_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    amount: Mapped[Decimal]
    months: Mapped[int] = mapped_column(Integer)
    collection_month: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(8), default="none")
    last_reminder_at: Mapped[datetime | None]
    paid_amount: Mapped[Decimal] = mapped_column(default=Decimal(0))
    paid_at: Mapped[datetime | None]
    # The resident said "already paid": the cashier checks before the next reminder.
    cashier_check: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[datetime]
    unit: Mapped[Unit] = relationship()


class CallRecord(Base):
    __tablename__ = "call_records"
    __table_args__ = (
        # rings_before_answer makes it cover the report's count, read from the index alone.
        Index("ix_calls_direction_arrived", "direction", "arrived_at", "rings_before_answer"),
        Index("ix_calls_campaign", "campaign_id"),
        Index("ix_calls_disposition_ended", "disposition", "ended_at"),  # recent abandons
        Index("ix_calls_agent_connected", "agent", "connected_at"),  # an agent's calls today
        Index("ix_calls_ticket", "ticket_id"),  # a ticket's history (tickets show, the API)
        # The calls not ended yet, by the instance running them: what a catch-up settles.
        # Partial (WHERE ended_at IS NULL) on both databases, as migration 0014 makes it and
        # tests/test_migrations.py checks; the condition is not repeated here, because
        # SQLAlchemy checks a `postgresql_where` by importing the whole PostgreSQL dialect
        # (every driver module, asyncio included): 45 ms of every command on SQLite.
        Index("ix_calls_open_by_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency key (Asterisk uniqueid, or the dialer's call id): a spooled record lands once.
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(3))  # in / out
    caller: Mapped[str | None] = mapped_column(String(80))  # Asterisk allows 80 characters
    callee: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str | None] = mapped_column(String(80))
    uniqueid: Mapped[str | None] = mapped_column(String(40), index=True)
    arrived_at: Mapped[datetime]  # inbound: the call arrived; outbound: queued
    dialled_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]  # reached an agent
    ended_at: Mapped[datetime | None]
    rings_before_answer: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(String(20))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str | None] = mapped_column(Text)  # menus taken, e.g. "lang>main:1>repair:1"
    keypad: Mapped[dict[str, Any] | None]
    recording: Mapped[str | None] = mapped_column(String(255))
    agent: Mapped[str | None] = mapped_column(String(80))
    queue: Mapped[str | None] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    next_step: Mapped[str | None] = mapped_column(String(80))
    next_step_at: Mapped[datetime | None]  # when the next step is due (a retry's time)
    # The `hotline serve` instance that wrote the record (None: classic AGI, or older versions):
    # another instance settles it only once that one is dead (core/instances.py).
    instance_id: Mapped[str | None] = mapped_column(String(36))


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # followup, arrears, notice, visitor, appointment
    mode: Mapped[str] = mapped_column(String(12))  # preview, progressive, predictive, agentless
    state: Mapped[str] = mapped_column(String(10), default="new")
    name: Mapped[str | None] = mapped_column(String(100))
    params: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Residents left out at the last lead generation: do-not-call or no valid number.
    skipped: Mapped[int] = mapped_column(Integer, default=0)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_ready", "campaign_id", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    number: Mapped[str | None] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10), default="ready")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_day: Mapped[date | None] = mapped_column(Date)
    attempts_today: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_disposition: Mapped[str | None] = mapped_column(String(20))
    claimed_by: Mapped[str | None] = mapped_column(String(60))
    # The id the dialer originates the current attempt under, so a restarted dialer can tell
    # which claimed leads are still on the PBX.
    call_id: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id"))
    arrears_id: Mapped[int | None] = mapped_column(ForeignKey("arrears_accounts.id"))
    payload: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]  # what the resident answered in the call flow
    # A person calls this lead (preview): the dialer never places it by itself.
    preview: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    flag: Mapped[str | None] = mapped_column(String(20))  # needs a person, e.g. "disputed"
    resident: Mapped[Resident | None] = relationship()


class DialRequest(Base):
    """An agent asked the service to place a preview lead's call (agent first, then resident)."""

    __tablename__ = "dial_requests"
    __table_args__ = (Index("ix_dial_requests_state", "state"),)  # the pending ones, oldest first

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    agent: Mapped[str] = mapped_column(String(40))  # the agent's extension, for the channel
    # pending -> placing -> done | agent_missed | refused | lost
    state: Mapped[str] = mapped_column(String(12), default="pending")
    requested_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(60))  # the dialer placing it
    call_id: Mapped[str | None] = mapped_column(String(64))  # the lead's attempt it became
    ended_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(String(80))  # disposition, or why it ended


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_state", "state"),)  # the conversion backlog

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("call_records.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # call, description, comment
    path: Mapped[str] = mapped_column(String(255), unique=True)
    format: Mapped[str] = mapped_column(String(8))
    duration: Mapped[float | None]
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # pending -> converting -> archived | failed
    state: Mapped[str] = mapped_column(String(10), default="pending")
    # When a worker took it: a `converting` row whose claim is old was left by a killed process.
    claimed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Conversions tried: a failed one is tried again later, up to recordings.worker.MAX_ATTEMPTS.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    retain_until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]


class RecordingAudit(Base):
    """Every listen to a restricted recording, every export and every purge: who, when, what,
    why. Append-only: the database refuses UPDATE and DELETE (triggers, migration 0006); the
    recording id is kept without a foreign key, so a purged recording's rows stay."""

    __tablename__ = "recording_audit"
    __table_args__ = (Index("ix_recording_audit_recording", "recording_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(12))  # listen, list, export, purge
    by: Mapped[str] = mapped_column(String(80))  # a named person (or the service)
    reason: Mapped[str] = mapped_column(Text)
    recording_id: Mapped[int | None]
    path: Mapped[str | None] = mapped_column(String(255))
    restricted: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(10))  # done, failed
    detail: Mapped[str | None] = mapped_column(Text)  # where an export went, why it failed


class User(Base):
    """A person who signs in to the API or the console (issue 13)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(12))  # agent, supervisor, admin
    extension: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5), default="zh", server_default="zh")
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token, of a user (their role) or of an integration (its own role); only the
    token's SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str | None] = mapped_column(String(12))  # an integration's; None: the user's
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User | None] = relationship()


class WebSession(Base):
    """A browser session: the cookie's SHA-256, its CSRF token and when it ends."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    user: Mapped[User] = relationship()


class WebhookSubscription(Base):
    """An integration's URL and the event types it wants, signed with its shared secret (kept
    in the clear: it signs every delivery, as the receiver's copy checks it)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class WebhookEvent(Base):
    """The outbox: an event, written in the transaction of the change that caused it. Its uuid
    is the receivers' idempotency key; `fanned_out` once a delivery was made per subscriber."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_fanned_out", "fanned_out", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]  # when written: subscriptions added later do not get it
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class WebhookDelivery(Base):
    """One event to one subscriber: pending (due at next_try_at), delivered or failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_try_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_outbox.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    # When it is due; while a sender holds it, the end of the sender's lease (a killed sender's
    # delivery is due again then).
    next_try_at: Mapped[datetime]
    give_up_at: Mapped[datetime]  # still failing then: failed (webhooks.max_age_hours)
    last_try_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    subscription: Mapped[WebhookSubscription] = relationship()
    event: Mapped[WebhookEvent] = relationship()


class SupervisionAudit(Base):
    """Every listen, whisper or barge a supervisor started on an agent's call. Append-only: the
    database refuses UPDATE and DELETE (triggers, migration 0013)."""

    __tablename__ = "supervision_audit"
    __table_args__ = (Index("ix_supervision_audit_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    supervisor: Mapped[str] = mapped_column(String(80))  # the user's name
    supervisor_extension: Mapped[str] = mapped_column(String(20))  # the phone that was rung
    agent: Mapped[str] = mapped_column(String(20))  # the agent's extension
    mode: Mapped[str] = mapped_column(String(8))  # listen, whisper, barge


class LiveEventPayload(Base):
    """A live event too large for a PostgreSQL NOTIFY (8000 bytes): the NOTIFY names this row,
    the other instances read it (core/live_notify.py); rows older than minutes are swept."""

    __tablename__ = "live_event_payloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)


class Instance(Base):
    """A `hotline serve` process sharing the database, by its id (kept in its spool folder, the
    same across restarts) and the heartbeat its catch-up loop refreshes."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
