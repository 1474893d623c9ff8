"""The words of the trade: ticket kinds, categories, severities, channels, roles, stages."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TypeVar


class DomainError(ValueError):
    """A user-facing mistake (bad unit, illegal transition, unknown id): one line, no traceback."""


class NotFound(DomainError):
    """An id or name that names nothing (the API answers 404)."""


# An agent is named by its extension everywhere (users, call requests, the live views), and the
# extension goes into channel names (dialer.agent_channel_template): letters and digits only, so
# nothing can end, widen or split one (`-` is Asterisk's sequence separator, `&` Dial()'s list).
_EXTENSION = re.compile(r"[0-9A-Za-z]{1,20}")


def checked_extension(extension: str) -> str:
    if not _EXTENSION.fullmatch(extension):
        raise DomainError(f"bad extension {extension!r}: letters and digits, at most 20")
    return extension


class Kind(StrEnum):
    REPAIR = "repair"
    COMPLAINT = "complaint"
    ENQUIRY = "enquiry"


CATEGORIES: dict[Kind, tuple[str, ...]] = {
    Kind.REPAIR: ("leak", "safety", "electrical", "plumbing", "door_lock", "public_area", "other"),
    Kind.COMPLAINT: ("service", "noise", "neighbour", "municipal", "fees", "other"),
    # §4 names emergency help (急救) and "other services" among the matters followed up.
    Kind.ENQUIRY: ("emergency_help", "information", "other"),
}

# Repairs that go to the on-duty staff at any hour and are dispatched at once.
EMERGENCY_REPAIRS = frozenset({"leak", "safety", "electrical"})


class Severity(StrEnum):
    MINOR = "minor"
    GENERAL = "general"
    MAJOR = "major"


class Channel(StrEnum):
    PHONE = "phone"
    WALK_IN = "walk_in"
    WECHAT = "wechat"
    WEB = "web"


class Role(StrEnum):
    """Who makes a follow-up call (§4: major complaints by the manager)."""

    CS_STAFF = "cs_staff"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"


class UserRole(StrEnum):
    """Who signs in to the API and the console; each role may do what the one before it may."""

    AGENT = "agent"  # tickets, calls, follow-ups, arrears; unrestricted recordings
    SUPERVISOR = "supervisor"  # also campaigns and restricted recordings (audited)
    ADMIN = "admin"  # also users and tokens


class Language(StrEnum):
    """What the console speaks to a user (residents' prompts have their own `lang`)."""

    ZH = "zh"
    EN = "en"


class ReminderStage(StrEnum):
    NONE = "none"
    FIRST = "first"
    SECOND = "second"
    FINAL = "final"
    LETTER = "letter"
    LEGAL = "legal"


REMINDER_LADDER: tuple[ReminderStage, ...] = tuple(ReminderStage)


class CampaignKind(StrEnum):
    FOLLOWUP = "followup"
    ARREARS = "arrears"
    NOTICE = "notice"
    VISITOR = "visitor"
    APPOINTMENT = "appointment"


class DialMode(StrEnum):
    PREVIEW = "preview"  # the agent sees the lead and starts the call
    PROGRESSIVE = "progressive"  # one call per free agent
    PREDICTIVE = "predictive"
    AGENTLESS = "agentless"  # the call flow handles the call alone


class CampaignState(StrEnum):
    NEW = "new"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class LeadState(StrEnum):
    READY = "ready"
    WAITING = "waiting"  # a visitor call's later resident: called only if the one before is not
    CALLING = "calling"
    DONE = "done"
    STOPPED = "stopped"  # gave up: attempts spent, no valid number, or not needed any more


OPEN_LEAD_STATES = (LeadState.READY, LeadState.WAITING, LeadState.CALLING)


class Disposition(StrEnum):
    """How one outbound call attempt ended."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    CONGESTION = "congestion"
    UNALLOCATED = "unallocated"  # unallocated or invalid number
    FAILED = "failed"
    ABANDONED = "abandoned"  # answered, but no agent took the call in time
    INTERRUPTED = "interrupted"  # in the air when the service stopped; settled at the next start


class WebhookEventType(StrEnum):
    """What a webhook subscription may ask for (docs/api.md, Webhooks)."""

    TICKET_CREATED = "ticket.created"
    TICKET_STATE_CHANGED = "ticket.state_changed"
    CALL_ENDED = "call.ended"
    FOLLOWUP_RECORDED = "followup.recorded"
    FOLLOWUP_UNSATISFIED = "followup.unsatisfied"
    CAMPAIGN_ATTEMPT = "campaign.attempt"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at its next_try_at (or held by a sender until then)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: too old, or its URL no longer http(s)


E = TypeVar("E", bound=StrEnum)


def parse_choice(enum: type[E], value: str, what: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise DomainError(f"unknown {what} {value!r} (one of: {allowed})") from None


def check_category(kind: Kind, category: str) -> str:
    if category not in CATEGORIES[kind]:
        allowed = ", ".join(CATEGORIES[kind])
        raise DomainError(f"unknown {kind} category {category!r} (one of: {allowed})")
    return category
