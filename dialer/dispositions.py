"""How an outbound attempt ended, from what Asterisk said: OriginateResponse's Reason and the
Q.850 hangup causes of the call's channels.

Reasons are Asterisk's AST_CONTROL codes: 4 answered, 3 rang until the Originate timeout, 5 busy,
8 congestion, 1 hung up before answering, 0 failed before ringing (no such extension, unknown
technology, or the network refused the number).
"""

from __future__ import annotations

from collections.abc import Iterable

from hotline.core.vocabulary import Disposition

REASON_FAILED, REASON_HANGUP, REASON_NO_ANSWER, REASON_ANSWERED = 0, 1, 3, 4
REASON_BUSY, REASON_CONGESTION = 5, 8

# Q.850 causes that say more than the Reason does.
CAUSE_DISPOSITION = {
    1: Disposition.UNALLOCATED,  # unallocated (unassigned) number
    3: Disposition.UNALLOCATED,  # no route to destination
    22: Disposition.UNALLOCATED,  # number changed
    28: Disposition.UNALLOCATED,  # invalid number format
    17: Disposition.BUSY,
    18: Disposition.NO_ANSWER,  # no user responding
    19: Disposition.NO_ANSWER,  # no answer from user
    21: Disposition.REJECTED,
    34: Disposition.CONGESTION,  # no circuit available
    38: Disposition.CONGESTION,  # network out of order
    42: Disposition.CONGESTION,  # switching equipment congestion
}
REASON_DISPOSITION = {
    REASON_ANSWERED: Disposition.ANSWERED,
    REASON_NO_ANSWER: Disposition.NO_ANSWER,
    REASON_BUSY: Disposition.BUSY,
    REASON_CONGESTION: Disposition.CONGESTION,
}
UNINFORMATIVE = frozenset({0, 16})  # unknown, normal clearing


def telling_cause(causes: Iterable[int]) -> int | None:
    """The cause that explains the call: Asterisk reports 0 or 16 on the half that hung up
    locally and the network's cause on the other."""
    return next((c for c in causes if c not in UNINFORMATIVE), None)


def disposition(
    reason: int | None,
    causes: Iterable[int] = (),
    *,
    answered: bool = False,
    expected_agent: bool = False,
    connected: bool = False,
) -> Disposition:
    """`reason` None: the Originate was refused outright (`Response: Error`). A telling cause
    of the callee leg decides before the Reason (ami-09: cause 21 comes with Reason 0)."""
    if answered or reason == REASON_ANSWERED:
        return Disposition.ABANDONED if expected_agent and not connected else Disposition.ANSWERED
    cause = telling_cause(causes)
    if cause in CAUSE_DISPOSITION:
        return CAUSE_DISPOSITION[cause]
    if reason in REASON_DISPOSITION:
        return REASON_DISPOSITION[reason]
    return Disposition.REJECTED if reason == REASON_HANGUP else Disposition.FAILED
