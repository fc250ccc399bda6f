"""The outside judge of "no step is claimed after a reply", fed known-good and known-bad sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.invariants import Send, sends_after_replies

T0 = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
LEAD = "+40712345678"


def send(step: int, at_s: float, recipient: str = LEAD) -> Send:
    moment = T0 + timedelta(seconds=at_s)
    return Send("+447700900001", recipient, step, moment, moment + timedelta(milliseconds=5))


@pytest.mark.parametrize(
    ("sends", "in_flight", "broken"),
    [
        ([send(0, 0), send(1, 5)], set(), 0),  # everything before the 200 at 10 s
        ([send(0, 0), send(1, 11)], set(), 1),  # claimed after the reply: broken
        ([send(0, 0), send(1, 11)], {(LEAD, 1)}, 0),  # the reply found step 2 in flight
        ([send(0, 0), send(1, 11), send(2, 20)], {(LEAD, 1)}, 1),  # and then one more
        ([send(0, 0), send(1, 11)], {(LEAD, 2)}, 1),  # another step was in flight
        ([send(1, 11, "+40700000000")], set(), 0),  # a lead who never replied
    ],
)
def test_only_a_step_in_flight_at_the_reply_may_arrive_after_its_200(
    sends: list[Send], in_flight: set[tuple[str, int]], broken: int
) -> None:
    answered = {LEAD: T0 + timedelta(seconds=10)}
    assert len(sends_after_replies(sends, answered, in_flight)) == broken
