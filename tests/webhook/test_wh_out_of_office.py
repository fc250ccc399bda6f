"""Out-of-office replies, the pure parts: which replies are notices, the return date
read in one, and when the lead's next step is due after it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from engine.errors import ConfigError
from engine.replies.absence import resume_at
from engine.replies.return_date import return_date
from engine.replies.rules import OUT_OF_OFFICE, ReplyRules
from engine.settings.replies import OutOfOfficeSettings, RepliesSettings, validate_replies
from sequences import SendWindow
from sequences.closed_days import ClosedDays

TODAY = date(2026, 12, 7)  # a Monday

RETURN_DATES = {
    # text: the date it says the writer is back (None: no date to trust)
    "I am back on 14 December.": date(2026, 12, 14),
    "Out of office until December 14th, 2026": date(2026, 12, 14),
    "Back 2026-12-14": date(2026, 12, 14),
    "Returning January 5th": date(2027, 1, 5),  # yearless: the nearer year
    "Away until 12/14": date(2026, 12, 14),  # only month-day makes a date
    "Ich bin bis 14.12. abwesend": date(2026, 12, 14),
    "Je suis absente jusqu'au 4 janvier 2027": date(2027, 1, 4),
    "Fuera de la oficina hasta el 15 de diciembre": date(2026, 12, 15),
    "Revin în 10 decembrie": date(2026, 12, 10),
    "Ich bin ab 14. Dezember wieder da": date(2026, 12, 14),
    "Out from 1 to 18 December": date(2026, 12, 18),  # the latest date is the return
    "Back on Monday, 14 December": date(2026, 12, 14),  # the date beats the weekday
    "Back on 14/12/26": date(2026, 12, 14),
    "Away until Monday": date(2026, 12, 14),  # never today: the next Monday
    "I'm off until Wednesday": date(2026, 12, 9),
    "Back tomorrow": date(2026, 12, 8),
    "Away until 03/04": None,  # 3 April or 4 March?
    "I was away until 3 December": None,  # past
    "Back on 2025-12-14": None,  # past, with its year
    "Available Monday to Friday": None,  # which weekday?
    "Out of office, call me on 0721.123.456": None,
    "Office hours 9:30 to 17:00": None,
    "I am on vacation": None,
    "Back on 31 February": None,  # no such day
}


@pytest.mark.parametrize(("text", "expected"), RETURN_DATES.items(), ids=RETURN_DATES.keys())
def test_the_return_date_of_a_notice(text: str, expected: date | None) -> None:
    assert return_date(text, TODAY) == expected


NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
AWAY = OutOfOfficeSettings(delay_days=7, max_days=30)
WEEKDAYS_9_TO_17 = SendWindow(frozenset(range(5)), time(9), time(17))

RESUMES = {
    "the date read, at the window's opening that day": (
        "Back on 14 December",
        "Europe/Bucharest",
        WEEKDAYS_9_TO_17,
        (),
        datetime(2026, 12, 14, 7, 0, tzinfo=UTC),
    ),
    "no window: the start of that day on the lead's clock": (
        "Back on 14 December",
        "America/New_York",
        None,
        (),
        datetime(2026, 12, 14, 5, 0, tzinfo=UTC),
    ),
    "no date: the delay": (
        "On vacation",
        "UTC",
        None,
        (),
        datetime(2026, 12, 14, 15, 0, tzinfo=UTC),
    ),
    "an ambiguous date: the delay": (
        "Away until 03/04",
        "UTC",
        None,
        (),
        datetime(2026, 12, 14, 15, 0, tzinfo=UTC),
    ),
    "a past date: the delay": (
        "Away until 3 December",
        "UTC",
        None,
        (),
        datetime(2026, 12, 14, 15, 0, tzinfo=UTC),
    ),
    "a date beyond the cap: the cap": (
        "Back on 2027-03-01",
        "UTC",
        None,
        (),
        datetime(2027, 1, 6, 15, 0, tzinfo=UTC),
    ),
    "a closed day moves it on": (
        "Back on 14 December",
        "UTC",
        WEEKDAYS_9_TO_17,
        (date(2026, 12, 14),),
        datetime(2026, 12, 15, 9, 0, tzinfo=UTC),
    ),
    "a weekend return waits for Monday's window": (
        "Back on 12 December",
        "UTC",
        WEEKDAYS_9_TO_17,
        (),
        datetime(2026, 12, 14, 9, 0, tzinfo=UTC),
    ),
    "the lead's today is already tomorrow in UTC": (
        "Back tomorrow",
        "Pacific/Auckland",
        None,
        (),
        datetime(2026, 12, 8, 11, 0, tzinfo=UTC),  # 9 Dec 00:00 in Auckland
    ),
}


@pytest.mark.parametrize(
    ("text", "zone", "window", "closed", "expected"), RESUMES.values(), ids=RESUMES.keys()
)
def test_when_the_next_step_is_due(
    text: str, zone: str, window: SendWindow | None, closed: tuple[date, ...],
    expected: datetime,
) -> None:  # fmt: skip
    found = resume_at(
        text, NOW, AWAY, zone=zone, window=window, closed=ClosedDays(dates=frozenset(closed))
    )
    assert found == expected


CLASSES = {
    "Automatic reply: I am out of the office until Monday.": OUT_OF_OFFICE,
    "Abwesenheitsnotiz: ich bin nicht im Büro": OUT_OF_OFFICE,
    "Réponse automatique : je suis en congé": OUT_OF_OFFICE,
    "Estoy fuera de la oficina": OUT_OF_OFFICE,
    # Notices name a manager for urgent matters: still no review.
    "Out of office. For urgent matters contact my manager.": OUT_OF_OFFICE,
    "Out of office; please stop messaging me": "opt_out",  # an opt-out wins
    "I am out of stock of patience, what is the price?": "human_review",
}


@pytest.mark.parametrize(("text", "label"), CLASSES.items(), ids=CLASSES.keys())
def test_which_replies_are_notices(text: str, label: str) -> None:
    rules = ReplyRules(RepliesSettings())
    result = rules.classify(text)
    assert result.label == label
    assert rules.is_out_of_office(text) == (label == OUT_OF_OFFICE)
    if label == OUT_OF_OFFICE:
        assert (result.review_priority, result.intents, rules.notify_urls(result)) == (0, (), {})


def test_the_rule_can_be_turned_off() -> None:
    rules = ReplyRules(RepliesSettings(out_of_office=OutOfOfficeSettings(enabled=False)))
    text = "Out of office. For urgent matters contact my manager."
    assert not rules.is_out_of_office(text)
    assert rules.classify(text).label == "human_review"


@pytest.mark.parametrize(
    ("away", "key"),
    [
        (OutOfOfficeSettings(delay_days=0), "replies.out_of_office.delay_days"),
        (OutOfOfficeSettings(delay_days=40, max_days=30), "replies.out_of_office.delay_days"),
        (OutOfOfficeSettings(keywords=("--",)), "replies.out_of_office.keywords[0]"),
    ],
)
def test_bad_settings_are_refused(away: OutOfOfficeSettings, key: str) -> None:
    def fail(found: str, message: str) -> ConfigError:
        return ConfigError(f"{found}: {message}")

    with pytest.raises(ConfigError, match=key.replace("[", r"\[")):
        validate_replies(RepliesSettings(out_of_office=away), fail)
