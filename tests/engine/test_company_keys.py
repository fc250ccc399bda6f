"""The company key colleagues share: a domain first, else a name, else no group."""

from __future__ import annotations

import pytest

from engine.company_keys import COMPANY_KEY_CHARS, company_key


@pytest.mark.parametrize(
    ("variables", "key"),
    [
        ({"company_domain": "acme.example"}, "acme.example"),
        ({"company_domain": "WWW.Acme.Example"}, "acme.example"),
        ({"company_domain": "https://www.acme.example/contact"}, "acme.example"),
        ({"company_domain": " http://acme.example. "}, "acme.example"),
        ({"company_domain": "acme.example", "company": "Other"}, "acme.example"),
        ({"company_domain": "  ", "company": "Acme  Corp "}, "acme corp"),
        ({"company": "ACME\tCORP"}, "acme corp"),
        ({"company": "Straße GmbH"}, "strasse gmbh"),
        ({"company": "   "}, None),
        ({"name": "Ana"}, None),
        ({}, None),
        (None, None),
        ({"company": "x" * 300}, "x" * COMPANY_KEY_CHARS),
    ],
)
def test_company_key(variables: dict[str, str] | None, key: str | None) -> None:
    assert company_key(variables) == key
