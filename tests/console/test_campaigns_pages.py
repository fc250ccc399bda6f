"""The campaigns pages: the list and a campaign's figures, pause, resume and stop, and a
launch from its dry-run preview, all checked in the database and the record of actions."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engine.campaign_launch import launch_campaign
from engine.models import Direction, Lead, LeadTag, Message, Phone
from engine.tables import CA, C, E
from sequences import SequenceSettings, StepSettings, find_sequence, pause
from tests.console.conftest import ConsoleHarness, base_settings

INTRO = SequenceSettings(
    timezone="UTC",
    steps=(
        StepSettings(after="0m", template="Hi {{name}}, a question for {{company|your team}}"),
        StepSettings(after="2d", variants=("Any thoughts, {{name}}?", "Checking in, {{name}}.")),
    ),
)
NAMES = ("Ana", "Bob", "Cyd")


@pytest.fixture
def site(make_console: Callable[..., ConsoleHarness], redis_namespace: str) -> ConsoleHarness:
    """A console whose config has the sequence ``intro`` and three leads tagged ``jan``."""
    settings = replace(base_settings(redis_namespace), sequences={"intro": INTRO})
    harness: ConsoleHarness = make_console(settings=settings)
    with harness.database.session() as session:
        for phone in settings.phones:
            session.add(Phone(id=phone.id, phone=phone.phone))
        for index, name in enumerate(NAMES):
            lead = Lead(phone=f"+4071200000{index + 1}", variables={"name": name})
            session.add(lead)
            session.flush()
            assert lead.id is not None
            session.add(LeadTag(lead_id=lead.id, tag="jan"))
    return harness


def launched(site: ConsoleHarness, name: str = "spring") -> list[int]:
    """Launch ``name`` of intro for the leads tagged jan, as the CLI does; the enrollments'
    ids. Two first messages went out yesterday (one delivered and read, from phone 01; one
    delivered, from 02) and the first lead replied."""
    now = site.clock.now()
    sequence = find_sequence(site.settings, "intro")
    launch_campaign(site.settings, site.database, sequence, now=now, name=name, tag="jan")
    with site.database.engine.connect() as connection:
        ids = list(connection.execute(select(E.c.id).order_by(E.c.id)).scalars())
    sent = now - timedelta(days=1)
    with site.database.session() as session:
        session.add(Message(direction=Direction.OUT, enrollment_id=ids[0], step=0, phone_id="01",
                            template_variant=0, status="read", sent_at=sent, delivered_at=sent,
                            read_at=sent))  # fmt: skip
        session.add(Message(direction=Direction.OUT, enrollment_id=ids[1], step=0, phone_id="02",
                            template_variant=0, status="delivered", sent_at=sent,
                            delivered_at=sent))  # fmt: skip
        session.add(Message(direction=Direction.IN, enrollment_id=ids[0], step=0, phone_id="01",
                            text="yes", sent_at=sent + timedelta(hours=1)))  # fmt: skip
    with site.database.engine.begin() as connection:  # where the sender and receiver leave them
        connection.execute(update(E).where(E.c.id == ids[0]).values(
            state="replied", end_reason="replied", ended_at=sent, step_state="sent"))  # fmt: skip
        connection.execute(update(E).where(E.c.id == ids[1]).values(
            state="active", step=1, step_state="due", phone_id="02",
            due_at=sent + timedelta(days=2)))  # fmt: skip
    return ids


def row(page: str, first: str) -> list[str]:
    """The cells' text of the table row whose first cell reads ``first``."""
    for found in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        cells = [
            " ".join(html.unescape(re.sub(r"<[^>]+>", "", cell)).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", found, re.S)
        ]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{page}")


def campaign_state(site: ConsoleHarness, name: str = "spring") -> str:
    with site.database.engine.connect() as connection:
        return str(connection.execute(select(C.c.state).where(C.c.name == name)).scalar_one())


def audit(site: ConsoleHarness) -> list[tuple[str, str, str | None]]:
    with site.database.engine.connect() as connection:
        rows = connection.execute(select(CA.c.user, CA.c.action, CA.c.target).order_by(CA.c.id))
        return [(r.user, r.action, r.target) for r in rows if r.action.endswith("campaign")]


def note(site: ConsoleHarness, answer_location: str) -> str:
    """The note the page redirected to shows once."""
    page = site.client.get(answer_location).text
    found = re.search(r'<p class="note" role="status">(.*?)</p>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


def test_the_list_and_a_campaigns_page_show_its_figures(site: ConsoleHarness) -> None:
    launched(site)
    site.sign_in("ana")
    listing = site.client.get("/campaigns")
    assert listing.status_code == 200
    # campaign, state, sequence, selection, enrolled, running, sent, replied, rate, dead letters
    assert row(listing.text, "spring") == [
        "spring", "active", "intro", "tag jan; every phone", "3", "2", "2", "1", "50.0%", "0",
    ]  # fmt: skip
    assert 'href="/campaigns/new"' in listing.text

    page = site.client.get("/campaigns/spring")
    assert page.status_code == 200
    text = page.text
    # step, waiting, queued, sent, delivered, read, replied, reply rate
    assert row(text, "step 1") == ["step 1", "1", "0", "2", "2", "1", "1", "50.0%"]
    assert row(text, "phone 01") == ["phone 01", "0", "0", "1", "1", "1", "1", "100.0%"]
    assert row(text, "phone 02") == ["phone 02", "1", "0", "1", "1", "0", "0", "0.0%"]
    assert row(text, "step 2") == ["step 2", "1", "0", "0", "0", "0", "0", "-"]
    assert "leads tagged jan" in text and "replied 1" in text
    assert "A/B variants" not in text  # no second-step variant sent yet, but the step has two
    assert 'class="chart funnel-chart"' in text
    # Sends per day: yesterday's two, one per phone, in the last 14 days' chart.
    daily = re.search(r'<svg[^>]*class="chart daily-chart".*?</svg>', text, re.S)
    assert daily is not None
    assert "01, " in daily.group(0) and "02, " in daily.group(0)
    assert "In all by series: 01 1, 02 1" in html.unescape(daily.group(0))
    for action in ("pause", "stop"):
        assert f'action="/campaigns/spring/{action}"' in text
    assert 'action="/campaigns/spring/resume"' not in text  # active: nothing to resume


def test_an_ab_step_shows_its_variants(site: ConsoleHarness) -> None:
    ids = launched(site)
    with site.database.session() as session:
        for index, variant in ((1, 0), (2, 1)):
            session.add(Message(direction=Direction.OUT, enrollment_id=ids[index], step=1,
                                phone_id="01", template_variant=variant,
                                sent_at=site.clock.now()))  # fmt: skip
    site.sign_in("vic")
    text = site.client.get("/campaigns/spring").text
    assert "A/B variants" in text
    assert row(text, "step 2, variant 1") == ["step 2, variant 1", "1", "0", "0", "0", "0.0%"]
    assert row(text, "step 2, variant 2") == ["step 2, variant 2", "1", "0", "0", "0", "0.0%"]


def test_pause_then_resume_change_the_campaign_and_are_recorded(site: ConsoleHarness) -> None:
    launched(site)
    site.sign_in("ana")
    answer = site.post("/campaigns/spring/pause")
    assert answer.status_code == 303 and answer.headers["location"] == "/campaigns/spring"
    assert campaign_state(site) == "paused"
    assert "Campaign spring is paused" in note(site, answer.headers["location"])
    page = site.client.get("/campaigns/spring").text
    assert 'action="/campaigns/spring/resume"' in page
    assert 'action="/campaigns/spring/pause"' not in page

    answer = site.post("/campaigns/spring/resume")
    assert answer.status_code == 303
    assert campaign_state(site) == "active"
    assert audit(site) == [
        ("ana", "pause campaign", "spring"), ("ana", "resume campaign", "spring"),
    ]  # fmt: skip


def test_stop_asks_for_confirmation_then_ends_every_running_enrollment(
    site: ConsoleHarness,
) -> None:
    launched(site)
    site.sign_in("ana")
    asked = site.post("/campaigns/spring/stop")
    assert asked.status_code == 200 and "yes, stop it" in asked.text
    assert campaign_state(site) == "active" and audit(site) == []

    answer = site.post("/campaigns/spring/stop", {"confirm": "yes"})
    assert answer.status_code == 303
    assert campaign_state(site) == "stopped"
    with site.database.engine.connect() as connection:
        states = dict(connection.execute(select(E.c.state, func.count()).group_by(E.c.state)).all())
    assert states == {"replied": 1, "stopped": 2}
    assert "2 running enrollments ended" in note(site, answer.headers["location"])
    assert audit(site) == [("ana", "stop campaign", "spring")]


def test_an_illegal_move_says_why_and_changes_nothing(site: ConsoleHarness) -> None:
    launched(site)
    site.sign_in("ana")
    site.post("/campaigns/spring/stop", {"confirm": "yes"})
    answer = site.post("/campaigns/spring/pause")
    assert answer.status_code == 303
    said = note(site, answer.headers["location"])
    assert "Not done: campaign 'spring' is stopped; there is nothing to pause" in said
    assert campaign_state(site) == "stopped"
    unknown = site.post("/campaigns/nope/resume")
    assert unknown.headers["location"] == "/campaigns"
    assert "no campaign 'nope'" in note(site, "/campaigns")


def test_an_unknown_campaign_is_a_404(site: ConsoleHarness) -> None:
    site.sign_in("vic")
    answer = site.client.get("/campaigns/nope")
    assert answer.status_code == 404 and "There is no campaign" in answer.text


def test_a_viewer_sees_no_action_and_cannot_open_the_launch_form(site: ConsoleHarness) -> None:
    launched(site)
    site.sign_in("vic")
    page = site.client.get("/campaigns/spring").text
    assert "/pause" not in page and "/stop" not in page and "/campaigns/new" not in page
    assert "/campaigns/new" not in site.client.get("/campaigns").text
    assert site.client.get("/campaigns/new").status_code == 403


def test_the_launch_preview_writes_nothing_and_its_form_launches(site: ConsoleHarness) -> None:
    site.sign_in("ana")
    form = site.client.get("/campaigns/new")
    assert form.status_code == 200 and '<option value="intro"' in form.text
    choices = {"name": "autumn", "sequence": "intro", "tag": "jan", "phone_01": "yes"}
    preview = site.post("/campaigns/preview", choices)
    assert preview.status_code == 200, preview.text
    text = html.unescape(preview.text)
    assert row(text, "would be enrolled") == ["would be enrolled", "3"]
    assert row(text, "refused: suppressed number") == ["refused: suppressed number", "0"]
    assert "3 leads would wait for a first message" in text
    # One wording of step 1 for three leads on one phone: a warning, and the launch goes on.
    assert "step 1 of intro has about 1 distinct wording" in text
    assert "The last first message would go on Mon 2026-01-05" in text
    assert row(text, "01")[0:2] == ["01", "200"]  # the phone chosen, and only it
    assert "<td>02</td>" not in text
    assert any(f"Hi {name}, a question for your team" in text for name in NAMES)
    with site.database.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(C)).scalar_one() == 0
        assert connection.execute(select(func.count()).select_from(E)).scalar_one() == 0

    hidden = dict(re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
        preview.text.split('action="/campaigns/launch"')[1].split("</form>")[0],
    ))  # fmt: skip
    assert hidden.pop("csrf")
    assert hidden == {**choices, "start": ""}
    answer = site.post("/campaigns/launch", hidden)
    assert answer.status_code == 303 and answer.headers["location"] == "/campaigns/autumn"
    assert "3 leads enrolled" in note(site, "/campaigns/autumn")
    with site.database.engine.connect() as connection:
        campaign = connection.execute(select(C.c.state, C.c.phone_ids, C.c.tag)).one()
        enrolled = connection.execute(select(func.count()).select_from(E)).scalar_one()
    assert tuple(campaign) == ("active", "01", "jan") and enrolled == 3
    assert audit(site) == [("ana", "launch campaign", "autumn")]


