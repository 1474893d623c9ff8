"""What the console asks of the API beyond the office's records: the screen pop, the agent's
wrap-up corrections and own figures, pause and supervision (sent to the PBX over AMI), and the
rules' clocks for the wallboard."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from hotline import serialise
from hotline.core import leads, tickets
from hotline.core.agent_figures import agent_today
from hotline.core.models import Recording, Ticket
from hotline.core.rule_clocks import BoardClock, Clock, wallboard_clocks
from hotline.core.screen_pop import OpenTicket, ScreenPop, is_restricted, screen_pop
from hotline.core.supervision import record_supervision
from hotline.core.users import UserRole
from hotline.core.vocabulary import Severity
from hotline.dialer.agent_actions import AgentActions, SpyMode
from hotline.recordings.resolve import with_recordings

from .api_office import ID, ticket_changed
from .declare import API, Body, Param
from .errors import ApiError
from .schemas import ref
from .server import Call, PbxReply

AGENT, SUPERVISOR = UserRole.AGENT, UserRole.SUPERVISOR
EXTENSION = Param("agent", required=True, description="the agent's extension, e.g. 101")
REASON_WIDTH = 40  # a pause reason as the queue log and QueueStatus carry it


def _clock(c: Clock, tz: tzinfo) -> dict[str, Any]:
    return {"what": c.what, "due_at": serialise.iso(c.due_at, tz), "state": c.state}


def _ticket(call: Call, t: Ticket, own: bool) -> dict[str, Any]:
    """A ticket as an agent may see it: another call's complaint shows its clocks and state, not
    its words or who made it (service rules §3)."""
    data = serialise.ticket(t, call.tz)
    data["restricted"] = is_restricted(t)
    if data["restricted"] and not own and not call.who.may(SUPERVISOR):
        data.update(text=None, caller=None, recording=None)
    return data


def _open(call: Call, o: OpenTicket, own_id: int | None) -> dict[str, Any]:
    data = _ticket(call, o.ticket, o.ticket.id == own_id)
    data["clocks"] = [_clock(c, call.tz) for c in o.clocks]
    return data


def _recording(call: Call, r: Recording) -> dict[str, Any]:
    """Where the player gets it: an agent is given no address for a restricted one."""
    playable = not r.restricted or call.who.may(SUPERVISOR)
    return {
        "id": r.id,
        "kind": r.kind,
        "restricted": r.restricted,
        "duration": r.duration,
        "audio": f"/api/v1/recordings/{r.id}/audio" if playable else None,
    }


def _description_pending(pop: ScreenPop, ticket: dict[str, Any] | None) -> bool:
    """The menu's voice description is on disk (its path resolved) but not indexed yet: the
    screen says it is being processed until `recording.indexed` brings its player."""
    if pop.ticket is None or ticket is None or ticket["recording"] is None:
        return False
    own = pop.ticket.id
    return not any(r.kind == "description" and r.ticket_id == own for r in pop.recordings)


def pop_view(call: Call, pop: ScreenPop) -> dict[str, Any]:
    tz, record = call.tz, pop.call
    own = pop.ticket.id if pop.ticket else None
    ticket = None
    if pop.ticket is not None:
        ticket = with_recordings(call.session, [_ticket(call, pop.ticket, True)])[0]
    lead = pop.lead
    return {
        "call_id": pop.call_id,
        "direction": pop.direction,
        "caller": pop.caller,
        "call": None if record is None else serialise.call(record, tz) | {"path": record.path},
        "resident": serialise.resident(pop.resident) if pop.resident else None,
        "residents": [serialise.resident(r) for r in pop.residents],
        "several_units": pop.several_units,
        "unit": pop.unit.code if pop.unit else None,
        "ticket": ticket,
        "recordings": [_recording(call, r) for r in pop.recordings],
        "recording_pending": _description_pending(pop, ticket),
        "open_tickets": [_open(call, o, own) for o in pop.open_tickets],
        "arrears": None
        if pop.arrears is None
        else {
            "amount": str(pop.arrears.amount),
            "months": pop.arrears.months,
            "stage": pop.arrears.stage,
            "paid_amount": str(pop.arrears.paid_amount),
            "cashier_check": pop.arrears.cashier_check,
            "last_reminder_at": serialise.iso(pop.arrears.last_reminder_at, tz),
        },
        "followups": [
            {"id": f.id, "ticket_id": f.ticket_id, "kind": f.kind}
            | serialise.followup_answers(f, tz)
            for f in pop.followups
        ],
        "lead": None
        if lead is None
        else {
            "id": lead.id,
            "state": lead.state,
            "attempts": lead.attempts,
            "number": lead.number,
            "preview": lead.preview,
            "flag": lead.flag,
            "reason": lead.payload or {},
            "ticket_id": lead.ticket_id,
            "arrears_id": lead.arrears_id,
            "followup_id": lead.followup_id,
        },
        "campaign": serialise.campaign(pop.campaign, tz) if pop.campaign else None,
    }


@API.route(
    "GET",
    "/screen-pop/{call_id}",
    "Everything an agent's screen shows for a call (来电弹屏)",
    role=AGENT,
    path_params=(
        Param(
            "call_id",
            required=True,
            description="an inbound call's uniqueid, or a dialer call's lead-<lead>-<attempt>",
        ),
    ),
    response=ref("ScreenPop"),
    tag="console",
)
def get_screen_pop(call: Call) -> dict[str, Any]:
    pop = screen_pop(call.session, call.app.rules, call.params["call_id"], call.now)
    return pop_view(call, pop)


@API.route(
    "PATCH",
    "/tickets/{id}",
    "Complete or correct a ticket (the wrap-up form); kept in its history as a note",
    role=AGENT,
    path_params=(ID,),
    body=Body(
        (
            Param("category"),
            Param("severity", enum=tuple(Severity)),
            Param("text"),
            Param("about_staff", "boolean", description="a complaint about staff (restricted)"),
            Param("unit"),
        )
    ),
    response=ref("TicketWithEvents"),
    tag="tickets",
    event=ticket_changed,
)
def correct_ticket(call: Call) -> dict[str, Any]:
    b = call.body
    change = tickets.Correction(
        b["category"], b["severity"], b["text"], b["about_staff"], b["unit"]
    )
    ticket = tickets.correct_ticket(
        call.session, call.app.rules, call.params["id"], change, call.now, call.who.name
    )
    return with_recordings(call.session, [serialise.ticket(ticket, call.tz, True)])[0]


@API.route(
    "POST",
    "/leads/{id}/callback",
    "The resident asked to be called back: the lead is dialled again at that time",
    role=AGENT,
    path_params=(ID,),
    body=Body((Param("at", "date-time", required=True),)),
    response=ref("Callback"),
    tag="campaigns",
)
def call_back(call: Call) -> dict[str, Any]:
    lead = leads.schedule_callback(
        call.session, call.params["id"], call.body["at"], call.now, call.who.name
    )
    at = serialise.iso(lead.next_attempt_at, call.tz)
    return {"lead": lead.id, "state": lead.state, "at": at}


def _own_or_supervisor(call: Call, agent: str) -> None:
    if agent != call.who.extension and not call.who.may(SUPERVISOR):
        raise ApiError("forbidden", f"only a supervisor may act for agent {agent}")


@API.route(
    "POST",
    "/agents/{agent}/pause",
    "Pause or unpause an agent in every queue (QueuePause over AMI)",
    role=AGENT,
    path_params=(EXTENSION,),
    body=Body(
        (
            Param("paused", "boolean", required=True),
            Param("reason", description=f"shown in the queue (at most {REASON_WIDTH})"),
        )
    ),
    response=ref("Paused"),
    tag="console",
)
def pause_agent(call: Call) -> PbxReply:
    agent, paused, reason = call.params["agent"], call.body["paused"], call.body["reason"]
    _own_or_supervisor(call, agent)
    if reason is not None and (len(reason) > REASON_WIDTH or not reason.isprintable()):
        raise ApiError.bad_request(f"reason: at most {REASON_WIDTH} printable characters")
    call.require_pbx()

    def act(actions: AgentActions) -> Any:
        return actions.pause(agent, paused, reason)

    return PbxReply({"agent": agent, "paused": paused, "reason": reason}, act)


@API.route(
    "POST",
    "/supervision",
    "Listen to, whisper to or barge into an agent's call: rings your phone (audited)",
    role=SUPERVISOR,
    body=Body(
        (
            Param("agent", required=True, description="the agent's extension"),
            Param("mode", required=True, enum=tuple(SpyMode)),
        )
    ),
    response=ref("Supervision"),
    status=202,
    tag="console",
)
def supervise(call: Call) -> PbxReply:
    agent, mode = call.body["agent"], SpyMode(call.body["mode"])
    phone = call.extension()
    if agent == phone:
        raise ApiError("rejected", "a supervisor cannot supervise their own phone")
    call.require_pbx()
    audit = record_supervision(call.session, call.who.name, phone, agent, mode.value, call.now)

    def act(actions: AgentActions) -> Any:
        return actions.supervise(phone, agent, mode)

    view = {"id": audit.id, "agent": agent, "mode": mode.value, "ringing": phone}
    return PbxReply(view | {"at": serialise.iso(audit.at, call.tz)}, act)


@API.route(
    "GET",
    "/agents/{agent}/today",
    "An agent's own figures today: calls taken, tickets worked",
    role=AGENT,
    path_params=(EXTENSION,),
    response=ref("AgentToday"),
    tag="console",
)
def agent_figures(call: Call) -> dict[str, Any]:
    agent = call.params["agent"]
    _own_or_supervisor(call, agent)
    template = call.app.settings.dialer.agent_channel_template
    names = {agent, template.format(agent=agent)}
    today = agent_today(call.session, call.app.rules, call.who.name, names, call.now)
    return {
        "agent": agent,
        "since": serialise.iso(today.since, call.tz),
        "calls": today.calls,
        "tickets": today.tickets,
    }


def _board_row(call: Call, b: BoardClock) -> dict[str, Any]:
    t = b.ticket
    return {
        "ticket_id": t.id,
        "kind": t.kind,
        "category": t.category,
        "severity": t.severity,
        "state": t.state,
        "unit": t.unit.code if t.unit else None,
        "followup_id": b.followup_id,
        "clock": _clock(b.clock, call.tz),
    }


@API.route(
    "GET",
    "/wallboard/clocks",
    "The rules' clocks: complaints near or past 1 h, repairs not dispatched, follow-ups due",
    role=AGENT,
    response=ref("Clocks"),
    tag="console",
)
def clocks(call: Call) -> dict[str, Any]:
    board = wallboard_clocks(call.session, call.app.rules, call.now)
    return {
        "complaints": [_board_row(call, b) for b in board.complaints],
        "repairs": [_board_row(call, b) for b in board.repairs],
        "followups": [_board_row(call, b) for b in board.followups],
    }
