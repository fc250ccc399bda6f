"""When a lead who sent an out-of-office notice gets the next step: one pure decision.

The date the notice says the lead is back (:func:`~engine.replies.return_date.return_date`,
read on the lead's own calendar), else ``delay_days`` from now; never later than
``max_days`` from now; then the first moment the lead's send window is open on a day
that is not closed (the same :func:`sequences.next_open` the send path uses), so the
step goes out on the day of the return, not before.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.replies.return_date import return_date
from engine.settings.replies import OutOfOfficeSettings
from sequences import ClosedDays, SendWindow, next_open
from sequences.closed_days import NO_CLOSED_DAYS

__all__ = ["resume_at"]


def resume_at(
    text: str, now: datetime, settings: OutOfOfficeSettings, *, zone: str,
    window: SendWindow | None = None, closed: ClosedDays = NO_CLOSED_DAYS,
) -> datetime:  # fmt: skip
    """The moment (UTC) a lead whose out-of-office notice reads ``text`` may get its next
    step; ``zone`` is the lead's, ``window`` and ``closed`` its sequence's for it."""
    tz = ZoneInfo(zone)
    back = return_date(text, now.astimezone(tz).date())
    if back is None:
        at = now + timedelta(days=settings.delay_days)
    else:
        at = max(now, datetime.combine(back, time(0), tzinfo=tz))
    at = min(at, now + timedelta(days=settings.max_days))
    return next_open(window, zone, at, closed)
