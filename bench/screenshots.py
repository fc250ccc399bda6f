"""Screenshots of the console for the docs: the overview, the dead letters, the
do-not-contact list, taken by Debian's chromium from the real app on a seeded database.

Seeds a scratch SQLite database (three phones, two campaigns of 120 leads with sends,
deliveries, reads and replies, a few dead letters and suppressions), serves the
console on a loopback port, signs in through the form and saves each page, 1200 px
wide and as tall as its content, to ``docs/console/<page>.png``.

    .venv/bin/python bench/screenshots.py [--out docs/console]

Run by hand when the pages change (the PNGs are committed; the tests never write them).
Needs Redis on 127.0.0.1:6379 (the overview reads the halt from it; nothing is written)
and ``apt-get install chromium chromium-driver``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import insert, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.app import create_app  # noqa: E402
from console.users import Account, Directory, hash_password  # noqa: E402
from engine.clock import FakeClock  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.models import Enrollment, Lead  # noqa: E402
from engine.settings import (  # noqa: E402
    ConsoleSettings,
    LeadsSettings,
    PhoneSettings,
    RedisSettings,
    Settings,
)
from engine.tables import P, Q  # noqa: E402
from phones import sync_phones  # noqa: E402
from phones.quota import quota_day  # noqa: E402
from sequences import suppression  # noqa: E402
from tests.console.browser import chromium, sign_in, wait_for_text  # noqa: E402
from tests.seed import campaign_id, dead_letter  # noqa: E402
from tests.serving import serving  # noqa: E402

NOW = datetime(2026, 3, 10, 11, 20, tzinfo=UTC)
WIDTH = 1200
MAX_HEIGHT = 2400
PAGES = {
    "overview": "/", "campaign": "/campaigns/spring-sale", "replies": "/replies",
    "dead-letters": "/dead-letters", "do-not-contact": "/do-not-contact",
}  # fmt: skip
ERRORS = (
    "ServerError: [503] upstream unavailable after 5 tries",
    "PayloadTooLarge: attachment brochure.pdf is 17 MB (limit 16 MB)",
    "ChatNotFound: the number is not on WhatsApp",
    "Timeout: no answer from TimelinesAI in 30 s (5 tries)",
)


def settings(namespace: str) -> Settings:
    return Settings(
        redis=RedisSettings(namespace=namespace),
        phones=tuple(
            PhoneSettings(id=f"0{n}", phone=f"+4070000000{n}", new_contacts_per_day=60)
            for n in (1, 2, 3)
        ),
        leads=LeadsSettings(default_region="RO"),
        console=ConsoleSettings(refresh_s=10),
    )


def seed(database: Database, config: Settings) -> None:
    """Two campaigns' worth of sends on three phones, as a busy morning looks."""
    with database.session() as session:
        sync_phones(session, config.phones)
        spring = campaign_id(session, "spring-sale", sequence="intro")
        webinar = campaign_id(session, "webinar-followup", sequence="follow", state="paused")
        session.flush()
        for n in range(240):
            campaign, sequence = (spring, "intro") if n < 160 else (webinar, "follow")
            lead = Lead(phone=f"+4072{n:07}", variables={"first_name": f"Lead {n}"})
            session.add(lead)
            session.flush()
            phone = f"0{n % 3 + 1}"
            replied = n % 9 == 0
            state = "replied" if replied else ("completed" if n % 5 == 0 else "active")
            enrollment = Enrollment(
                lead_id=lead.id or 0, campaign_id=campaign, sequence=sequence, state=state,
                step=n % 3, step_state="sent" if n % 4 else "due", phone_id=phone,
                due_at=NOW + timedelta(minutes=n), updated_at=NOW - timedelta(minutes=n),
            )  # fmt: skip
            session.add(enrollment)
            session.flush()
            for step in range(n % 3 + 1):
                sent = NOW - timedelta(hours=24 * (2 - step) + n % 7)
                session.add_all(_messages(enrollment, lead, phone, step, sent, n))
            if replied:
                session.add(_reply(enrollment, lead, phone, n % 3, NOW - timedelta(minutes=n)))
        for n, error in enumerate(ERRORS * 2):
            dead_letter(
                session, f"+4074{n:07}", failed_at=NOW - timedelta(minutes=7 * n + 3),
                campaign="spring-sale" if n % 3 else "webinar-followup", step=n % 3,
                error=error, phone_id=f"0{n % 3 + 1}",
            )  # fmt: skip
    today = quota_day(NOW, config.quota.timezone)
    with database.engine.begin() as connection:
        for phone, used, total in (("01", 41, 812), ("02", 60, 1190), ("03", 12, 233)):
            connection.execute(insert(Q).values(phone_id=phone, day=today, used=used))
            connection.execute(
                update(P).where(P.c.id == phone).values(
                    sent_total=total, next_send_at=NOW + timedelta(minutes=int(phone) * 3),
                    last_send_at=NOW - timedelta(minutes=2),
                )
            )  # fmt: skip
        connection.execute(
            update(P).where(P.c.id == "03").values(
                state="paused", state_reason="paused by ana: warming up again"
            )
        )  # fmt: skip
        for n, reason in enumerate(("opted out (STOP)", "asked on the phone", "manual")):
            suppression.add(
                connection, f"+4075{n:07}", reason=reason, source="console (ana)",
                now=NOW - timedelta(days=n),
            )  # fmt: skip
        salt = suppression.make_salt(connection, NOW)
        suppression.add(
            connection, suppression.forgotten_key("+40750009999", salt),
            reason=suppression.FORGOTTEN_REASON, source="outreach leads forget",
            now=NOW - timedelta(days=4),
        )  # fmt: skip


