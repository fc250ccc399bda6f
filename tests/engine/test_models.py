"""The ORM classes over the Core tables: built as an insert would fill them, and strict."""

from __future__ import annotations

import pytest

from engine.models import Lead, Phone
from engine.states import PhoneState


def test_building_an_object_fills_the_columns_defaults() -> None:
    phone = Phone(id="01", phone="+40722000001")
    assert (phone.state, phone.sent_total, phone.failures_total) == (PhoneState.ACTIVE, 0, 0)
    assert phone.created_at is not None and phone.created_at.tzinfo is not None


def test_a_default_made_from_the_row_sees_the_values_given() -> None:
    lead = Lead(phone="+40722000001", variables={"first_name": "Ana", "company": "Acme SRL"})
    assert lead.name_key == "ana"
    assert lead.company_key is not None and "acme" in lead.company_key
    assert Lead(phone="+40722000002").variables == {}


def test_a_name_that_is_no_column_is_refused() -> None:
    # SQLModel dropped it without a word: a test "named" its leads that way for months.
    with pytest.raises(TypeError, match="'name' is not a column of leads"):
        Lead(phone="+40722000001", name="Ana")
