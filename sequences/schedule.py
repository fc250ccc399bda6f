"""When a lead's steps are due, and which A/B variant a lead gets.

Delays run on real elapsed time (``after_s`` seconds, whatever the clocks say);
the result is then moved to the next moment the send window is open, on a day the
lead's calendar leaves open (:mod:`sequences.closed_days`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sequences.closed_days import NO_CLOSED_DAYS, ClosedDays
from sequences.definition import Sequence
from sequences.windows import next_open

__all__ = ["choose_variant", "first_due", "next_due"]


def first_due(
    sequence: Sequence, zone: str, enrolled_at: datetime, closed: ClosedDays = NO_CLOSED_DAYS
) -> datetime:
    """When step 0 is due for a lead enrolled at ``enrolled_at`` (UTC, timezone-aware),
    whose ``closed`` days send nothing."""
    return _due(sequence, 0, zone, enrolled_at, closed)


def next_due(
    sequence: Sequence,
    step_index: int,
    zone: str,
    previous_sent_at: datetime,
    closed: ClosedDays = NO_CLOSED_DAYS,
) -> datetime:
    """When follow-up ``step_index`` (1 or more) is due after the previous step went out.

    That is ``previous_sent_at`` plus the step's delay, moved to the next open window
    on a day not ``closed``.
    """
    if not 1 <= step_index < len(sequence.steps):
        raise ValueError(
            f"sequence {sequence.name!r} has {len(sequence.steps)} step(s): "
            f"there is no follow-up step {step_index}"
        )
    return _due(sequence, step_index, zone, previous_sent_at, closed)


def _due(
    sequence: Sequence, step_index: int, zone: str, since: datetime, closed: ClosedDays
) -> datetime:
    delay = timedelta(seconds=sequence.steps[step_index].after_s)
    return next_open(sequence.window, zone, since + delay, closed)


def choose_variant(enrollment_id: int, step_index: int, count: int) -> int:
    """The variant (0 to ``count - 1``) enrollment ``enrollment_id`` gets at a step.

    Stable across processes, machines and Python versions (a hash of the ids, never
    the salted built-in ``hash``), and spread evenly over many enrollments. Each step
    draws independently, so one lead can see variant 0 at step 1 and variant 1 at step 2.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    key = f"variant:{enrollment_id}:{step_index}".encode("ascii")
    digest = hashlib.blake2b(key, digest_size=8).digest()
    # 64 bits modulo a handful of variants: the bias is far below 1e-15.
    return int.from_bytes(digest, "big") % count
