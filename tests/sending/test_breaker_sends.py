"""The send path with a tripped phone: a cooling phone sends nothing and lets its leads go
to other phones; a half-open one is handed one first message and sends it, once; its probe
closes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from engine.db import Database
from engine.jobs.breaker import check_breakers
from engine.models import Phone
from engine.sending.outcome import Done
from engine.settings import Settings, load_settings
from tests.sending.conftest import CONFIG, Harness
from tests.sending.test_dispatcher import NOW, enroll, make, states


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return load_settings(path)


def _set_phone(database: Database, phone_id: str, **values: object) -> None:
    with database.session() as session:
        row = session.get(Phone, phone_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


def test_a_cooling_phone_sends_nothing_and_its_first_message_is_released(
    harness: Harness,
) -> None:
    eid = harness.enroll()  # queued on phone 01 before it tripped
    follow_up = harness.enroll("+40712345679", step=1, state="active")
    _set_phone(harness.database, "01", state="cooling")
    assert harness.send(eid, 0, "01") == Done("back to due: phone not active")
    assert harness.send(follow_up, 1, "01") == Done("back to due: phone not active")
    first = harness.enrollment(eid)
    assert (first.step_state, first.phone_id) == ("due", None)  # free to go from another
    later = harness.enrollment(follow_up)
    assert (later.step_state, later.phone_id) == ("due", "01")  # its chat is on phone 01
    assert harness.sends() == 0
    assert harness.quota_used() == 0


def test_a_half_open_phone_sends_one_probe_and_its_probe_closes_it(
    harness: Harness,
) -> None:
    probe, second = harness.enroll(), harness.enroll("+40712345679")
    _set_phone(harness.database, "01", state="half_open")
    assert harness.send(probe, 0, "01") == Done("sent")
    assert harness.phone().state == "probing"
    harness.clock.advance(600)  # its pacing is long over
    assert harness.send(second, 0, "01") == Done("back to due: phone not active")
    assert harness.sends() == 1
    [change] = check_breakers(harness.clock.now(), harness.database, harness.settings)
    assert (change.before, change.after) == ("probing", "active")


def test_the_dispatcher_hands_a_half_open_phone_one_first_message_and_a_cooling_one_none(
    settings: Settings, database: Database
) -> None:
    dispatcher, recorder = make(settings, database)
    _set_phone(database, "01", state="half_open")
    _set_phone(database, "02", state="cooling")
    enroll(database, 5)
    assert dispatcher.run_once(NOW).first_messages == 1
    assert dispatcher.run_once(NOW).first_messages == 0  # its probe is queued already
    assert [queue for queue, *_ in recorder.sent] == ["phone_01"]
    assert sorted(states(database)).count(("due", None)) == 4
    with database.session() as session:
        assert {p.id: p.state for p in session.exec(select(Phone))} == {
            "01": "half_open", "02": "cooling",
        }  # fmt: skip
