"""Metrics: the monitoring files agree with what is exported, and the figures move with calls."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotline.app import App
from hotline.core.db import Database
from hotline.core.events import ReportFiled
from hotline.core.figures import db_figures
from hotline.core.models import ArrearsAccount, Campaign, FollowUp, Lead, Recording, Unit
from hotline.core.rules import Rules
from hotline.core.tickets import Intake, move_ticket, open_ticket
from hotline.dialer.ami_fields import FieldErrors
from hotline.metrics import Metrics, agi_command_name
from hotline.metrics_service import watch_ami
from hotline.pbxsim.fastagi import HangUp, Keys, PBXOptions, Silence, SimCaller, Speak

from factories import seed_residents
from flow_harness import OFFICE_HOURS, make_app, place_calls

MONITORING = Path(__file__).resolve().parents[1] / "monitoring"
DASHBOARD = MONITORING / "grafana-dashboard.json"
RULES = MONITORING / "prometheus-rules.yml"
METRIC_NAME = re.compile(r"\bhotline_[a-z0-9_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
REQUIRED_ALERTS = {
    "HotlineAnsweredAfterThirdRing",
    "HotlineAbandonRateHigh",
    "HotlineFollowupsOverdue",
    "HotlineComplaintNotEscalated",
    "HotlineAMIDisconnected",
    "HotlineRecordingConversionFailing",
}


# --- the monitoring files ---


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                yield node["expr"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    return list(walk(dashboard))


def rule_expressions(text: str) -> list[str]:
    """Every ``expr:`` of a rules file, inline or a block scalar (``|``, ``>``)."""
    lines = text.splitlines()
    exprs = []
    for i, line in enumerate(lines):
        match = re.match(r"(\s*)expr:\s*(.*)$", line)
        if not match:
            continue
        indent, value = len(match[1]), match[2].strip()
        if value[:1] not in ("|", ">"):
            exprs.append(value.strip("'\""))
            continue
        block = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following.strip())
        exprs.append(" ".join(b for b in block if b))
    return exprs


def exported_names(metrics: Metrics) -> tuple[set[str], set[str]]:
    """(names a query can use, histogram base names)."""
    names, histograms = set(), set()
    for family in metrics.registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        else:
            names.add(family.name)
        if family.type == "histogram":
            histograms.add(family.name)
    return names, histograms


def referenced(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in METRIC_NAME.findall(expr)}


def unexported(names: set[str], metrics: Metrics) -> set[str]:
    exported, histograms = exported_names(metrics)
    missing = set()
    for name in names:
        base = next((name.removesuffix(s) for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        if name not in exported and base not in histograms:
            missing.add(name)
    return missing


def test_every_metric_the_dashboard_and_the_alerts_use_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    rules_text = RULES.read_text(encoding="utf-8")
    rule_exprs = rule_expressions(rules_text)
    # The reader found every rule's expression (a rule is an `alert:` or a `record:`).
    assert len(rule_exprs) == len(re.findall(r"^\s*- (alert|record):", rules_text, re.M)) > 6
    assert set(re.findall(r"^\s*- alert:\s*(\w+)", rules_text, re.M)) >= REQUIRED_ALERTS

    metrics = Metrics()
    in_dashboard = referenced(dashboard_expressions(dashboard))
    in_rules = referenced(rule_exprs)
    assert len(in_dashboard) > 20 and len(in_rules) > 5
    assert unexported(in_dashboard, metrics) == set()
    assert unexported(in_rules, metrics) == set()
    # ... and the reverse: nothing exported that neither the wallboard nor an alert shows.
    exported, _ = exported_names(metrics)
    in_use = {
        next(
            (
                n.removesuffix(s)
                for s in HISTOGRAM_SUFFIXES
                if n.endswith(s) and n.removesuffix(s) in exported
            ),
            n,
        )
        for n in in_dashboard | in_rules
    }
    assert exported - in_use == set()


def test_the_check_catches_a_metric_that_is_not_exported() -> None:
    names = referenced(["rate(hotline_calls_totl[5m])", "hotline_answer_delay_seconds_bucket"])
    assert unexported(names, Metrics()) == {"hotline_calls_totl"}


def test_the_dashboard_is_an_importable_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] >= 39
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in panels)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus)")
def test_promtool_accepts_the_rules() -> None:
    run = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


# --- pure helpers ---


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("ANSWER", "ANSWER"),
        ('STREAM FILE hotline/welcome ""', "STREAM FILE"),
        ("SET VARIABLE FOO bar", "SET VARIABLE"),
        ("GET FULL VARIABLE ${CALLERID(num)}", "GET FULL VARIABLE"),
        ("WAIT FOR DIGIT 5000", "WAIT FOR DIGIT"),
        ("EXEC Playback beep", "EXEC"),
        ("garbage from a bug", "OTHER"),
    ],
)
def test_agi_command_names_are_the_verb_only(line: str, name: str) -> None:
    assert agi_command_name(line) == name


def test_ami_state_follows_the_client_logins() -> None:
    class Client:
        def __init__(self) -> None:
            self.connected: list[Any] = []
            self.disconnected: list[Any] = []
            self.field_errors = FieldErrors()

        def on_connected(self, callback: Any) -> None:
            self.connected.append(callback)

        def on_disconnected(self, callback: Any) -> None:
            self.disconnected.append(callback)

    metrics, client = Metrics(), Client()
    # a test double with the client's hooks the metrics use
    watch_ami(client, metrics)  # type: ignore[arg-type]
    value = metrics.registry.get_sample_value
    for event, connected, reconnects in [
        (client.connected, 1, 0),
        (client.disconnected, 0, 0),
        (client.connected, 1, 1),
    ]:
        for callback in event:
            callback(client)
        assert value("hotline_ami_connected") == connected
        assert value("hotline_ami_reconnects_total") == reconnects
    for _ in range(3):
        client.field_errors.report("Hangup.Cause", "notanumber")
    assert value("hotline_ami_field_errors_total", {"kind": "Hangup.Cause"}) == 3


def test_fastagi_limits_are_counted() -> None:
    metrics = Metrics(fastagi_max_connections=7)
    observer, value = metrics.observer, metrics.registry.get_sample_value
    observer.connections_open(5)
    observer.connection_refused()
    observer.connection_dropped("command_timeout")
    observer.connection_dropped("command_timeout")
    assert value("hotline_fastagi_connections") == 5
    assert value("hotline_fastagi_max_connections") == 7
    assert value("hotline_fastagi_connections_refused_total") == 1
    assert value("hotline_fastagi_connections_dropped_total", {"reason": "command_timeout"}) == 2
    assert value("hotline_fastagi_connections_dropped_total", {"reason": "usage_block"}) == 0


# --- calls through the simulator, scraped over HTTP ---


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: dict[Any, float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed_residents(db, tmp_path)
    return make_app(tmp_path / "home", db.url)


def test_scraped_figures_move_as_the_calls_did(app: App) -> None:
    # The PBX creates each channel at OFFICE_HOURS; the service answers `delay` seconds later.
    delay = [timedelta(seconds=7)]

    def clock() -> datetime:
        return OFFICE_HOURS + delay[0]

    pbx = PBXOptions(wall_clock=OFFICE_HOURS.timestamp)
    metrics = Metrics()
    repair = SimCaller("5551234", None, [Silence(), Silence(), Keys("1"), Keys("4"), Speak(4.0)])
    repair.inputs.append(Keys("1"))  # confirm the recording
    agent = SimCaller("5551234", None, [Silence(), Silence(), Keys("0")])
    hangs_up = SimCaller("5551234", None, [Silence(), Silence(), HangUp()])
    first = place_calls(app, [repair, agent, hangs_up], clock=clock, options=pbx, metrics=metrics)
    delay[0] = timedelta(seconds=16)  # the fourth ring: late
    late = SimCaller("5551234", None, [Silence(), Silence(), Keys("0")])
    second = place_calls(app, [late], clock=clock, options=pbx, metrics=metrics)

    before, after = samples(first.metrics_text or ""), samples(second.metrics_text or "")
    assert value(before, "hotline_calls_total", direction="in", disposition="completed") == 1
    assert value(before, "hotline_calls_total", direction="in", disposition="to_agent") == 1
    assert value(before, "hotline_calls_total", direction="in", disposition="caller_hangup") == 1
    assert value(after, "hotline_calls_total", direction="in", disposition="to_agent") == 2
    assert value(after, "hotline_active_calls", direction="in") == 0

    # The repair was filed three times as it grew (recorded, confirmed): one ticket.
    assert sum(1 for e in first.events if isinstance(e, ReportFiled)) > 1
    assert value(after, "hotline_tickets_total", kind="repair", category="plumbing") == 1
    # The hang-up before any choice leaves a call-back enquiry.
    assert value(after, "hotline_tickets_total", kind="enquiry", category="other") == 1

    # Answered at 7 s (second ring) three times, then at 16 s (fourth ring).
    assert value(before, "hotline_answer_delay_seconds_count") == 3
    assert value(after, "hotline_answer_delay_seconds_count") == 4
    assert value(after, "hotline_answer_delay_seconds_bucket", le="5.0") == 0
    assert value(after, "hotline_answer_delay_seconds_bucket", le="10.0") == 3
    assert value(after, "hotline_answer_delay_seconds_bucket", le="15.0") == 3
    assert value(after, "hotline_answer_delay_seconds_bucket", le="20.0") == 4
    assert value(after, "hotline_rings_before_answer_bucket", le="2.0") == 3
    assert value(after, "hotline_rings_before_answer_sum") == 2 * 3 + 4
    assert value(before, "hotline_calls_answered_late_total") == 0
    assert value(after, "hotline_calls_answered_late_total") == 1

    assert value(after, "hotline_menu_choices_total", menu="main-menu", choice="1") == 1
    assert value(after, "hotline_menu_choices_total", menu="main-menu", choice="0") == 2
    assert value(after, "hotline_menu_choices_total", menu="repair-category-menu", choice="4") == 1
    assert value(after, "hotline_menu_choices_total", menu="unit-confirm", choice="none") == 4

    # Every command the PBX received had its turnaround observed, labelled by its verb.
    sent = [
        line for out in (first, second) for i in range(len(out.results)) for line in out.commands(i)
    ]
    observed = {
        labels: n
        for (name, labels), n in after.items()
        if name == "hotline_agi_command_seconds_count"
    }
    assert sum(observed.values()) == len(sent)
    answers = sum(1 for line in sent if line == "ANSWER")
    assert answers == 4
    assert observed[frozenset({("command", "ANSWER")})] == answers
    assert observed[frozenset({("command", "RECORD FILE")})] == 1


# --- the database gauges ---


def test_the_db_figures_count_what_the_rules_say_is_owed(db: Database, tmp_path: Path) -> None:
    seed_residents(db, tmp_path)
    rules = Rules()
    now = OFFICE_HOURS  # 10:00 site time: the day ends in 14 hours
    with db.session() as s:
        units = {u.code: u.id for u in s.query(Unit)}

        def complaint(received: timedelta, escalate: bool = False) -> int:
            intake = Intake("complaint", "noise", now - received, unit="3-1-201")
            ticket = open_ticket(s, rules, intake)
            if escalate:
                move_ticket(
                    s, rules, ticket.id, "escalated", now - received + timedelta(minutes=20)
                )
            return ticket.id

        late = complaint(timedelta(hours=2))  # past the one hour, never escalated
        complaint(timedelta(minutes=30))  # still inside its hour
        complaint(timedelta(hours=3), escalate=True)
        for due, done in [
            (now - timedelta(hours=1), None),  # overdue
            (now - timedelta(days=2), None),  # overdue
            (now - timedelta(hours=5), now - timedelta(hours=6)),  # made: owed nothing
            (now + timedelta(hours=2), None),  # due later today
            (now + timedelta(days=1), None),  # due tomorrow: neither
        ]:
            s.add(
                FollowUp(
                    ticket_id=late,
                    due_at=due,
                    done_at=done,
                    assignee_role="cs_staff",
                    kind="complaint",
                )
            )
        for code, stage, paid in [
            ("3-1-201", "first", False),
            ("3-1-202", "first", False),
            ("5-2-1101", "second", True),  # paid: not in arrears any more
            ("7-1-101", "none", False),
        ]:
            s.add(
                ArrearsAccount(
                    unit_id=units[code],
                    amount=Decimal("300.00"),
                    months=2,
                    collection_month=date(2026, 10, 1),
                    stage=stage,
                    paid_at=now if paid else None,
                    imported_at=now,
                )
            )
        for i, state in enumerate(["pending", "converting", "archived", "failed", "pending"]):
            s.add(
                Recording(
                    kind="call",
                    path=f"/rec/{i}.wav",
                    format="wav",
                    state=state,
                    retain_until=date(2028, 11, 23),
                    created_at=now,
                )
            )

        campaign = Campaign(kind="arrears", mode="predictive", state="running", created_at=now)
        s.add(campaign)
        s.flush()
        for state, due in [("ready", now), ("ready", now + timedelta(hours=2)), ("done", now)]:
            s.add(Lead(campaign_id=campaign.id, state=state, next_attempt_at=due, number="1"))

    metrics = Metrics()
    with db.session() as s:
        metrics.show_db_figures(db_figures(s, rules, now))
    value = metrics.registry.get_sample_value
    # one lead due now; the retry two hours away and the finished one are not waiting
    assert value("hotline_dialer_leads_waiting", {"campaign_kind": "arrears"}) == 1
    assert value("hotline_dialer_leads_waiting", {"campaign_kind": "notice"}) == 0
    assert value("hotline_complaints_unescalated_overdue") == 1
    assert value("hotline_followups_overdue") == 2
    assert value("hotline_followups_due") == 1
    assert value("hotline_arrears_accounts", {"stage": "first"}) == 2
    assert value("hotline_arrears_accounts", {"stage": "none"}) == 1
    assert value("hotline_arrears_accounts", {"stage": "second"}) == 0
    assert value("hotline_arrears_accounts", {"stage": "legal"}) == 0
    assert value("hotline_recordings_backlog") == 3

    # An hour later the second complaint's hour has passed too; the escalated one never counts.
    with db.session() as s:
        metrics.show_db_figures(db_figures(s, rules, now + timedelta(hours=1)))
    assert value("hotline_complaints_unescalated_overdue") == 2
    assert value("hotline_followups_overdue") == 2 and value("hotline_followups_due") == 1


def test_agents_ring_outs_are_exported_per_agent() -> None:
    metrics = Metrics()
    metrics.agent_ring_outs({"PJSIP/agent101": 2, "PJSIP/agent102": 1})
    value = metrics.registry.get_sample_value
    assert value("hotline_dialer_agent_ring_outs", {"agent": "PJSIP/agent101"}) == 2
    assert value("hotline_dialer_agent_ring_outs", {"agent": "PJSIP/agent102"}) == 1
