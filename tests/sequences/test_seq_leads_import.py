"""Lead import on SQLite and PostgreSQL: numbers, duplicates, updates, rejects, bad files."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from engine.db import Database
from engine.models import Lead, LeadTag, Suppression
from sequences import ImportReport, LeadImportError, import_leads, lead_page, variable_name
from sequences import leads_import as leads_import_module

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def write(tmp_path: Path, text: str, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def run(
    database: Database,
    path: Path,
    *,
    tag: str | None = None,
    region: str | None = "RO",
    now: datetime = NOW,
) -> ImportReport:
    return import_leads(database, path, tag=tag, region=region, now=now)


def stored(database: Database) -> dict[str, dict[str, Any]]:
    with database.session() as session:
        tags: dict[int, set[str]] = {}
        for lead_tag in session.exec(select(LeadTag)):
            tags.setdefault(lead_tag.lead_id, set()).add(lead_tag.tag)
        return {
            lead.phone: {
                "variables": lead.variables,
                "timezone": lead.timezone,
                "region": lead.region,
                "tags": tags.get(lead.id or 0, set()),
                "created_at": lead.created_at,
                "updated_at": lead.updated_at,
            }
            for lead in session.exec(select(Lead).order_by(col(Lead.id)))
        }


def counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    return report.imported, report.updated, report.duplicates, report.invalid, report.suppressed


def rejects(report: ImportReport) -> list[dict[str, str]]:
    assert report.rejects_path is not None
    with report.rejects_path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("written", "region", "e164", "country"),
    [
        ("0712 345 678", "RO", "+40712345678", "RO"),
        ("0712-345-678", "ro", "+40712345678", "RO"),
        ("(0712) 345.678", "RO", "+40712345678", "RO"),
        ("0040 712 345 678", "RO", "+40712345678", "RO"),
        ("+40 712 345 678", None, "+40712345678", "RO"),
        ("+44 7400 123456", "RO", "+447400123456", "GB"),
        ("07400 123456", "GB", "+447400123456", "GB"),
        ("(212) 555-1234", "US", "+12125551234", "US"),
        ("+1 416 555 0123", "RO", "+14165550123", "CA"),
        ("+800 1234 5678", None, "+80012345678", None),
    ],
)
def test_numbers_are_normalised_to_e164(
    database: Database,
    tmp_path: Path,
    written: str,
    region: str | None,
    e164: str,
    country: str | None,
) -> None:
    report = run(database, write(tmp_path, f'phone\n"{written}"\n'), region=region)
    assert counts(report) == (1, 0, 0, 0, 0)
    assert report.rejects_path is None
    lead = stored(database)[e164]
    assert lead["region"] == country
    assert lead["created_at"] == NOW


@pytest.mark.parametrize(
    ("written", "region", "reason"),
    [
        ("0712 345 678", None, "no country code"),
        ("", "RO", "no phone number"),
        ("12", "RO", "not a valid phone number"),
        ("call me", "RO", "not a phone number"),
        ("0112 345 678", "RO", "not a valid phone number"),
        ("+40 12", None, "not a valid phone number"),
        ("+999 123 456 789", None, "unknown country code"),
    ],
)
def test_invalid_numbers_are_rejected_with_a_reason(
    database: Database, tmp_path: Path, written: str, region: str | None, reason: str
) -> None:
    path = write(tmp_path, f'name,phone\nAna,"{written}"\nBob,+40712345678\n')
    report = run(database, path, region=region)
    assert counts(report) == (1, 0, 0, 1, 0)
    assert report.rejects_path == tmp_path / "leads.rejects.csv"
    [row] = rejects(report)
    assert (row["name"], row["phone"], row["line"]) == ("Ana", written, "2")
    assert reason in row["reason"]
    assert list(stored(database)) == ["+40712345678"]


def test_duplicates_in_the_file_keep_the_first(database: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "phone,name\n0712345678,First\n+40 712 345 678,Second\n0040712345678,Third\n"
        "0712345679,Other\n",
    )
    report = run(database, path)
    assert counts(report) == (2, 0, 2, 0, 0)
    assert report.rows == 4
    assert stored(database)["+40712345678"]["variables"] == {"name": "First"}


def test_an_invalid_first_row_does_not_claim_the_number(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,timezone\n0712345678,Mars/Base\n0712345678,Europe/Bucharest\n")
    report = run(database, path)
    assert counts(report) == (1, 0, 0, 1, 0)
    assert "unknown timezone 'Mars/Base'" in rejects(report)[0]["reason"]
    assert stored(database)["+40712345678"]["timezone"] == "Europe/Bucharest"


def test_reimport_updates_instead_of_duplicating(database: Database, tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "phone,name,company,timezone\n0712345678,Ana,Acme,Europe/Bucharest\n0712345679,Bob,,\n",
    )
    assert counts(run(database, first, tag="jan")) == (2, 0, 0, 0, 0)
    second = write(
        tmp_path,
        "phone,name,city,timezone\n+40712345678,Ana Maria,Cluj,\n0712345679,,Iasi,Europe/London\n"
        "0712345670,Cora,,\n",
        name="again.csv",
    )
    report = run(database, second, tag="feb", now=LATER)
    assert counts(report) == (1, 2, 0, 0, 0)
    leads = stored(database)
    assert len(leads) == 3
    ana, bob, cora = leads["+40712345678"], leads["+40712345679"], leads["+40712345670"]
    # The file's non-blank values win; stored ones it does not mention stay.
    assert ana["variables"] == {"name": "Ana Maria", "company": "Acme", "city": "Cluj"}
    assert ana["timezone"] == "Europe/Bucharest"  # a blank timezone keeps the stored one
    assert (ana["created_at"], ana["updated_at"]) == (NOW, LATER)
    assert bob["variables"] == {"name": "Bob", "city": "Iasi"}
    assert bob["timezone"] == "Europe/London"
    assert ana["tags"] == bob["tags"] == {"jan", "feb"}
    assert cora["tags"] == {"feb"}


def test_reimporting_the_same_file_with_the_same_tag_changes_nothing(
    database: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "phone,name\n0712345678,Ana\n0712345679,Bob\n")
    run(database, path, tag="jan")
    before = stored(database)
    report = run(database, path, tag="jan")
    assert counts(report) == (0, 2, 0, 0, 0)
    after = stored(database)
    for phone in before:
        before[phone].pop("updated_at"), after[phone].pop("updated_at")
    assert after == before


def test_bom_quotes_blank_lines_whitespace_and_crlf(database: Database, tmp_path: Path) -> None:
    text = (
        "\ufeff Phone , First Name ,Company\r\n"
        "\r\n"
        ' 0712 345 678 ,  Ana  ,"Acme, Inc."\r\n'
        ",,\r\n"
        '0712345679,"Bob ""the builder""","Line one\r\nline two"\r\n'
        "   \r\n"
        "0712345670,Cora\r\n"
    )
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode("utf-8"))
    report = run(database, path)
    assert counts(report) == (3, 0, 0, 0, 0)
    assert report.rows == 3
    leads = stored(database)
    assert leads["+40712345678"]["variables"] == {"first_name": "Ana", "company": "Acme, Inc."}
    assert leads["+40712345679"]["variables"] == {
        "first_name": 'Bob "the builder"',
        "company": "Line one\r\nline two",
    }
    assert leads["+40712345670"]["variables"] == {"first_name": "Cora"}


