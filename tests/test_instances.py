"""Instances sharing a database: each settles its own previous run's calls at its start and a dead
instance's once its heartbeat has stopped, never a live neighbour's (core/instances.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.core.db import Database
from hotline.core.dialer_desk import DialerDesk
from hotline.core.instances import Heartbeat, instance_id
from hotline.core.intake import CallSummary, IntakeDesk
from hotline.core.leads import claim_leads
from hotline.core.models import CallRecord, Instance, Lead
from hotline.core.outcomes import open_attempts
from hotline.core.retry import RetryPolicy
from hotline.core.rules import Rules
from hotline.core.spool import Spool
from hotline.core.vocabulary import DomainError
from hotline.settings import SettingsError, load

from campaign_factories import MORNING, WINDOW, running_campaign, seed

INTERVAL = timedelta(seconds=5)
BEATS = 6  # dead after 30 s without a heartbeat


def heartbeat(id: str | None = None) -> Heartbeat:
    return Heartbeat(id or str(uuid.uuid4()), INTERVAL, BEATS)


def beat(db: Database, hb: Heartbeat, at: datetime) -> None:
    with db.transaction() as c:
        hb.beat(c, at)


def desk(db: Database, tmp_path: Path, hb: Heartbeat | None) -> IntakeDesk:
    name = hb.id if hb is not None else "classic"
    return IntakeDesk(db, Rules(), Spool(tmp_path / f"{name}.jsonl"), hb)


def arrive(d: IntakeDesk, key: str, at: datetime = MORNING) -> None:
    d.arrive(CallSummary(key=key, direction="in", arrived_at=at, caller="5551234"))


def endings(db: Database) -> dict[str | None, tuple[str | None, datetime | None]]:
    with db.session() as s:
        rows = s.execute(select(CallRecord.key, CallRecord.disposition, CallRecord.ended_at))
        return {key: (disposition, ended) for key, disposition, ended in rows}


def test_the_id_is_made_once_and_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "instance-id"
    first = instance_id(path)
    assert str(uuid.UUID(first)) == first
    assert instance_id(path) == first
    assert instance_id(tmp_path / "other" / "instance-id") != first
    path.write_text("not an id\n", encoding="ascii")
    with pytest.raises(DomainError, match="holds no instance id"):
        instance_id(path)


def test_a_heartbeat_registers_then_refreshes(db: Database) -> None:
    hb = heartbeat()
    beat(db, hb, MORNING)
    beat(db, hb, MORNING + INTERVAL)
    with db.session() as s:
        (row,) = s.scalars(select(Instance))
        assert (row.id, row.started_at, row.heartbeat_at) == (hb.id, MORNING, MORNING + INTERVAL)


def test_a_start_settles_its_previous_run_and_classic_calls_not_a_live_neighbours(
    db: Database, tmp_path: Path
) -> None:
    a, b = heartbeat(), heartbeat()
    beat(db, a, MORNING)
    beat(db, b, MORNING)
    arrive(desk(db, tmp_path, a), "a-live")  # instance A runs this call
    arrive(desk(db, tmp_path, b), "b-old")  # then instance B is killed under this one
    arrive(desk(db, tmp_path, None), "classic")  # a classic AGI process died under this one
    with db.session() as s:
        written = {k: i for k, i in s.execute(select(CallRecord.key, CallRecord.instance_id))}
    assert written == {"a-live": a.id, "b-old": b.id, "classic": None}

    # B starts again (the same id, from its spool folder) while A still runs.
    restart = MORNING + timedelta(seconds=10)
    b_again = heartbeat(b.id)
    beat(db, b_again, restart)
    assert desk(db, tmp_path, b_again).settle_interrupted(restart) == 2
    assert endings(db) == {
        "a-live": (None, None),
        "b-old": ("interrupted", restart),
        "classic": ("interrupted", restart),
    }


def test_a_dead_instances_calls_are_settled_once_its_heartbeat_is_old(
    db: Database, tmp_path: Path
) -> None:
    dead, survivor, neighbour = heartbeat(), heartbeat(), heartbeat()
    for hb in (dead, survivor, neighbour):
        beat(db, hb, MORNING)
    arrive(desk(db, tmp_path, dead), "dead-call")
    arrive(desk(db, tmp_path, neighbour), "neighbour-call")
    survivors_desk = desk(db, tmp_path, survivor)
    settled_at = []
    for tick in range(1, 10):  # `dead` never beats again; the others every interval
        at = MORNING + tick * INTERVAL
        beat(db, survivor, at)
        beat(db, neighbour, at)
        if survivors_desk.settle_dead_instances(at):
            settled_at.append(at)
    # Dead once its heartbeat is more than 30 s old: at the first tick after that.
    assert settled_at == [MORNING + timedelta(seconds=35)]
    assert endings(db) == {
        "dead-call": ("interrupted", MORNING + timedelta(seconds=35)),
        "neighbour-call": (None, None),
    }


def test_after_a_gap_in_its_own_heartbeat_an_instance_waits_before_judging(
    db: Database, tmp_path: Path
) -> None:
    """A database outage stops every heartbeat: when it is back, the others get the timeout to
    beat again before anyone calls them dead."""
    a, b = heartbeat(), heartbeat()
    for tick in range(7):  # both beat for 30 s: B may judge
        beat(db, a, MORNING + tick * INTERVAL)
        beat(db, b, MORNING + tick * INTERVAL)
    assert b.judging(MORNING + 6 * INTERVAL)
    arrive(desk(db, tmp_path, a), "a-call")
    b_desk = desk(db, tmp_path, b)
    back = MORNING + timedelta(minutes=5)  # the database was away; B beats first
    beat(db, b, back)
    assert not b.judging(back)
    assert b_desk.settle_dead_instances(back) == 0  # A's heartbeat is 4.5 minutes old
    for tick in range(1, 8):
        at = back + tick * INTERVAL
        beat(db, a, at - timedelta(seconds=2))
        beat(db, b, at)
        assert b_desk.settle_dead_instances(at) == 0
    assert b.judging(back + 7 * INTERVAL)
    assert endings(db) == {"a-call": (None, None)}


def test_a_dialer_leaves_a_live_neighbours_attempts_under_the_same_worker_name(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    units = {"units": ["3-1-202", "5-2-1101"], "buildings": [], "message": "water-off"}
    campaign_id, made = running_campaign(db, rules, "notice", units)
    assert made == 2
    a, b = heartbeat(), heartbeat()
    beat(db, a, MORNING)
    beat(db, b, MORNING)
    with db.session() as s:  # both dialers are "dialer-1" (the same host name)
        a_claim, b_claim = claim_leads(s, campaign_id, 2, MORNING, "dialer-1", WINDOW)
        open_attempts(s, [a_claim], MORNING, a.id)
        open_attempts(s, [b_claim], MORNING, b.id)

    # B was killed while its call rang; its dialer connects again, A's call still rings.
    restart = MORNING + timedelta(seconds=6)
    beat(db, a, restart)
    dialer = DialerDesk(db, rules, RetryPolicy(), WINDOW, "dialer-1", heartbeat(b.id))
    assert dialer.release(set(), restart) == []  # B's lead waits its retry interval
    with db.session() as s:
        states = {lead.call_id: lead.state for lead in s.scalars(select(Lead))}
    assert states == {a_claim.call_id: "calling", b_claim.call_id: "ready"}
    assert endings(db) == {
        a_claim.call_id: (None, None),
        b_claim.call_id: ("interrupted", restart),
    }


@pytest.mark.parametrize(
    "setting",
    [{"HOTLINE_INSTANCE_DEAD_AFTER_BEATS": "1"}, {"HOTLINE_INSTANCE_HEARTBEAT_SECONDS": "0"}],
)
def test_one_late_heartbeat_can_never_make_an_instance_dead(
    tmp_path: Path, setting: dict[str, str]
) -> None:
    with pytest.raises(SettingsError, match="dead_after_beats"):
        load(tmp_path, env=setting)
    with pytest.raises(ValueError):
        Heartbeat("x", INTERVAL, 1)
