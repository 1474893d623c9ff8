"""The flows' writes in batches: one transaction and one commit for a batch, and each write's
outcome what it would have been alone (Database.together, hotline/write_batches.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError
from twisted.internet.defer import Deferred

from hotline.core.db import Database, Outcome
from hotline.core.intake import CallSummary, IntakeDesk, PhoneReport
from hotline.core.models import CallRecord, Ticket
from hotline.core.rules import Rules
from hotline.core.spool import Spool
from hotline.core.vocabulary import DomainError
from hotline.write_batches import Calls, Together, WriteBatches

from factories import seed_residents

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def arrival(key: str) -> CallSummary:
    return CallSummary(key=key, direction="in", arrived_at=NOW, caller="13800138000")


def report(key: str, category: str = "leak") -> PhoneReport:
    return PhoneReport(key=key, kind="repair", category=category, received_at=NOW, unit="3-1-201")


def count(db: Database, model: type[Any]) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def desk(db: Database, tmp_path: Path) -> IntakeDesk:
    seed_residents(db, tmp_path)
    return IntakeDesk(db, Rules(), Spool(tmp_path / "spool.jsonl"))


def commits_of(db: Database) -> list[int]:
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    return commits


def test_a_batch_of_writes_commits_once(db: Database, desk: IntakeDesk) -> None:
    commits = commits_of(db)
    calls: list[Callable[[], object]] = [
        partial(desk.arrive, arrival(f"in:1.{n}")) for n in range(5)
    ]
    calls.append(partial(desk.file_report, report("in:1.0"), first=True))
    outcomes = db.together(calls)
    assert len(commits) == 1
    assert [ok for ok, _ in outcomes] == [True] * 6
    # Two flats, one phone: each arrival looked its caller up.
    assert [len(callers) for _ok, callers in outcomes[:5] if isinstance(callers, list)] == [2] * 5
    assert count(db, CallRecord) == 5 and count(db, Ticket) == 1


def test_a_failing_write_leaves_the_others_as_they_would_be_alone(
    db: Database, desk: IntakeDesk
) -> None:
    def broken() -> None:
        with db.transaction() as c:
            c.execute(insert(CallRecord), {"key": None})  # NOT NULL: refused

    commits = commits_of(db)
    calls: list[Callable[[], object]] = [
        partial(desk.arrive, arrival("in:2.1")),
        broken,
        partial(desk.file_report, report("in:2.1", category="no-such-category"), first=True),
        partial(desk.file_report, report("in:2.2"), first=True),
    ]
    outcomes = db.together(calls)
    assert outcomes[0][0] and outcomes[3][0]
    assert not outcomes[1][0] and isinstance(outcomes[1][1], IntegrityError)
    assert not outcomes[2][0] and isinstance(outcomes[2][1], DomainError)
    assert len(commits) == 2  # the two writes that stood, each alone
    # The batch was undone and each write ran alone: no write half-kept, none twice.
    assert count(db, CallRecord) == 1 and count(db, Ticket) == 1
    assert desk.spool.depth() == 0  # a failed batch spools nothing the writes alone did not


class ManualPool:
    """`run_blocking` whose batches run when the test says, in the test's thread."""

    def __init__(self) -> None:
        self.sent: list[tuple[Together, Calls, Deferred[list[Outcome]]]] = []

    def __call__(self, together: Together, calls: Calls) -> Deferred[list[Outcome]]:
        d: Deferred[list[Outcome]] = Deferred()
        self.sent.append((together, calls, d))
        return d

    def finish(self, n: int) -> None:
        together, calls, d = self.sent[n]
        d.callback(together(calls))


def run_each(calls: Calls) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for call in calls:
        try:
            outcomes.append((True, call()))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def test_writes_asked_for_while_a_batch_runs_go_together_in_the_next() -> None:
    pool = ManualPool()
    batches = WriteBatches(pool, run_each, batches=1)
    results: list[object] = []

    def refused() -> None:
        raise DomainError("refused")

    first = batches(lambda: "first")
    waiting: list[Deferred[Any]] = [batches(lambda: "second"), batches(refused)]
    waiting.append(batches(lambda: "third"))
    assert [len(calls) for _t, calls, _d in pool.sent] == [1]  # the rest wait for it
    first.addCallback(results.append)
    pool.finish(0)
    assert results == ["first"]
    assert [len(calls) for _t, calls, _d in pool.sent] == [1, 3]
    for d in waiting:
        d.addBoth(results.append)
    pool.finish(1)
    assert results[1] == "second" and results[3] == "third"
    assert "refused" in str(results[2])  # a Failure of its own write only


def test_a_write_asked_for_while_results_are_given_waits_for_the_others() -> None:
    """Flows resumed by one batch ask their next writes at once: those go in one batch."""
    pool = ManualPool()
    batches = WriteBatches(pool, run_each, batches=1)
    batches(lambda: 1)
    for d in (batches(lambda: 2), batches(lambda: 3)):
        d.addCallback(lambda _: batches(lambda: 4))
    pool.finish(0)  # 1 alone; 2 and 3 waited for it
    pool.finish(1)  # 2 and 3: both flows ask again while their results are given
    assert [len(calls) for _t, calls, _d in pool.sent] == [1, 2, 2]


def test_a_unit_not_on_file_is_noted_once_though_its_batch_ran_twice(
    db: Database, desk: IntakeDesk
) -> None:
    """A unit keyed in while the database was down may not be on file: the ticket keeps it in
    its text for staff; a batch undone by another write's failure runs the report again."""
    unknown = PhoneReport(
        key="in:3.1", kind="repair", category="leak", received_at=NOW, unit="9-9-999"
    )
    unknown.text = "water from the ceiling"
    refused = report("in:3.2", category="no-such-category")
    calls = [partial(desk.file_report, unknown, first=True), partial(desk.file_report, refused)]
    outcomes = db.together(calls)
    assert outcomes[0][0] and not outcomes[1][0]
    with db.session() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.unit_id is None
        assert ticket.text == "[unit 9-9-999 not on file] water from the ceiling"
        assert [e.note for e in ticket.events] == [ticket.text]