def _messages(
    enrollment: Enrollment, lead: Lead, phone: str, step: int, sent: datetime, n: int
) -> list[object]:
    from engine.models import Message

    read = n % 2 == 0
    return [
        Message(
            direction="out", enrollment_id=enrollment.id, step=step, lead_id=lead.id,
            phone_id=phone, text="Hi", status="read" if read else "delivered", sent_at=sent,
            delivered_at=sent + timedelta(seconds=20),
            read_at=sent + timedelta(minutes=9) if read else None, template_variant=n % 2,
            message_uid=uuid.uuid4().hex,
        )
    ]  # fmt: skip


def _reply(enrollment: Enrollment, lead: Lead, phone: str, step: int, at: datetime) -> object:
    from engine.models import Message

    return Message(
        direction="in", enrollment_id=enrollment.id, step=step, lead_id=lead.id, phone_id=phone,
        text="Sounds good, tell me more", status="received", sent_at=at,
        message_uid=uuid.uuid4().hex,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    namespace = f"screenshots-{uuid.uuid4().hex[:8]}"
    config = settings(namespace)
    password = secrets.token_urlsafe(12)
    directory = Directory({"ana": Account("ana", "operator", hash_password(password))})
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'console.db'}")
        database.upgrade()
        seed(database, config)
        client = redis.Redis.from_url(config.redis.url)
        app = create_app(config, database, FakeClock(NOW), directory, redis_client=client)
        with serving(app) as url, chromium(WIDTH, 900) as driver:
            sign_in(driver, url, "ana", password)
            for name, path in PAGES.items():
                driver.get(f"{url}{path}")
                wait_for_text(driver, "as of", within="footer")
                # The viewport as tall as the page (a window cannot outgrow the screen).
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": WIDTH, "height": min(int(height), MAX_HEIGHT),
                     "deviceScaleFactor": 1, "mobile": False},
                )  # fmt: skip
                target = out / f"{name}.png"
                target.write_bytes(driver.get_screenshot_as_png())
                print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB")
                driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        client.close()
        database.dispose()


if __name__ == "__main__":
    main()
