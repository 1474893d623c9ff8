"""A real Asterisk for the differential suite: a config folder written from asterisk-conf/ plus
test-only contexts on Local channels, started on loopback ports, stopped at the end.

``HOTLINE_TEST_ASTERISK`` names the ``asterisk`` binary (its modules are looked up in
``<prefix>/lib/asterisk/modules``, or ``HOTLINE_TEST_ASTERISK_MODULES``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from asterisk_dialplan import CONF_DIR
from daemon import Daemon

AMI_USER, AMI_SECRET = "hotline", "differential-secret"
AGENT_TALK_S = 4.0  # [test-agents] 101-108 talk this long after answering
# Agents are Local channels into [test-agents]: 101-103 answer and talk, 109 never answers.
AGENT_MEMBER = re.compile(r"^member => PJSIP/agent(\d+),", re.MULTILINE)

TEST_CONTEXTS = f"""
; ---------------------------------------------------------------- test-only (differential suite)
; Residents the dialer calls (dialer.channel_template = Local/{{number}}@test-residents), by the
; prefix of their number (scenario.OUTCOME_PREFIXES): 1381 answer, 1382 busy, 1383 congestion,
; 1384 ring without
; answer, 1385 reject (cause 21), 1386 unallocated (cause 1); anything else does not exist.
[test-residents]
exten => _1381XXXXXXX,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
exten => _1382XXXXXXX,1,Busy(10)
exten => _1383XXXXXXX,1,Congestion(10)
exten => _1384XXXXXXX,1,Ringing()
 same => n,Wait(120)
 same => n,Hangup()
exten => _1385XXXXXXX,1,Hangup(21)
exten => _1386XXXXXXX,1,Hangup(1)

; Queue members: the agent's phone answers and talks for AGENT_TALK_S; 109 never answers.
; Supervisors' phones (20X) answer and stay on the line; 299 is no phone at all.
[test-agents]
exten => _10[1-8],1,Answer()
 same => n,Wait({AGENT_TALK_S:g})
 same => n,Hangup()
exten => 109,1,Ringing()
 same => n,Wait(120)
exten => _20X,1,Answer()
 same => n,Wait(600)

; The resident's side of an inbound call: it idles; the driver sends its keys (PlayDTMF on this
; half of the Local channel reaches the hotline half as keypad input), speaks and hangs up.
[test-caller]
exten => s,1,Wait(600)
exten => _speak.,1,Playback(test/${{EXTEN}})
 same => n,Wait(600)
"""


@dataclass(frozen=True)
class AsteriskPorts:
    ami: int
    fastagi: str  # host:port Asterisk's AGI() connects to


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def modules_dir(binary: Path) -> Path:
    given = os.environ.get("HOTLINE_TEST_ASTERISK_MODULES")
    return Path(given) if given else binary.resolve().parents[1] / "lib" / "asterisk" / "modules"


def documentation_dir(binary: Path) -> Path:
    """The XML documentation Asterisk's core needs to start (installed with it)."""
    prefix = binary.resolve().parents[1]
    for candidate in (prefix / "var/lib/asterisk", Path("/var/lib/asterisk")):
        if (candidate / "documentation").is_dir():
            return candidate / "documentation"
    raise RuntimeError(f"no Asterisk documentation folder beside {binary}")


def _conf(name: str) -> str:
    return (CONF_DIR / name).read_text(encoding="utf-8")


def write_config(folder: Path, binary: Path, ports: AsteriskPorts, sounds: Path) -> Path:
    """Write the config folder; returns the asterisk.conf to start with."""
    etc = folder / "etc"
    etc.mkdir(parents=True)
    dirs = {
        "astetcdir": etc,
        "astmoddir": modules_dir(binary),
        "astvarlibdir": folder / "lib",
        "astdbdir": folder / "lib",
        "astkeydir": folder / "lib",
        "astdatadir": folder / "data",
        "astagidir": folder / "agi-bin",
        "astspooldir": folder / "spool",
        "astrundir": folder / "run",
        "astlogdir": folder / "log",
        "astsbindir": binary.parent,
    }
    for path in dirs.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    (folder / "data" / "sounds").symlink_to(sounds)
    (folder / "data" / "documentation").symlink_to(documentation_dir(binary))
    lines = ["[directories]", *(f"{k} => {v}" for k, v in dirs.items())]
    lines += ["[options]", "verbose = 3", "documentation_language = en_US", "defaultlanguage = en"]
    (etc / "asterisk.conf").write_text("\n".join(lines) + "\n")
    # No SIP in the test: the agents and the trunk are Local channels.
    # No SIP in the test (a required module that is missing stops Asterisk): the agents and the
    # residents are Local channels.
    modules = re.sub(r"^require => (chan|res)_pjsip\.so.*$", "", _conf("modules.conf"), flags=re.M)
    (etc / "modules.conf").write_text(modules)
    (etc / "amd.conf").write_text(_conf("amd.conf"))
    dialplan = re.sub(
        r"^HOTLINE_FASTAGI = .*$",
        f"HOTLINE_FASTAGI = {ports.fastagi}",
        _conf("extensions.conf"),
        flags=re.M,
    )
    (etc / "extensions.conf").write_text(dialplan + TEST_CONTEXTS)
    queues = AGENT_MEMBER.sub(r"member => Local/\1@test-agents/n,", _conf("queues.conf"))
    (etc / "queues.conf").write_text(queues)
    manager = _conf("manager.conf").replace("port = 5038", f"port = {ports.ami}")
    manager = manager.replace("CHANGE_ME_AMI_SECRET", AMI_SECRET)
    (etc / "manager.conf").write_text(manager)
    (etc / "logger.conf").write_text("[logfiles]\nmessages.log => notice,warning,error,verbose\n")
    for name in ("musiconhold", "cdr", "cel", "features", "indications", "udptl"):
        (etc / f"{name}.conf").write_text("[general]\n")  # stock defaults
    (etc / "acl.conf").write_text("")
    return etc / "asterisk.conf"


class RealAsterisk(Daemon):
    """One Asterisk process for the suite, from a config folder of its own."""

    def __init__(self, binary: Path, folder: Path, sounds: Path) -> None:
        self.binary, self.folder = binary, folder
        self.ports = AsteriskPorts(free_port(), f"127.0.0.1:{free_port()}")
        self.conf = write_config(folder, binary, self.ports, sounds)
        super().__init__("asterisk", folder / "log" / "console.log")

    def start(self) -> None:
        argv = [str(self.binary), "-C", str(self.conf), "-f", "-n", "-g"]
        self.launch(argv, None, lambda: "Asterisk Ready" in self.log())

    def cli(self, command: str) -> str:
        done = subprocess.run(
            [str(self.binary), "-C", str(self.conf), "-rx", command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout

    def log(self) -> str:
        path = self.folder / "log" / "messages.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 15) -> None:
        if self.running:
            self.cli("core stop now")
        super().stop(timeout)


def find_binary() -> tuple[Path | None, str]:
    """(binary, why not): the Asterisk named by HOTLINE_TEST_ASTERISK, if usable."""
    given = os.environ.get("HOTLINE_TEST_ASTERISK", "")
    if not given:
        return None, "HOTLINE_TEST_ASTERISK is not set (path of an asterisk binary)"
    binary = Path(given) if "/" in given else Path(shutil.which(given) or given)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return None, f"HOTLINE_TEST_ASTERISK={given}: not an executable file"
    return binary, ""
