"""Who the simulated PBX reaches: what a dialled resident does with an Originate.

A :class:`ResidentModel` turns a dialled ``Local/number@context`` into a
:class:`ResidentPlan` (answer, ring out, busy ...); the simulator plays the plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResidentPlan:
    """What the called resident does.

    ``outcome``: ``answer``, ``noanswer`` (rings until the Originate timeout), ``busy``,
    ``congestion``,
    ``reject`` (hangs up unanswered, cause 21), ``unallocated`` (cause 1) or ``queue``
    (answers and waits in ``queue`` for an agent, like ``[queue-test]``).
    An answering resident rings ``ring_s``, then presses ``digits`` after ``think_s``
    and hangs up ``talk_s`` later - the shape of ``[resident-sim]`` in the golden dialplan.
    """

    outcome: str
    ring_s: float = 0.0
    think_s: float = 1.0
    digits: str = "1"
    talk_s: float = 2.0
    queue: str = ""  # outcome ``queue``: answer and wait in this queue for an agent
    queue_timeout_s: float = 30.0


class ResidentModel:
    """Decides per dialled ``Local/number@context`` what happens; ``None`` means the
    extension does not exist (the Originate fails with Reason 0)."""

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        raise NotImplementedError


class ScriptedResidents(ResidentModel):
    """The contexts of the golden dialplan (``resident-sim``, ``sim-noanswer`` ...)."""

    CONTEXTS = {  # noqa: RUF012 - read-only table
        "resident-sim": ResidentPlan("answer"),
        "sim-noanswer": ResidentPlan("noanswer"),
        "sim-busy": ResidentPlan("busy"),
        "sim-reject": ResidentPlan("reject"),
        "sim-unallocated": ResidentPlan("unallocated"),
        "queue-test": ResidentPlan("queue", queue="support"),
    }

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        if not number.isdigit():
            return None
        return self.CONTEXTS.get(context)


@dataclass
class RandomResidents(ResidentModel):
    """Residents drawn at random per call (for demos and benches); ``context`` restricts
    which dialled context is ours, other contexts fall back to :class:`ScriptedResidents`."""

    context: str = "residents"
    answer_p: float = 0.6
    busy_p: float = 0.1
    reject_p: float = 0.05
    unallocated_p: float = 0.05
    ring_s: tuple[float, float] = (1.0, 12.0)
    talk_s: tuple[float, float] = (3.0, 30.0)
    digits: str = "123"
    rng: random.Random = field(default_factory=random.Random)

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        if context != self.context:
            return ScriptedResidents().plan(number, context)
        if not number.isdigit():
            return None
        draw = self.rng.random()
        for candidate, p in (
            ("answer", self.answer_p),
            ("busy", self.busy_p),
            ("reject", self.reject_p),
            ("unallocated", self.unallocated_p),
        ):
            if draw < p:
                outcome = candidate
                break
            draw -= p
        else:
            outcome = "noanswer"
        return ResidentPlan(
            outcome,
            ring_s=self.rng.uniform(*self.ring_s),
            think_s=1.0,
            digits=self.rng.choice(self.digits),
            talk_s=self.rng.uniform(*self.talk_s),
        )


@dataclass(frozen=True)
class AgentPlan:
    """What an agent's phone does with a preview call's Originate (``[dialer-preview]``):
    answers after ``ring_s`` (else rings until the Originate times out), and may hang up
    ``cancel_after_s`` after the resident's phone starts ringing (Dial() ends ``CANCEL``)."""

    answer: bool = True
    ring_s: float = 1.0
    cancel_after_s: float | None = None
