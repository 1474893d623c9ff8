"""Settings: `$HOTLINE_HOME/hotline.toml`, each `section.key` overridable by `HOTLINE_SECTION_KEY`.

The rule figures are the core policy sections themselves, so their defaults are the figures of the
service rules and live in one place (`hotline.core.policy`).
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any

import tomli_w

from hotline.core import dialplan
from hotline.core.calling_window import CallingWindow
from hotline.core.policy import (
    AnswerPolicy,
    ArrearsPolicy,
    ComplaintPolicy,
    FollowupPolicy,
    ServicePolicy,
    SitePolicy,
)
from hotline.core.retry import RetryPolicy
from hotline.core.webhook_retry import WebhookRetry
from hotline.recordings.settings import ConversionSettings


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class DbSettings:
    url: str = ""  # empty: SQLite at $HOTLINE_HOME/hotline.db


@dataclass(frozen=True)
class FastAGISettings:
    listen: str = "127.0.0.1:4573"
    environment_timeout: float = 10.0  # a client that connects and sends nothing is dropped
    # Seconds for a response to a command, on top of what the command itself waits for (GET DATA
    # and WAIT FOR DIGIT timeouts, RECORD FILE's maximum): covers the longest prompt played.
    command_timeout: float = 120.0
    # Connections open at once (calls, plus peers still sending the environment); more are
    # closed unserved and counted. Above the 1,000 calls in flight of bench/inbound_load.py.
    max_connections: int = 1500

    def factory_options(self) -> FastAGILimits:
        """The limits as ``FastAGIFactory`` keyword arguments."""
        return {
            "env_timeout": self.environment_timeout,
            "command_timeout": self.command_timeout,
            "max_connections": self.max_connections,
        }


class FastAGILimits(typing.TypedDict):
    env_timeout: float
    command_timeout: float
    max_connections: int


@dataclass(frozen=True)
class InboundSettings:
    # Seconds the dialplan rings the agents before the flow answers; capped at the start of the
    # third ring (10 s) so the flow still answers within three rings.
    ring_agents_first: float = 0.0
    menu_tries: int = 3
    digit_timeout_ms: int = 5000
    record_max_seconds: int = 60


@dataclass(frozen=True)
class AMISettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "hotline"
    secret: str = ""
    ping_interval: float = 20.0


@dataclass(frozen=True)
class DialerSettings:
    window_start: str = "09:00"
    window_end: str = "20:00"
    channel_template: str = "PJSIP/{number}@trunk"
    agent_channel_template: str = "PJSIP/agent{agent}"  # extension 101: pjsip.conf's agent101
    abandon_limit: float = 0.03
    connect_limit_seconds: float = 2.0
    ring_timeout_seconds: float = 25.0
    agentless_lines: int = 10
    worker: str = ""  # this dialer's name in shared claims; empty: the host name
    caller_id: str = ""  # presented to residents, e.g. "物业客服中心 <02161230000>"
    agent_queue: str = dialplan.QUEUE_OUTBOUND
    poll_seconds: float = 1.0
    # Retry policy per disposition (issue 4 §2); the caps count every attempt.
    retry_no_answer_minutes: float = 120.0
    retry_busy_minutes: float = 15.0
    retry_rejected_minutes: float = 240.0
    retry_congestion_minutes: float = 15.0  # congestion and failed calls
    retry_max_per_day: int = 3
    retry_max_attempts: int = 6
    retry_abandoned_hold_hours: float = 72.0  # the dialer leaves an abandoned resident alone

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(
            no_answer_minutes=self.retry_no_answer_minutes,
            busy_minutes=self.retry_busy_minutes,
            rejected_minutes=self.retry_rejected_minutes,
            congestion_minutes=self.retry_congestion_minutes,
            max_per_day=self.retry_max_per_day,
            max_attempts=self.retry_max_attempts,
            abandoned_hold_hours=self.retry_abandoned_hold_hours,
        )

    def calling_window(self, tz: tzinfo) -> CallingWindow:
        return CallingWindow.parse(tz, self.window_start, self.window_end)


@dataclass(frozen=True)
class MetricsSettings:
    listen: str = "127.0.0.1:9108"
    # Alert when more than this share of inbound calls is answered after the third ring
    # (exported as hotline_late_answer_alert_ratio; monitoring/prometheus-rules.yml reads it).
    late_answer_alert_ratio: float = 0.05


@dataclass(frozen=True)
class RecordingSettings:
    directory: str = ""  # empty: $HOTLINE_HOME/recordings (Asterisk's monitor directory in prod)
    archive_format: str = "opus"
    normalise: bool = False
    workers: int = 2
    record_inbound: bool = True
    record_outbound: bool = True
    index_seconds: float = 30.0  # how often new recordings are indexed (and converted)
    settle_seconds: float = 60.0  # a WAV this recently written may still be recording

    def conversion(self) -> ConversionSettings:
        return ConversionSettings(self.archive_format, self.normalise, self.workers)


@dataclass(frozen=True)
class WebSettings:
    listen: str = "127.0.0.1:8080"  # the HTTP API; empty turns it off
    session_hours: float = 12.0  # a browser session ends this long after sign-in
    behind_tls: bool = False  # a TLS proxy serves the site: session cookies are Secure
    login_attempts: int = 5  # failed sign-ins per name and per address within the window
    login_window_minutes: float = 15.0
    # The API's reads (GET) run in threads of their own, beside the call flows' database
    # threads: 0 sizes them for the machine (one a core, at most 8). A page is mostly Python
    # work under the GIL: more threads than cores would only take turns with the reactor.
    threads: int = 0
    # Reads waiting or running at once, at most; beyond it a request is told 503 + Retry-After,
    # so a flood of API requests cannot take the calls' CPU and connections.
    queue: int = 200
    # The heavy reads (ticket, resident and call lists and pages) answered by this many reader
    # processes the service spawns (hotline.web.reader), so their CPU is not taken under the
    # calls' GIL; each has ``threads`` threads and its own connections. 0: in the service's
    # read threads. An in-memory SQLite database cannot be shared: its reads stay in-process.
    read_processes: int = 1

    def read_threads(self) -> int:
        return self.threads if self.threads > 0 else min(8, os.cpu_count() or 1)

    def reader_processes(self, db_url: str) -> int:
        database = db_url.partition("://")[2].partition("?")[0]
        in_memory = db_url.startswith("sqlite") and database in ("", "/", "/:memory:")
        return 0 if in_memory else self.read_processes


@dataclass(frozen=True)
class WebhookSettings:
    poll_seconds: float = 1.0  # how often new events are fanned out and due deliveries sent
    batch: int = 50  # deliveries sent at once, at most, per tick
    timeout_seconds: float = 10.0  # a receiver that has not answered by then has failed the try
    # After a failed try: first wait, doubled each time up to the cap, +-jitter (a fraction).
    retry_first_seconds: float = 10.0
    retry_cap_seconds: float = 3600.0
    retry_jitter: float = 0.2
    max_age_hours: float = 24.0  # an event not delivered this long after it happened: failed
    # Pruned (core/webhook_prune.py): delivered deliveries and outbox events after keep_days,
    # failed deliveries after keep_failed_days (at least as long: an operator looks for them).
    keep_days: float = 30.0
    keep_failed_days: float = 90.0

    @property
    def retry(self) -> WebhookRetry:
        return WebhookRetry(
            first_seconds=self.retry_first_seconds,
            cap_seconds=self.retry_cap_seconds,
            max_age_hours=self.max_age_hours,
            jitter=self.retry_jitter,
        )

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery is its sender's: past it (the sender was killed), the
        delivery is due again."""
        return 2 * self.timeout_seconds + self.poll_seconds


