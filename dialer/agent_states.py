"""The outbound queue's agents for live views: each state the pacers are told, told the bus too.

`QueueAgents` turns app_queue's events into agent states for a pacer; `TellingPacer` stands
between them, passing each state on and reporting it (the engine publishes the changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class AgentSink(Protocol):
    """What `QueueAgents` tells a pacer (the agent half of `pacing.Pacer`)."""

    def agent_free(self, agent_id: str, at: float) -> None: ...
    def agent_talking(self, agent_id: str, at: float) -> None: ...
    def agent_wrapup(self, agent_id: str, at: float, until: float | None = None) -> None: ...
    def agent_gone(self, agent_id: str, at: float) -> None: ...


class TellingPacer:
    def __init__(self, pacer: AgentSink, report: Callable[[str, str], None]) -> None:
        self.pacer, self.report = pacer, report  # report(agent, free|talking|wrapup|gone)

    def agent_free(self, agent_id: str, at: float) -> None:
        self.pacer.agent_free(agent_id, at)
        self.report(agent_id, "free")

    def agent_talking(self, agent_id: str, at: float) -> None:
        self.pacer.agent_talking(agent_id, at)
        self.report(agent_id, "talking")

    def agent_wrapup(self, agent_id: str, at: float, until: float | None = None) -> None:
        self.pacer.agent_wrapup(agent_id, at, until)
        self.report(agent_id, "wrapup")

    def agent_gone(self, agent_id: str, at: float) -> None:
        self.pacer.agent_gone(agent_id, at)
        self.report(agent_id, "gone")
