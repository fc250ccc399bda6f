"""A receiver on both databases: the app in-process and a fake clock.

Follow-ups the app would queue are collected in a list; ``body()`` builds TimelinesAI
bodies in the nested or flat form, shaped like the simulator's and the API doc's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from sqlmodel import select

from engine.clock import FakeClock
from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone, StepState, WebhookEvent
from engine.replies.followups import FollowUp
from engine.settings import Settings, load_settings
from engine.webhook import WEBHOOK_PATH, create_app
from phones import sync_phones
from tests.seed import campaign_id
from tests.serving import serving

SECRET = "s3cret-for-tests"
START = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
OURS = ("+447700900001", "+447700900002")
LEAD = "+40712345678"

CONFIG = """
[webhook]
takeover_check_after_s = 0
{webhook}
[[phones]]
id = "01"
phone = "+447700900001"
account_id = "447700900001@s.whatsapp.net"
[[phones]]
id = "02"
phone = "+447700900002"

[sequences.intro]
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello {{name|there}}"
[[sequences.intro.steps]]
after = "2d"
template = "Following up"

[sequences.keep]
timezone = "UTC"
stop_on_reply = false
[[sequences.keep.steps]]
after = "0m"
template = "Hello"
[[sequences.keep.steps]]
after = "1d"
template = "Again"
"""


def write_settings(folder: Path, extra: str = "", *, webhook: str = "") -> Settings:
    """Settings from CONFIG; ``webhook`` lines go into its [webhook] table, ``extra`` after."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(CONFIG.replace("{webhook}", webhook) + extra)
    return load_settings(path, {"OUTREACH_WEBHOOK_SECRET": SECRET})


def body(
    event_type: str = "message:received:new",
    *,
    text: str = "Tell me more",
    uid: str | None = None,
    lead: str | None = LEAD,
    ours: str = OURS[0],
    chat_id: int | None = 1001,
    form: str = "nested",
    origin: str | None = "WhatsApp",
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A message event as TimelinesAI posts it."""
    uid = uid or str(uuid.uuid4())
    sent = event_type == "message:sent:new"
    sender, recipient = (ours, lead) if sent else (lead, ours)
    if form == "flat":
        data = {"chat_id": chat_id, "from_me": sent, "text": text, "message_uid": uid,
                "phone": lead, "whatsapp_account_phone": ours,
                "timestamp": "2026-01-06 12:00:00 +0200"}  # fmt: skip
        return {"event_type": event_type, "data": data}
    return {
        "event_type": event_type,
        "chat": {"chat_id": chat_id, "full_name": "Ana", "phone": lead, "is_group": False},
        "whatsapp_account": {"phone": ours, "full_name": "Sales", "email": "o@example.com"},
        "message": {
            "message_uid": uid, "text": text, "direction": "sent" if sent else "received",
            "origin": origin, "timestamp": "2026-01-06 12:00:00 +0200",
            "sender": {"full_name": None, "phone": sender},
            "recipient": {"full_name": None, "phone": recipient},
            "attachments": attachments or [],
        },
    }  # fmt: skip


def account_body(event_type: str, phone: str = OURS[0], **extra: Any) -> dict[str, Any]:
    account = {"id": phone.lstrip("+") + "@s.whatsapp.net", "phone": phone,
               "status": "disconnected", "account_name": "Sales", **extra}  # fmt: skip
    return {"event_type": event_type, "whatsapp_account": account}


def enroll(
    database: Database, now: datetime, phone: str = LEAD, *, sequence: str = "intro",
    state: str = "active", step: int = 1, step_state: str = StepState.DUE,
    phone_id: str | None = "01", chat_id: int | None = None,
) -> int:  # fmt: skip
    """A lead (created if new) enrolled in ``sequence``; the enrollment's id."""
    with database.session() as session:
        cid = campaign_id(session, sequence)
        lead = session.exec(select(Lead).where(Lead.phone == phone)).first()
        if lead is None:
            lead = Lead(phone=phone, variables={"name": "Ana"})
            session.add(lead)
            session.flush()
        assert lead.id is not None
        enrollment = Enrollment(
            lead_id=lead.id, campaign_id=cid, sequence=sequence, state=state, step=step,
            step_state=step_state, due_at=now, phone_id=phone_id, chat_id=chat_id,
        )  # fmt: skip
        session.add(enrollment)
        session.flush()
        assert enrollment.id is not None
        return enrollment.id


@dataclass
class Receiver:
    settings: Settings
    database: Database
    client: httpx.Client
    clock: FakeClock
    follow_ups: list[FollowUp] = field(default_factory=list)
    app: FastAPI | None = None

    def post(self, payload: Any, *, secret: str | None = SECRET, **kwargs: Any) -> Any:
        params = {} if secret is None else {"secret": secret}
        if isinstance(payload, bytes | str):
            return self.client.post(WEBHOOK_PATH, params=params, content=payload, **kwargs)
        return self.client.post(WEBHOOK_PATH, params=params, json=payload, **kwargs)

    def enroll(self, phone: str = LEAD, **kwargs: Any) -> int:
        return enroll(self.database, self.clock.now(), phone, **kwargs)

    def enrollment(self, enrollment_id: int) -> Enrollment:
        with self.database.session() as session:
            found = session.get(Enrollment, enrollment_id)
            assert found is not None
            return found

    def messages(self) -> list[Message]:
        with self.database.session() as session:
            return list(session.exec(select(Message).order_by(Message.id)))  # type: ignore[arg-type]

    def events(self) -> list[WebhookEvent]:
        with self.database.session() as session:
            return list(session.exec(select(WebhookEvent)))

    def phone(self, phone_id: str = "01") -> Phone:
        with self.database.session() as session:
            found = session.get(Phone, phone_id)
            assert found is not None
            return found


def make_receiver(
    settings: Settings, database: Database, redis_client: redis.Redis
) -> Iterator[Receiver]:
    with database.session() as session:
        sync_phones(session, settings.phones)
    clock = FakeClock(START)
    follow_ups: list[FollowUp] = []
    app = create_app(database, redis_client, settings, follow_ups.append, clock=clock)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10.0) as client:
        yield Receiver(settings, database, client, clock, follow_ups, app)


@pytest.fixture
def receiver(tmp_path: Path, database: Database, redis_client: redis.Redis) -> Iterator[Receiver]:
    """The receiver on SQLite and on PostgreSQL."""
    yield from make_receiver(write_settings(tmp_path), database, redis_client)


@pytest.fixture
def sqlite_receiver(
    tmp_path: Path, sqlite_database: Database, redis_client: redis.Redis
) -> Iterator[Receiver]:
    """The receiver on SQLite only (for checks that do not depend on the backend)."""
    yield from make_receiver(write_settings(tmp_path), sqlite_database, redis_client)
