"""kill -9 of `hotline serve` while its outbound calls ring, then a restart.

Issue 9, table row 2: the attempt had no call record, and the resident was dialled again seconds
later instead of after the retry rule's interval.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from hotline.core.models import Lead
from hotline.pbxsim.ami_residents import ResidentPlan
from hotline.settings import DialerSettings

from dialler import RESIDENTS, RING_SCALE, attempt_recorder, dialler_service
from pbx import Dialling, RecordingAMI
from reactor_run import run_on_reactor
from service_process import Records, ServiceFactory, free_port, sleep, until


@pytest.mark.slow
def test_kill9_while_outbound_calls_ring(
    services: ServiceFactory, db_url: str, backend: str
) -> None:
    rng = random.Random(f"outbound-{backend}")
    dialling = Dialling()

    async def body(reactor: Any) -> Records:
        ami_port = free_port()
        service = dialler_service(services, db_url, ami_port)
        records = Records(service.app)
        ami = RecordingAMI(
            reactor,
            dialling,
            attempt_recorder(service),
            ResidentPlan("noanswer"),
            time_scale=RING_SCALE,
        )
        ami.listen(reactor, ami_port)
        await service.start_ready(reactor)
        await until(
            reactor, lambda: len(dialling.originates) == RESIDENTS, "every resident dialled"
        )
        await sleep(reactor, rng.uniform(0.1, 3.0))  # the calls ring for 5 s
        service.kill9()
        dialled = {o.call_id for o in dialling.originates}
        await service.start_ready(reactor)

        def unsettled() -> list[str]:
            calls = records.calls()
            return [c for c in dialled if c not in calls or calls[c].disposition is None]

        await until(
            reactor,
            lambda: not unsettled(),
            "every attempt in the air at the crash settled after the restart",
            describe=unsettled,
        )
        # The dialler ticks every 0.05 s: long enough for it to dial anyone it thinks is due.
        await sleep(reactor, 3.0)
        return records

    records = run_on_reactor(body, timeout=90)
    assert [o.call_id for o in dialling.originates if not o.recorded_before] == []
    twice = {n: k for n, k in Counter(dialling.numbers()).items() if k > 1}
    assert twice == {}, f"dialled again before the retry interval: {twice}"
    calls = records.calls()
    for o in dialling.originates:
        record = calls[o.call_id]
        assert record.disposition is not None and record.ended_at is not None, record
    # and nobody is due again before the no-answer interval of the retry rules
    interval = DialerSettings().retry_no_answer_minutes * 60
    with records.app.db.session() as s:
        due = dict(s.execute(select(Lead.call_id, Lead.next_attempt_at)).all())
    for o in dialling.originates:
        when = due[o.call_id]
        assert when is not None, o
        assert when.timestamp() - o.at >= interval, (o, when)
    records.dispose()