def test_line_numbers_count_blank_and_multiline_rows(database: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'phone,note\n\n0712345678,"two\nlines"\nnope,a\n\n0712,b\n0712345679,c,extra\n',
    )
    report = run(database, path)
    assert counts(report) == (1, 0, 0, 3, 0)
    assert [(row["line"], row["phone"]) for row in rejects(report)] == [
        ("5", "nope"),
        ("7", "0712"),
        ("8", "0712345679"),
    ]
    assert "3 fields but the header has 2" in rejects(report)[2]["reason"]
    assert list(rejects(report)[0]) == ["phone", "note", "line", "reason"]


def test_semicolon_separated_files(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "phone;name;company\n0712345678;Ștefan {x} \\ ☕;Acme, Inc.\n")
    assert counts(run(database, path)) == (1, 0, 0, 0, 0)
    assert stored(database)["+40712345678"]["variables"] == {
        "name": "Ștefan {x} \\ ☕",
        "company": "Acme, Inc.",
    }


def test_suppressed_numbers_are_counted_not_imported(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        session.add(Suppression(phone="+40712345678", reason="opted_out"))
        session.add(Suppression(phone="+40712345679", reason="manual"))
        # Imported before it was suppressed: it stays, and is no longer updated or tagged.
        session.add(Lead(phone="+40712345679", variables={"name": "Old"}))
    path = write(tmp_path, "phone,name\n0712345678,Ana\n0712345679,Bob\n0712345670,Cora\n")
    report = run(database, path, tag="jan")
    assert counts(report) == (1, 0, 0, 0, 2)
    leads = stored(database)
    assert list(leads) == ["+40712345679", "+40712345670"]
    assert (leads["+40712345679"]["variables"], leads["+40712345679"]["tags"]) == (
        {"name": "Old"},
        set(),
    )


def test_timezone_column_is_stored_not_a_variable(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "phone,TimeZone,name\n0712345678, America/New_York ,Ana\n")
    run(database, path)
    lead = stored(database)["+40712345678"]
    assert (lead["timezone"], lead["variables"]) == ("America/New_York", {"name": "Ana"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n  \n", "is empty"),
        (b",,,\n,,\n", "is empty"),
        (b"\xef\xbb\xbf", "is empty"),
        (b"phone,name\n", "has a header but no leads"),
        (b"phone,name\n\n,\n", "has a header but no leads"),
        (
            b"name,contact\nAna,0712345678\n",
            "no column for the numbers (columns: 'name', 'contact')",
        ),
        (
            b"Phone,Mobile\n0712345678,0712345679\n",
            "'Phone' and 'Mobile' could each hold the numbers",
        ),
        (
            b"phone,name\nAna,Bl\xe9nd\n",
            "not UTF-8 text (line 2 has the byte 0xe9); if it was exported from Excel, "
            "pass --encoding cp1250",
        ),
        (b"\xff\xfep\x00h\x00o\x00n\x00e\x00\n\x00", "not UTF-8"),
        (b"phone,Name,name \n0712345678,a,b\n", "'Name' and 'name ' would both be"),
        (b"phone,%%\n0712345678,a\n", "column '%%' has no letter or digit"),
        (b'phone,name\n0712345678,"unterminated\n', "line 2: unexpected end of data"),
        (b'phone,name\n0712345678,"Acme" Inc\n', "line 2: ',' expected after '\"'"),
    ],
)
def test_a_structurally_bad_file_writes_nothing(
    database: Database, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    with pytest.raises(LeadImportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(database, path, tag="jan")
    assert stored(database) == {}
    assert not (tmp_path / "leads.rejects.csv").exists()


@pytest.mark.parametrize(
    ("tag", "region", "message"),
    [
        (None, "XX", "unknown region 'XX'"),
        (None, "ROU", "unknown region 'ROU'"),
        ("  ", "RO", "a tag must be 1 to 64 characters"),
        ("t" * 65, "RO", "a tag must be 1 to 64 characters"),
    ],
)
def test_bad_options_write_nothing(
    database: Database, tmp_path: Path, tag: str | None, region: str, message: str
) -> None:
    path = write(tmp_path, "phone\n0712345678\nbad\n")
    with pytest.raises(LeadImportError, match=message):
        import_leads(database, path, tag=tag, region=region, now=NOW)
    assert stored(database) == {}
    assert not (tmp_path / "leads.rejects.csv").exists()


def test_a_missing_file_is_an_import_error(database: Database, tmp_path: Path) -> None:
    with pytest.raises(LeadImportError, match="cannot read"):
        run(database, tmp_path / "nowhere.csv")


def test_a_clean_import_removes_the_stale_rejects_file(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "phone\n0712345678\nbad\n")
    assert run(database, path).rejects_path == tmp_path / "leads.rejects.csv"
    path.write_text("phone\n0712345678\n", encoding="utf-8")
    assert run(database, path).rejects_path is None
    assert not (tmp_path / "leads.rejects.csv").exists()


def test_many_rows_across_batches(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leads_import_module, "BATCH_SIZE", 40)
    numbers = [f"07{index:08d}" for index in range(12_000_000, 12_000_150)]
    lines = [f"{number},Lead {index}" for index, number in enumerate(numbers)]
    # Repeats that land in later batches, and invalid rows in between.
    lines += [f"{numbers[0]},Again", "bad,x", f"{numbers[-1]},Again", "also bad,y"]
    with database.session() as session:
        session.add(Suppression(phone="+40712000007", reason="opted_out"))
    run(database, write(tmp_path, "phone\n0712000001\n", name="first.csv"))
    seen: list[tuple[int, int]] = []
    report = import_leads(
        database,
        write(tmp_path, "phone,name\n" + "\n".join(lines) + "\n"),
        tag="bulk",
        region="RO",
        now=NOW,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert counts(report) == (148, 1, 2, 2, 1)
    assert report.rows == 154
    assert seen == [(0, 154), (40, 154), (80, 154), (120, 154), (154, 154)]
    leads = stored(database)
    assert len(leads) == 149
    assert all(lead["tags"] == {"bulk"} for lead in leads.values())
    assert leads["+40712000001"]["variables"] == {"name": "Lead 1"}


def test_listing_by_tag(database: Database, tmp_path: Path) -> None:
    run(database, write(tmp_path, "phone,a,b\n0712345678,1,2\n0712345679,3,\n"), tag="x")
    run(database, write(tmp_path, "phone,timezone\n0712345670,UTC\n0712345678,\n", name="2.csv"))
    page = lead_page_of(database, tag=None, limit=2)
    assert page.total == 3
    assert [(lead.phone, lead.tags, lead.variable_count) for lead in page.leads] == [
        ("+40712345678", ("x",), 2),
        ("+40712345679", ("x",), 1),
    ]
    tagged = lead_page_of(database, tag="x", limit=10)
    assert (tagged.total, len(tagged.leads)) == (2, 2)
    untagged = lead_page_of(database, tag=None, limit=10).leads[2]
    assert (untagged.phone, untagged.tags, untagged.timezone) == ("+40712345670", (), "UTC")
    assert lead_page_of(database, tag="nope", limit=10).total == 0


def lead_page_of(database: Database, *, tag: str | None, limit: int) -> Any:
    with database.session() as session:
        return lead_page(session, tag=tag, limit=limit)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("name", "name"),
        (" First Name ", "first_name"),
        ("E-mail", "e_mail"),
        ("COMPANY", "company"),
        ("company.city", "company.city"),
        ("Prénom", "prénom"),
        ("(notes)", "notes"),
        ("a  /  b", "a_b"),
    ],
)
def test_column_names_become_variable_names(header: str, name: str) -> None:
    assert variable_name(header) == name