@pytest.mark.parametrize(
    ("choices", "says"),
    [
        ({"name": "x", "sequence": "intro", "tag": "feb"}, "no lead is tagged 'feb'"),
        ({"name": "x", "sequence": "nope"}, "no sequence 'nope'"),
        ({"name": "x", "sequence": "intro", "start": "soon"}, "is not a start time"),
        ({"name": "", "sequence": "intro"}, "a campaign's name is 1 to 64 characters"),
    ],
)
def test_a_choice_that_cannot_launch_is_said_on_the_form(
    site: ConsoleHarness, choices: dict[str, str], says: str
) -> None:
    site.sign_in("ana")
    for path in ("/campaigns/preview", "/campaigns/launch"):
        answer = site.post(path, choices)
        assert answer.status_code == 400
        assert says in html.unescape(answer.text)
    with site.database.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(C)).scalar_one() == 0


def test_with_funnels_kept_in_memory_a_campaign_shows_its_state_at_once(
    make_console: Callable[..., ConsoleHarness], redis_namespace: str
) -> None:
    """Funnels are served from memory (``report_max_age_s``), but a campaign's state is read
    fresh: paused from the command line, its page says so at once; a send recorded since
    shows once the kept funnel is recomputed (here: after an action in the console)."""
    settings = replace(base_settings(redis_namespace), sequences={"intro": INTRO})
    settings = replace(settings, console=replace(settings.console, report_max_age_s=3600))
    cached: ConsoleHarness = make_console(settings=settings)
    with cached.database.session() as session:
        for phone in settings.phones:
            session.add(Phone(id=phone.id, phone=phone.phone))
        lead = Lead(phone="+40712000001", variables={"name": "Ana"})
        session.add(lead)
        session.flush()
        assert lead.id is not None
        session.add(LeadTag(lead_id=lead.id, tag="jan"))
    launch_campaign(
        cached.settings, cached.database, find_sequence(cached.settings, "intro"),
        now=cached.clock.now(), name="spring", tag="jan",
    )  # fmt: skip
    cached.sign_in("ana")
    assert row(cached.client.get("/campaigns").text, "spring")[1] == "active"
    pause(cached.database, "spring", now=cached.clock.now())  # as `outreach campaign pause`
    with cached.database.engine.connect() as connection:
        enrollment = connection.execute(select(E.c.id)).scalar_one()
    with cached.database.session() as session:
        session.add(Message(direction=Direction.OUT, enrollment_id=enrollment, step=0,
                            phone_id="01", status="sent", sent_at=cached.clock.now()))  # fmt: skip
    listing = cached.client.get("/campaigns").text
    assert row(listing, "spring")[1] == "paused"  # fresh
    assert "Funnels as of" in listing
    sent_column = 6
    assert row(listing, "spring")[sent_column] == "0"  # the funnel kept in memory
    cached.post("/campaigns/spring/resume")
    assert row(cached.client.get("/campaigns").text, "spring")[sent_column] == "1"
