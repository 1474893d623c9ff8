"""The dialler's side for the fault tests: a notice campaign to building 1 and the question the
simulated PBX asks on every Originate (is the attempt's record already written?)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hotline.core.campaigns import campaign_action, create_campaign
from hotline.core.models import CallRecord

from pbx import DIALER_ENV, estate_csv
from service_process import ServiceFactory, ServiceProcess

RESIDENTS = 6
RING_SCALE = 0.2  # the AMI's simulated seconds per real one: 25 s of ringing is 5 s


def start_notice_campaign(service: ServiceProcess) -> None:
    app = service.app
    with app.db.session() as s:
        campaign = create_campaign(
            s,
            "notice",
            "agentless",
            params={"buildings": [1], "message": "notices/x"},
            at=app.now(),
        )
        campaign_action(s, campaign.id, "start", app.now())
    app.db.dispose()


def attempt_recorder(service: ServiceProcess) -> Any:
    """Whether the attempt `call_id` has its record in the database now."""
    app = service.app

    def recorded(call_id: str) -> bool:
        with app.db.session() as s:
            return s.scalar(select(CallRecord.id).where(CallRecord.key == call_id)) is not None

    return recorded


def dialler_service(services: ServiceFactory, db_url: str, ami_port: int) -> ServiceProcess:
    service = services(db_url, **DIALER_ENV, HOTLINE_AMI_PORT=str(ami_port))
    service.init(estate_csv(RESIDENTS))
    start_notice_campaign(service)
    return service
