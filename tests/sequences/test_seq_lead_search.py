"""The name a search finds a lead by stays the name every list shows: written by the
import (insert and update), by the ORM, cleared by forget; the search on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.lead_names import name_key
from engine.models import Lead
from engine.tables import L
from sequences import import_leads, looks_like_number, search_leads
from sequences.forget import forget

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def keys(database: Database) -> dict[str, str | None]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(L.c.phone, L.c.name_key))
        return {row.phone: row.name_key for row in rows}


def write(path: Path, *rows: str) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("variables", "key"),
    [({"name": "  Ana  MARIA "}, "ana maria"), ({"first_name": "Ștefan", "last_name": "POP"},
      "ștefan pop"), ({"full_name": "Straße"}, "strasse"), ({"city": "Cluj"}, None), ({}, None)],
)  # fmt: skip
def test_the_key_is_the_listed_name_case_folded(variables: dict[str, str], key: str | None) -> None:
    assert name_key(variables) == key


@pytest.mark.parametrize(
    ("text", "number"),
    [("+40 722 123 456", True), ("(0722) 123.456", True), ("0722-123", True), ("Ana", False),
     ("ana 2", False), ("", False), ("+", False)],
)  # fmt: skip
def test_what_looks_like_a_number(text: str, number: bool) -> None:
    assert looks_like_number(text) is number


def test_import_orm_and_forget_keep_the_key(database: Database, tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", "phone,first_name,last_name", "+40722000001,Ioana,Pop",
                  "+40722000002,,")  # fmt: skip
    import_leads(database, first, tag=None, region=None, now=NOW)
    assert keys(database) == {"+40722000001": "ioana pop", "+40722000002": None}
    again = write(tmp_path / "b.csv", "phone,name", "+40722000001,Maria Stan",
                  "+40722000002,Dan")  # fmt: skip
    import_leads(database, again, tag=None, region=None, now=NOW)
    assert keys(database) == {"+40722000001": "maria stan", "+40722000002": "dan"}
    with database.session() as session:
        session.add(Lead(phone="+40722000003", variables={"name": "Radu"}))
        session.flush()
        stored = session.get(Lead, 2)
        assert stored is not None and stored.phone == "+40722000002"
        stored.variables = {"name": "Daniel"}
    assert keys(database)["+40722000003"] == "radu"
    assert keys(database)["+40722000002"] == "daniel"
    forget(database, "+40722000001", now=NOW)
    assert "maria stan" not in keys(database).values()
    with database.session() as session:
        found = search_leads(session, "DANI", None)
        assert [lead.phone for lead in found.leads] == ["+40722000002"]
        assert (found.by, found.next_after) == ("name", None)
        assert search_leads(session, "stan", None).leads == ()
        by_number = search_leads(session, "0040 722 000 003", None)
        assert (by_number.by, by_number.number) == ("number", "+40722000003")
        assert [lead.name for lead in by_number.leads] == ["Radu"]
        page = search_leads(session, "", None, limit=1)
        assert page.by == "all" and page.next_after == page.leads[0].id


def test_import_orm_and_forget_keep_the_company_key(database: Database, tmp_path: Path) -> None:
    def companies() -> dict[str, str | None]:
        with database.engine.connect() as connection:
            rows = connection.execute(select(L.c.phone, L.c.company_key))
            return {row.phone: row.company_key for row in rows}

    first = write(tmp_path / "a.csv", "phone,Company Domain,Company",
                  "+40722000001,www.Acme.example,Acme", "+40722000002,,Acme  SRL")  # fmt: skip
    import_leads(database, first, tag=None, region=None, now=NOW)
    assert companies() == {"+40722000001": "acme.example", "+40722000002": "acme srl"}
    again = write(tmp_path / "b.csv", "phone,company_domain,company",
                  "+40722000001,other.example,", "+40722000002,,Beta")  # fmt: skip
    import_leads(database, again, tag=None, region=None, now=NOW)
    assert companies() == {"+40722000001": "other.example", "+40722000002": "beta"}
    forget(database, "+40722000001", now=NOW)
    assert sorted(companies().values(), key=str) == [None, "beta"]
