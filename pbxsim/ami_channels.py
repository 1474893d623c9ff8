"""Simulated Asterisk channels: their state and the snapshot every channel event carries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hotline.dialer.ami_protocol import Header

UNKNOWN = "<unknown>"
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}
CALLING_PRES = "0 (Presentation Allowed, Not Screened)"


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    state: int = 0
    priority: int = 1
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    application: str = ""
    app_data: str = ""
    created: float = 0.0
    answered: float | None = None
    bridge: str = ""  # the bridge's id while bridged (CoreShowChannels' BridgeId)
    variables: dict[str, str] = field(default_factory=dict)

    def block(self, prefix: str = "", *, name_key: str = "Channel") -> list[Header]:
        """The channel snapshot every channel event carries (``Dest``/``LocalOne``...)."""
        return [
            (prefix + name_key, self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", STATE_DESC[self.state]),
            (prefix + "CallerIDNum", self.cid_num),
            (prefix + "CallerIDName", self.cid_name),
            (prefix + "ConnectedLineNum", self.connected_num),
            (prefix + "ConnectedLineName", self.connected_name),
            (prefix + "Language", "en"),
            (prefix + "AccountCode", ""),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]


def parse_caller_id(text: str | None) -> tuple[str, str]:
    """``"Name" <num>`` -> (num, name); missing parts are ``<unknown>``."""
    if not text:
        return UNKNOWN, UNKNOWN
    m = re.fullmatch(r'\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*', text)
    if m:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        return m.group(3) or UNKNOWN, name or UNKNOWN
    return text.strip(), UNKNOWN
