"""The simulator answers every call the engine makes with the fields the spec promises.

Always runs (no spec file needed): the shapes are our own restatement of the spec's
(tests/timelinesai/contract_subset.py). The schemathesis run against the spec itself is
test_tl_contract_spec.py, which needs a local copy of the spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from tests.timelinesai import contract_subset as shapes
from tests.timelinesai.contract import LEAD, OFFLINE, OTHER, OURS, Seeded, seeded


@pytest.fixture(scope="module")
def sim() -> Iterator[Seeded]:
    with seeded() as filled:
        yield filled


def problems(schema: shapes.Schema, instance: Any) -> list[str]:
    """Where ``instance`` breaks ``schema``, one line a problem."""
    validator = jsonschema_rs.Draft202012Validator(schema)
    return [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(instance)]


def conforms(response: Any, schema: shapes.Schema) -> None:
    assert response.status_code == 200, (response.status_code, response.text)
    assert problems(schema, response.json()) == []


def test_lists_whatsapp_accounts_with_owner_and_binary_status(sim: Seeded) -> None:
    answer = sim.api("GET", "/whatsapp_accounts")
    conforms(answer, shapes.ACCOUNTS)
    accounts = {item["phone"]: item for item in answer.json()["data"]["whatsapp_accounts"]}
    assert accounts[OURS]["account_name"] == "Sales One"
    assert accounts[OFFLINE]["status"] == "disconnected"
    assert "disconnected_on" in accounts[OFFLINE]
    assert "disconnected_on" not in accounts[OURS]


def test_files_upload_list_get_and_delete(sim: Seeded) -> None:
    conforms(
        sim.api("POST", "/files", json={"download_url": "https://x.test/p.png"}), shapes.ONE_FILE
    )
    uploaded = sim.api("POST", "/files_upload", files={"file": ("n.txt", b"abc", "text/plain")})
    conforms(uploaded, shapes.ONE_FILE)
    conforms(sim.api("GET", f"/files/{sim.file_uid}"), shapes.ONE_FILE)

    listed = sim.api("GET", "/files")
    conforms(listed, shapes.FILES)
    assert sim.file_uid in {item["uid"] for item in listed.json()["data"]}
    by_name = sim.api("GET", "/files", params={"filename": "TXT"})
    conforms(by_name, shapes.FILES)
    assert [item["filename"] for item in by_name.json()["data"]] == ["n.txt"]

    gone = uploaded.json()["data"]["uid"]
    assert sim.api("DELETE", f"/files/{gone}").status_code == 200
    missing = sim.api("GET", f"/files/{gone}")
    assert missing.status_code == 404
    assert problems(shapes.ERROR, missing.json()) == []


def test_chats_and_their_messages(sim: Seeded) -> None:
    conforms(sim.api("GET", "/chats"), shapes.CHATS)
    history = sim.api("GET", f"/chats/{sim.chat_id}/messages")
    conforms(history, shapes.MESSAGES)
    messages = history.json()["data"]["messages"]
    assert {m["uid"] for m in messages} == {sim.first_uid, sim.answer_uid, sim.followup_uid}
    for uid in (sim.first_uid, sim.answer_uid, sim.followup_uid):
        conforms(sim.api("GET", f"/messages/{uid}"), shapes.ONE_MESSAGE)
        conforms(sim.api("GET", f"/messages/{uid}/status_history"), shapes.STATUS_HISTORY)
    [first] = [m for m in messages if m["uid"] == sim.first_uid]
    assert first["has_attachment"] is True and first["attachment_filename"] == "a.pdf"
    [answer] = [m for m in messages if m["uid"] == sim.answer_uid]
    assert "attachment_url" not in answer


def test_sends_answer_a_message_uid(sim: Seeded) -> None:
    body = {"phone": "+40712345679", "whatsapp_account_phone": OURS, "text": "Hello"}
    conforms(sim.api("POST", "/messages", json=body), shapes.SENT)
    conforms(sim.api("POST", f"/chats/{sim.chat_id}/messages", json={"text": "More"}), shapes.SENT)
    jid = {"jid": "40712345670@s.whatsapp.net", "whatsapp_account_phone": OURS, "text": "Hi"}
    conforms(sim.api("POST", "/messages/to_jid", json=jid), shapes.SENT)


def test_send_without_an_account_uses_the_latest_connected_one(sim: Seeded) -> None:
    """The spec: without ``whatsapp_account_phone``, the most recently connected account."""
    sim.handle.set_account_status(OTHER, "disconnected")
    sim.handle.set_account_status(OTHER, "active")  # now the most recently connected
    answer = sim.api("POST", "/messages", json={"phone": "+40712345671", "text": "Hi"})
    conforms(answer, shapes.SENT)
    uid = answer.json()["data"]["message_uid"]
    [entry] = [entry for entry in sim.handle.sends() if entry.message_uid == uid]
    assert entry.account_phone == OTHER


def test_webhook_subscriptions(sim: Seeded) -> None:
    conforms(sim.api("GET", "/webhooks"), shapes.WEBHOOKS)
    conforms(sim.api("GET", f"/webhooks/{sim.webhook_id}"), shapes.ONE_WEBHOOK)
    changed = sim.api("PUT", f"/webhooks/{sim.webhook_id}", json={"enabled": False})
    conforms(changed, shapes.ONE_WEBHOOK)
    # Idempotent on (event type, URL): the same pair answers the same id, enabled again.
    again = sim.api(
        "POST",
        "/webhooks",
        json={"event_type": "message:received:new", "url": "https://example.com/hook"},
    )
    conforms(again, shapes.ONE_WEBHOOK)
    assert (again.json()["data"]["id"], again.json()["data"]["enabled"]) == (sim.webhook_id, True)
    # The spec's path parameter is a string: a non-number is a 404, as for any unknown id.
    assert sim.api("GET", "/webhooks/abc").status_code == 404


def test_workspace_quota(sim: Seeded) -> None:
    answer = sim.api("GET", "/workspace")
    conforms(answer, shapes.WORKSPACE)
    # Two sends seeded (first message and follow-up); other tests may add more.
    assert answer.json()["data"]["messaging_quota"]["used"] >= 2


def test_refusals_carry_the_error_envelope(sim: Seeded) -> None:
    for answer in (
        sim.api("GET", "/messages/no-such-uid"),
        sim.api("POST", "/messages", json={"phone": "12", "whatsapp_account_phone": OURS}),
        sim.http.get("/chats"),  # no token
    ):
        assert answer.status_code in (400, 401, 404)
        assert problems(shapes.ERROR, answer.json()) == []


def test_webhook_bodies(sim: Seeded) -> None:
    sent, received = sim.events["message:sent:new"], sim.events["message:received:new"]
    assert {body["message"]["message_uid"] for body in sent} == {sim.first_uid, sim.followup_uid}
    assert [body["message"]["message_uid"] for body in received] == [sim.answer_uid]
    for body in sent + received:
        assert problems(shapes.MESSAGE_EVENT, body) == [], body
    [gone] = sim.events["whatsapp:account:disconnected"]
    assert problems(shapes.ACCOUNT_EVENT, gone) == []
    assert gone["whatsapp_account"]["phone"] == OFFLINE


def test_the_lead_chat_is_found_by_phone(sim: Seeded) -> None:
    [chat] = sim.api("GET", "/chats", params={"phone": LEAD}).json()["data"]["chats"]
    assert chat["id"] == sim.chat_id
