"""The live view renders a seeded database as expected (a snapshot of its text)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from rich.console import Console

from cli.status_view import collect, quota_bar, render, until
from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone, QuotaUsage
from engine.settings import PhoneSettings, QuotaSettings, Settings
from tests.seed import campaign_id

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SETTINGS = Settings(
    phones=(
        PhoneSettings(id="01", phone="+447700900101"),
        PhoneSettings(id="02", phone="+447700900102"),
    ),
    quota=QuotaSettings(new_contacts_per_day=10, warmup=()),
)


def seed(database: Database) -> None:
    with database.session() as session:
        session.add(Phone(id="01", phone="+447700900101", sent_total=5,
                          next_send_at=NOW + timedelta(seconds=90)))  # fmt: skip
        session.add(
            Phone(id="02", phone="+447700900102", state="offline", failures_total=1,
                  state_changed_at=NOW - timedelta(hours=5))
        )  # fmt: skip
        session.add(QuotaUsage(phone_id="01", day=date(2026, 3, 2), used=4))
        cid = campaign_id(session, "intro")
        session.flush()
        for index, (state, step) in enumerate([("active", 1), ("replied", 0), ("pending", 0)]):
            lead = Lead(phone=f"+40722000{index:03d}")
            session.add(lead)
            session.flush()
            assert lead.id is not None
            enrollment = Enrollment(lead_id=lead.id, campaign_id=cid, sequence="intro",
                                    state=state, step=step,
                                    phone_id="01" if step or state == "replied" else None,
                                    step_state="due" if state != "replied" else "sent")  # fmt: skip
            session.add(enrollment)
            session.flush()
            if state != "pending":
                message = Message(direction="out", enrollment_id=enrollment.id, step=0,
                                  lead_id=lead.id, phone_id="01", status="delivered",
                                  sent_at=NOW - timedelta(hours=index + 1))  # fmt: skip
                session.add(message)
            if state == "replied":  # the lead's answer to step 1, as the receiver stores it
                session.add(Message(direction="in", enrollment_id=enrollment.id, step=0,
                                    lead_id=lead.id, phone_id="01", status="received",
                                    sent_at=NOW - timedelta(minutes=30)))  # fmt: skip


def text_of(database: Database) -> str:
    out = io.StringIO()
    Console(file=out, width=100, color_system=None, legacy_windows=False).print(
        render(collect(database, SETTINGS, NOW))
    )
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


EXPECTED = """\
outreach status at 2026-03-02 10:00:00 UTC
What stops sending now
WARN phone 02 is offline since 2026-03-02 05:00 UTC
     fix: reconnect its WhatsApp in TimelinesAI (scan the QR code), then `outreach phones sync`;
     once it has been offline for [scheduler] offline_phone_grace_s the leads it contacted end
     failed
Phones
┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━┳━━━━━━━━━━┓
┃ phone            ┃ state   ┃ quota today     ┃ next send ┃ queued ┃ sent ┃ failures ┃
┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━╇━━━━━━━━━━┩
│ 01 +447700900101 │ active  │ ████░░░░░░ 4/10 │     in 1m │      0 │    5 │        0 │
│ 02 +447700900102 │ offline │ ░░░░░░░░░░ 0/10 │         - │      0 │    0 │        1 │
└──────────────────┴─────────┴─────────────────┴───────────┴────────┴──────┴──────────┘
Health: last 10 first messages, 20 attempts, 50 replies
┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┓
┃ phone            ┃ delivered ┃ answered ┃ invalid ┃ replies / opt-outs ┃
┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━┩
│ 01 +447700900101 │ 100% of 2 │      50% │  0 of 2 │              1 / 0 │
│ 02 +447700900102 │         - │        - │       - │                  - │
└──────────────────┴───────────┴──────────┴─────────┴────────────────────┘
Campaign intro (active): active 1, pending 1, replied 1
┏━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━┳━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━┓
┃ step ┃ waiting ┃ queued ┃ sent ┃ delivered ┃ read ┃ replied ┃ reply rate ┃
┡━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━╇━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━┩
│ 1    │       1 │      0 │    2 │         2 │    0 │       1 │        50% │
│ 2    │       1 │      0 │    0 │         0 │    0 │       0 │          - │
└──────┴─────────┴────────┴──────┴───────────┴──────┴─────────┴────────────┘
"""


def test_view_of_a_seeded_database(sqlite_database: Database) -> None:
    seed(sqlite_database)
    assert text_of(sqlite_database) == EXPECTED


def test_quota_bar_and_relative_times() -> None:
    assert quota_bar(3, 10) == "███░░░░░░░ 3/10"
    assert quota_bar(12, 10) == "██████████ 12/10"
    assert until(None, NOW) == "-"
    assert until(NOW - timedelta(seconds=1), NOW) == "now"
    assert until(NOW + timedelta(seconds=45), NOW) == "in 45s"
    assert until(NOW + timedelta(hours=3, minutes=5), NOW) == "in 3h"
