"""The config's tables as typed, frozen dataclasses: one per TOML table.

:mod:`engine.config_loader` walks them, so adding a key is adding a field. The
``[sequences.*]`` and ``[replies]`` tables have their own modules in this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from engine.settings.replies import RepliesSettings
from engine.settings.sequences import LeadsSettings, SequenceSettings


@dataclass(frozen=True)
class DatabaseSettings:
    """``[database]``: where state lives. SQLite paths are relative to the config file."""

    url: str = "sqlite:///outreach.db"


@dataclass(frozen=True)
class RedisSettings:
    """``[redis]``: the broker and shared counters; ``namespace`` prefixes every key and queue."""

    url: str = "redis://127.0.0.1:6379/0"
    namespace: str = "outreach"


@dataclass(frozen=True)
class TimelinesAISettings:
    """``[timelinesai]``: the API. The token comes only from ``TIMELINESAI_TOKEN``.

    ``outage_*``: the API outage breaker (:mod:`engine.sending.outage`): this many
    consecutive 5xx or timeouts pause all sending for ``outage_backoff_s`` virtual
    seconds, doubling on each failed probe up to ``outage_backoff_max_s``.
    """

    base_url: str = "https://app.timelines.ai/integrations/api"
    requests_per_minute: int = 50
    monthly_call_budget: int = 200_000
    timeout_s: float = 15.0
    retry_total_s: float = 10.0
    outage_after: int = 5
    outage_backoff_s: float = 60.0
    outage_backoff_max_s: float = 900.0
    token: str | None = field(default=None, repr=False, metadata={"from_file": False})


@dataclass(frozen=True)
class PacingSettings:
    """``[pacing]``: the random gap between two sends of one phone, in virtual seconds."""

    jitter_min_s: float = 30.0
    jitter_max_s: float = 150.0


@dataclass(frozen=True)
class QuotaSettings:
    """``[quota]``: new contacts a phone may start per local day (``timezone`` sets the day).

    ``warmup``: steps ``(age_days, new_contacts_per_day)`` by age since the phone's
    ``started_on`` (:mod:`phones.quota`); the default is the ramp production tools use,
    20/50/100/200 new chats a day at ages 0/4/8/15 days and the full quota from day 30
    (a number starting more than 20-30 a day in its first week gets flagged). The older
    form, one number per week of age, is read as the same ramp in day steps.

    ``new_contacts_per_hour``: new contacts a phone may start in any hour (a sliding
    hour, beside the day's quota; 0: no hourly cap). The default is the field figure of
    production tools, around 80 new chats an hour.
    """

    new_contacts_per_day: int = 200
    new_contacts_per_hour: int = 80
    timezone: str = "UTC"
    warmup: tuple[tuple[int, ...], ...] = ((0, 20), (4, 50), (8, 100), (15, 200), (30, 0))


@dataclass(frozen=True)
class WorkerSettings:
    """``[worker]``: how the per-phone actors send, retry and hold a phone's lease.

    ``lease_ttl_s`` and ``send_time_limit_s`` are real seconds (they guard real
    concurrency); backoffs are virtual seconds, like every other engine duration.
    """

    lease_ttl_s: float = 90.0
    send_time_limit_s: float = 60.0
    max_retries: int = 3
    min_backoff_s: float = 30.0
    max_backoff_s: float = 900.0
    max_inline_wait_s: float = 1.0
    reconcile_after_s: float = 120.0
    processes: int = 2
    threads: int = 4


@dataclass(frozen=True)
class SchedulerSettings:
    """``[scheduler]``: how often due steps move into the phones' queues, and how many,
    and when the maintenance jobs run (cron expressions, UTC).

    Durations are virtual seconds; a pass never runs more often than every 0.2 s real.
    The leads a phone has contacted end ``failed`` once it has been banned for
    ``banned_phone_grace_s`` or offline for ``offline_phone_grace_s``
    (:func:`phones.states.grace_end`).

    ``funnel_snapshot_cron`` stores every campaign's funnels (no API call); ``outreach
    status`` groups them itself while the messages are fewer than
    ``live_funnel_max_messages``, else reads that snapshot.
    """

    dispatch_interval_s: float = 5.0
    queue_ahead_s: float = 300.0
    max_queued_per_phone: int = 50
    requeue_after_s: float = 1800.0
    banned_phone_grace_s: float = 7 * 86_400.0
    offline_phone_grace_s: float = 3 * 86_400.0
    phone_sync_cron: str = "*/10 * * * *"
    delivery_sync_cron: str = "*/15 * * * *"
    delivery_sync_window_h: float = 48.0
    delivery_sync_max_chats: int = 20
    prune_cron: str = "17 3 * * *"
    replies_sweep_cron: str = "*/5 * * * *"
    workspace_quota_cron: str = "*/5 * * * *"
    funnel_snapshot_cron: str = "*/5 * * * *"
    live_funnel_max_messages: int = 200_000


@dataclass(frozen=True)
class HealthSettings:
    """``[health]``: how much of each phone's recent history its health is read from.

    ``first_messages`` first messages with an outcome (delivered, read, failed, answered,
    or stuck), ``sends`` latest attempts to start a conversation (for invalid numbers),
    ``replies`` latest replies (for opt-outs); a first message still only ``sent`` on a
    reading of its status taken more than ``stuck_after_h`` virtual hours after it went
    out counts as not delivered (one not read since then counts neither way).
    """

    first_messages: int = 10
    sends: int = 20
    replies: int = 50
    stuck_after_h: float = 6.0


@dataclass(frozen=True)
class TextsSettings:
    """``[texts]``: no phone sends near-identical first messages.

    A first message whose word-shingle similarity (:func:`spintax.text_similarity`) to
    any of the phone's last ``window`` first messages is ``similarity_threshold`` or more
    is rendered again with the next seed, up to ``rewordings`` times; when none differs
    enough the step waits ``retry_after_s`` virtual seconds (another phone may take it).
    """

    enabled: bool = True
    similarity_threshold: float = 0.8
    window: int = 20
    rewordings: int = 5
    retry_after_s: float = 600.0


@dataclass(frozen=True)
class WorkspaceSettings:
    """``[workspace]``: the TimelinesAI workspace's monthly message quota
    (:mod:`engine.workspace_quota`).

    ``messages_per_month`` is the limit used when TimelinesAI's answer gives what was used
    but not the limit (0: only what the answer says; Mass Messaging is 2,000 a seat).
    Sending halts once ``reserve_messages`` or fewer are left: the sends between two
    readings and people answering replies by hand draw on it.
    """

    messages_per_month: int = 0
    reserve_messages: int = 100


@dataclass(frozen=True)
class BreakerSettings:
    """``[breaker]``: when a phone's health (read over the ``[health]`` windows, from
    its last trip on) stops it for a while, and how it comes back.

    A phone trips when its delivered share falls below ``min_delivered_rate`` over a
    full window of first messages, when ``max_invalid`` of its last attempts met
    invalid numbers, or when over ``max_opt_out_rate`` of its last replies (at least
    ``min_replies`` of them) opted out. It then cools for ``cooling_min`` virtual
    minutes, doubled for each trip within ``repeat_within_h`` of the one before, at most
    ``max_cooling_h`` hours; then one first message probes it (given up after
    ``probe_timeout_min`` if it never went out). ``check_cron`` (UTC) runs the check.
    """

    enabled: bool = True
    min_delivered_rate: float = 0.40
    max_invalid: int = 3
    max_opt_out_rate: float = 0.10
    min_replies: int = 20
    cooling_min: float = 30.0
    max_cooling_h: float = 24.0
    repeat_within_h: float = 24.0
    probe_timeout_min: float = 30.0
    check_cron: str = "* * * * *"


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: where alerts go besides the alerts table and the log."""

    webhook_url: str | None = None


