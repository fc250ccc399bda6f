"""A step in flight when its lead replied, whose worker died or whose answer never came:
reconciled against the chat, never sent again (the reply ended the enrollment)."""

from __future__ import annotations

from datetime import timedelta

from engine.dispatcher import Dispatcher
from engine.sending.outcome import Done, PutBack
from engine.storage import replies as reply_rows
from sequences import EndReason, compiled_sequences
from tests.sending.conftest import Harness

REPLIED = "replied"


def _end(harness: Harness, eid: int) -> reply_rows.Ended | None:
    with harness.database.engine.begin() as connection:
        return reply_rows.end_running(
            connection, eid, reason=EndReason.REPLIED, chat_id=None, now=harness.clock.now()
        )


def _in_flight_then_replied(harness: Harness) -> int:
    """Step 1 claimed (its send went, or not), then the lead replied: enrollment ended."""
    eid = harness.enroll()
    harness.left_sending(eid)
    assert _end(harness, eid) == reply_rows.Ended(in_flight_step=0)
    return eid


def test_a_send_that_went_out_before_its_worker_died_is_found_and_recorded(
    harness: Harness,
) -> None:
    harness.sim.configure(timeout_after_record_rate=1.0, stall_s=2.0)
    eid = harness.enroll()
    assert harness.send(eid, 0, "01") == PutBack(120.0, "outcome unknown: reconcile")
    harness.sim.configure(timeout_after_record_rate=0.0)
    assert _end(harness, eid) == reply_rows.Ended(in_flight_step=0)  # a reply
    harness.clock.advance(10)
    assert harness.send(eid, 0, "01") == Done("reconciled: it had been sent")
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step, enrollment.step_state) == (REPLIED, 0, "sent")
    [message] = harness.messages()
    assert message.step == 0 and len(list(harness.sim.sends())) == 1  # never sent again


def test_a_send_that_never_went_out_is_let_go_not_sent(harness: Harness) -> None:
    eid = _in_flight_then_replied(harness)
    assert isinstance(harness.send(eid, 0, "01"), PutBack)  # too early to tell
    harness.clock.advance(121)
    assert harness.send(eid, 0, "01") == Done(
        "the step in flight when the enrollment ended never went out"
    )
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step_state) == (REPLIED, "due")
    assert harness.sends() == 0 and harness.quota_used() == 0


def test_the_dispatcher_hands_such_a_step_to_reconciliation(harness: Harness) -> None:
    eid = _in_flight_then_replied(harness)
    queued: list[tuple[str, int, int, int]] = []
    dispatcher = Dispatcher(
        harness.settings, compiled_sequences(harness.settings), harness.database,
        lambda *args: queued.append(args),
    )  # fmt: skip
    assert dispatcher.run_once(harness.clock.now()).reconciling == 0  # still in its lease
    later = harness.clock.now() + timedelta(seconds=121 + 90)
    report = dispatcher.run_once(later)
    assert report.reconciling == 1 and [q[:3] for q in queued] == [("phone_01", eid, 0)]
