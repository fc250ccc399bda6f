"""Typed, frozen settings: the TOML config file plus a few environment overrides.

Loaded once at the edge (the CLI) by :func:`load_settings` and passed down; nothing
below ``cli/`` reads the environment. Each TOML table maps to a frozen dataclass
below; :mod:`engine.config_loader` walks them, so adding a key is adding a field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine import numbers
from engine.config_loader import load_dataclass, read_toml
from engine.errors import ConfigError
from engine.replies.config import RepliesSettings, validate_replies
from engine.replies.rules import words
from sequences.config import LeadsSettings, SequenceSettings
from sequences.definition import Sequence, compile_message, compile_sequences

DEFAULT_CONFIG_NAME = "config.toml"
_PHONE_ID = re.compile(r"^(0[1-9]|[1-9][0-9])$")


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
    """``[timelinesai]``: the API. The token comes only from ``TIMELINESAI_TOKEN``."""

    base_url: str = "https://app.timelines.ai/integrations/api"
    requests_per_minute: int = 50
    monthly_call_budget: int = 200_000
    timeout_s: float = 15.0
    retry_total_s: float = 10.0
    token: str | None = field(default=None, repr=False, metadata={"from_file": False})


@dataclass(frozen=True)
class PacingSettings:
    """``[pacing]``: the random gap between two sends of one phone, in virtual seconds."""

    jitter_min_s: float = 30.0
    jitter_max_s: float = 150.0


@dataclass(frozen=True)
class QuotaSettings:
    """``[quota]``: new contacts a phone may start per local day (``timezone`` sets the day)."""

    new_contacts_per_day: int = 200
    timezone: str = "UTC"
    warmup: tuple[int, ...] = (20, 50, 100, 150)


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
    """

    dispatch_interval_s: float = 5.0
    queue_ahead_s: float = 300.0
    max_queued_per_phone: int = 50
    requeue_after_s: float = 1800.0
    banned_phone_grace_s: float = 7 * 86_400.0
    phone_sync_cron: str = "*/10 * * * *"
    delivery_sync_cron: str = "*/15 * * * *"
    delivery_sync_window_h: float = 48.0
    delivery_sync_max_chats: int = 20
    prune_cron: str = "17 3 * * *"
    replies_sweep_cron: str = "*/5 * * * *"


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: where alerts go besides the alerts table and the log."""

    webhook_url: str | None = None


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
    clock: ClockSettings = field(default_factory=ClockSettings)
    leads: LeadsSettings = field(default_factory=LeadsSettings)
    replies: RepliesSettings = field(default_factory=RepliesSettings)
    sequences: dict[str, SequenceSettings] = field(default_factory=dict)
    path: Path | None = field(default=None, metadata={"from_file": False})

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


def find_config(explicit: str | Path | None, env: Mapping[str, str]) -> Path:
    """The config path: ``--config``, else ``OUTREACH_CONFIG``, else ``./config.toml``."""
    if explicit:
        return Path(explicit)
    if env.get("OUTREACH_CONFIG"):
        return Path(env["OUTREACH_CONFIG"])
    return Path(DEFAULT_CONFIG_NAME)


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and freeze the config at ``path``, then apply environment overrides.

    Raises :class:`ConfigError` naming the file, the key and the problem.
    """
    env = env or {}
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            "no such config file; create one with `outreach init` or pass --config PATH",
            path=str(path),
        )
    data = read_toml(path)
    settings = load_dataclass(Settings, data, path=str(path))
    settings = _apply_environment(settings, env)
    settings = replace(
        settings,
        path=path.resolve(),
        database=replace(
            settings.database, url=resolve_database_url(settings.database.url, path.parent)
        ),
    )
    validate(settings, str(path))
    return settings


def compiled_sequences(settings: Settings) -> dict[str, Sequence]:
    """The config's sequences, validated and compiled (templates parsed once)."""
    return compile_sequences(settings.sequences, path=str(settings.path or "config"))


