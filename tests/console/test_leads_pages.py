"""The lead pages: finding a lead by its number written any way or by part of its name,
a page at a time, and its whole timeline."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from engine.settings import LeadsSettings
from sequences import import_leads
from tests.console.conftest import ConsoleHarness, base_settings
from tests.console.replied_lead import replied_lead

NUMBER = "+40712343644"


@pytest.fixture
def site(
    make_console: Callable[..., ConsoleHarness], redis_namespace: str, tmp_path: Path
) -> ConsoleHarness:
    """Leads imported from a file (national numbers read in RO), one of them replied."""
    settings = base_settings(redis_namespace, leads=LeadsSettings(default_region="RO"))
    harness = make_console(settings=settings)
    rows = ["phone,first_name,last_name,city"]
    rows += [f"07220000{i:02d},Lead,Number {i:02d},Cluj" for i in range(60)]
    rows += ["0733 111 222,Ștefan,Ionescu,Constanța", "0733 111 333,Maria,Stan_Pop,Iași"]
    (tmp_path / "leads.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = import_leads(
        harness.database, tmp_path / "leads.csv", tag="spring", region="RO",
        now=harness.clock.now(),
    )  # fmt: skip
    assert report.imported == 62
    replied_lead(harness.database, harness.clock.now())
    harness.sign_in("vic")
    return harness


def numbers_listed(html: str) -> list[str]:
    return re.findall(r'<a href="/leads/[^"]+">(\+\d+)</a>', html)


@pytest.mark.parametrize(
    "typed",
    [NUMBER, "+40 712 343 644", "0712343644", "0712-343-644", "40712343644", "0040712343644"],
)
def test_a_number_written_any_way_finds_its_lead(site: ConsoleHarness, typed: str) -> None:
    answer = site.client.get("/leads", params={"q": typed})
    assert answer.status_code == 200
    assert numbers_listed(answer.text) == [NUMBER]
    assert "Ioana Pop" in answer.text
    assert 'spring: <span class="state replied">replied' in answer.text


def test_a_number_of_no_lead_finds_nothing_and_a_broken_one_says_why(site: ConsoleHarness) -> None:
    assert numbers_listed(site.client.get("/leads", params={"q": "0712 000 999"}).text) == []
    answer = site.client.get("/leads", params={"q": "12"})
    assert answer.status_code == 200 and numbers_listed(answer.text) == []
    assert 'class="error"' in answer.text


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("ioana", [NUMBER]), ("IONESCU", ["+40733111222"]), ("ștefan", ["+40733111222"]),
     ("ȘTEFAN ion", ["+40733111222"]), ("stan_", ["+40733111333"]), ("a_s", []),
     ("constanța", []), ("%", [])],
)  # fmt: skip
def test_part_of_a_name_finds_its_leads_whatever_the_case(
    site: ConsoleHarness, typed: str, expected: list[str]
) -> None:
    assert numbers_listed(site.client.get("/leads", params={"q": typed}).text) == expected


def test_many_matches_come_a_page_at_a_time(site: ConsoleHarness) -> None:
    first = site.client.get("/leads", params={"q": "number"})
    listed = numbers_listed(first.text)
    assert len(listed) == 50 and listed[0] == "+40722000000"
    after = re.search(r'href="/leads\?q=number&amp;after=(\d+)">Next page', first.text)
    assert after is not None
    second = site.client.get("/leads", params={"q": "number", "after": after.group(1)})
    rest = numbers_listed(second.text)
    assert len(rest) == 10 and not set(rest) & set(listed)
    assert "Next page" not in second.text
    everyone = numbers_listed(site.client.get("/leads").text)
    assert len(everyone) == 50 and everyone[0] == "+40722000000"  # nothing typed: the oldest


def test_the_timeline_shows_both_directions_states_and_how_it_ended(
    site: ConsoleHarness,
) -> None:
    answer = site.client.get(f"/leads/{quote(NUMBER)}")
    assert answer.status_code == 200
    text = answer.text
    assert f"Lead {NUMBER}" in text and "Ioana Pop" in text
    assert "→" in text and "Hello Ioana" in text and "step 1" in text
    assert 'class="status read">read' in text
    assert "←" in text and "Sunați-mă mâine la 10" in text
    assert "reply to step 1 (schedule_call)" in text and "review open" in text
    assert 'class="state replied">replied' in text and "<td>replied</td>" in text
    assert "spring" in text
    # The number may be written as the person has it.
    assert site.client.get("/leads/0712 343 644").status_code == 200


@pytest.mark.parametrize("number", ["+40712000999", "0712000999", "not-a-number"])
def test_an_unknown_lead_is_a_404_page(site: ConsoleHarness, number: str) -> None:
    answer = site.client.get(f"/leads/{quote(number)}")
    assert answer.status_code == 404
    assert "No such lead" in answer.text and "Traceback" not in answer.text
