"""TimelinesAI's two timestamp forms: ISO 8601 and ``2023-06-18 15:19:23 +0300``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

_TIMELINES_FORMAT = "%Y-%m-%d %H:%M:%S %z"
# Unix times above this are in milliseconds (it is year 33658 in seconds).
_MILLISECONDS_FROM = 1e12


def parse_timestamp(value: object) -> datetime:
    """A timezone-aware datetime from any form TimelinesAI uses; naive input is taken as UTC.

    Accepts ``2023-06-18 15:19:23 +0300``, ISO 8601 (``Z`` or an offset, optional
    fraction), a trailing ``UTC``/``GMT``, a unix time in seconds or milliseconds,
    and datetimes. Raises ``ValueError`` for anything else.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > _MILLISECONDS_FROM else value
        moment = datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, str):
        moment = _parse_text(value.strip())
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parse_text(text: str) -> datetime:
    try:
        return datetime.strptime(text, _TIMELINES_FORMAT)
    except ValueError:
        pass
    for suffix in (" UTC", " GMT"):
        if text.upper().endswith(suffix):
            text = text[: -len(suffix)] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a timestamp: {text!r}") from None


def format_timestamp(moment: datetime, utc_offset_minutes: int = 0) -> str:
    """``moment`` in TimelinesAI's own form, shown at a fixed UTC offset."""
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    return moment.astimezone(zone).strftime(_TIMELINES_FORMAT)
