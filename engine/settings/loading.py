"""Loading the config: read the file, apply the environment's overrides, check it.

Loaded once at the edge (the CLI) by :func:`load_settings` and passed down; nothing
below ``cli/`` reads the environment. What this checks needs nothing above the
settings: types and ranges, names, numbers, time zones, cron expressions, reply
keywords. Templates are compiled, and so checked, by the sequences package where the
CLI loads the config (:func:`sequences.definition.check_templates`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine import numbers
from engine.config_loader import load_dataclass, read_toml
from engine.errors import ConfigError
from engine.settings.phone_file import PhoneEntry, load_phones, phone_problems, phones_file_of
from engine.settings.replies import validate_replies
from engine.settings.sections import (
    BreakerSettings,
    ConsoleSettings,
    HealthSettings,
    SchedulerSettings,
    Settings,
    TelemetrySettings,
    TextsSettings,
    WebhookSettings,
)
from engine.settings.urls import database_url_problem, otlp_endpoint_problem, redis_url_problem

DEFAULT_CONFIG_NAME = "config.toml"


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
    data = _upgrade_warmup(read_toml(path), str(path))
    phones_file = phones_file_of(data, path)
    if phones_file is not None:
        data = {name: value for name, value in data.items() if name != "phones"}
    settings = load_dataclass(Settings, data, path=str(path))
    if phones_file is not None:
        phones = load_phones(phones_file)  # its errors name the file as the config was named
        settings = replace(settings, phones=phones, phones_file=phones_file.resolve())
    settings = _apply_environment(settings, env)
    _check_urls(settings, env, str(path))
    settings = replace(
        settings,
        path=path.resolve(),
        database=replace(
            settings.database, url=resolve_database_url(settings.database.url, path.parent)
        ),
    )
    validate(settings, str(path))
    return settings


_WARMUP_EXAMPLE = "e.g. [[0, 20], [4, 50], [8, 100], [15, 200], [30, 0]]"


def _upgrade_warmup(data: dict[str, Any], path: str) -> dict[str, Any]:
    """Read the older ``[quota] warmup`` (one number a day per week of age, e.g.
    ``[20, 50, 100, 150]``) as the same ramp in day steps, so an existing config keeps
    its phones' quotas exactly; the new form is a list of ``[age_days, per_day]`` pairs."""
    quota = data.get("quota")
    if not isinstance(quota, dict):
        return data
    weeks = quota.get("warmup")
    if not isinstance(weeks, list) or not weeks:
        return data
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in weeks):
        return data  # the new form, or a mistake the loader names
    if any(n <= 0 for n in weeks):
        raise ConfigError(
            f"every week's quota must be positive (or write day steps, {_WARMUP_EXAMPLE})",
            path=path, key="quota.warmup",
        )  # fmt: skip
    # Week k is ages 7k to 7k+6; after the last week, the full quota.
    upgraded = [[7 * week, per_day] for week, per_day in enumerate(weeks)] + [[7 * len(weeks), 0]]
    return {**data, "quota": {**quota, "warmup": upgraded}}


def _warmup_problem(warmup: tuple[tuple[int, ...], ...]) -> str | None:
    if not warmup:
        return None
    example = _WARMUP_EXAMPLE
    if any(len(step) != 2 for step in warmup):
        return f"each step is [age_days, new_contacts_per_day], {example}"
    ages = [age for age, _ in warmup]
    if ages[0] != 0 or any(b <= a for a, b in pairwise(ages)):
        return f"step ages must start at 0 and increase, {example}"
    if any(per_day < 0 for _, per_day in warmup):
        return "a step's new contacts per day must not be negative (0: the full quota)"
    if warmup[-1][1] != 0:
        return (
            "end the ramp with [age_days, 0], the age from which the phone gets its full"
            f" quota, {example}"
        )
    return None


