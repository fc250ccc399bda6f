"""Human pacing: the random gap after each send and how long a phone must still wait. Pure.

Gaps are virtual seconds, uniform in ``[jitter_min_s, jitter_max_s]``. A worker
never sleeps out a whole gap: a message that comes early goes back on its queue
with a delay (see :func:`should_put_back`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def next_send_at(
    now: datetime, jitter_min_s: float, jitter_max_s: float, rng: random.Random
) -> datetime:
    """The earliest moment the phone may send again after a send at ``now``."""
    return now + timedelta(seconds=rng.uniform(jitter_min_s, jitter_max_s))


def wait_s(next_allowed: datetime | None, now: datetime) -> float:
    """Virtual seconds until the phone may send (0 when it may send now)."""
    if next_allowed is None:
        return 0.0
    return max(0.0, (next_allowed - now).total_seconds())


def should_put_back(wait_virtual_s: float, speed: float, max_inline_wait_s: float) -> bool:
    """True when the real wait is too long to hold a worker thread for it."""
    return wait_virtual_s / speed > max_inline_wait_s


def hold_after_claim(jitter_min_s: float, lease_ttl_s: float, speed: float) -> timedelta:
    """How long a claimed send holds its phone in the database (virtual): past the end of
    the lease (``lease_ttl_s`` real seconds), so no second send starts while it may run."""
    return timedelta(seconds=max(jitter_min_s, lease_ttl_s * speed))
