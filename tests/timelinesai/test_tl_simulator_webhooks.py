"""What the simulator posts to the engine's webhook: sends, replies, account events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from engine.timelinesai import SimulatorHandle, TimelinesAIClient, parse_timestamp

Start = Callable[..., SimulatorHandle]
Connect = Callable[..., TimelinesAIClient]

LEAD = "+40712345678"
OURS = "+15550100001"


def test_every_send_is_posted_in_the_nested_form(
    start_simulator: Start, sim_client: Connect, webhook_receiver: Any
) -> None:
    url = webhook_receiver.url + "?secret=s3cr3t"
    client = sim_client(start_simulator(webhook_url=url))
    sent = client.send_message(phone=LEAD, text="Hi Ana", from_phone=OURS)
    [(path, body)] = webhook_receiver.wait_for(1)
    assert path == "/hooks/timelinesai?secret=s3cr3t"
    assert body["event_type"] == "message:sent:new"
    assert set(body) == {"event_type", "chat", "whatsapp_account", "message"}
    message = body["message"]
    assert (message["message_uid"], message["text"], message["direction"]) == (
        sent.message_uid,
        "Hi Ana",
        "sent",
    )
    assert (message["sender"]["phone"], message["recipient"]["phone"]) == (OURS, LEAD)
    assert body["chat"]["phone"] == LEAD
    assert body["whatsapp_account"]["phone"] == OURS
    parse_timestamp(message["timestamp"])


def test_leads_reply_after_a_delay_and_the_reply_is_in_the_history(
    start_simulator: Start, sim_client: Connect, webhook_receiver: Any
) -> None:
    sim = start_simulator(
        webhook_url=webhook_receiver.url,
        speed=100,
        sent_events=False,
        reply_probability=1.0,
        reply_delay_s=[10, 20],
        reply_texts=["Tell me more"],
    )
    client = sim_client(sim)
    started = time.monotonic()
    client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    [(_, body)] = webhook_receiver.wait_for(1)
    assert time.monotonic() - started >= 0.1
    assert body["event_type"] == "message:received:new"
    assert body["message"]["direction"] == "received"
    assert body["message"]["text"] == "Tell me more"
    assert body["message"]["sender"]["phone"] == LEAD
    [reply, _] = client.iter_chat_messages(body["chat"]["chat_id"])
    assert (reply.uid, reply.from_me, reply.text) == (
        body["message"]["message_uid"],
        False,
        "Tell me more",
    )


def test_opt_outs_and_the_flat_form(
    start_simulator: Start, sim_client: Connect, webhook_receiver: Any
) -> None:
    sim = start_simulator(
        webhook_url=webhook_receiver.url,
        speed=1000,
        payload_form="flat",
        reply_probability=1.0,
        reply_delay_s=1,
        opt_out_probability=1.0,
        opt_out_texts=["STOP"],
    )
    sim_client(sim).send_message(phone=LEAD, text="Hi", from_phone=OURS)
    bodies = {body["event_type"]: body for _, body in webhook_receiver.wait_for(2)}
    reply = bodies["message:received:new"]
    assert set(reply) == {"event_type", "data"}
    assert (reply["data"]["text"], reply["data"]["from_me"], reply["data"]["phone"]) == (
        "STOP",
        False,
        LEAD,
    )
    assert bodies["message:sent:new"]["data"]["from_me"] is True


@pytest.mark.parametrize(
    ("changes", "events"),
    [
        (["disconnected", "active"], ["disconnected", "connected"]),
        (["banned", "active"], ["suspended", "resumed"]),
    ],
)
def test_account_events(
    start_simulator: Start, webhook_receiver: Any, changes: list[str], events: list[str]
) -> None:
    sim = start_simulator(webhook_url=webhook_receiver.url)
    for status in changes:
        sim.set_account_status(OURS, status)  # type: ignore[arg-type]
    bodies = [body for _, body in webhook_receiver.wait_for(2)]
    assert [body["event_type"] for body in bodies] == [f"whatsapp:account:{e}" for e in events]
    account = bodies[0]["whatsapp_account"]
    assert (account["phone"], account["id"]) == (OURS, "15550100001@s.whatsapp.net")
    assert account["disconnected_on"] is not None


def test_a_ban_after_n_sends_fires_suspended(
    start_simulator: Start, sim_client: Connect, webhook_receiver: Any
) -> None:
    from engine.timelinesai import SimAccount

    sim = start_simulator(
        webhook_url=webhook_receiver.url,
        sent_events=False,
        accounts=[SimAccount(phone=OURS, ban_after_sends=1)],
    )
    sim_client(sim).send_message(phone=LEAD, text="Hi", from_phone=OURS)
    [(_, body)] = webhook_receiver.wait_for(1)
    assert body["event_type"] == "whatsapp:account:suspended"


def test_a_lead_writes_on_demand(start_simulator: Start, webhook_receiver: Any) -> None:
    sim = start_simulator(webhook_url=webhook_receiver.url)
    message = sim.inbound("Are you still there?", phone=LEAD, account_phone=OURS)
    [(_, body)] = webhook_receiver.wait_for(1)
    assert body["event_type"] == "message:received:new"
    assert body["message"]["message_uid"] == message["uid"]
    assert body["chat"]["chat_id"] == message["chat_id"]


def test_failed_deliveries_are_retried_a_bounded_number_of_times(
    start_simulator: Start, webhook_receiver: Any
) -> None:
    webhook_receiver.status_code = 503
    sim = start_simulator(
        webhook_url=webhook_receiver.url, speed=1000, webhook_retries=2, webhook_retry_delay_s=1
    )
    sim.inbound("hello", phone=LEAD, account_phone=OURS)
    assert len(webhook_receiver.wait_for(3)) == 3
    deadline = time.monotonic() + 5
    while not sim.deliveries() and time.monotonic() < deadline:
        time.sleep(0.01)
    [delivery] = sim.deliveries()
    assert (delivery["attempts"], delivery["status_code"], delivery["delivered"]) == (3, 503, False)
    time.sleep(0.1)
    assert webhook_receiver.pending() == 0


def test_no_webhook_url_no_calls(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(reply_probability=1.0, reply_delay_s=0)
    sim_client(sim).send_message(phone=LEAD, text="Hi", from_phone=OURS)
    assert sim.deliveries() == []
