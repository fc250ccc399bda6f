"""Phone numbers: what a person writes, our config's numbers and TimelinesAI's forms."""

from __future__ import annotations

import pytest

from engine.numbers import InvalidNumberError, check_region, from_provider, is_e164, to_e164


@pytest.mark.parametrize(
    ("written", "region", "expected"),
    [
        ("+40 712 345 678", None, "+40712345678"),
        ("0712 345 678", "ro", "+40712345678"),
        ("07400 123456", "GB", "+447400123456"),
        ("  +40712345678 ", "RO", "+40712345678"),  # a + number needs no region
    ],
)
def test_what_a_person_writes_is_read_in_its_region(
    written: str, region: str | None, expected: str
) -> None:
    assert to_e164(written, region) == expected


@pytest.mark.parametrize(
    ("written", "region", "reason"),
    [
        ("0712 345 678", None, "has no country code"),
        ("", "RO", "no phone number"),
        ("12", "RO", "not a valid phone number"),
        ("call me", "RO", "is not a phone number"),
        ("+40 12", None, "not a valid phone number"),
        ("+999 123 456 789", None, "unknown country code"),
        ("0712 345 678", "XX", "unknown region 'XX'"),
    ],
)
def test_a_number_that_cannot_be_read_says_why(
    written: str, region: str | None, reason: str
) -> None:
    with pytest.raises(InvalidNumberError, match=reason):
        to_e164(written, region)


def test_a_lookup_takes_any_possible_number_an_import_only_a_valid_one() -> None:
    # Possible (the right length for Romania) but not assigned in libphonenumber's metadata.
    with pytest.raises(InvalidNumberError, match="not a valid phone number"):
        to_e164("+40 612 345 678")
    assert to_e164("+40 612 345 678", valid=False) == "+40612345678"
    with pytest.raises(InvalidNumberError, match="not a possible phone number"):
        to_e164("+40 12", valid=False)


@pytest.mark.parametrize(
    ("region", "expected"), [(None, None), ("  ", None), ("ro", "RO"), (" gb ", "GB")]
)
def test_a_region_is_an_upper_case_country_code(region: str | None, expected: str | None) -> None:
    assert check_region(region) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+447700900001", True),
        ("+40712345678", True),
        ("447700900001", False),  # no +
        ("+44 7700 900001", False),  # not written in E.164
        ("+4412", False),  # too short to be possible
        ("+0712345678", False),
    ],
)
def test_a_configured_number_is_written_in_e164(number: str, expected: bool) -> None:
    assert is_e164(number) is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+40712345678", "+40712345678"),
        ("40712345678", "+40712345678"),
        ("0040712345678", "+40712345678"),
        ("+40 712-345-678", "+40712345678"),
        ("(+40) 712.345.678", "+40712345678"),
        ("40712345678@s.whatsapp.net", "+40712345678"),
        ("0712345678", None),  # national form: not matchable without a region
        ("12345", None),
        ("+4071234567890123", None),
        ("abc", None),
        ("", None),
    ],
)
def test_a_number_timelinesai_writes_is_reshaped_not_judged(
    given: str, expected: str | None
) -> None:
    assert from_provider(given) == expected
