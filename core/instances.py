"""Which `hotline serve` instances sharing the database are alive, so that one settles only what
a dead one left (calls without an ending, attempts in the air), never a live neighbour's calls.

Each instance has an id, kept in its spool folder and so the same across restarts, and refreshes
a heartbeat from its catch-up loop. An instance whose heartbeat is older than `beats` intervals is
dead. An instance judges the others only once it has itself beaten without a gap for that long:
after a database outage everybody's heartbeat is old, and the others get the same time to beat
again before their calls are taken for a dead instance's. Times are each instance's clock: the
hosts keep time (NTP), far closer than the `beats` intervals.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, Select, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import CallRecord, Instance
from .vocabulary import DomainError


def instance_id(path: Path) -> str:
    """This instance's id, read from `path`, or made and written there on its first start."""
    try:
        found = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        found = ""
    if found:
        try:
            return str(uuid.UUID(found))
        except ValueError:  # edited by hand: stop here, not at a query in the middle of a call
            raise DomainError(
                f"{path} holds no instance id: remove it, a new one is made"
            ) from None
    made = str(uuid.uuid4())
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(made + "\n", encoding="ascii")
    os.replace(temporary, path)  # never half a file, even if the process dies here
    return made


class Heartbeat:
    """This instance's registration and heartbeat, and the liveness rule it judges others by."""

    def __init__(self, id: str, interval: timedelta, beats: int) -> None:
        if beats < 2:
            raise ValueError("an instance is dead after at least 2 missed heartbeats")
        self.id, self.interval = id, interval
        self.dead_after = interval * beats
        self._last: datetime | None = None
        self._since: datetime | None = None  # start of this instance's run of beats without a gap

    def beat(self, c: Connection, at: datetime) -> None:
        """Register this instance, or refresh its heartbeat."""
        insert = postgresql_insert if c.dialect.name == "postgresql" else sqlite_insert
        row = insert(Instance).values(id=self.id, started_at=at, heartbeat_at=at)
        c.execute(row.on_conflict_do_update(index_elements=["id"], set_={"heartbeat_at": at}))
        if self._last is None or at - self._last > 2 * self.interval:
            self._since = at
        self._last = at

    def judging(self, at: datetime) -> bool:
        """Whether this instance has beaten long enough without a gap to call another dead."""
        return self._since is not None and at - self._since >= self.dead_after

    def alive(self, at: datetime) -> Select[str]:
        return select(Instance.id).where(Instance.heartbeat_at >= at - self.dead_after)

    def dead(self, at: datetime) -> Select[str]:
        return select(Instance.id).where(
            Instance.heartbeat_at < at - self.dead_after, Instance.id != self.id
        )

    def left_by_a_stop(self) -> ColumnElement[bool]:
        """At a start: the records of this instance's previous run, and those of no instance
        (classic AGI, or a version before instances); a live neighbour's are not among them."""
        return or_(CallRecord.instance_id.is_(None), CallRecord.instance_id == self.id)

    def left_by_the_dead(self, at: datetime) -> ColumnElement[bool]:
        """The records of instances that stopped beating."""
        return CallRecord.instance_id.in_(self.dead(at).scalar_subquery())

    def held_elsewhere(self, c: Connection, at: datetime) -> set[str]:
        """The call ids of outbound attempts a live other instance has in the air."""
        rows = c.execute(
            select(CallRecord.key).where(
                CallRecord.ended_at.is_(None),
                CallRecord.direction == "out",
                CallRecord.instance_id != self.id,
                CallRecord.instance_id.in_(self.alive(at).scalar_subquery()),
            )
        )
        return {key for key in rows.scalars() if key is not None}


def in_flight_here(
    heartbeat: Heartbeat | None, c: Connection, at: datetime, in_flight: Collection[str]
) -> set[str]:
    """The calls a dialer must leave alone: its own in flight, and a live neighbour's."""
    held = heartbeat.held_elsewhere(c, at) if heartbeat is not None else set()
    return held | set(in_flight)
