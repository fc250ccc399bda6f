"""An out-of-office notice from webhook to follow-up: the receiver postpones the next step,
the replies worker labels the notice (no review), the dispatcher leaves the step alone
until the return date, and then the follow-up goes (the chat read before it finds the
same notice again, which is no reply)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import select

from engine.dispatcher import Dispatcher
from engine.models import Message, ReviewFlag
from engine.replies.followups import CLASSIFY_REPLY
from engine.replies.notify import HttpNotifier
from engine.replies.rules import OUT_OF_OFFICE, ReplyRules
from engine.replies.service import ReplyClassifier
from engine.sending.outcome import Done
from engine.webhook.handlers import PROCESSED
from engine.webhook.payloads import parse_event
from sequences import compiled_sequences
from tests.sending.conftest import PHONES, START, Checked

LEAD = "+40712345678"
NOTICE = "Automatic reply: I am out of the office until 20 January. For urgent matters call Ion."
BACK = datetime(2026, 1, 20, tzinfo=UTC)  # the intro sequence reads it in UTC, any hour


def _webhook_body(message: dict[str, Any]) -> dict[str, Any]:
    """The ``message:received:new`` TimelinesAI posts for a message the lead wrote."""
    return {
        "event_type": "message:received:new",
        "chat": {"chat_id": message["chat_id"], "full_name": "Ana", "phone": LEAD,
                 "is_group": False},
        "whatsapp_account": {"phone": PHONES[0], "full_name": "Sales", "email": "o@example.com"},
        "message": {
            "message_uid": message["uid"], "text": message["text"], "direction": "received",
            "origin": "WhatsApp", "timestamp": "2026-01-13 13:00:00 +0200",
            "sender": {"full_name": None, "phone": LEAD},
            "recipient": {"full_name": None, "phone": PHONES[0]}, "attachments": [],
        },
    }  # fmt: skip


class Queued:
    """The dispatcher's enqueue: what it handed to the phones' queues."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, int, int]] = []

    def __call__(self, queue: str, enrollment_id: int, step: int, dispatch: int) -> None:
        self.sent.append((queue, enrollment_id, step, dispatch))


def test_a_notice_postpones_the_follow_up_to_the_return_date(checked: Checked) -> None:
    harness, handler, follow_ups = checked.harness, checked.handler, checked.follow_ups
    eid = harness.enroll(LEAD)
    assert harness.send(eid, 0, "01") == Done("sent")  # Tuesday 13 January; step 2 in 2 days

    # The webhook: the notice is stored, the sequence goes on, the step waits.
    harness.clock.advance(hours=1)
    message = harness.sim.inbound(NOTICE, phone=LEAD, account_phone=PHONES[0])
    payload = _webhook_body(message)
    outcome = handler.handle(parse_event(payload), payload)
    assert (outcome.result, outcome.away) == (PROCESSED, True)
    enrollment = harness.enrollment(eid)
    assert (enrollment.state, enrollment.step, enrollment.due_at) == ("active", 1, BACK)

    # The replies worker: labelled, no review flag (for all its "urgent").
    [follow_up] = follow_ups
    assert follow_up.actor == CLASSIFY_REPLY
    notifier = HttpNotifier(transport=httpx.MockTransport(lambda _: httpx.Response(200)))
    rules = ReplyRules(harness.settings.replies)
    worker = ReplyClassifier(harness.database, rules, harness.clock, notifier)
    result = worker.classify(follow_up.args[0])
    assert result is not None and result.label == OUT_OF_OFFICE
    with harness.database.session() as session:
        assert list(session.exec(select(ReviewFlag))) == []
        [stored] = session.exec(select(Message).where(Message.direction == "in"))
    assert stored.intent == OUT_OF_OFFICE

    # The dispatcher: nothing when the step would have been due, nor the night before.
    queued = Queued()
    settings = harness.settings
    dispatcher = Dispatcher(settings, compiled_sequences(settings), harness.database, queued)
    for moment in (datetime(2026, 1, 15, 10, tzinfo=UTC), datetime(2026, 1, 19, 23, tzinfo=UTC)):
        harness.clock.set(moment)
        dispatcher.run_once(moment)
    assert [item for item in queued.sent if item[1] == eid] == []

    # On the return date it is dispatched and goes out.
    harness.clock.set(datetime(2026, 1, 20, 9, tzinfo=UTC))
    dispatcher.run_once(harness.clock.now())
    [(_, _, step, dispatch)] = [item for item in queued.sent if item[1] == eid]
    assert step == 1
    assert harness.send(eid, 1, "01", dispatch_id=dispatch) == Done("sent")
    assert harness.sends() == 2
    with harness.database.session() as session:
        [follow] = session.exec(select(Message).where(Message.step == 1))
    assert follow.sent_at is not None and follow.sent_at >= BACK > START
    assert harness.enrollment(eid).state == "completed"
