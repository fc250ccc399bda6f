"""What one send attempt tells its actor to do next."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Done:
    """Nothing more to do for this message (sent, or dropped as stale with a reason)."""

    reason: str


@dataclass(frozen=True)
class PutBack:
    """Enqueue the same message again after ``delay_s`` virtual seconds.

    Used for a busy phone, pacing, or a send awaiting reconciliation: waiting is not
    a failure and must not use up Dramatiq retries.
    """

    delay_s: float
    reason: str


Outcome = Done | PutBack
