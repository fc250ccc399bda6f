"""Reading a messy lead file: the numbers' column by its usual names, a country per row,
encodings from Excel, and the same rules for an import and for ``launch --leads``."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from engine.db import Database
from engine.models import Lead
from sequences import (
    LeadImportError,
    UnknownCountryError,
    import_leads,
    read_lead_list,
    region_for_country,
)
from sequences.countries import ALIASES
from sequences.leads_csv import normalise_record, read_lead_file

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode(encoding))
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def phones(database: Database) -> list[str]:
    with database.session() as session:
        return [lead.phone for lead in session.exec(select(Lead).order_by(Lead.phone))]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("United States", "US"),
        ("united states of america", "US"),
        ("USA", "US"),
        ("US", "US"),
        ("us", "US"),
        ("Romania", "RO"),
        ("România", "RO"),
        ("  ROMANIA ", "RO"),
        ("ROU", "RO"),
        ("UK", "GB"),
        ("gb", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("Deutschland", "DE"),
        ("Magyarország", "HU"),
        ("Česko", "CZ"),
        ("Czech Republic", "CZ"),
        ("Russia", "RU"),
        ("Moldova", "MD"),
    ],
)
def test_country_names_and_codes_map_to_their_region(text: str, code: str) -> None:
    assert region_for_country(text) == code


@pytest.mark.parametrize("text", ["Atlantis", "U", "Antarctica", "Romani", "", "UKR-GB"])
def test_an_unknown_country_is_refused_not_guessed(text: str) -> None:
    with pytest.raises(UnknownCountryError, match="unknown country"):
        region_for_country(text)


def test_every_alias_names_a_region_whose_numbers_can_be_read() -> None:
    import phonenumbers

    assert set(ALIASES.values()) <= phonenumbers.SUPPORTED_REGIONS


@pytest.mark.parametrize(
    "title",
    ["phone", "Phone", " PHONE ", "Mobile", "telefon", "WhatsApp", "Number", "Phone Number"],
)
def test_the_numbers_column_may_be_named_as_people_name_it(tmp_path: Path, title: str) -> None:
    lead_file = read_lead_file(write(tmp_path, f"Name,{title}\nAna,+40712345678\n"))
    assert lead_file.columns.phone == 1
    assert lead_file.columns.variables == ((0, "name"),)


def test_phone_column_names_the_column_outright(tmp_path: Path) -> None:
    path = write(tmp_path, "Phone,Mobile\n+40212345678,+40712345678\n")
    lead_file = read_lead_file(path, phone_column=" mobile")
    assert lead_file.columns.phone == 1
    assert lead_file.columns.variables == ((0, "phone"),)
    with pytest.raises(LeadImportError, match="no column 'Cell'.*check --phone-column"):
        read_lead_file(path, phone_column="Cell")


def test_a_row_country_decides_how_a_number_without_plus_is_read(
    database: Database, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "name,phone,country\n"
        "Ann,(415) 555-0134,United States\n"
        "Bob,07400 123456,UK\n"
        "Cy,0712 345 678,\n"
        "Dan,+40 712 345 679,Atlantis\n"
        "Eve,020 7946 0958,gb\n",
    )
    report = import_leads(database, path, tag=None, region="RO", now=NOW)
    assert (report.imported, report.invalid) == (4, 1)
    assert phones(database) == ["+14155550134", "+40712345678", "+442079460958", "+447400123456"]
    assert report.rejected == ((5, "unknown country 'Atlantis'; write a name such as "
                                "'United Kingdom' or a two-letter code such as GB"),)  # fmt: skip
    with database.session() as session:
        lead = session.exec(select(Lead).where(Lead.phone == "+14155550134")).one()
    assert lead.variables == {"name": "Ann", "country": "United States"}


def test_a_rejected_national_number_says_which_region_it_was_read_in(
    database: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "phone\n(415) 555-0134\n+40712345678\n")
    report = import_leads(database, path, tag=None, region="RO", now=NOW)
    assert report.rejected == ((2, "'(415) 555-0134' is not a valid phone number (read as RO)"),)
    rows = read_csv(tmp_path / "leads.rejects.csv")
    assert [(row["line"], row["reason"]) for row in rows] == [("2", report.rejected[0][1])]


def test_rejects_go_where_asked(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "phone\nnope\n+40712345678\n")
    target = tmp_path / "out" / "bad.csv"
    target.parent.mkdir()
    report = import_leads(database, path, tag=None, region="RO", now=NOW, rejects=target)
    assert report.rejects_path == target
    assert [row["line"] for row in read_csv(target)] == ["2"]
    assert not (tmp_path / "leads.rejects.csv").exists()
    with pytest.raises(LeadImportError, match="cannot be the file imported"):
        import_leads(database, path, tag=None, region="RO", now=NOW, rejects=path)


def test_a_cp1250_file_imports_with_its_encoding(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "Telefon;Nume;Oraş\n0712 345 678;Ştefan;Iaşi\n", encoding="cp1250")
    report = import_leads(database, path, tag=None, region="RO", now=NOW, encoding="CP1250")
    assert report.imported == 1
    with database.session() as session:
        lead = session.exec(select(Lead)).one()
    assert lead.variables == {"nume": "Ştefan", "oraş": "Iaşi"}


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        (
            "phone,nume\n0712345678,Ştefan\n".encode("cp1250"),
            "utf-8",
            r"is not UTF-8 text \(line 2 has the byte 0xaa\); if it was exported from Excel, "
            r"pass --encoding cp1250 \(Central Europe\)",
        ),
        (
            "phone,nume\n0712345678,Ştefan\n".encode(),
            "cp1250",
            "looks like UTF-8 text, not cp1250; import it without --encoding",
        ),
        (b"phone\n0712345678\n", "klingon", "unknown encoding 'klingon'"),
    ],
)
def test_a_wrong_encoding_is_one_line_with_a_hint_and_imports_nothing(
    database: Database, tmp_path: Path, content: bytes, encoding: str, message: str
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    with pytest.raises(LeadImportError, match=message) as raised:
        import_leads(database, path, tag=None, region="RO", now=NOW, encoding=encoding)
    assert "\n" not in str(raised.value)
    assert phones(database) == []


def test_a_utf8_bom_is_skipped_whatever_the_encoding_is_called(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffPhone,Nume\n0712345678,Ştefan\n")
    for encoding in ("utf-8", "utf-8-sig", "UTF8"):
        lead_file = read_lead_file(path, encoding=encoding)
        assert lead_file.header == ["Phone", "Nume"]


def test_launch_leads_file_is_read_by_the_same_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Mobile;Country\n(415) 555-0134;USA\n07400 123456;United Kingdom\n0712345678;Mars\n",
        encoding="cp1250",
    )
    lead_list = read_lead_list(path, "RO", encoding="cp1250")
    assert lead_list.phones == ("+14155550134", "+447400123456")
    assert lead_list.invalid_rows == 1


def test_a_plus_number_needs_no_country(tmp_path: Path) -> None:
    lead_file = read_lead_file(write(tmp_path, "phone,country\n+447400123456,\n"))
    parsed = normalise_record(lead_file.records[0], lead_file.columns, None)
    assert not isinstance(parsed, Exception)
    assert getattr(parsed, "phone", None) == "+447400123456"
