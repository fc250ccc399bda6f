"""What the contract tests share: a served simulator with something in every collection.

``seeded()`` serves a simulator on loopback and fills it through its own API (a file, a
first message with that file, a lead's answer, a follow-up replying to the first message,
a webhook subscription, a disconnected account), so every answer the contract tests read
has real items in it, not empty lists; the webhook bodies those events posted are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from engine.timelinesai.simulator import (
    SimAccount,
    SimulatorConfig,
    SimulatorHandle,
    running_simulator,
)
from tests.timelinesai.conftest import WebhookReceiver

TOKEN = "contract-token"
LEAD = "+40712345678"
OURS = "+15550100001"
OTHER = "+15550100002"
OFFLINE = "+15550100003"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass(frozen=True)
class Seeded:
    """A filled simulator: its handle, a client of its API, the ids of what is in it."""

    handle: SimulatorHandle
    http: httpx.Client
    file_uid: str
    chat_id: int
    first_uid: str
    answer_uid: str
    followup_uid: str
    webhook_id: int
    # The webhook bodies the seeding fired, by event type.
    events: dict[str, list[dict[str, Any]]]

    def api(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Call the simulated API with the token; the answer, whatever its status."""
        return self.http.request(method, path, headers=AUTH, **options)


def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()["data"]


@contextmanager
def seeded() -> Iterator[Seeded]:
    """A simulator (token, fixed seed, three accounts) with one of each thing in it."""
    receiver = WebhookReceiver()
    config = SimulatorConfig(
        accounts=(
            SimAccount(phone=OURS, name="Sales One"),
            SimAccount(phone=OTHER),
            SimAccount(phone=OFFLINE),
        ),
        token=TOKEN,
        seed=11,
        speed=1000.0,
        webhook_url=receiver.url,
    )
    try:
        with (
            running_simulator(config) as handle,
            httpx.Client(base_url=handle.base_url, timeout=10.0) as http,
        ):

            def call(method: str, path: str, **options: Any) -> Any:
                return _data(http.request(method, path, headers=AUTH, **options))

            file_uid = call("POST", "/files", json={"download_url": "https://example.com/a.pdf"})[
                "uid"
            ]
            first = call(
                "POST",
                "/messages",
                json={
                    "phone": LEAD,
                    "whatsapp_account_phone": OURS,
                    "text": "Hi",
                    "file_uid": file_uid,
                },
            )["message_uid"]
            [chat] = call("GET", "/chats", params={"phone": LEAD})["chats"]
            answer = handle.inbound("Tell me more", chat_id=chat["id"])
            followup = call(
                "POST", f"/chats/{chat['id']}/messages", json={"text": "Sure", "reply_to": first}
            )["message_uid"]
            webhook = call(
                "POST",
                "/webhooks",
                json={"event_type": "message:received:new", "url": "https://example.com/hook"},
            )
            handle.set_account_status(OFFLINE, "disconnected")
            events: dict[str, list[dict[str, Any]]] = {}
            # Two sends, one answer, one disconnection.
            for _path, body in receiver.wait_for(4):
                events.setdefault(body["event_type"], []).append(body)
            yield Seeded(
                handle=handle,
                http=http,
                file_uid=file_uid,
                chat_id=chat["id"],
                first_uid=first,
                answer_uid=answer["uid"],
                followup_uid=followup,
                webhook_id=webhook["id"],
                events=events,
            )
    finally:
        receiver.close()
