"""Webhook abuse: a flood of good, repeated and bad deliveries at the real receiver.

``outreach webhook serve`` (PostgreSQL, Redis) takes 16 concurrent senders posting a
shuffled mix: valid replies from enrolled leads, each delivered 1-3 times (sometimes
at the same moment, as TimelinesAI retries do), and for every valid event about two
bad ones: a wrong or missing secret, malformed JSON, a JSON value that is not an
object, a known event with fields missing, bodies over 1 MB (declared, and streamed
without a length), deep nesting, binary garbage. Every bad delivery names a lead of
its own, so what it could have changed is known. Proved: no 5xx at all; each valid
event stored exactly once (one webhook event, one inbound message, its lead
``replied``); nothing stored and no lead touched for the rest. At ``--scale 1``:
300 valid events, about 1,000 requests.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from engine.db import Database
from engine.models import Enrollment, Lead, Message, StepState, WebhookEvent
from engine.settings import load_settings
from engine.webhook import WEBHOOK_PATH
from phones import sync_phones
from tests.e2e.conftest import Services, healthy, wait_until, write_engine_config
from tests.reliability.conftest import figures, scaled
from tests.reliability.faults import free_port
from tests.seed import campaign_id
from tests.webhook.conftest import body

SECRET = "abuse-secret"
PHONES = ["+447700900001", "+447700900002"]
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Delivery:
    """One POST: what it carries, and whether it is a valid event (its uid) or not."""

    content: bytes
    secret: str | None
    uid: str | None  # the valid event's message uid; None for a bad delivery
    lead: str
    kind: str
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)
    stream: bool = False


def seed(database: Database, leads: list[str], now: datetime) -> None:
    with database.session() as session:
        cid = campaign_id(session, "intro")
        for phone in leads:
            lead = Lead(phone=phone, variables={"name": "Ana"})
            session.add(lead)
            session.flush()
            assert lead.id is not None
            session.add(
                Enrollment(
                    lead_id=lead.id, campaign_id=cid, sequence="intro", state="active", step=1,
                    step_state=StepState.DUE, due_at=now + timedelta(days=2), phone_id="01",
                )
            )  # fmt: skip


def bad_deliveries(lead: str, rng: random.Random) -> list[Delivery]:
    """Two bad deliveries about ``lead``, of random kinds."""
    valid = json.dumps(body(lead=lead, ours=PHONES[0], chat_id=None, uid=f"bad-{uuid.uuid4()}"))
    kinds: dict[str, Callable[[], Delivery]] = {
        "wrong_secret": lambda: Delivery(valid.encode(), "not-it", None, lead, "wrong_secret"),
        "no_secret": lambda: Delivery(valid.encode(), None, None, lead, "no_secret"),
        "malformed": lambda: Delivery(valid[:-9].encode(), SECRET, None, lead, "malformed"),
        "not_object": lambda: Delivery(f"[\"{lead}\"]".encode(), SECRET, None, lead, "not_object"),
        "missing_fields": lambda: Delivery(
            json.dumps({"event_type": "message:received:new", "chat": {"phone": lead}}).encode(),
            SECRET, None, lead, "missing_fields",
        ),
        "oversized": lambda: Delivery(
            (valid[:-1] + ', "pad": "' + "x" * (MAX_BODY + 10) + '"}').encode(), SECRET, None, lead,
            "oversized",
        ),
        "oversized_stream": lambda: Delivery(
            (valid[:-1] + ', "pad": "' + "y" * (MAX_BODY + 10) + '"}').encode(), SECRET, None, lead,
            "oversized_stream", stream=True,
        ),
        "deep": lambda: Delivery(
            ("[" * 100_000 + "]" * 100_000).encode(), SECRET, None, lead, "deep"
        ),
        "garbage": lambda: Delivery(rng.randbytes(2048), SECRET, None, lead, "garbage",
                                    headers=(("content-type", "application/octet-stream"),)),
    }  # fmt: skip
    return [kinds[name]() for name in rng.sample(sorted(kinds), 2)]


def flood(valid: int, rng: random.Random) -> tuple[list[Delivery], list[str], list[str]]:
    """The shuffled deliveries, the leads with a valid reply, the leads with only bad ones."""
    good_leads = [f"+4073{i:07d}" for i in range(valid)]
    bad_leads = [f"+4074{i:07d}" for i in range(valid)]
    deliveries: list[Delivery] = []
    for lead in good_leads:
        uid = f"good-{uuid.uuid4()}"
        event = json.dumps(body(lead=lead, ours=rng.choice(PHONES), chat_id=None, uid=uid))
        copies = rng.choice((1, 2, 3))
        deliveries += [Delivery(event.encode(), SECRET, uid, lead, "valid")] * copies
    for lead in bad_leads:
        deliveries += bad_deliveries(lead, rng)
    rng.shuffle(deliveries)
    return deliveries, good_leads, bad_leads


def post(client: httpx.Client, delivery: Delivery) -> int:
    params = {} if delivery.secret is None else {"secret": delivery.secret}
    content: bytes | Iterator[bytes] = delivery.content
    if delivery.stream:  # chunked, no Content-Length: the receiver must count as it reads
        content = (delivery.content[i : i + 65536] for i in range(0, len(delivery.content), 65536))
    try:
        response = client.post(
            WEBHOOK_PATH, params=params, content=content, headers=dict(delivery.headers)
        )
    except httpx.RemoteProtocolError:
        return 0  # the receiver hung up on an oversized stream: not a 5xx, nothing stored
    return response.status_code


def test_a_flood_of_good_repeated_and_bad_deliveries(
    services: Services, pg_database: Database, pg_url: str, redis_namespace: str, tmp_path: Path,
    scale: float,
) -> None:  # fmt: skip
    rng = random.Random(7)
    deliveries, good, bad = flood(scaled(300, scale), rng)
    now = datetime.now(UTC)
    port = free_port()
    config = write_engine_config(
        tmp_path, database_url=pg_url, namespace=redis_namespace, base_url="http://127.0.0.1:9",
        epoch=now, speed=1.0, phones=PHONES,
        body=f"""