@dataclass(frozen=True)
class InstanceSettings:
    """This `hotline serve` among others on one database (core/instances.py)."""

    # How often the catch-up loop runs: the heartbeat, the spool's replay, dead instances' calls.
    heartbeat_seconds: float = 5.0
    # An instance silent for this many heartbeats is dead: its calls are settled `interrupted`.
    dead_after_beats: int = 6


@dataclass(frozen=True)
class Settings:
    home: Path
    site: SitePolicy = field(default_factory=SitePolicy)
    answer: AnswerPolicy = field(default_factory=AnswerPolicy)
    complaint: ComplaintPolicy = field(default_factory=ComplaintPolicy)
    followup: FollowupPolicy = field(default_factory=FollowupPolicy)
    arrears: ArrearsPolicy = field(default_factory=ArrearsPolicy)
    db: DbSettings = field(default_factory=DbSettings)
    fastagi: FastAGISettings = field(default_factory=FastAGISettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    ami: AMISettings = field(default_factory=AMISettings)
    dialer: DialerSettings = field(default_factory=DialerSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    recordings: RecordingSettings = field(default_factory=RecordingSettings)
    web: WebSettings = field(default_factory=WebSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    instance: InstanceSettings = field(default_factory=InstanceSettings)

    @property
    def file(self) -> Path:
        return self.home / "hotline.toml"

    @property
    def db_url(self) -> str:
        return self.db.url or f"sqlite:///{self.home / 'hotline.db'}"

    @property
    def recordings_dir(self) -> Path:
        return (
            Path(self.recordings.directory)
            if self.recordings.directory
            else self.home / "recordings"
        )

    @property
    def spool_path(self) -> Path:
        return self.home / "spool" / "intakes.jsonl"

    @property
    def instance_id_path(self) -> Path:
        """This instance's id, beside the spool it replays (core/instances.py)."""
        return self.spool_path.parent / "instance-id"

    @property
    def policy(self) -> ServicePolicy:
        return ServicePolicy(self.site, self.answer, self.complaint, self.followup, self.arrears)


SECTIONS = tuple(f.name for f in fields(Settings) if f.name != "home")


def home_from_env(env: typing.Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("HOTLINE_HOME", "./var")).resolve()


def _coerce(kind: Any, value: Any, where: str) -> Any:
    """Turn a TOML value or an environment string into the field's declared type."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    origin = typing.get_origin(kind)
    try:
        if origin is list:
            (item,) = typing.get_args(kind)
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return [_coerce(item, v, where) for v in value]
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is float and isinstance(value, int | float | str) and not isinstance(value, bool):
            return float(value)
        if kind is int and not isinstance(value, bool | float):
            return int(value)
        if kind is str and isinstance(value, str):
            return value
    except (TypeError, ValueError):
        pass
    raise SettingsError(
        f"setting {where}: {value!r} is not a valid {getattr(kind, '__name__', kind)}"
    )


def _section_types(section: str) -> dict[str, Any]:
    cls = typing.get_type_hints(Settings)[section]
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def load(home: Path | None = None, env: typing.Mapping[str, str] = os.environ) -> Settings:
    home = home or home_from_env(env)
    settings = Settings(home=home)
    path = settings.file
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: {exc}") from None
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise SettingsError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    for section in SECTIONS:
        types_ = _section_types(section)
        given = data.get(section, {})
        bad = set(given) - set(types_)
        if bad:
            raise SettingsError(f"{path}: unknown setting(s) {section}.{', '.join(sorted(bad))}")
        values = {k: _coerce(types_[k], v, f"{section}.{k}") for k, v in given.items()}
        for key, kind in types_.items():
            env_value = env.get(f"HOTLINE_{section.upper()}_{key.upper()}")
            if env_value is not None:
                values[key] = _coerce(kind, env_value, f"HOTLINE_{section.upper()}_{key.upper()}")
        if values:
            changes[section] = replace(getattr(settings, section), **values)
    settings = replace(settings, **changes)
    if settings.inbound.ring_agents_first > settings.answer.last_ring_starts:
        raise SettingsError(
            f"inbound.ring_agents_first = {settings.inbound.ring_agents_first} s answers after "
            f"the third ring; at most {settings.answer.last_ring_starts} s"
        )
    if settings.instance.dead_after_beats < 2 or settings.instance.heartbeat_seconds <= 0:
        raise SettingsError(
            "instance.dead_after_beats must be at least 2 and instance.heartbeat_seconds above 0:"
            " one late heartbeat must never make a live instance's calls interrupted"
        )
    if not 0 < settings.webhooks.keep_days <= settings.webhooks.keep_failed_days:
        raise SettingsError(
            "webhooks.keep_days must be above 0 and webhooks.keep_failed_days at least as long:"
            " failed deliveries are kept for an operator to see"
        )
    if settings.recordings.index_seconds <= 0 or settings.recordings.settle_seconds < 0:
        raise SettingsError(
            "recordings.index_seconds must be above 0 and recordings.settle_seconds at least 0"
        )
    return settings


def default_file_text() -> str:
    """The settings file `hotline init` writes: every setting with its default."""
    defaults = Settings(home=Path("."))
    doc = {
        s: {f.name: getattr(getattr(defaults, s), f.name) for f in fields(getattr(defaults, s))}
        for s in SECTIONS
    }
    header = (
        "# hotline settings. Every rule figure defaults to ../shared/docs/service-rules.md.\n"
        "# Any `section.key` can be overridden by the environment variable HOTLINE_SECTION_KEY.\n\n"
    )
    return header + tomli_w.dumps(doc)
