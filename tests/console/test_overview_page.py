"""The overview: what stops sending, each phone with its quota and health, the campaigns,
the alerts; and the activity page's record of who did what."""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import insert, update

from engine.models import Enrollment, Lead
from engine.settings import HealthSettings
from engine.tables import A, P
from phones import sync_phones
from tests.console.conftest import ConsoleHarness, base_settings
from tests.seed import campaign_id, seed_phone_history


def seed(console: ConsoleHarness) -> None:
    now = console.clock.now()
    with console.database.session() as session:
        sync_phones(session, console.settings.phones)
        campaign = campaign_id(session, "spring-<b>sale</b>", sequence="intro")
        for n in range(3):
            lead = Lead(phone=f"+4072200000{n}", name=f"Lead {n}")
            session.add(lead)
            session.flush()
            assert lead.id is not None
            session.add(
                Enrollment(lead_id=lead.id, campaign_id=campaign, sequence="intro", phone_id="01")
            )
    with console.database.engine.begin() as connection:
        connection.execute(update(P).where(P.c.id == "02").values(state="banned"))
        connection.execute(
            insert(A).values(
                kind="phone_banned", severity="critical", phone_id="02",
                message="phone 02 was banned by WhatsApp", created_at=now - timedelta(hours=1),
            )
        )  # fmt: skip


def test_the_overview_shows_what_stops_sending_the_phones_campaigns_and_alerts(
    console: ConsoleHarness,
) -> None:
    seed(console)
    console.sign_in("vic")
    text = console.client.get("/").text
    assert "What stops sending now" in text
    assert "phone 02" in text and "banned" in text  # the blocker and the phone's state
    assert "+40700000001" in text and 'class="chart quota-meter' in text
    # The campaign's name is shown as text, never as markup.
    assert "spring-&lt;b&gt;sale&lt;/b&gt;" in text and "<b>sale</b>" not in text
    assert "phone 02 was banned by WhatsApp" in text
    assert 'name="csrf"' in text  # the sign-out form
    assert "workspace messages: not read yet" in text


def test_the_overview_shows_each_phones_health(
    make_console,  # type: ignore[no-untyped-def]
    redis_namespace: str,
) -> None:
    windows = HealthSettings(first_messages=3, sends=4, replies=3, stuck_after_h=6.0)
    harness: ConsoleHarness = make_console(base_settings(redis_namespace, health=windows))
    with harness.database.session() as session:
        sync_phones(session, harness.settings.phones)
    seed_phone_history(harness.database, harness.clock.now())
    harness.sign_in("vic")
    text = harness.client.get("/").text
    assert "<th>Replies / opt-outs</th>" in text
    assert "<td>67% of 3, 1 stuck</td><td>33%</td><td>1 of 4</td><td>3 / 2</td>" in text
    assert "<td>0% of 1, 1 failed</td><td>0%</td><td>0 of 1</td><td>-</td>" in text


def test_the_overview_says_when_redis_does_not_answer(
    make_console,
    redis_namespace: str,  # type: ignore[no-untyped-def]
) -> None:
    harness: ConsoleHarness = make_console(base_settings(redis_namespace))
    harness.app.state.console.redis = redis.Redis(port=1, socket_connect_timeout=0.2)
    harness.sign_in("ana")
    answer = harness.client.get("/")
    assert answer.status_code == 200
    assert "Redis does not answer" in answer.text


def test_the_activity_page_shows_who_did_what(console: ConsoleHarness) -> None:
    console.sign_in("ana", "wrong-password")
    console.sign_in("ana")
    console.post("/logout", {"csrf": "forged"})  # refused: the token is the form's own
    text = console.client.get("/activity").text
    assert "sign-in failed" in text and "signed in" in text and "refused" in text
    only_ana = console.client.get("/activity", params={"user": "nobody"}).text
    assert "Nothing yet." in only_ana
