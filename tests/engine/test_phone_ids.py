"""The phone id rule (engine.settings.phone_ids): which slugs are ids, and their order."""

from __future__ import annotations

import pytest

from engine.settings.phone_ids import (
    PHONE_ID_MAX_CHARS,
    phone_id_key,
    phone_id_problem,
    sorted_phone_ids,
)


@pytest.mark.parametrize(
    "phone_id",
    ["01", "99", "00", "1", "100", "london-3", "London_3", "a", "A1-b_2", "x" * PHONE_ID_MAX_CHARS,
     "followup", "a_followup2", "a-followup"],
)  # fmt: skip
def test_valid_ids(phone_id: str) -> None:
    assert phone_id_problem(phone_id) is None


@pytest.mark.parametrize(
    ("phone_id", "says"),
    [
        ("", "must not be empty"),
        ("x" * (PHONE_ID_MAX_CHARS + 1), "33 characters long"),
        ("-x", "not a phone id"),  # read as an option on the command line
        ("_x", "not a phone id"),
        ("a b", "not a phone id"),
        ("a.b", "not a phone id"),  # Dramatiq's .DQ / .XQ suffixes
        ("a:b", "not a phone id"),  # the Redis key separator
        ("a,b", "not a phone id"),  # --phones 01,02
        ("a/b", "not a phone id"),
        ("é1", "not a phone id"),
        ("１", "not a phone id"),  # a full-width digit
        ("01\n", "not a phone id"),
        ("a_followup", "must not end in '_followup'"),
        ("a_FOLLOWUP", "must not end in '_followup'"),
    ],
)
def test_invalid_ids_say_what_is_allowed(phone_id: str, says: str) -> None:
    problem = phone_id_problem(phone_id)
    assert problem is not None and says in problem
    if "not a phone id" in says:
        assert "letters, digits, '-' and '_', at most 32 characters" in problem


def test_ids_differing_only_in_case_are_one_phone() -> None:
    assert phone_id_key("London-3") == phone_id_key("london-3")
    assert phone_id_key("01") != phone_id_key("1")


@pytest.mark.parametrize(
    ("ids", "ordered"),
    [
        (["10", "02", "01", "20", "03"], ["01", "02", "03", "10", "20"]),  # as before
        (["p10", "p2", "p1"], ["p1", "p2", "p10"]),
        (["london-10", "London-3", "london-2", "x"], ["london-2", "London-3", "london-10", "x"]),
        (["1", "01", "1a", "2"], ["01", "1", "1a", "2"]),
        (["b", "10", "a"], ["10", "a", "b"]),
    ],
)  # fmt: skip
def test_natural_order(ids: list[str], ordered: list[str]) -> None:
    assert sorted_phone_ids(ids) == ordered
    assert sorted_phone_ids(reversed(ids)) == ordered  # total: the input order never shows
