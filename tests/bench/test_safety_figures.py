"""The safety benchmark's checker, fed known-bad runs: a check that never fires looks
exactly like an engine that never fails, so each "never" figure must catch its case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bench.safety_figures import (
    Attempt,
    compute,
    jaccard,
    near_duplicates,
    rolling_hour_counts,
    shingles,
)

DAY = date(2026, 12, 8)
T0 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
TEXTS = [
    "Hi Ana, I saw Acme and wanted to ask about your plans for next quarter.",
    "Good morning Radu, I noticed Solaris and was curious about the tools your team uses.",
    "Hello Ion, I came across Nordic Tea and had a quick question about how you handle deliveries.",
]


def send(
    minute: float,
    *,
    phone: str = "01",
    lead: str = "+40720000001",
    step: int = 0,
    text: str | None = None,
    accepted: bool = True,
    lasts_s: float = 1.0,
) -> Attempt:
    at = T0 + timedelta(minutes=minute)
    return Attempt(
        phone, lead, step, text or TEXTS[int(minute) % 3], at, at + timedelta(seconds=lasts_s),
        accepted,
    )  # fmt: skip


def run(attempts: list[Attempt], **options: Any) -> dict[str, int]:
    options.setdefault("quotas", {("01", DAY): 20})
    options.setdefault("hourly_cap", 80)
    options.setdefault("suppressed_at", {})
    options.setdefault("in_flight", set())
    options.setdefault("replied_at", {})
    options.setdefault("breaker_trips", [])
    return compute(attempts, **options).never()


CLEAN = [send(m, lead=f"+4072000000{m}") for m in range(3)]


def test_a_careful_run_has_every_never_figure_at_zero() -> None:
    figures = compute(
        CLEAN, quotas={("01", DAY): 20}, hourly_cap=80, suppressed_at={}, in_flight=set(),
        replied_at={}, breaker_trips=[("01", T0)],
    )  # fmt: skip
    assert figures.ok
    (row,) = figures.rows
    assert (row.new_chats, row.max_per_hour, row.breaker_trips) == (3, 3, 1)
    assert row.min_gap_s == pytest.approx(59.0)


@pytest.mark.parametrize(
    ("name", "attempts", "options"),
    [
        (
            "to_suppressed",
            [*CLEAN, send(5, lead="+40729999999", step=1)],
            {"suppressed_at": {"+40729999999": T0}},
        ),
        ("quota_overruns", CLEAN, {"quotas": {("01", DAY): 2}}),
        ("hourly_overruns", CLEAN, {"hourly_cap": 2}),
        (
            "near_duplicates",
            [
                send(0, lead="+40720000001", text=TEXTS[0]),
                send(2, lead="+40720000002", text=TEXTS[0].upper()),
            ],
            {},
        ),
        ("overlaps", [send(0, lasts_s=90), send(1, lead="+40720000002")], {}),
        ("steps_twice", [send(0), send(3, text=TEXTS[1])], {}),
        (
            "after_reply",
            [send(0), send(30, step=1)],
            {"replied_at": {"+40720000001": T0 + timedelta(minutes=10)}},
        ),
    ],
)
def test_each_never_figure_catches_its_case(
    name: str, attempts: list[Attempt], options: dict[str, Any]
) -> None:
    never = run(attempts, **options)
    assert never[name] >= 1
    assert {k for k, v in never.items() if v} == {name}


def test_a_send_claimed_before_the_reply_or_listing_may_still_arrive() -> None:
    lead = "+40720000001"
    attempts = [send(0, lead=lead), send(30, lead=lead, step=1)]
    later = T0 + timedelta(minutes=10)
    never = run(
        attempts, replied_at={lead: later}, suppressed_at={lead: later}, in_flight={(lead, 1)}
    )
    assert not any(never.values())


def test_a_refused_send_counts_for_the_day_but_opens_no_chat() -> None:
    figures = compute(
        [send(0, accepted=False), *CLEAN[1:]], quotas={("01", DAY): 2}, hourly_cap=80,
        suppressed_at={}, in_flight=set(), replied_at={}, breaker_trips=[],
    )  # fmt: skip
    (row,) = figures.rows
    assert (row.new_chats, row.refused, row.quota_overruns) == (2, 1, 0)


def test_near_duplicates_compare_with_the_last_n_first_messages_only() -> None:
    same = [TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[0]]
    assert near_duplicates(same, window=3, threshold=0.8) == [0, 0, 0, 1]
    assert near_duplicates(same, window=2, threshold=0.8) == [0, 0, 0, 0]


def test_jaccard_of_word_shingles_ignores_case_and_punctuation() -> None:
    assert jaccard(shingles("Hi Ana, hello!"), shingles("hi ana hello")) == 1.0
    assert jaccard(shingles("a b c"), shingles("x y z")) == 0.0


def test_the_hour_ending_with_each_send_counts_it_and_those_under_an_hour_before() -> None:
    moments = [T0 + timedelta(minutes=m) for m in (0, 30, 59, 60, 200)]
    assert rolling_hour_counts(moments) == [1, 2, 3, 3, 1]