def resolve_database_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path absolute against ``base_dir`` (the config file's folder)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        db_path = Path(url[len(prefix) :])
        if not db_path.is_absolute():
            return prefix + str((base_dir / db_path).resolve())
    return url


def _apply_environment(settings: Settings, env: Mapping[str, str]) -> Settings:
    database, redis, tl, webhook = (
        settings.database,
        settings.redis,
        settings.timelinesai,
        settings.webhook,
    )
    if env.get("OUTREACH_DATABASE_URL"):
        database = replace(database, url=env["OUTREACH_DATABASE_URL"])
    if env.get("OUTREACH_REDIS_URL"):
        redis = replace(redis, url=env["OUTREACH_REDIS_URL"])
    if env.get("OUTREACH_TIMELINESAI_BASE_URL"):
        tl = replace(tl, base_url=env["OUTREACH_TIMELINESAI_BASE_URL"])
    tl = replace(tl, token=env.get("TIMELINESAI_TOKEN") or None)
    webhook = replace(webhook, secret=env.get("OUTREACH_WEBHOOK_SECRET") or None)
    return replace(settings, database=database, redis=redis, timelinesai=tl, webhook=webhook)


def validate(settings: Settings, path: str) -> None:
    """Check the rules that span keys or need a lookup; raise :class:`ConfigError`."""

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(message, path=path, key=key)

    if settings.pacing.jitter_min_s < 0:
        raise fail("pacing.jitter_min_s", "must not be negative")
    if settings.pacing.jitter_min_s > settings.pacing.jitter_max_s:
        raise fail(
            "pacing.jitter_min_s",
            f"must not exceed jitter_max_s ({settings.pacing.jitter_max_s:g})",
        )
    if settings.quota.new_contacts_per_day <= 0:
        raise fail("quota.new_contacts_per_day", "must be a positive number of contacts")
    _check_timezone(
        settings.quota.timezone,
        fail("quota.timezone", f"unknown IANA timezone {settings.quota.timezone!r}"),
    )
    positive = {
        "timelinesai.requests_per_minute": settings.timelinesai.requests_per_minute,
        "timelinesai.monthly_call_budget": settings.timelinesai.monthly_call_budget,
        "timelinesai.timeout_s": settings.timelinesai.timeout_s,
        "clock.speed": settings.clock.speed,
    }
    for key, value in positive.items():
        if value <= 0:
            raise fail(key, "must be positive")
    if settings.clock.epoch is not None and settings.clock.epoch.tzinfo is None:
        raise fail("clock.epoch", "needs a UTC offset, e.g. 2026-01-05T09:00:00Z")
    namespace = settings.redis.namespace
    if not namespace or ":" in namespace or any(c.isspace() for c in namespace):
        raise fail("redis.namespace", "must be a non-empty name without ':' or spaces")
    if any(n <= 0 for n in settings.quota.warmup):
        raise fail("quota.warmup", "every week's quota must be positive")
    worker = settings.worker
    if worker.send_time_limit_s >= worker.lease_ttl_s:
        raise fail(
            "worker.send_time_limit_s",
            f"must be shorter than lease_ttl_s ({worker.lease_ttl_s:g}) so a lease outlives a send",
        )
    if worker.max_retries < 0 or worker.min_backoff_s > worker.max_backoff_s:
        raise fail("worker.max_retries", "retries must be >= 0 and min_backoff_s <= max_backoff_s")
    if worker.processes < 1 or worker.threads < 1:
        raise fail("worker.processes", "processes and threads must be at least 1")
    scheduler = settings.scheduler
    if min(scheduler.dispatch_interval_s, scheduler.queue_ahead_s, scheduler.requeue_after_s) <= 0:
        raise fail("scheduler.dispatch_interval_s", "scheduler durations must be positive")
    url = settings.alerts.webhook_url
    if url is not None and not url.startswith(("http://", "https://")):
        raise fail("alerts.webhook_url", "must be an http(s) URL")
    if scheduler.max_queued_per_phone < 1:
        raise fail("scheduler.max_queued_per_phone", "must be at least 1")
    try:
        numbers.check_region(settings.leads.default_region)
    except numbers.InvalidNumberError as error:
        raise fail("leads.default_region", str(error)) from None
    _validate_phones(settings.phones, fail)
    _validate_webhook(settings.webhook, fail)
    _validate_jobs(scheduler, fail)
    validate_replies(settings.replies, fail, words)
    for key, template in settings.replies.auto_replies().items():
        compile_message(template, path=path, key=key)
    compile_sequences(settings.sequences, path=path)


_TAKEOVER_CHOICES = ("stop", "ignore")


def _validate_webhook(webhook: WebhookSettings, fail: Callable[[str, str], ConfigError]) -> None:
    if webhook.manual_takeover not in _TAKEOVER_CHOICES:
        raise fail("webhook.manual_takeover", 'must be "stop" or "ignore"')
    if webhook.retention_days < 1:
        raise fail("webhook.retention_days", "must be at least 1")
    if webhook.takeover_check_after_s < 0:
        raise fail("webhook.takeover_check_after_s", "must not be negative")
    if webhook.workers < 1:
        raise fail("webhook.workers", "must be at least 1")


def _validate_jobs(scheduler: SchedulerSettings, fail: Callable[[str, str], ConfigError]) -> None:
    # Parsed exactly as the scheduler will parse them.
    from apscheduler.triggers.cron import CronTrigger

    crons = {
        "phone_sync_cron": scheduler.phone_sync_cron,
        "delivery_sync_cron": scheduler.delivery_sync_cron,
        "prune_cron": scheduler.prune_cron,
        "replies_sweep_cron": scheduler.replies_sweep_cron,
    }
    for name, expression in crons.items():
        try:
            CronTrigger.from_crontab(expression, timezone="UTC")
        except ValueError as error:
            raise fail(
                f"scheduler.{name}", f"{expression!r} is not a 5-field cron expression: {error}"
            ) from None
    if scheduler.delivery_sync_window_h <= 0:
        raise fail("scheduler.delivery_sync_window_h", "must be positive")
    if scheduler.delivery_sync_max_chats < 1:
        raise fail("scheduler.delivery_sync_max_chats", "must be at least 1")


def _validate_phones(
    phones: tuple[PhoneSettings, ...], fail: Callable[[str, str], ConfigError]
) -> None:
    seen_ids: set[str] = set()
    seen_numbers: set[str] = set()
    for index, phone in enumerate(phones):
        key = f"phones[{index}]"
        if not _PHONE_ID.match(phone.id):
            raise fail(f"{key}.id", f"{phone.id!r} must be two digits from 01 to 99")
        if phone.id in seen_ids:
            raise fail(f"{key}.id", f"phone id {phone.id!r} is used twice")
        seen_ids.add(phone.id)
        if not numbers.is_e164(phone.phone):
            raise fail(f"{key}.phone", f"{phone.phone!r} is not a valid E.164 number (+CC...)")
        if phone.phone in seen_numbers:
            raise fail(f"{key}.phone", f"{phone.phone!r} is configured twice")
        seen_numbers.add(phone.phone)
        if phone.new_contacts_per_day is not None and phone.new_contacts_per_day <= 0:
            raise fail(f"{key}.new_contacts_per_day", "must be a positive number of contacts")


def _check_timezone(name: str, error: ConfigError) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise error from None
