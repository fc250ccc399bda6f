"""Automatic answers: which rule answers a reply (pure), and the classifier storing it once."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from engine.models import AutoReply
from engine.replies import IntentRule, RepliesSettings
from engine.replies.autoreply import AutoReplies
from engine.replies.notify import HttpNotifier
from engine.replies.rules import ReplyRules
from engine.replies.service import ReplyClassifier
from tests.webhook.conftest import LEAD, Receiver, body
from tests.webhook.test_wh_replies import Posted, reply

CONFIRMATION = "Done, you will not hear from us again."
SETTINGS = RepliesSettings(
    human_review=("urgent",),
    opt_out_auto_reply=CONFIRMATION,
    human_review_auto_reply="Thanks {{name|there}}, a colleague will call you today.",
    intents={
        "pricing": IntentRule(("price",), auto_reply="Our prices: https://example.com/p"),
        "call": IntentRule(("call",)),
        "demo": IntentRule(("demo",), auto_reply="Book a demo: https://example.com/d"),
    },
)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("STOP", "opt_out"),
        ("stop, what is the price?", "opt_out"),  # an opt-out gets only its confirmation
        ("urgent: call me", "human_review"),  # review comes before the intents
        ("what is the price of a demo?", "pricing"),  # intents in the config's order
        ("can we do a demo call", "demo"),  # "call" matched first but has no answer
        ("call me", None),
        ("thanks", None),
    ],
)
def test_the_first_matching_rule_with_an_answer_answers(text: str, rule: str | None) -> None:
    answers = AutoReplies(SETTINGS)
    classification = ReplyRules(SETTINGS).classify(text)
    assert answers.rule_for(classification) == rule


def test_an_opt_out_without_its_own_answer_gets_none() -> None:
    settings = RepliesSettings(intents={"pricing": IntentRule(("price",), auto_reply="Prices")})
    classification = ReplyRules(settings).classify("STOP sending prices")
    assert AutoReplies(settings).rule_for(classification) is None


def test_answers_are_off_by_default_and_need_the_leads_variables() -> None:
    assert not AutoReplies(RepliesSettings())
    strict = RepliesSettings(human_review_auto_reply="Hi {{name}}")
    classification = ReplyRules(strict).classify("urgent")
    assert AutoReplies(strict).answer(classification, {}, seed="x") is None
    answer = AutoReplies(strict).answer(classification, {"name": "Ana"}, seed="x")
    assert answer is not None and (answer.rule, answer.text) == ("human_review", "Hi Ana")


def _classifier(receiver: Receiver) -> ReplyClassifier:
    notifier = HttpNotifier(transport=httpx.MockTransport(Posted()))
    return ReplyClassifier(
        receiver.database, ReplyRules(SETTINGS), receiver.clock, notifier, AutoReplies(SETTINGS)
    )


def _answers(receiver: Receiver) -> list[AutoReply]:
    with receiver.database.session() as session:
        return list(session.exec(select(AutoReply)))


def test_a_classified_reply_stores_its_answer_once_per_lead(receiver: Receiver) -> None:
    eid = receiver.enroll(chat_id=1001)
    work = _classifier(receiver)
    first = reply(receiver, "Urgent, please call")
    work.classify(first)
    [answer] = _answers(receiver)
    assert (answer.rule, answer.state, answer.phone_id, answer.chat_id) == (
        "human_review", "due", "01", 1001,
    )  # fmt: skip
    assert answer.text == "Thanks Ana, a colleague will call you today."
    assert (answer.enrollment_id, answer.message_id) == (eid, first)
    assert answer.due_at == receiver.clock.now()
    work.classify(reply(receiver, "What is the price?"))  # the same lead again
    assert len(_answers(receiver)) == 1


def test_no_answer_for_an_unknown_sender_or_a_plain_reply(receiver: Receiver) -> None:
    work = _classifier(receiver)
    receiver.post(body(lead="+40799999999", text="urgent"))
    unknown = receiver.follow_ups[-1].args[0]
    assert isinstance(unknown, int)
    work.classify(unknown)
    receiver.enroll(LEAD)
    work.classify(reply(receiver, "Thanks"))
    assert _answers(receiver) == []


def test_an_opt_out_drops_the_answers_not_sent_yet_so_its_confirmation_can_go(
    receiver: Receiver,
) -> None:
    receiver.enroll(chat_id=1001)
    work = _classifier(receiver)
    work.classify(reply(receiver, "Urgent, please call"))
    [first] = _answers(receiver)
    assert (first.rule, first.state) == ("human_review", "due")
    work.classify(reply(receiver, "Actually, STOP"))
    [confirmation] = _answers(receiver)
    assert (confirmation.rule, confirmation.text) == ("opt_out", CONFIRMATION)
