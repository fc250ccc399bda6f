"""TimelinesAI's timestamp forms all parse to aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.timelinesai import format_timestamp, parse_timestamp

MOMENT = datetime(2023, 6, 18, 12, 19, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2023-06-18 15:19:23 +0300",
        "2023-06-18 12:19:23 +0000",
        "2023-06-18T12:19:23Z",
        "2023-06-18T15:19:23+03:00",
        "2023-06-18 12:19:23 UTC",
        "2023-06-18T12:19:23",
        " 2023-06-18 12:19:23 GMT ",
        1687090763,
        1687090763000,
        1687090763.0,
        MOMENT,
    ],
)
def test_every_form_parses_to_the_same_moment(value: object) -> None:
    parsed = parse_timestamp(value)
    assert parsed == MOMENT
    assert parsed.tzinfo is not None


def test_the_offset_is_kept() -> None:
    assert parse_timestamp("2023-06-18 15:19:23 +0300").utcoffset() == timedelta(hours=3)


@pytest.mark.parametrize("value", ["yesterday", "", None, True, [], "2023-13-01 00:00:00 +0000"])
def test_anything_else_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp(value)


def test_format_round_trips() -> None:
    text = format_timestamp(MOMENT, utc_offset_minutes=180)
    assert text == "2023-06-18 15:19:23 +0300"
    assert parse_timestamp(text) == MOMENT
    assert parse_timestamp(text).tzinfo == timezone(timedelta(hours=3))
