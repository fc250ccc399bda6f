"""The ``replies`` queue's work: classification, review flags, notifications, takeovers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import dramatiq
import httpx
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlmodel import select

from engine.jobs import sweep_follow_ups
from engine.models import Message, ReviewFlag, WebhookEvent
from engine.replies import IntentRule, RepliesSettings
from engine.replies.actors import declare_reply_actors
from engine.replies.followups import CHECK_SENT, CLASSIFY_REPLY, NOTIFY_ALERT, FollowUp
from engine.replies.notify import HttpNotifier
from engine.replies.rules import ReplyRules
from engine.replies.runtime import ReplyRuntime
from engine.replies.service import ReplyClassifier
from engine.replies.takeover import MANUAL, OURS, STOPPED, TakeoverCheck
from tests.webhook.conftest import Receiver, body, write_settings


class Posted:
    """A fake notification endpoint (httpx.MockTransport)."""

    def __init__(self, status_code: int = 200) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.status_code = status_code

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append((str(request.url), json.loads(request.content)))
        return httpx.Response(self.status_code)


def classifier(receiver: Receiver, posted: Posted, settings: RepliesSettings) -> ReplyClassifier:
    notifier = HttpNotifier(transport=httpx.MockTransport(posted))
    return ReplyClassifier(receiver.database, ReplyRules(settings), receiver.clock, notifier)


def reply(receiver: Receiver, text: str) -> int:
    receiver.post(body(text=text))
    follow_up = receiver.follow_ups[-1]
    assert follow_up.actor == CLASSIFY_REPLY
    message_id = follow_up.args[0]
    assert isinstance(message_id, int)
    return message_id


def test_a_reply_gets_its_class_intents_and_review_flag_once(receiver: Receiver) -> None:
    eid = receiver.enroll()
    message_id = reply(receiver, "E urgent: ce preț aveți? Sunați-mă")
    posted = Posted()
    settings = RepliesSettings(human_review_notify_url="https://hooks.example/review")
    work = classifier(receiver, posted, settings)
    result = work.classify(message_id)
    assert result is not None and result.label == "human_review"
    [message] = receiver.messages()
    assert (message.intent, message.intents) == ("human_review", ["pricing", "schedule_call"])
    assert message.classified_at is not None
    with receiver.database.session() as session:
        [flag] = session.exec(select(ReviewFlag))
    assert (flag.message_id, flag.enrollment_id, flag.priority) == (message_id, eid, 2)
    assert flag.reasons["matched"]["human_review"] == ["urgent", "pret"]
    [(url, sent)] = posted.bodies
    assert url == "https://hooks.example/review"
    assert (sent["rule"], sent["class"], sent["enrollment_state"]) == (
        "human_review", "human_review", "replied",
    )  # fmt: skip
    assert sent["phone"] == "+40712345678" and sent["text"].startswith("E urgent")
    assert work.classify(message_id) is None  # a second delivery does nothing
    assert len(posted.bodies) == 1


def test_a_failing_notification_url_does_not_fail_the_classification(receiver: Receiver) -> None:
    receiver.enroll()
    message_id = reply(receiver, "STOP")
    posted = Posted(status_code=500)
    work = classifier(receiver, posted, RepliesSettings(opt_out_notify_url="https://x.example/o"))
    result = work.classify(message_id)
    assert result is not None and result.label == "opt_out" and len(posted.bodies) == 1
    assert receiver.messages()[0].intent == "opt_out"


def test_intents_with_a_review_priority_raise_a_flag(receiver: Receiver) -> None:
    receiver.enroll()
    message_id = reply(receiver, "I want a refund")
    settings = RepliesSettings(intents={"refund": IntentRule(("refund",), review_priority=3)})
    classifier(receiver, Posted(), settings).classify(message_id)
    with receiver.database.session() as session:
        [flag] = session.exec(select(ReviewFlag))
    assert flag.priority == 3 and receiver.messages()[0].intent == "refund"


def test_plain_replies_raise_no_flag(receiver: Receiver) -> None:
    receiver.enroll()
    classifier(receiver, Posted(), RepliesSettings()).classify(reply(receiver, "Thanks!"))
    with receiver.database.session() as session:
        assert list(session.exec(select(ReviewFlag))) == []
    assert receiver.messages()[0].intent == "other"


# Takeover ----------------------------------------------------------------------------


def checker(receiver: Receiver) -> TakeoverCheck:
    return TakeoverCheck(receiver.database, receiver.settings, receiver.clock)


def sent_event(receiver: Receiver, **kwargs: Any) -> int:
    receiver.post(body("message:sent:new", **kwargs))
    follow_up = receiver.follow_ups[-1]
    assert follow_up.actor == CHECK_SENT
    event_id = follow_up.args[0]
    assert isinstance(event_id, int)
    return event_id


def test_a_person_typing_in_the_shared_inbox_stops_the_sequence(receiver: Receiver) -> None:
    eid = receiver.enroll()
    event_id = sent_event(receiver, uid="typed", text="Hi, Maria here", origin="TimelinesAI")
    assert checker(receiver).check(event_id) == STOPPED
    enrollment = receiver.enrollment(eid)
    assert (enrollment.state, enrollment.end_reason) == ("stopped", "manual_takeover")
    [message] = receiver.messages()
    assert (message.direction, message.origin, message.enrollment_id) == ("out", "TimelinesAI", eid)
    with receiver.database.session() as session:
        [event] = session.exec(select(WebhookEvent))
    assert event.processed_at is not None
    assert checker(receiver).check(event_id) == "gone"  # done once


def test_with_manual_takeover_ignored_the_sequence_runs_on(
    receiver: Receiver, tmp_path: Any
) -> None:
    eid = receiver.enroll()
    event_id = sent_event(receiver, uid="typed", origin="WhatsApp")
    settings = write_settings(tmp_path / "ignore", webhook='manual_takeover = "ignore"')
    check = TakeoverCheck(receiver.database, settings, receiver.clock)
    assert check.check(event_id) == MANUAL
    assert receiver.enrollment(eid).state == "active"


def test_our_own_send_recorded_meanwhile_is_confirmed(receiver: Receiver) -> None:
    eid = receiver.enroll()
    event_id = sent_event(receiver, uid="ours-late", origin=None, chat_id=9090)
    with receiver.database.session() as session:
        session.add(Message(direction="out", enrollment_id=eid, step=1, message_uid="ours-late",
                            text="Following up", status="sent"))  # fmt: skip
    assert checker(receiver).check(event_id) == OURS
    assert receiver.enrollment(eid).state == "active"
    assert receiver.enrollment(eid).chat_id == 9090


@pytest.mark.parametrize(
    ("origin", "text", "expected"),
    [
        ("API", "anything", OURS),  # sent through the API: not a person
        (None, "Following up", OURS),  # the text of a send we recorded
        (None, "Typed by Maria", STOPPED),
    ],
)
def test_without_a_record_the_origin_or_text_decides(
    receiver: Receiver, origin: str | None, text: str, expected: str
) -> None:
    eid = receiver.enroll()
    lead_id = receiver.enrollment(eid).lead_id
    with receiver.database.session() as session:
        session.add(Message(direction="out", enrollment_id=eid, step=0, lead_id=lead_id,
                            message_uid="earlier", text="Following up", status="sent",
                            content_hash=_hash("Following up")))  # fmt: skip
    event_id = sent_event(receiver, uid="unknown", origin=origin, text=text,
                          form="nested" if origin else "flat")  # fmt: skip
    assert checker(receiver).check(event_id) == expected


def _hash(text: str) -> str:
    from engine.storage import content_hash

    return content_hash(text)


# The sweep and the actors --------------------------------------------------------------


def test_the_sweep_queues_lost_follow_ups_again(receiver: Receiver) -> None:
    receiver.enroll()
    reply(receiver, "hello")
    sent_event(receiver, uid="typed", origin="WhatsApp")
    queued: list[FollowUp] = []
    later = receiver.clock.now() + timedelta(minutes=10)
    assert sweep_follow_ups(receiver.database, queued.append, later, older_than_s=300) == 2
    assert sorted(f.actor for f in queued) == [CHECK_SENT, CLASSIFY_REPLY]
    assert sweep_follow_ups(receiver.database, queued.append, receiver.clock.now(),
                            older_than_s=300) == 0  # fmt: skip


class Jobs:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def classify_reply(self, message_id: int) -> None:
        self.calls.append((CLASSIFY_REPLY, message_id))

    def check_sent_message(self, event_id: int) -> None:
        self.calls.append((CHECK_SENT, event_id))

    def notify_alert(self, kind: str, message: str, severity: str, phone_id: str | None) -> None:
        self.calls.append((NOTIFY_ALERT, kind, message, severity, phone_id))


def test_the_actors_hand_each_follow_up_to_its_job(tmp_path: Any) -> None:
    settings = write_settings(tmp_path)
    broker = StubBroker()
    jobs = Jobs()
    actors = declare_reply_actors(broker, settings, jobs)
    actors.enqueue(FollowUp(CLASSIFY_REPLY, (7,)))
    actors.enqueue(FollowUp(CHECK_SENT, (8,), delay_s=0.01))
    actors.enqueue(FollowUp(NOTIFY_ALERT, ("phone_banned", "phone 01 is banned", "critical", "01")))
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    broker.join("replies", timeout=5000)
    worker.join()
    worker.stop()
    broker.close()
    assert sorted(jobs.calls, key=str) == sorted(
        [(CLASSIFY_REPLY, 7), (CHECK_SENT, 8),
         (NOTIFY_ALERT, "phone_banned", "phone 01 is banned", "critical", "01")],
        key=str,
    )  # fmt: skip


def test_an_enqueue_only_process_refuses_to_run_the_jobs(tmp_path: Any) -> None:
    actors = declare_reply_actors(StubBroker(), write_settings(tmp_path), None)
    with pytest.raises(RuntimeError, match="outreach replies worker"):
        actors.actors[CLASSIFY_REPLY].fn(1)


def test_the_runtime_routes_alerts_to_the_sink(receiver: Receiver) -> None:
    class Sink:
        def __init__(self) -> None:
            self.seen: list[tuple[str, str, str, str | None]] = []

        def notify(self, kind: str, message: str, *, severity: str, phone_id: str | None) -> None:
            self.seen.append((kind, message, severity, phone_id))

    sink = Sink()
    runtime = ReplyRuntime(classifier(receiver, Posted(), RepliesSettings()), checker(receiver),
                           sink)  # fmt: skip
    runtime.notify_alert("phone_offline", "phone 01 is offline", "critical", "01")
    assert sink.seen == [("phone_offline", "phone 01 is offline", "critical", "01")]
