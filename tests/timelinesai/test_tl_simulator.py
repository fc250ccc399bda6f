"""The client against the simulator over real HTTP: the API behaves as documented."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.timelinesai import (
    AccountBanned,
    BadRequest,
    BadToken,
    ChatNotFound,
    InvalidRecipient,
    MessageNotFound,
    MessageStatus,
    NotFound,
    PayloadTooLarge,
    SimAccount,
    SimulatorHandle,
    TimelinesAIClient,
)
from engine.timelinesai.message_quota import MessageQuota, read_message_quota
from engine.timelinesai.simulator import SimulatorConfig
from engine.timelinesai.simulator.app import create_app

Start = Callable[..., SimulatorHandle]
Connect = Callable[..., TimelinesAIClient]

LEAD = "+40712345678"
OURS = "+15550100001"


def test_round_trip(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator(speed=1000)
    client = sim_client(sim)
    accounts = client.whatsapp_accounts()
    assert [account.phone for account in accounts] == [
        "+15550100001",
        "+15550100002",
        "+15550100003",
    ]
    assert all(account.is_connected for account in accounts)

    sent = client.send_message(phone=LEAD, text="Hi Ana", from_phone=OURS)
    [chat] = client.find_chats(phone=LEAD, account_ids=[accounts[0].id])
    assert (chat.phone, chat.whatsapp_account_id, chat.last_message_uid) == (
        LEAD,
        accounts[0].id,
        sent.message_uid,
    )
    [message] = client.iter_chat_messages(chat.id)
    assert (message.uid, message.text, message.from_me) == (sent.message_uid, "Hi Ana", True)
    assert (message.sender_phone, message.recipient_phone) == (OURS, LEAD)

    time.sleep(0.1)  # 100 virtual seconds: queued, sent, delivered, read
    history = client.message_status_history(sent.message_uid)
    assert [change.status for change in history] == ["queued", "sent", "delivered", "read"]
    assert [change.timestamp for change in history] == sorted(c.timestamp for c in history)
    assert client.message(sent.message_uid).status == MessageStatus.READ


def test_statuses_advance_on_the_simulator_clock(
    start_simulator: Start, sim_client: Connect
) -> None:
    sim = start_simulator(speed=10, sent_after_s=0.0, delivered_after_s=5.0, read_after_s=1000.0)
    client = sim_client(sim)
    uid = client.send_message(phone=LEAD, text="Hi", from_phone=OURS).message_uid
    assert client.message(uid).status == MessageStatus.SENT
    time.sleep(0.7)
    assert client.message(uid).status == MessageStatus.DELIVERED


def test_status_words_in_upper_case_are_read_lowercase(
    start_simulator: Start, sim_client: Connect
) -> None:
    # Every status is due at once: nothing to wait for on the simulator's (real) clock.
    sim = start_simulator(
        status_case="upper",
        read_receipt_rate=0.0,
        sent_after_s=0.0,
        delivered_after_s=0.0,
        read_after_s=0.0,
    )
    client = sim_client(sim)
    uid = client.send_message(phone=LEAD, text="Hi", from_phone=OURS).message_uid
    # Read receipts off: the message stops at delivered.
    assert [c.status for c in client.message_status_history(uid)] == ["queued", "sent", "delivered"]


def test_a_recipient_named_undelivered_stays_sent_and_never_answers(
    start_simulator: Start, sim_client: Connect
) -> None:
    # Every status is due at once and every lead would answer, but the named one.
    sim = start_simulator(
        sent_after_s=0.0,
        delivered_after_s=0.0,
        read_after_s=0.0,
        reply_probability=1.0,
        reply_delay_s=0.0,
        undelivered_recipient_pattern="^\\+40700000001$",
    )
    client = sim_client(sim)
    lost = client.send_message(phone="+40700000001", text="Hi", from_phone=OURS).message_uid
    kept = client.send_message(phone="+40700000002", text="Hi", from_phone=OURS).message_uid
    assert [c.status for c in client.message_status_history(lost)] == ["queued", "sent"]
    assert [c.status for c in client.message_status_history(kept)][-1] == "read"
    answered = {chat.phone for chat in client.find_chats(read=False)}
    assert answered == {"+40700000002"}


def test_chats_are_opened_by_a_first_message_and_reused(
    start_simulator: Start, sim_client: Connect
) -> None:
    client = sim_client(start_simulator())
    first = client.send_message(phone=LEAD, text="one", from_phone=OURS)
    client.send_message(phone=LEAD, text="two", from_phone=OURS)
    client.send_message(phone=LEAD, text="other number", from_phone="+15550100002")
    chats = list(client.find_chats(phone=LEAD))
    assert len(chats) == 2
    mine = next(chat for chat in chats if chat.whatsapp_account_id == "15550100001@s.whatsapp.net")
    follow_up = client.send_to_chat(mine.id, text="three", reply_to=first.message_uid)
    newest_first = [message.text for message in client.iter_chat_messages(mine.id)]
    assert newest_first == ["three", "two", "one"]
    oldest_first = client.iter_chat_messages(mine.id, order="asc", after_message=first.message_uid)
    assert [message.uid for message in oldest_first][-1] == follow_up.message_uid
    assert [m.text for m in client.iter_chat_messages(mine.id, from_me=False)] == []


def test_pages_of_fifty(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator()
    client = sim_client(sim)
    for number in range(55):
        client.send_message(phone=f"+4071000{number:04d}", text="Hi", from_phone=OURS)
    assert len(list(client.find_chats())) == 55
    pages = [entry.query for entry in sim.requests() if entry.path == "/chats"]
    assert pages == ["page=1", "page=2"]


@pytest.mark.parametrize("phone", ["+40799999999", "12", "not a number"])
def test_invalid_recipients(start_simulator: Start, sim_client: Connect, phone: str) -> None:
    client = sim_client(start_simulator(invalid_recipient_pattern=r"^\+407999"))
    with pytest.raises(InvalidRecipient) as raised:
        client.send_message(phone=phone, text="Hi", from_phone=OURS)
    assert raised.value.phone == phone


def test_a_disconnected_account_gets_the_wrong_number_answer(
    start_simulator: Start, sim_client: Connect
) -> None:
    sim = start_simulator(accounts=[SimAccount(phone=OURS, status="disconnected")])
    client = sim_client(sim)
    with pytest.raises(InvalidRecipient):
        client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    [account] = client.whatsapp_accounts()
    assert account.status == "disconnected"
    assert not account.is_connected


def test_a_banned_account(start_simulator: Start, sim_client: Connect) -> None:
    sim = start_simulator()
    client = sim_client(sim)
    chat_id = _chat_of(client, client.send_message(phone=LEAD, text="Hi", from_phone=OURS))
    sim.set_account_status(OURS, "banned")
    with pytest.raises(AccountBanned) as raised:
        client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    assert raised.value.from_phone == OURS
    with pytest.raises(AccountBanned):
        client.send_to_chat(chat_id, text="again")


def test_not_found(start_simulator: Start, sim_client: Connect) -> None:
    client = sim_client(start_simulator())
    with pytest.raises(ChatNotFound):
        client.send_to_chat(4242, text="Hi")
    with pytest.raises(ChatNotFound):
        list(client.iter_chat_messages(4242))
    with pytest.raises(MessageNotFound):
        client.message("no-such-uid")
    with pytest.raises(MessageNotFound):
        client.message_status_history("no-such-uid")
    with pytest.raises(NotFound):
        client.send_message(phone=LEAD, text="Hi", from_phone=OURS, file_uid="no-such-file")
    # A refused send opens no chat.
    assert list(client.find_chats(phone=LEAD)) == []


def test_a_bad_token(start_simulator: Start) -> None:
    sim = start_simulator()
    with TimelinesAIClient(sim.base_url, "wrong") as client, pytest.raises(BadToken):
        client.whatsapp_accounts()


def test_paths_with_a_trailing_slash_are_not_found(start_simulator: Start) -> None:
    sim = start_simulator()
    answer = httpx.post(
        sim.base_url + "/messages/", json={}, headers={"authorization": f"Bearer {sim.token}"}
    )
    assert answer.status_code == 404
    assert answer.json() == {"status": "error", "message": "Not Found"}


def test_files(start_simulator: Start, sim_client: Connect) -> None:
    client = sim_client(start_simulator(max_upload_bytes=100))
    by_url = client.upload_file_from_url("https://cdn.test/menus/menu.pdf")
    assert (by_url.filename, by_url.mimetype) == ("menu.pdf", "application/pdf")
    uploaded = client.upload_file(b"\x89PNG" * 10, filename="logo.png", content_type="image/png")
    assert (uploaded.filename, uploaded.size, uploaded.mimetype) == ("logo.png", 40, "image/png")
    sent = client.send_message(phone=LEAD, text="", from_phone=OURS, file_uid=uploaded.uid)
    message = client.message(sent.message_uid)
    assert message.has_attachment
    assert message.message_type == "file"
    with pytest.raises(PayloadTooLarge):
        client.upload_file(b"x" * 101, filename="big.bin", content_type="application/octet-stream")


def test_webhook_subscriptions(start_simulator: Start, sim_client: Connect) -> None:
    client = sim_client(start_simulator())
    created = client.create_webhook("message:received:new", "https://engine.test/hook?secret=s")
    assert client.get_webhook(created.id) == created
    assert client.update_webhook(created.id, enabled=False).enabled is False
    for n in range(9):
        client.create_webhook("message:sent:new", f"https://engine.test/hook{n}")
    assert len(client.list_webhooks()) == 10
    with pytest.raises(BadRequest, match="at most 10"):
        client.create_webhook("message:sent:new", "https://engine.test/hook")
    # The same event type and URL again is the same subscription, not an eleventh.
    assert client.create_webhook("message:sent:new", "https://engine.test/hook0").id == 2
    client.delete_webhook(created.id)
    with pytest.raises(NotFound):
        client.get_webhook(created.id)


def test_quotas(start_simulator: Start, sim_client: Connect) -> None:
    client = sim_client(start_simulator())
    client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    assert client.workspace_quotas().raw["messages_sent"] == 1


def test_the_request_log_shows_who_sent_what_and_when(
    start_simulator: Start, sim_client: Connect, tmp_path: Path
) -> None:
    log_file = tmp_path / "requests.jsonl"
    sim = start_simulator(log_file=log_file)
    client = sim_client(sim)
    sent = client.send_message(phone=LEAD, text="Hi Ana", from_phone=OURS)
    chat_id = _chat_of(client, sent)
    client.send_to_chat(chat_id, text="Following up")
    entries = sim.sends()
    assert [(e.account_phone, e.recipient_phone, e.text, e.status_code) for e in entries] == [
        (OURS, LEAD, "Hi Ana", 200),
        (OURS, LEAD, "Following up", 200),
    ]
    assert entries[0].message_uid == sent.message_uid
    assert entries[1].chat_id == chat_id
    for entry in entries:
        assert entry.answered_at is not None
        assert entry.received_at <= entry.answered_at
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert {line["path"] for line in lines} >= {"/messages", f"/chats/{chat_id}/messages"}
    assert lines[0]["received_at"].endswith("+00:00")
    assert "." in lines[0]["received_at"]


def test_concurrent_requests_overlap_in_the_log(
    start_simulator: Start, sim_client: Connect
) -> None:
    sim = start_simulator(latency_ms=200)
    client = sim_client(sim)
    barrier = threading.Barrier(3)

    def send(index: int) -> None:
        barrier.wait()
        client.send_message(phone=f"+4071000000{index}", text="Hi", from_phone=OURS)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries: list[Any] = sim.sends()
    assert len(entries) == 3
    latest_start = max(entry.received_at for entry in entries)
    earliest_end = min(entry.answered_at for entry in entries)
    assert latest_start < earliest_end
    assert all((e.answered_at - e.received_at).total_seconds() >= 0.2 for e in entries)


def _chat_of(client: TimelinesAIClient, sent: Any) -> int:
    return int(client.message(sent.message_uid).chat_id or 0)


def test_an_answer_is_logged_as_given_before_its_last_byte_goes() -> None:
    """A gap measured from ``answered_at`` must never be shorter than the client's wait:
    the time is read before the answer can reach the client, however long the server
    then takes to get back to its log."""
    app = create_app(SimulatorConfig(seed=7))
    body = json.dumps({"phone": LEAD, "whatsapp_account_phone": OURS, "text": "Hi"}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/integrations/api/messages", "raw_path": b"", "root_path": "",
        "query_string": b"", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    delivered: list[datetime] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            delivered.append(datetime.now(UTC))
            time.sleep(0.05)  # the server thread waits for the CPU right after the write

    asyncio.run(app(scope, receive, send))
    [entry] = app.state.simulator.log.entries()
    assert entry.status_code == 200
    assert entry.answered_at <= delivered[0]


def test_quotas_report_the_months_messages_in_the_shape_the_engine_reads(
    start_simulator: Start, sim_client: Connect
) -> None:
    sim = start_simulator()
    client = sim_client(sim)
    sim.configure(messages_per_month=5)
    for _ in range(2):
        client.send_message(phone=LEAD, text="Hi", from_phone=OURS)
    raw = client.workspace_quotas().raw
    assert raw["messaging_quota"] == {"total": 5, "used": 2}
    assert (raw["messages_monthly_limit"], raw["messages_left"]) == (5, 3)
    assert read_message_quota(raw) == MessageQuota(5, 3)
