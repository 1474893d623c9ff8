"""How the resident's leg of an agent-first (preview) call ended: Dial()'s DialStatus and the
leg's Q.850 hangup cause, which says more when it is telling (unallocated, rejected)."""

from __future__ import annotations

from collections.abc import Iterable

from hotline.core.vocabulary import Disposition

from .dispositions import CAUSE_DISPOSITION, telling_cause

DIAL_STATUS_DISPOSITION = {
    "ANSWER": Disposition.ANSWERED,
    "NOANSWER": Disposition.NO_ANSWER,
    "BUSY": Disposition.BUSY,
    "CONGESTION": Disposition.CONGESTION,
    "CHANUNAVAIL": Disposition.FAILED,
    # The agent hung up while the resident's phone rang: the resident did not answer in time.
    "CANCEL": Disposition.NO_ANSWER,
}


def resident_disposition(dial_status: str | None, causes: Iterable[int] = ()) -> Disposition:
    """`dial_status` None: the agent answered but no DialEnd came (Dial() could not even
    start, or AMI was away), so only the causes can tell."""
    if dial_status == "ANSWER":
        return Disposition.ANSWERED
    cause = telling_cause(causes)
    if cause in CAUSE_DISPOSITION:
        return CAUSE_DISPOSITION[cause]
    return DIAL_STATUS_DISPOSITION.get(dial_status or "", Disposition.FAILED)
