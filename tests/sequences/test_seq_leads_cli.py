"""``outreach leads import`` and ``outreach leads list`` as a user runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import leads_cmd
from cli.main import run
from engine.db import Database
from engine.errors import StorageError
from sequences import LeadImportError

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OUTREACH_CONFIG", "OUTREACH_DATABASE_URL", "OUTREACH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "150")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose SQLite database is migrated."""
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///x.db"\n')
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.upgrade()
    database.dispose()
    return path


def leads(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(leads_cmd.app, [*args, "--config", str(config)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_import_prints_a_summary_and_exits_0_despite_invalid_rows(
    config: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(
        "phone,name\n0712 345 678,Ana\n+40712345678,Ana again\n+44 7400 123456,Bob\nnope,Cy\n"
    )
    code, out = leads(config, "import", str(csv_file), "--region", "RO", "--tag", "jan")
    assert code == 0
    assert "leads.csv: 4 rows" in out
    for label, count in (
        ("imported (new)", 2),
        ("updated", 0),
        ("duplicates in file", 1),
        ("suppressed", 0),
        ("invalid", 1),
    ):
        assert any(
            label in line and line.rstrip(" │").endswith(str(count)) for line in out.splitlines()
        )
    assert f"{tmp_path / 'leads.rejects.csv'}" in out.replace("\n", "")
    code, out = leads(config, "import", str(csv_file), "--region", "RO")
    assert code == 0
    assert any("updated" in line and line.rstrip(" │").endswith("2") for line in out.splitlines())


def test_list_shows_numbers_tags_variables_and_zones(config: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("phone,name,company,timezone\n+40712345678,Ana,Acme,Europe/Bucharest\n")
    second = tmp_path / "b.csv"
    second.write_text("phone\n+447400123456\n")
    leads(config, "import", str(first), "--tag", "jan")
    leads(config, "import", str(second))
    code, out = leads(config, "list")
    assert code == 0
    assert "2 of 2 leads" in out
    ana = next(line for line in out.splitlines() if "+40712345678" in line)
    assert "jan" in ana and "2" in ana and "Europe/Bucharest" in ana
    bob = next(line for line in out.splitlines() if "+447400123456" in line)
    assert "-" in bob
    code, out = leads(config, "list", "--tag", "jan")
    assert "1 of 1 leads tagged 'jan'" in out
    assert "+447400123456" not in out
    code, out = leads(config, "list", "--limit", "1")
    assert "1 of 2 leads" in out


def test_a_bad_file_is_an_error_and_writes_nothing(config: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("name,contact\nAna,+40712345678\n")
    with pytest.raises(LeadImportError, match="no column for the numbers"):
        leads(config, "import", str(csv_file))
    assert "0 of 0 leads" in leads(config, "list")[1]
    assert not (tmp_path / "leads.rejects.csv").exists()


def test_a_missing_file_is_a_usage_error(config: Path, tmp_path: Path) -> None:
    code, _ = leads(config, "import", str(tmp_path / "nowhere.csv"))
    assert code == 2


def test_an_unmigrated_database_says_how_to_fix_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///fresh.db"\n')
    (tmp_path / "leads.csv").write_text("phone\n+40712345678\n")
    with pytest.raises(StorageError, match="outreach db upgrade"):
        leads(config, "import", str(tmp_path / "leads.csv"))


def test_national_numbers_without_a_region_are_rejected(config: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("phone\n0712345678\n")
    assert leads(config, "import", str(csv_file))[0] == 0
    assert (tmp_path / "leads.rejects.csv").read_text().count("no country code") == 1


def test_the_default_region_comes_from_the_leads_table(config: Path, tmp_path: Path) -> None:
    config.write_text(config.read_text() + '[leads]\ndefault_region = "RO"\n')
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("phone\n0712345678\n07400 123456\n")
    rejects = tmp_path / "leads.rejects.csv"
    assert leads(config, "import", str(csv_file))[0] == 0
    assert [line.split(",")[0] for line in rejects.read_text().splitlines()] == [
        "phone",
        "07400 123456",
    ]
    # --region wins over the default.
    assert leads(config, "import", str(csv_file), "--region", "GB")[0] == 0
    assert [line.split(",")[0] for line in rejects.read_text().splitlines()] == [
        "phone",
        "0712345678",
    ]


def test_through_outreach_a_bad_file_is_one_line_on_stderr(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "leads.csv").write_bytes(b"phone,name\n+40712345678,Bl\xe9nd\n")
    assert run(["leads", "import", str(tmp_path / "leads.csv"), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not UTF-8" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("rows", "bar"),
    [(leads_cmd.PROGRESS_MIN_ROWS, False), (leads_cmd.PROGRESS_MIN_ROWS + 1, True)],
)
def test_large_files_show_a_progress_bar(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int, bar: bool
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich draws live bars on terminals only
    csv_file = tmp_path / "big.csv"
    numbers = "\n".join(f"+4071200{index:04d}" for index in range(rows))
    csv_file.write_text("phone\n" + numbers + "\n")
    code, out = leads(config, "import", str(csv_file))
    assert code == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert ("importing" in plain) is bar
    assert f"big.csv: {rows} rows" in plain
    assert any(
        "imported (new)" in line and line.rstrip(" │").endswith(str(rows))
        for line in plain.splitlines()
    )


def test_import_reads_excel_exports_and_prints_each_rejected_row(
    config: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "export.csv"
    csv_file.write_bytes(
        " Telefon ;Nume;Country\n(415) 555-0134;Ann;United States\n07400 123456;Bob;UK\n"
        "0712 345 678;Ştefan;\n(415) 555-0199;Dan;\n0712 345 679;Eve;Atlantis\n".encode("cp1250")
    )
    rejects = tmp_path / "bad.csv"
    code, out = leads(
        config, "import", str(csv_file), "--encoding", "cp1250", "--region", "RO",
        "--rejects", str(rejects),
    )  # fmt: skip
    assert code == 0, out
    assert any(
        "imported (new)" in line and line.rstrip(" │").endswith("3") for line in out.splitlines()
    )
    assert "line 5: '(415) 555-0199' is not a valid phone number (read as RO)" in out
    assert "line 6: unknown country 'Atlantis'" in out
    assert rejects.exists() and str(rejects) in out.replace("\n", "")
    assert not (tmp_path / "export.rejects.csv").exists()


def test_import_takes_the_numbers_column_by_name(config: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("Phone,Mobile,name\n+40212345678,+40712345678,Ana\n")
    with pytest.raises(LeadImportError, match="could each hold the numbers"):
        leads(config, "import", str(csv_file))
    code, _ = leads(config, "import", str(csv_file), "--phone-column", "mobile")
    assert code == 0
    assert "+40712345678" in leads(config, "list")[1]


def test_import_with_a_wrong_encoding_is_one_line_and_imports_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_bytes("phone,nume\n0712345678,Ştefan\n".encode("cp1250"))
    assert run(["leads", "import", str(csv_file), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--encoding cp1250" in err
    assert "0 of 0 leads" in leads(config, "list")[1]
