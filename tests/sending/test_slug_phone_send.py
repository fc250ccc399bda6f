"""A phone with a long slug id sends, records and counts its quota like ``01`` does, on
both databases (the id columns hold 32 characters since migration 0014)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.models import QuotaUsage
from engine.sending.outcome import Done
from tests.sending.conftest import CONFIG, Harness

SLUG = "london-office_2-" + "x" * 16  # 32 characters: the longest id


@pytest.fixture
def sending_config() -> str:
    return CONFIG.replace('id = "02"', f'id = "{SLUG}"')


def test_a_slug_phone_sends_records_and_counts_its_quota(harness: Harness) -> None:
    eid = harness.enroll(phone_id=SLUG)
    assert harness.send(eid, 0, SLUG) == Done("sent")
    [message] = harness.messages()
    assert message.phone_id == SLUG
    assert harness.phone(SLUG).sent_total == 1
    assert harness.quota_used(SLUG) == 1
    with harness.database.session() as session:
        assert [q.phone_id for q in session.exec(select(QuotaUsage))] == [SLUG]
    [send] = harness.sim.sends()
    assert send.account_phone == "+447700900002"