def resolve_database_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path absolute against ``base_dir`` (the config file's folder)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        db_path = Path(url[len(prefix) :])
        if not db_path.is_absolute():
            return prefix + str((base_dir / db_path).resolve())
    return url


def _check_urls(settings: Settings, env: Mapping[str, str], path: str) -> None:
    """A database or Redis URL the engine cannot use is one line here, not a traceback in
    every process; the error names the environment variable when that set the URL."""
    checks = (
        ("database.url", "OUTREACH_DATABASE_URL", settings.database.url, database_url_problem),
        ("redis.url", "OUTREACH_REDIS_URL", settings.redis.url, redis_url_problem),
    )
    for key, variable, url, problem_of in checks:
        problem = problem_of(url)
        if problem is None:
            continue
        if env.get(variable):
            raise ConfigError(problem, key=variable)
        raise ConfigError(problem, path=path, key=key)


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
    console = replace(settings.console, password=env.get("OUTREACH_CONSOLE_PASSWORD") or None)
    return replace(
        settings, database=database, redis=redis, timelinesai=tl, webhook=webhook, console=console
    )


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
    if settings.quota.new_contacts_per_hour < 0:
        raise fail("quota.new_contacts_per_hour", "must be 0 (no hourly cap) or more")
    _check_timezone(
        settings.quota.timezone,
        fail("quota.timezone", f"unknown IANA timezone {settings.quota.timezone!r}"),
    )
    positive = {
        "timelinesai.requests_per_minute": settings.timelinesai.requests_per_minute,
        "timelinesai.monthly_call_budget": settings.timelinesai.monthly_call_budget,
        "timelinesai.timeout_s": settings.timelinesai.timeout_s,
        "timelinesai.outage_after": settings.timelinesai.outage_after,
        "timelinesai.outage_backoff_s": settings.timelinesai.outage_backoff_s,
        "clock.speed": settings.clock.speed,
    }
    for key, value in positive.items():
        if value <= 0:
            raise fail(key, "must be positive")
    api = settings.timelinesai
    if api.outage_backoff_max_s < api.outage_backoff_s:
        raise fail("timelinesai.outage_backoff_max_s", "must be at least outage_backoff_s")
    if settings.clock.epoch is not None and settings.clock.epoch.tzinfo is None:
        raise fail("clock.epoch", "needs a UTC offset, e.g. 2026-01-05T09:00:00Z")
    namespace = settings.redis.namespace
    if not namespace or ":" in namespace or any(c.isspace() for c in namespace):
        raise fail("redis.namespace", "must be a non-empty name without ':' or spaces")
    problem = _warmup_problem(settings.quota.warmup)
    if problem:
        raise fail("quota.warmup", problem)
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
    if min(scheduler.banned_phone_grace_s, scheduler.offline_phone_grace_s) < 0:
        raise fail("scheduler.offline_phone_grace_s", "the phones' graces must not be negative")
    if scheduler.max_queued_per_phone < 1:
        raise fail("scheduler.max_queued_per_phone", "must be at least 1")
    try:
        numbers.check_region(settings.leads.default_region)
    except numbers.InvalidNumberError as error:
        raise fail("leads.default_region", str(error)) from None
    if settings.phones_file is None:  # a phones file is checked as it is read
        problems = phone_problems(
            [PhoneEntry(p, path, f"phones[{i}]") for i, p in enumerate(settings.phones)]
        )
        if problems:
            raise problems[0]
    _validate_webhook(settings.webhook, fail)
    _validate_console(settings.console, fail)
    _validate_jobs(scheduler, fail)
    _validate_health(settings.health, fail)
    _validate_texts(settings.texts, fail)
    for key in ("messages_per_month", "reserve_messages"):
        if getattr(settings.workspace, key) < 0:
            raise fail(f"workspace.{key}", "must not be negative")
    _validate_breaker(settings.breaker, fail)
    _validate_telemetry(settings.telemetry, fail)
    validate_replies(settings.replies, fail)


def _validate_telemetry(
    telemetry: TelemetrySettings, fail: Callable[[str, str], ConfigError]
) -> None:
    problem = otlp_endpoint_problem(telemetry.otlp_endpoint)
    if problem:
        raise fail("telemetry.otlp_endpoint", problem)
    if not telemetry.service_name.strip():
        raise fail("telemetry.service_name", 'must name the service, e.g. "outreach"')
    if not 0 <= telemetry.sample_ratio <= 1:
        raise fail("telemetry.sample_ratio", "must be a share between 0 and 1")


_TAKEOVER_CHOICES = ("stop", "ignore")


def _validate_console(console: ConsoleSettings, fail: Callable[[str, str], ConfigError]) -> None:
    if not 0 < console.port < 65536:
        raise fail("console.port", "must be a TCP port (1-65535)")
    if console.session_hours <= 0:
        raise fail("console.session_hours", "must be positive")
    if console.refresh_s < 1:
        raise fail("console.refresh_s", "must be at least 1 second")
    if console.report_max_age_s < 0:
        raise fail("console.report_max_age_s", "must not be negative")
    if not console.users_file.strip():
        raise fail("console.users_file", "must name a file")


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
        "workspace_quota_cron": scheduler.workspace_quota_cron,
        "funnel_snapshot_cron": scheduler.funnel_snapshot_cron,
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
    if scheduler.live_funnel_max_messages < 0:
        raise fail("scheduler.live_funnel_max_messages", "must not be negative")
    if scheduler.delivery_sync_max_chats < 1:
        raise fail("scheduler.delivery_sync_max_chats", "must be at least 1")


def _validate_health(health: HealthSettings, fail: Callable[[str, str], ConfigError]) -> None:
    windows = {
        "first_messages": health.first_messages,
        "sends": health.sends,
        "replies": health.replies,
    }
    for name, size in windows.items():
        if size < 1:
            raise fail(f"health.{name}", "must be at least 1")
    if health.stuck_after_h <= 0:
        raise fail("health.stuck_after_h", "must be positive")


def _validate_breaker(breaker: BreakerSettings, fail: Callable[[str, str], ConfigError]) -> None:
    from apscheduler.triggers.cron import CronTrigger

    for name, rate in (
        ("min_delivered_rate", breaker.min_delivered_rate),
        ("max_opt_out_rate", breaker.max_opt_out_rate),
    ):
        if not 0 <= rate <= 1:
            raise fail(f"breaker.{name}", "must be a share between 0 and 1")
    for name, count in (("max_invalid", breaker.max_invalid), ("min_replies", breaker.min_replies)):
        if count < 1:
            raise fail(f"breaker.{name}", "must be at least 1")
    spans = {
        "cooling_min": breaker.cooling_min,
        "max_cooling_h": breaker.max_cooling_h,
        "probe_timeout_min": breaker.probe_timeout_min,
    }
    for name, span in spans.items():
        if span <= 0:
            raise fail(f"breaker.{name}", "must be positive")
    if breaker.repeat_within_h < 0:
        raise fail("breaker.repeat_within_h", "must not be negative")
    try:
        CronTrigger.from_crontab(breaker.check_cron, timezone="UTC")
    except ValueError as error:
        expression = breaker.check_cron
        raise fail(
            "breaker.check_cron", f"{expression!r} is not a 5-field cron expression: {error}"
        ) from None


def _validate_texts(texts: TextsSettings, fail: Callable[[str, str], ConfigError]) -> None:
    if not 0 < texts.similarity_threshold <= 1:
        raise fail("texts.similarity_threshold", "must be above 0 and at most 1")
    if texts.window < 1:
        raise fail("texts.window", "must be at least 1")
    if texts.rewordings < 0:
        raise fail("texts.rewordings", "must not be negative")
    if texts.retry_after_s <= 0:
        raise fail("texts.retry_after_s", "must be positive")


def _check_timezone(name: str, error: ConfigError) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise error from None
