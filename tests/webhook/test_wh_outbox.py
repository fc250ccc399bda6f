"""The outbox: follow-ups go to Redis from a thread of their own, never holding an answer."""

from __future__ import annotations

import logging
import threading

import pytest

from engine.replies.followups import CLASSIFY_REPLY, FollowUp
from engine.webhook.outbox import Outbox


def test_a_put_never_waits_for_a_slow_enqueue_and_close_hands_everything_over() -> None:
    release = threading.Event()
    done: list[FollowUp] = []

    def slow(follow_up: FollowUp) -> None:
        release.wait(5)
        done.append(follow_up)

    outbox = Outbox(slow)
    for index in range(3):
        outbox.put(FollowUp(CLASSIFY_REPLY, (index,)))  # returns while the enqueue is held
    assert done == []
    release.set()
    outbox.close()
    assert [f.args for f in done] == [(0,), (1,), (2,)]


def test_a_failing_enqueue_is_logged_and_the_next_one_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[FollowUp] = []

    def flaky(follow_up: FollowUp) -> None:
        if follow_up.args == (0,):
            raise ConnectionError("Redis is down")
        done.append(follow_up)

    outbox = Outbox(flaky)
    with caplog.at_level(logging.WARNING, logger="outreach.webhook"):
        outbox.put(FollowUp(CLASSIFY_REPLY, (0,)))
        outbox.put(FollowUp(CLASSIFY_REPLY, (1,)))
        outbox.close()
    assert [f.args for f in done] == [(1,)]
    assert "could not queue classify_reply (Redis is down)" in caplog.text


def test_past_its_capacity_a_follow_up_is_left_to_the_sweep(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    outbox = Outbox(lambda _f: release.wait(5), capacity=1)
    with caplog.at_level(logging.WARNING, logger="outreach.webhook"):
        for index in range(4):  # one being enqueued, one waiting, the rest over capacity
            outbox.put(FollowUp(CLASSIFY_REPLY, (index,)))
    release.set()
    outbox.close()
    assert "the scheduler's sweep will" in caplog.text