[webhook]
port = {port}
workers = 2
[sequences.intro]
skip_holidays = false
on_company_reply = "continue"
timezone = "UTC"
[[sequences.intro.steps]]
after = "0m"
template = "Hello [s0]"
[[sequences.intro.steps]]
after = "2d"
template = "Following up [s1]"
""",
    )  # fmt: skip
    with pg_database.session() as session:
        sync_phones(session, load_settings(config, {"OUTREACH_WEBHOOK_SECRET": SECRET}).phones)
    seed(pg_database, good + bad, now)
    services.env["OUTREACH_WEBHOOK_SECRET"] = SECRET
    services.start("webhook", "webhook", "serve")
    base = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: healthy(base), 60), services.log("webhook")

    with httpx.Client(base_url=base, timeout=30) as client, ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda d: post(client, d), deliveries))
    services.stop("webhook")

    answers: Counter[tuple[str, int]] = Counter(
        (d.kind, status) for d, status in zip(deliveries, statuses, strict=True)
    )
    server_errors = sum(1 for status in statuses if status >= 500)
    with pg_database.engine.connect() as connection:
        keys = Counter(connection.execute(select(WebhookEvent.dedupe_key)).scalars())
        inbound = Counter(
            connection.execute(
                select(Lead.phone)
                .join(Message, Message.lead_id == Lead.id)  # type: ignore[arg-type]
                .where(Message.direction == "in")
            ).scalars()
        )
        states = dict(
            connection.execute(
                select(Lead.phone, Enrollment.state).join(Enrollment)  # type: ignore[arg-type]
            ).all()
        )
        events = connection.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()
    valid_uids = {f"message:received:new:{d.uid}" for d in deliveries if d.uid}
    stored_twice = sum(count - 1 for count in keys.values() if count > 1)
    lost = sum(1 for uid in valid_uids if keys[uid] == 0) + sum(
        1 for lead in good if inbound[lead] != 1 or states[lead] != "replied"
    )
    stored_bad = sum(1 for key in keys if key not in valid_uids) + sum(
        1 for lead in bad if inbound[lead] or states[lead] != "active"
    )
    figures(
        "webhook_abuse", leads=len(good) + len(bad), requests=len(deliveries),
        valid_events=len(valid_uids),
        duplicates=stored_twice, lost=lost, stored_from_bad=stored_bad,
        server_errors=server_errors, events_stored=events,
    )  # fmt: skip
    print("answers:", dict(sorted(answers.items())))
    assert server_errors == 0, [k for k in answers if k[1] >= 500]
    assert all(status == 200 for d, status in zip(deliveries, statuses, strict=True) if d.uid)
    assert all(
        400 <= status < 500 or status == 0
        for d, status in zip(deliveries, statuses, strict=True)
        if d.uid is None
    ), answers
    assert (stored_twice, lost, stored_bad) == (0, 0, 0)
    assert events == len(valid_uids)
    # The flood really was abusive: repeats and every kind of bad delivery were sent.
    assert len(deliveries) - len(valid_uids) > 2 * len(bad) - 1
    assert {d.kind for d in deliveries} >= {"valid", "wrong_secret", "oversized", "malformed"}