@dataclass(frozen=True)
class TelemetrySettings:
    """``[telemetry]``: OpenTelemetry traces, off unless ``otlp_endpoint`` is set.

    ``otlp_endpoint``: an OTLP/HTTP collector (e.g. ``http://127.0.0.1:4318``; spans go
    to its ``/v1/traces``), needing the ``telemetry`` extra; empty: no tracing at all.
    ``service_name`` names the processes in the collector; ``sample_ratio`` is the share
    of traces kept (0 to 1; a trace continued from another process follows its parent).
    """

    otlp_endpoint: str = ""
    service_name: str = "outreach"
    sample_ratio: float = 1.0


@dataclass(frozen=True)
class PhoneSettings:
    """One ``[[phones]]`` entry: a WhatsApp number of ours connected to TimelinesAI."""

    id: str
    phone: str
    account_id: str | None = None
    new_contacts_per_day: int | None = None
    started_on: date | None = None

    @property
    def jid(self) -> str:
        """The account's JID at TimelinesAI: ``account_id``, else made from the number."""
        return self.account_id or self.phone.lstrip("+") + "@s.whatsapp.net"


@dataclass(frozen=True)
class WebhookSettings:
    """``[webhook]``: the receiver. The secret comes only from ``OUTREACH_WEBHOOK_SECRET``.

    ``takeover_check_after_s`` is real seconds (it lets a send in flight be recorded);
    ``retention_days`` are virtual days. The receiver never waits for a phone, so
    ``lease_wait_s`` is retired: accepted in old files and ignored.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    retention_days: int = 30
    manual_takeover: str = "stop"
    takeover_check_after_s: float = 10.0
    lease_wait_s: float | None = field(
        default=None, metadata={"retired": "the receiver no longer waits for a phone"}
    )
    secret: str | None = field(default=None, repr=False, metadata={"from_file": False})


@dataclass(frozen=True)
class ConsoleSettings:
    """``[console]``: the web console. Users and their argon2 password hashes live in
    ``users_file`` (relative to the config's folder; ``outreach console user add``
    writes it); ``OUTREACH_CONSOLE_PASSWORD`` alone sets the password of user ``admin``
    (an operator), for a single-user setup. ``refresh_s`` is how often an open page
    asks whether its figures changed; ``report_max_age_s`` how old (real seconds) a
    campaign funnel served from memory may grow before it is recomputed in the
    background (0: computed on every request). ``secure_cookies``: send cookies only over
    HTTPS (set it when a TLS proxy serves the console)."""

    host: str = "127.0.0.1"
    port: int = 8090
    users_file: str = "console-users.toml"
    session_hours: float = 12.0
    refresh_s: float = 10.0
    report_max_age_s: float = 15.0
    secure_cookies: bool = False
    password: str | None = field(default=None, repr=False, metadata={"from_file": False})


@dataclass(frozen=True)
class ClockSettings:
    """``[clock]``: speed-up of the runtime clock; processes sharing speed > 1 share ``epoch``."""

    speed: float = 1.0
    epoch: datetime | None = None


@dataclass(frozen=True)
class Settings:
    """The whole configuration, as loaded from one file and the environment."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    timelinesai: TimelinesAISettings = field(default_factory=TimelinesAISettings)
    pacing: PacingSettings = field(default_factory=PacingSettings)
    quota: QuotaSettings = field(default_factory=QuotaSettings)
    phones: tuple[PhoneSettings, ...] = ()
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    workspace: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    texts: TextsSettings = field(default_factory=TextsSettings)
    clock: ClockSettings = field(default_factory=ClockSettings)
    leads: LeadsSettings = field(default_factory=LeadsSettings)
    replies: RepliesSettings = field(default_factory=RepliesSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    sequences: dict[str, SequenceSettings] = field(default_factory=dict)
    path: Path | None = field(default=None, metadata={"from_file": False})
    phones_file: Path | None = field(default=None, metadata={"from_file": False})
    """Where the phones were read from (``[phones] file``); ``None``: ``[[phones]]`` tables."""

    def phone(self, phone_id: str) -> PhoneSettings:
        """The configured phone ``phone_id``; raises ``KeyError`` when there is none."""
        for phone in self.phones:
            if phone.id == phone_id:
                return phone
        raise KeyError(phone_id)

    def quota_for(self, phone: PhoneSettings) -> int:
        """The phone's full daily new-contact quota (its override, else the default)."""
        if phone.new_contacts_per_day is not None:
            return phone.new_contacts_per_day
        return self.quota.new_contacts_per_day
