"""What the long-running services need of the settings beyond a valid file.

A file can be valid for ``outreach status`` and still unable to send: no token, no
phone of our own, a sped-up clock each process would start on its own. A service
checks these before it starts a single child, so the problem is one line and exit
status 2 (which the supervisor and the systemd units never restart), not a child that
dies the same way over and over.
"""

from __future__ import annotations

from datetime import datetime

from engine.errors import ConfigError
from engine.settings.sections import Settings


def require_token(settings: Settings) -> str:
    """The workspace token; :class:`ConfigError` when ``TIMELINESAI_TOKEN`` is not set."""
    token = settings.timelinesai.token
    if not token:
        raise ConfigError(
            "TIMELINESAI_TOKEN is not set; export your workspace's API token "
            "(in the environment, never in the config file)"
        )
    return token


def require_phones(settings: Settings) -> None:
    """At least one phone (``[[phones]]`` or the phones file): else nothing can send."""
    if not settings.phones and settings.phones_file is not None:
        raise ConfigError(
            "no phones in the phones file: add a row with the id and number of each WhatsApp"
            " number you connected to TimelinesAI (or `outreach phones import FILE`), then"
            " check them with `outreach phones list`",
            path=str(settings.phones_file),
        )
    if not settings.phones:
        raise ConfigError(
            "no phones configured: add a [[phones]] table with the id and number of each "
            "WhatsApp number you connected to TimelinesAI (the file's commented example "
            "shows the keys), then check them with `outreach phones list`",
            path=_path(settings),
            key="phones",
        )


def require_shared_clock(settings: Settings, now: datetime) -> None:
    """A sped-up clock needs ``[clock] epoch``: processes that each started their own
    clock at their own start would disagree about the time (and so about every due step,
    quota day and pacing gap). ``now`` goes into the hint as an epoch to copy."""
    clock = settings.clock
    if clock.speed != 1 and clock.epoch is None:
        raise ConfigError(
            f"speed is {clock.speed:g}, so the processes must share the moment their clock "
            f"starts from: add e.g. epoch = {now:%Y-%m-%dT%H:%M:%SZ} under [clock] (or set "
            "speed = 1)",
            path=_path(settings),
            key="clock.epoch",
        )


def require_sending(settings: Settings, now: datetime) -> None:
    """What a process that sends needs: the token, a phone, a clock the others share."""
    require_token(settings)
    require_phones(settings)
    require_shared_clock(settings, now)


def _path(settings: Settings) -> str | None:
    return str(settings.path) if settings.path is not None else None
